"""YOLO detection datasets: one ``.txt`` per image, ``class x_center y_center width height``.

Coordinates are fractions of the image size (converted to pixels rounded to 1/100 px, see
:func:`ingest.model.to_pixels`), so the reader needs each image's size: it
reads it from the image file's header (no decoding, ~15 µs; EXIF-rotated photos count at
their displayed size, as Ultralytics reads them) and refuses images over the pixel limit. A
label file without its image cannot be converted and is quarantined with its rows.

Layouts: Ultralytics (``images/…/x.jpg`` with ``labels/…/x.txt``, the last ``images``
folder of the path swapped for ``labels``) and Darknet/CVAT (``x.txt`` beside ``x.jpg``; a
``.txt`` beside images whose first row does not start with a number, such as Darknet's
``train.txt`` image list, is not a label file). Class names come from ``data.yaml`` (``names``
as a list or ``{id: name}``, checked against ``nc``) or from ``classes.txt`` / ``obj.names`` /
``*.names`` (one name per line) in the dataset folder or ``labels/``; these files are never
read as labels. A dataset folder is read whole; an Ultralytics dataset YAML passed as the
dataset is honoured: ``path`` (relative to the YAML's folder) is the dataset folder and only
its ``train``/``val``/``test`` image folders (with their ``labels/`` twins) are read.
An image without a label file is an image without annotations. Item ids are image paths
relative to the dataset folder; annotation ids are ``<label file>:<line>``. File names are
listed up front (about 200 bytes per file, for a deterministic order); labels and images stream.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.base import DatasetReader, Record, register
from ingest.images import IMAGE_SUFFIXES, ImageProblem, read_header
from ingest.lines import numbered_lines, raw_snippet
from ingest.model import Annotation, Item, Quarantined, to_pixels
from ingest.paths import DatasetRoot, UnsafePath
from labelgate.errors import DatasetError

CONFIG_NAMES = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
NAMES_FILES = ("classes.txt", "obj.names", "classes.names")
NAMES_DIRS = ("", "labels")  # LabelImg writes classes.txt beside its label files
SPLITS = ("train", "val", "test")


def _stem(rel: str) -> str:
    """``rel`` without its suffix (string work: this runs for every file of the dataset)."""
    folder, _, name = rel.rpartition("/")
    base = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return f"{folder}/{base}" if folder else base


def _suffix(rel: str) -> str:
    name = rel.rpartition("/")[2]
    return "." + name.rsplit(".", 1)[1].lower() if "." in name.lstrip(".") else ""


def _image_key(rel: str) -> str:
    """The label path (without suffix) for an image: the last ``images`` folder becomes ``labels``."""
    folder, _, name = rel.rpartition("/")
    twin = _labels_twin(folder) if folder else None
    return _stem(f"{twin}/{name}" if twin else rel)


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
    """A side-by-side ``.txt`` is a label file if its first row starts with a number (or it is empty)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return True  # unreadable: quarantined as a label file, with the reason
    for line in head.lstrip("\ufeff").splitlines():
        if line.strip():
            return _finite(line.split()[0]) is not None
    return True


