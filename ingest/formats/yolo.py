"""YOLO detection datasets: one ``.txt`` per image, ``class x_center y_center width height``.

Coordinates are fractions of the image size (converted to pixels rounded to 1/100 px, see
:func:`ingest.model.to_pixels`), so the reader needs each image's size: it
reads it from the image file's header (no decoding, ~15 µs; EXIF-rotated photos count at
their displayed size, as Ultralytics reads them) and refuses images over the pixel limit. A
label file without its image cannot be converted and is quarantined with its rows.

Layouts: Ultralytics (``images/…/x.jpg`` with ``labels/…/x.txt``, the last ``images``
folder of the path swapped for ``labels``) and Darknet/CVAT (``x.txt`` beside ``x.jpg``, also
inside ``images/`` when that image has no ``labels/`` twin; a ``.txt`` without an image,
beside images, whose first row does not start with a number, such as Darknet's ``train.txt``
image list, is not a label file). Class names come from ``data.yaml`` (``names``
as a list or ``{id: name}``, checked against ``nc``) or from ``classes.txt`` / ``obj.names`` /
``*.names`` (one name per line) in the dataset folder or ``labels/``; these files are never
read as labels. A dataset folder is read whole; an Ultralytics dataset YAML passed as the
dataset is honoured (see :mod:`ingest.formats.yolo_config`): only its split image folders and
their ``labels/`` twins are read, each confined to the dataset folder like every file read.
An image without a label file is an image without annotations. Item ids are image paths
relative to the dataset folder; annotation ids are ``<label file>:<line>``. File names are
listed up front (about 200 bytes per file, for a deterministic order); labels and images stream.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

from ingest.base import DatasetReader, Record, register
from ingest.formats.yolo_config import CONFIG_NAMES, SPLITS, config_root, load_yaml, names_from_yaml, split_folders
from ingest.images import IMAGE_SUFFIXES, ImageProblem, read_header
from ingest.lines import numbered_lines, raw_snippet
from ingest.model import Annotation, Item, Quarantined, to_pixels
from ingest.paths import UnsafePath
from labelgate.errors import DatasetError

NAMES_FILES = ("classes.txt", "obj.names", "classes.names")
NAMES_DIRS = ("", "labels")  # LabelImg writes classes.txt beside its label files


def _stem(rel: str) -> str:
    """``rel`` without its suffix (string work: this runs for every file of the dataset)."""
    folder, _, name = rel.rpartition("/")
    base = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return f"{folder}/{base}" if folder else base


def _suffix(rel: str) -> str:
    name = rel.rpartition("/")[2]
    return "." + name.rsplit(".", 1)[1].lower() if "." in name.lstrip(".") else ""


def _image_key(stem: str) -> str:
    """The label path for an image (both without suffix): the last ``images`` folder becomes ``labels``."""
    folder, _, name = stem.rpartition("/")
    twin = _labels_twin(folder) if folder else None
    return f"{twin}/{name}" if twin else stem


def _labels_twin(folder: str) -> str | None:
    """``folder`` with its last ``images`` part swapped for ``labels``; None without one."""
    parts = folder.split("/")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            return "/".join(parts)
    return None


def _in_labels_dir(rel: str) -> bool:
    return "labels" in rel.split("/")[:-1]


def _looks_like_labels(path: Path) -> bool:
    """A ``.txt`` beside images but without its own is a label file if its first row starts with
    a number (or it is empty)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return True  # unreadable: quarantined as a label file, with the reason
    for line in head.lstrip("\ufeff").splitlines():
        if line.strip():
            return _finite(line.split()[0]) is not None
    return True


