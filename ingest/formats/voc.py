"""Pascal VOC XML: one ``<annotation>`` file per image, boxes as ``<bndbox>`` corners.

XML is parsed with defusedxml and DTDs, entities and external references are refused (no
XML bombs, no reading local files through entities). Files that are not XML, not VOC, or
refused are quarantined with the reason (line and column for syntax errors); objects
without a name or numeric corners are quarantined one by one.

Boxes are continuous corner coordinates: ``x = xmin``, ``width = xmax − xmin`` (as CVAT,
labelImg and torchvision read them; VOC's own 1-based pixel indices stay inside the image).
``truncated``, ``difficult`` and ``occluded`` (0/1) become boolean annotation attributes;
``pose`` and other simple object fields, and CVAT's ``<attributes>``, become attributes too.
The image named by ``<filename>`` is looked for in ``JPEGImages/``, ``images/``, the dataset
folder and beside the XML, inside the dataset folder only (``<path>``, usually an absolute
path on the annotator's machine, is ignored); a name without an image extension (ILSVRC's
``n01751748_1234``) matches an image file with that stem. An XML file or folder inside
``Annotations/`` makes its parent the dataset folder. The item id is that image's path relative to
the dataset folder; annotation ids are ``<xml file>:object[k]`` (k from 0). When
``<size>`` is missing, the size is read from the image header.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ingest.base import DatasetReader, Record, register
from ingest.images import IMAGE_SUFFIXES, ImageProblem, read_header
from ingest.model import Annotation, Item, Quarantined
from ingest.paths import DatasetRoot, UnsafePath, dataset_folder
from labelgate.errors import DatasetError

IMAGE_DIRS = ("JPEGImages", "images", "")
FLAGS = ("truncated", "difficult", "occluded")
OBJECT_OWN = frozenset({"name", "bndbox", "attributes", "part", "actions", "point"})
SNIFF_FILES = 8  # a crashed tool can leave empty or broken XML files first in the listing


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _flag(text: str) -> Any:
    value = text.strip()
    return {"0": False, "1": True, "false": False, "true": True}.get(value.lower(), value)


@register
class VocReader(DatasetReader):
    format = "voc"
    kind = "image"
    description = "Pascal VOC XML: Annotations/*.xml (+ JPEGImages/)"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.root = DatasetRoot(dataset_folder(self.path))
        self._stems: dict[str, dict[str, str]] = {}
        if self.path.is_file():
            self._files = [self.path]
        else:
            folder = self.path / "Annotations"
            self._files = sorted(folder.rglob("*.xml")) if folder.is_dir() else sorted(self.path.glob("*.xml"))
            if not self._files:
                raise DatasetError(f"{self.path}: no VOC XML files (Annotations/*.xml or *.xml): check the folder")

    @classmethod
    def sniff(cls, path: Path) -> bool:
        if path.is_file():
            return path.suffix.lower() == ".xml" and _looks_like_voc(path)
        folder = path / "Annotations"
        candidates = sorted(folder.rglob("*.xml")) if folder.is_dir() else sorted(path.glob("*.xml"))
        return any(_looks_like_voc(file) for file in candidates[:SNIFF_FILES])

    def files(self) -> list[Path]:
        return list(self._files)

    def records(self) -> Iterator[Record]:
        seen: set[str] = set()
        for file in self._files:
            rel = self.root.relative(file).replace("\\", "/")
            if file != self.path:  # found by listing the folder: a symlink may lead out of it
                try:
                    self.root.resolve(rel)
                except UnsafePath as exc:
                    yield Quarantined(rel, rel, f"refused: {exc}", "item")
                    continue
            yield from self._file(file, rel, seen)

    def _file(self, file: Path, rel: str, seen: set[str]) -> Iterator[Record]:
        try:
            root = SafeET.parse(file, forbid_dtd=True).getroot()
        except ET.ParseError as exc:
            line, column = exc.position
            message = str(exc).split(":")[0]
            yield Quarantined(rel, rel, f"invalid XML at line {line}, column {column + 1} ({message})", "item")
            return
        except DefusedXmlException as exc:
            reason = (
                f"XML with a DTD, entities or external references is refused ({exc.__class__.__name__}): "
                "export the file without them"
            )
            yield Quarantined(rel, rel, reason, "item")
            return
        except OSError as exc:
            yield Quarantined(rel, rel, f"cannot read the file ({exc})", "item")
            return
        if root is None or root.tag != "annotation":
            tag = root.tag if root is not None else "none"
            yield Quarantined(rel, rel, f"not a Pascal VOC file: root element <{tag}>, expected <annotation>", "item")
            return
        objects = root.findall("object")
        item_id, problem, path = self._image(root, rel)
        if problem is None and item_id in seen:
            problem = f"another XML file already annotates {item_id}: one file per image"
        width, height = _size(root)
        if problem is None and (width is None or height is None):
            try:
                if path is None:
                    raise ImageProblem(f"image file {item_id} not found")
                header = read_header(path, item_id)
                width, height = header.width, header.height
            except ImageProblem as exc:
                problem = f"no valid <size> and the image cannot be measured: {exc}"
        if problem is not None:
            yield Quarantined(rel, rel, problem, "item", item_id=item_id)
            for index in range(len(objects)):
                locator = f"{rel}:object[{index}]"
                reason = f"belongs to quarantined item {item_id}"
                yield Quarantined(rel, locator, reason, item_id=item_id, annotation_id=locator)
            return
        seen.add(item_id)
        annotations: list[Annotation] = []
        bad = 0
        for index, obj in enumerate(objects):
            outcome = _object(obj, f"{rel}:object[{index}]")
            if isinstance(outcome, Annotation):
                annotations.append(outcome)
                continue
            bad += 1
            locator = f"{rel}:object[{index}]"
            yield Quarantined(rel, locator, outcome, item_id=item_id, annotation_id=locator, raw=_snippet(obj))
        yield Item(
            item_id,
            "image",
            annotations,
            width=int(width) if width is not None else None,
            height=int(height) if height is not None else None,
            media=item_id,
            source=rel,
            quarantined_annotations=bad,
        )

    def _image(self, root: ET.Element, rel: str) -> tuple[str, str | None, Path | None]:
        """Item id, a reason to quarantine (or None) and the image path if it exists."""
        name = (root.findtext("filename") or "").strip()
        if not name:
            return rel, "no <filename>: the image cannot be identified", None
        try:
            self.root.check(name)  # the name itself must be a safe relative path
        except UnsafePath as exc:
            return rel, f"unsafe <filename>: {exc}", None
        beside = str(PurePosixPath(rel).parent)
        candidates = [f"{d}/{name}" if d else name for d in IMAGE_DIRS]
        if beside not in ("", "."):
            candidates.append(f"{beside}/{name}")
        for candidate in candidates:
            try:
                path = self.root.resolve(candidate)
            except UnsafePath as exc:
                return rel, f"unsafe <filename>: {exc}", None
            if path.is_file():
                return candidate, None, path
        if "." + name.rpartition(".")[2].lower() not in IMAGE_SUFFIXES:
            for candidate in candidates:
                folder, _, stem = candidate.rpartition("/")
                try:
                    found = self._images_by_stem(folder).get(stem)
                    if found is not None:
                        real = f"{folder}/{found}" if folder else found
                        return real, None, self.root.resolve(real)
                except UnsafePath as exc:
                    return rel, f"unsafe <filename>: {exc}", None
        expected = candidates[0] if (self.root.root / "JPEGImages").is_dir() else name
        return expected, None, None

    def _images_by_stem(self, folder: str) -> dict[str, str]:
        """Image file names of ``folder`` by stem, listed once per folder (for ``<filename>``
        without an extension: one listing instead of a stat per image suffix and case)."""
        found = self._stems.get(folder)
        if found is None:
            found = {}
            try:
                names = sorted(os.listdir(self.root.resolve(folder) if folder else self.root.root))
            except OSError:
                names = []
            for file in names:
                stem, dot, suffix = file.rpartition(".")
                if dot and "." + suffix.lower() in IMAGE_SUFFIXES:
                    found.setdefault(stem, file)
            self._stems[folder] = found
        return found


def _size(root: ET.Element) -> tuple[float | None, float | None]:
    width = _number(root.findtext("size/width"))
    height = _number(root.findtext("size/height"))
    if width is None or height is None or width <= 0 or height <= 0:
        return None, None
    return width, height


def _object(obj: ET.Element, locator: str) -> Annotation | str:
    label = (obj.findtext("name") or "").strip()
    if not label:
        return "object has no <name>"
    corners = [_number(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
    if any(c is None for c in corners):
        return f"object {label!r}: <bndbox> needs numeric xmin, ymin, xmax and ymax"
    xmin, ymin, xmax, ymax = (c for c in corners if c is not None)
    attributes: dict[str, Any] = {}
    for child in obj:
        if child.tag in OBJECT_OWN or len(child) or child.text is None:
            continue
        attributes[child.tag] = _flag(child.text) if child.tag in FLAGS else child.text.strip()
    for attribute in obj.findall("attributes/attribute"):
        key, value = (attribute.findtext("name") or "").strip(), attribute.findtext("value")
        if key and value is not None:
            attributes[key] = _flag(value)
    return Annotation(locator, label, (xmin, ymin, xmax - xmin, ymax - ymin), attributes=attributes)


def _snippet(element: ET.Element) -> str:
    text = ET.tostring(element, encoding="unicode")
    return " ".join(text.split())[:300]


def _looks_like_voc(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b"<annotation" in head