def _load_yaml(config: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe", pure=True).load(config.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise DatasetError(f"{config}: invalid YAML at {where} ({exc.problem}): fix the file") from None
    except (YAMLError, OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{config}: cannot read ({str(exc).splitlines()[0]}): fix the file") from None


def _names_from_yaml(config: Path, data: Any) -> list[str]:
    """Class names from ``names``; an ``nc`` that disagrees is refused, as Ultralytics does."""
    if not isinstance(data, dict):
        data = {}
    names = data.get("names")
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        if sorted(names) != list(range(len(names))):
            raise DatasetError(f"{config}: 'names' ids must be 0..{len(names) - 1} without gaps")
        names = [names[k] for k in range(len(names))]
    if not isinstance(names, list) or not names or not all(isinstance(n, str | int) for n in names):
        raise DatasetError(f"{config}: needs 'names': a list of class names or {{id: name}}")
    count = data.get("nc")
    if count is not None and count != len(names):
        raise DatasetError(f"{config}: nc is {count} but 'names' lists {len(names)} classes: make them agree")
    return [str(n) for n in names]


@register
class YoloReader(DatasetReader):
    format = "yolo"
    kind = "image"
    description = "YOLO txt labels (normalized class cx cy w h) + data.yaml or classes.txt"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        config = (
            self.path
            if self.path.is_file()
            else next((self.path / n for n in CONFIG_NAMES if (self.path / n).is_file()), None)
        )
        data = _load_yaml(config) if config is not None else None
        self.config = config
        self.splits: list[str] = []
        if config is not None and self.path.is_file() and isinstance(data, dict):
            self._honour_config(config, data)
        self.base = self.root.root
        self.names = _names_from_yaml(config, data) if config is not None else self._names_from_files()

    @classmethod
    def sniff(cls, path: Path) -> bool:
        if path.is_file():
            if path.name in CONFIG_NAMES:
                return True
            if path.suffix.lower() not in (".yaml", ".yml") or path.stat().st_size > 1 << 20:
                return False
            try:
                data = _load_yaml(path)
            except DatasetError:
                return False
            return isinstance(data, dict) and "names" in data and any(k in data for k in ("path", *SPLITS))
        if any((path / name).is_file() for name in CONFIG_NAMES):
            return True
        has_names = any((path / d / n).is_file() for d in NAMES_DIRS for n in NAMES_FILES) or any(path.glob("*.names"))
        labels = path / "labels"
        return (labels.is_dir() and any(labels.rglob("*.txt"))) or (has_names and any(path.rglob("*.txt")))

    def _honour_config(self, config: Path, data: dict[Any, Any]) -> None:
        """An Ultralytics dataset YAML passed as the dataset: ``path`` (relative to the YAML's
        folder, or absolute) becomes the root, and only the split folders are read."""
        where = data.get("path")
        if where not in (None, ""):
            folder = config.parent / str(where)
            if not isinstance(where, str) or "://" in where or not folder.is_dir():
                raise DatasetError(
                    f"{config}: 'path' {where!r} is not a folder ({folder.resolve()}): "
                    "fix 'path', or pass the dataset folder instead of the YAML"
                )
            self.root = DatasetRoot(folder)
        for key in SPLITS:
            entries = data.get(key)
            for entry in entries if isinstance(entries, list) else [entries]:
                if entry not in (None, ""):
                    self.splits.append(self._split_folder(config, key, entry))

    def _split_folder(self, config: Path, key: str, entry: Any) -> str:
        """A split entry as a folder relative to the root; lists of files and URLs are refused."""
        text = str(entry).strip()
        if not isinstance(entry, str) or "://" in text:
            raise DatasetError(f"{config}: {key}: {entry!r} is not a local folder: point {key} at an image folder")
        base = self.root.root
        if os.path.isabs(text):
            text = os.path.relpath(Path(text).resolve(), base)
        elif text.startswith("../") and not (base / text).exists():
            text = text[3:]  # Roboflow writes ../train/images for train/images beside the YAML, as Ultralytics reads it
        try:
            folder = self.root.resolve(text)
        except UnsafePath:
            raise DatasetError(
                f"{config}: {key}: {entry} is outside the dataset folder {base}: set 'path' to a folder holding it"
            ) from None
        if folder.is_file():
            raise DatasetError(
                f"{config}: {key}: {entry} is a file (a list of images?); labelgate reads image folders: "
                f"point {key} at a folder such as images/{key}"
            )
        if not folder.is_dir():
            raise DatasetError(f"{config}: {key}: folder {folder} not found: fix the entry or remove it")
        rel = self.root.relative(folder).replace("\\", "/")
        return "" if rel == "." else rel

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
        pairs, _ = self._pairs()
        labels = [self.base / rel for _, _, rel in pairs if rel is not None]
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
        folders = set(self.splits) | {t for s in self.splits if (t := _labels_twin(s)) and (self.base / t).is_dir()}
        for folder in sorted(folders):
            if not any(folder.startswith(f"{other}/") or (other == "" and folder) for other in folders):
                yield from self._walk(folder)

    def _pairs(self) -> tuple[list[tuple[str, str | None, str | None]], set[str]]:
        """``(key, image, label)`` relative paths sorted by key (either side may be missing), and
        the paths that are symlinks (checked against the root before use)."""
        images: dict[str, list[str]] = {}
        texts: dict[str, str] = {}
        image_folders: set[str] = set()
        links: set[str] = set()
        for rel, is_link in self._walked():
            if is_link:
                links.add(rel)
            suffix = _suffix(rel)
            if suffix in IMAGE_SUFFIXES:
                images.setdefault(_image_key(rel), []).append(rel)
                image_folders.add(rel.rpartition("/")[0])
            elif suffix == ".txt" and rel.rpartition("/")[2] not in NAMES_FILES:
                texts[_stem(rel)] = rel
        orphans = {
            key
            for key, rel in texts.items()
            if key not in images
            and (
                _in_labels_dir(rel) or (rel.rpartition("/")[0] in image_folders and _looks_like_labels(self.base / rel))
            )
        }
        pairs: list[tuple[str, str | None, str | None]] = []
        for key in sorted(set(images) | orphans):
            label = texts.get(key)
            candidates: list[str | None] = [*images.get(key, [])] or [None]
            pairs.extend((key, image, label) for image in candidates)
        return pairs, links

    def _path(self, rel: str, links: set[str]) -> Path:
        """The file of ``rel``: walked files are inside the root unless they are symlinks."""
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