@register
class YoloReader(DatasetReader):
    format = "yolo"
    kind = "image"
    description = "YOLO txt labels (normalized class cx cy w h) + data.yaml or classes.txt"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        config = self.path if self.path.is_file() else self._config_in_folder()
        data = load_yaml(config) if config is not None else None
        self.config = config
        self.splits: list[str] = []
        if config is not None and self.path.is_file() and isinstance(data, dict):
            self.root = config_root(config, data)
            self.splits = split_folders(config, data, self.root)
        self.base = self.root.root
        self.twins = self._twins()
        self.names = names_from_yaml(config, data) if config is not None else self._names_from_files()

    @classmethod
    def sniff(cls, path: Path) -> bool:
        if path.is_file():
            if path.name in CONFIG_NAMES:
                return True
            if path.suffix.lower() not in (".yaml", ".yml") or path.stat().st_size > 1 << 20:
                return False
            try:
                data = load_yaml(path)
            except DatasetError:
                return False
            return isinstance(data, dict) and "names" in data and any(k in data for k in ("path", *SPLITS))
        if any((path / name).is_file() for name in CONFIG_NAMES):
            return True
        has_names = any((path / d / n).is_file() for d in NAMES_DIRS for n in NAMES_FILES) or any(path.glob("*.names"))
        labels = path / "labels"
        return (labels.is_dir() and any(labels.rglob("*.txt"))) or (has_names and any(path.rglob("*.txt")))

    def _config_in_folder(self) -> Path | None:
        """The dataset YAML in the dataset folder; one a symlink leads out of it is refused."""
        try:
            return next((p for n in CONFIG_NAMES if (p := self.root.find(n, ("",))) is not None), None)
        except UnsafePath as exc:
            raise DatasetError(f"{self.path}: dataset YAML refused: {exc}") from None

    def _twins(self) -> list[str]:
        """The existing ``labels/`` twins of the split folders. Split folders are resolved inside
        the root; a twin is walked by its name, so it is checked here: a symlink leading it out
        of the root is refused, and one to its own image folder is side-by-side labels."""
        twins: list[str] = []
        for split in self.splits:
            if (twin := _labels_twin(split)) is None:
                continue
            try:
                real = self.root.resolve(twin)
            except UnsafePath as exc:
                raise DatasetError(
                    f"{self.config}: labels of {split}/ refused: {exc}: copy the labels into the dataset folder"
                ) from None
            if real.is_dir() and real != self.base / split:
                twins.append(twin)
        return twins

    def _names_from_files(self) -> list[str]:
        try:
            files = [p for n in NAMES_FILES if (p := self.root.find(n, NAMES_DIRS)) is not None]
        except UnsafePath as exc:
            raise DatasetError(f"{self.base}: class names file refused: {exc}") from None
        found = (p.resolve() for p in self.base.glob("*.names"))
        files += sorted(p for p in found if p not in files and p.is_relative_to(self.base))
        if not files:
            raise DatasetError(
                f"{self.base}: no class names for this YOLO dataset (looked for data.yaml and *.names here, "
                "classes.txt and obj.names here and in labels/): add data.yaml with 'names' "
                "or classes.txt (one name per line)"
            )
        names: list[str] = []
        for number, line, _ in numbered_lines(files[0]):
            if line is None:
                raise DatasetError(f"{files[0]}: line {number} is not valid UTF-8: fix the class names file")
            names.append(line.strip())
        while names and not names[-1]:
            names.pop()
        if not names:
            raise DatasetError(f"{files[0]}: the class names file is empty: one name per line")
        return names

    def files(self) -> list[Path]:
        pairs, links = self._pairs()
        labels = [self.base / rel for _, _, rel in pairs if rel is not None and self._safe(rel, links)]
        return ([self.config] if self.config else []) + labels

    def _walk(self, folder: str = "") -> Iterator[tuple[str, bool]]:
        """``(relative path, is a symlink)`` of every file, sorted; symlinked folders are not entered."""
        try:
            entries = sorted(os.scandir(self.base / folder if folder else self.base), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            rel = f"{folder}/{entry.name}" if folder else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(rel)
            elif entry.is_symlink() or entry.is_file(follow_symlinks=False):
                yield rel, entry.is_symlink()

    def _walked(self) -> Iterator[tuple[str, bool]]:
        """The files read: the whole root, or the split folders and their ``labels/`` twins."""
        if not self.splits:
            yield from self._walk()
            return
        folders = {*self.splits, *self.twins}
        for folder in sorted(folders):
            if not any(folder.startswith(f"{other}/") or (other == "" and folder) for other in folders):
                yield from self._walk(folder)

    def _pairs(self) -> tuple[list[tuple[str, str | None, str | None]], set[str]]:
        """``(key, image, label)`` relative paths sorted by key (either side may be missing), and
        the paths that are symlinks (checked against the root before use). A ``.txt`` beside an
        image that has a ``labels/`` twin is not read; one with no image at all is an orphan."""
        images: dict[str, list[str]] = {}
        texts: dict[str, str] = {}
        beside: set[str] = set()  # image paths without suffix
        image_folders: set[str] = set()
        links: set[str] = set()
        for rel, is_link in self._walked():
            if is_link:
                links.add(rel)
            suffix = _suffix(rel)
            if suffix in IMAGE_SUFFIXES:
                stem = _stem(rel)
                images.setdefault(_image_key(stem), []).append(rel)
                beside.add(stem)
                image_folders.add(rel.rpartition("/")[0])
            elif suffix == ".txt" and rel.rpartition("/")[2] not in NAMES_FILES:
                texts[_stem(rel)] = rel
        orphans = {
            key
            for key, rel in texts.items()
            if key not in images
            and key not in beside
            and (
                _in_labels_dir(rel)
                or (
                    rel.rpartition("/")[0] in image_folders
                    and self._safe(rel, links)  # never opened when a symlink leads out
                    and _looks_like_labels(self.base / rel)
                )
            )
        }
        pairs: list[tuple[str, str | None, str | None]] = []
        for key in sorted(set(images) | orphans):
            if key in orphans:
                pairs.append((key, None, texts[key]))
                continue
            # the labels/ twin, else the .txt beside the image (x.txt next to images/x.jpg)
            pairs.extend((key, image, texts.get(key) or texts.get(_stem(image))) for image in images[key])
        return pairs, links

    def _safe(self, rel: str, links: set[str]) -> bool:
        """Whether ``rel`` may be opened: not a symlink leading out of the root."""
        try:
            self._path(rel, links)
        except UnsafePath:
            return False
        return True

    def _path(self, rel: str, links: set[str]) -> Path:
        """The file of ``rel``: walked folders are confined (the root, resolved splits, checked
        twins) and not entered through symlinks, so only symlinked files need resolving."""
        return self.root.resolve(rel) if rel in links else self.base / rel

    def records(self) -> Iterator[Record]:
        shared: set[str] = set()
        pairs, links = self._pairs()
        if not pairs and self.splits:  # a whole folder with nothing in it is reported by the engine
            folders = ", ".join(f"{s or '.'}/" for s in self.splits)
            raise DatasetError(
                f"{self.config}: no images or YOLO label files in {folders} under {self.base}: "
                "check 'path' and the train/val/test entries"
            )
        for _, image, label in pairs:
            if image is None:
                assert label is not None
                yield from self._refuse(label, label, f"label file {label} has no image next to it or under images/")
                continue
            if label is not None and label in shared:
                yield from self._refuse(
                    image, None, f"another image already uses the label file {label}: give each image its own"
                )
                continue
            if label is not None:
                shared.add(label)
            yield from self._item(image, label, links)

    def _item(self, image: str, label: str | None, links: set[str]) -> Iterator[Record]:
        try:
            image_path = self._path(image, links)
            label_path = self._path(label, links) if label else None
        except UnsafePath as exc:
            yield from self._refuse(image, label, f"unsafe path: {exc}")
            return
        try:
            header = read_header(image_path, image)
        except ImageProblem as exc:
            yield from self._refuse(image, label, str(exc))
            return
        annotations: list[Annotation] = []
        quarantined = 0
        if label_path is not None:
            assert label is not None
            for outcome in self._rows(label, label_path, header.width, header.height, image):
                if isinstance(outcome, Annotation):
                    annotations.append(outcome)
                else:
                    quarantined += 1
                    yield outcome
        yield Item(
            image,
            "image",
            annotations,
            width=header.width,
            height=header.height,
            media=image,
            source=label or image,
            quarantined_annotations=quarantined,
        )

    def _refuse(self, item_id: str, label: str | None, reason: str) -> Iterator[Quarantined]:
        """Quarantine an item and, so counts balance, each row of its label file."""
        yield Quarantined(item_id if label is None else label, item_id, reason, "item", item_id=item_id)
        if label is None:
            return
        try:
            path = self.root.resolve(label)
        except UnsafePath:
            return
        for number, line, raw in numbered_lines(path):
            if line is None or line.split():
                locator = f"{label}:{number}"
                yield Quarantined(
                    label,
                    locator,
                    f"belongs to quarantined item {item_id}",
                    item_id=item_id,
                    annotation_id=locator,
                    raw=raw_snippet(raw),
                )

    def _rows(
        self, label: str, path: Path, width: int, height: int, item_id: str
    ) -> Iterator[Annotation | Quarantined]:
        names = self.names
        for number, line, raw in numbered_lines(path):
            locator = f"{label}:{number}"
            if line is None:
                yield Quarantined(label, locator, "not valid UTF-8 text", item_id=item_id, raw=raw_snippet(raw))
                continue
            parts = line.split()
            if not parts:
                continue
            try:  # the common case, fast: five well-formed values
                class_text, *coords = parts
                cx, cy, w, h = map(float, coords)
                class_id = int(class_text)
                usable = 0 <= class_id < len(names) and math.isfinite(cx + cy + w + h)
            except ValueError:
                usable = False
            if not usable:
                problem = _row_problem(parts, len(names))
                if problem is not None:
                    yield Quarantined(label, locator, problem, item_id=item_id, annotation_id=locator, raw=line[:300])
                    continue
                class_id = _class_id(parts[0]) or 0  # a whole number written as "1.0"
                cx, cy, w, h = map(float, parts[1:])
            box = (
                to_pixels(cx - w / 2, width),
                to_pixels(cy - h / 2, height),
                to_pixels(w, width),
                to_pixels(h, height),
            )
            yield Annotation(locator, names[class_id], box)


def _row_problem(parts: list[str], classes: int) -> str | None:
    """Why a YOLO row cannot be used (the slow path, for the quarantine reason)."""
    if len(parts) != 5:
        problem = f"expected 5 values 'class x_center y_center width height', got {len(parts)}"
        if len(parts) > 5:
            problem += " (segmentation, oriented-box and prediction rows are not read)"
        return problem
    class_id = _class_id(parts[0])
    if class_id is None:
        return f"class id {parts[0]!r} is not a whole number"
    if not 0 <= class_id < classes:
        return f"class id {class_id} is not in the class names (0..{classes - 1})"
    if any(_finite(p) is None for p in parts[1:]):
        return f"coordinates must be finite numbers, got {' '.join(parts[1:])}"
    return None


def _class_id(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        value = _finite(text)
        return int(value) if value is not None and value.is_integer() else None


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
