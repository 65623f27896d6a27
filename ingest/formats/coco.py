"""COCO detection JSON (``images``, ``annotations``, ``categories``), streamed with ijson.

Two streaming passes: images and categories first (small, and the pass surfaces any JSON
syntax error before the run writes anything), then annotations, kept compactly per image.
Every malformed record is quarantined with its reason; the rest of the dataset is scored.

Images are looked for as COCO lays them out: a JSON in ``annotations/`` makes its parent the
dataset folder (:func:`ingest.paths.dataset_folder`), and ``file_name`` is looked for in the
split folder the JSON is named after (``instances_val2017.json``: ``val2017/``, then
``images/val2017/``), then ``images/`` and the dataset folder itself; ``media`` is where it
was found. Captions, panoptic and image-info files are not detection files: a folder's search
skips them by name and a file passed explicitly is refused by content.
"""

from __future__ import annotations

import codecs
import itertools
import json
import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from ingest.base import DatasetReader, Record, register
from ingest.images import ImageProblem, read_header
from ingest.model import Annotation, Item, Quarantined, snippet
from ingest.paths import DatasetRoot, UnsafePath, dataset_folder
from labelgate.errors import DatasetError

STANDARD_KEYS = {"id", "image_id", "category_id", "bbox", "segmentation", "area"}
NOT_A_JSON_NUMBER = re.compile(rb"[\[:,]\s*(NaN|-?Infinity)\b")
NOT_DETECTION = ("captions_", "panoptic_", "image_info_")  # COCO's own names for files without boxes
NOT_DETECTION_KEYS = ("caption", "segments_info")  # what captions and panoptic annotations carry instead of a bbox
LOOK_AHEAD = 20  # annotations looked at before refusing a file as not a detection file


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) or (isinstance(value, float) and value.is_integer()):
        return str(int(value)) if isinstance(value, float) else str(value)
    return None


@register
class CocoReader(DatasetReader):
    format = "coco"
    kind = "image"
    description = "COCO detection JSON: one file with images, annotations and categories"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.file = self._annotation_file(self.path)
        self.root = DatasetRoot(dataset_folder(self.file))
        self.image_dirs = self._image_dirs()

    def _image_dirs(self) -> list[tuple[str, str]]:
        """The split folders named after the JSON (``instances_val2017`` → ``val2017/``,
        ``images/val2017/``) that exist inside the root, each with its real path (resolved once
        here, so images in it cost one ``lstat``): looked in before ``images/`` and the root."""
        split = self.file.name.removesuffix(".json").rpartition("_")[2]
        found = []
        for folder in (split, f"images/{split}"):
            try:
                real = self.root.resolve(folder)
            except UnsafePath:
                continue
            if real.is_dir():
                found.append((folder, str(real)))
        return found

    @staticmethod
    def _annotation_file(path: Path) -> Path:
        if path.is_file():
            return path
        candidates = sorted(p for p in path.glob("*.json")) + sorted(path.glob("annotations/*.json"))
        cocos = [p for p in candidates if not p.name.startswith(NOT_DETECTION) and CocoReader._looks_like_coco(p)]
        if len(cocos) == 1:
            return cocos[0]
        if not cocos:
            raise DatasetError(f"{path}: no COCO JSON file found: pass the .json file itself")
        names = ", ".join(str(p) for p in cocos[:4])
        raise DatasetError(f"{path}: several COCO files ({names}): pass the one to score")

    @staticmethod
    def _looks_like_coco(path: Path) -> bool:
        try:
            with path.open("rb") as handle:
                head = handle.read(65536)
        except OSError:
            return False
        return head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"{") and (
            b'"images"' in head or b'"annotations"' in head
        )

    @classmethod
    def sniff(cls, path: Path) -> bool:
        if path.is_file():
            return path.suffix.lower() == ".json" and cls._looks_like_coco(path)
        try:
            cls._annotation_file(path)
        except DatasetError:
            return False
        return True

    def files(self) -> list[Path]:
        return [self.file]

    def _stream(self, prefix: str) -> Iterator[Any]:
        try:
            with self.file.open("rb") as handle:
                _skip_bom(handle)
                yield from ijson.items(handle, prefix, use_float=True)
        except ijson.JSONError as exc:
            raise DatasetError(
                f"{self.file}: {json_error_position(self.file, exc)}: fix the file "
                "or re-export it from your labeling tool"
            ) from None
        except OSError as exc:
            raise DatasetError(f"{self.file}: cannot read ({exc})") from None

    def records(self) -> Iterator[Record]:
        name = self.file.name
        categories = self._categories()
        images: dict[str, Item] = {}
        order: list[Item] = []
        bad_images: dict[str, str] = {}
        file_names: dict[str, str] = {}
        pending: list[Quarantined] = []
        seen_images_key = False
        for index, record in enumerate(self._stream("images.item")):
            seen_images_key = True
            locator = f"images[{index}]"
            problem, item = self._image(record, locator, images, file_names)
            if problem is not None:
                image_id = _id(record.get("id")) if isinstance(record, dict) else None
                if image_id is not None and image_id not in images:
                    bad_images.setdefault(image_id, problem)
                pending.append(
                    Quarantined(name, locator, problem, "item", item_id=_file_name(record), raw=snippet(record))
                )
                continue
            assert item is not None
            images[item.attributes["coco_image_id"]] = item
            file_names[item.id] = item.attributes["coco_image_id"]
            order.append(item)
        if not seen_images_key:
            if not self._has_key("images"):
                raise DatasetError(f"{self.file}: not a COCO file (no 'images' list): check --format")
            raise DatasetError(f"{self.file}: the 'images' list is empty: export the images with their annotations")
        self.expected_items = index + 1
        annotations = self._stream("annotations.item")
        head = list(itertools.islice(annotations, LOOK_AHEAD))
        self._refuse_captions_or_panoptic(head)
        yield from pending

        seen_annotations: set[str] = set()
        for index, record in enumerate(itertools.chain(head, annotations)):
            locator = f"annotations[{index}]"
            outcome = self._annotation(record, categories, images, bad_images, seen_annotations)
            if isinstance(outcome, str):
                image = images.get(_id(record.get("image_id")) or "") if isinstance(record, dict) else None
                if image is not None:
                    image.quarantined_annotations += 1
                yield Quarantined(
                    name,
                    locator,
                    outcome,
                    "annotation",
                    item_id=image.id if image else None,
                    annotation_id=_id(record.get("id")) if isinstance(record, dict) else None,
                    raw=snippet(record),
                )
                continue
            image_id, annotation = outcome
            images[image_id].annotations.append(annotation)
        yield from order

    def _refuse_captions_or_panoptic(self, head: list[Any]) -> None:
        """Refuse a captions or panoptic file (its annotations carry ``caption`` or
        ``segments_info`` and none of the first ones a bbox) before anything is written. Only
        that signature: a malformed detection record is quarantined, never fatal."""
        if any(isinstance(r, dict) and "bbox" in r for r in head):
            return
        for index, record in enumerate(head):
            if isinstance(record, dict) and any(key in record for key in NOT_DETECTION_KEYS):
                keys = ", ".join(sorted(map(str, record))[:5])
                raise DatasetError(
                    f"{self.file}: not a detection file: annotations[{index}] has no bbox or category_id "
                    f"(it has {keys}): pass an instances_*.json or person_keypoints_*.json file"
                )

    def _has_key(self, key: str) -> bool:
        """Whether the top-level object has ``key`` (parse events: no value is built)."""
        try:
            with self.file.open("rb") as handle:
                _skip_bom(handle)
                return any(p == "" and e == "map_key" and v == key for p, e, v in ijson.parse(handle))
        except ijson.JSONError:
            return False

    def _categories(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for record in self._stream("categories.item"):
            if isinstance(record, dict):
                cid, label = _id(record.get("id")), record.get("name")
                if cid is not None and isinstance(label, str) and cid not in out:
                    out[cid] = label
        return out

    def _image(
        self, record: Any, locator: str, images: dict[str, Item], file_names: dict[str, str]
    ) -> tuple[str | None, Item | None]:
        if not isinstance(record, dict):
            return "image record is not a JSON object", None
        image_id = _id(record.get("id"))
        if image_id is None:
            return "image record has no usable 'id'", None
        if image_id in images:
            return f"duplicate image id {image_id} (first seen earlier in images): ids must be unique", None
        file_name = record.get("file_name")
        if not isinstance(file_name, str) or not file_name.strip():
            return f"image {image_id} has no 'file_name'", None
        if file_name in file_names:
            return f"duplicate file_name {file_name!r} (also image id {file_names[file_name]})", None
        try:
            self.root.check(file_name)
            media = self._media(file_name)
        except UnsafePath as exc:
            return f"unsafe file_name: {exc}", None
        width: Any = record.get("width")
        height: Any = record.get("height")
        if not (_number(width) and _number(height) and width > 0 and height > 0):
            size = self._size_from_file(media)
            if size is None:
                return (f"image {image_id} has no valid width/height and its file cannot be read to measure them"), None
            if isinstance(size, str):
                return f"image {image_id} has no valid width/height and its file was refused: {size}", None
            width, height = size
        assert isinstance(width, int | float) and isinstance(height, int | float)
        attributes: dict[str, Any] = {"coco_image_id": image_id}
        return None, Item(
            id=file_name,
            kind="image",
            width=int(width),
            height=int(height),
            media=media,
            source=f"{self.file.name}#{locator}",
            attributes=attributes,
        )

    def _media(self, file_name: str) -> str:
        """The image's path under the root: in a split folder if it is there; else ``file_name``,
        which :meth:`DatasetRoot.find` looks for in the root and ``images/``. A missing image is
        named in the first split folder, so the missing-file finding says where it was expected."""
        for folder, real in self.image_dirs:
            if self._in_split_folder(folder, real, file_name):
                return f"{folder}/{file_name}"
        if self.image_dirs and self.root.find(file_name) is None:
            return f"{self.image_dirs[0][0]}/{file_name}"
        return file_name

    def _in_split_folder(self, folder: str, real: str, file_name: str) -> bool:
        """Whether ``folder/file_name`` is a file inside the root (``file_name`` already passed
        :meth:`DatasetRoot.check`: no ``..``, not absolute). A plain name costs one ``lstat`` in
        the folder's real path: a regular file there is inside the root without resolving it (a
        full resolve per image was +50% ingest time on 200k images). Symlinks and names with
        folders in them take :meth:`DatasetRoot.find`'s full check, which refuses escapes."""
        if "/" not in file_name and "\\" not in file_name:
            try:
                mode = os.lstat(os.path.join(real, file_name)).st_mode
            except (OSError, ValueError):
                return False
            if not stat.S_ISLNK(mode):
                return stat.S_ISREG(mode)
        return self.root.find(f"{folder}/{file_name}", ("",)) is not None

    def _size_from_file(self, file_name: str) -> tuple[int, int] | str | None:
        """The image's size from its header, a reason it was refused, or None if not found."""
        try:
            path = self.root.find(file_name)
        except UnsafePath:
            return None
        if path is None:
            return None
        try:
            header = read_header(path, file_name)
        except ImageProblem as exc:
            return str(exc)
        return header.width, header.height

    def _annotation(
        self,
        record: Any,
        categories: dict[str, str],
        images: dict[str, Item],
        bad_images: dict[str, str],
        seen: set[str],
    ) -> str | tuple[str, Annotation]:
        if not isinstance(record, dict):
            return "annotation record is not a JSON object"
        ann_id = _id(record.get("id"))
        if ann_id is None:
            return "annotation has no usable 'id'"
        if ann_id in seen:
            return f"duplicate annotation id {ann_id}: ids must be unique"
        seen.add(ann_id)
        missing = [k for k in ("image_id", "category_id", "bbox") if k not in record]
        if missing:
            return f"annotation {ann_id} is missing {', '.join(repr(k) for k in missing)}"
        image_id = _id(record["image_id"])
        if image_id is None or image_id not in images:
            if image_id is not None and image_id in bad_images:
                return f"annotation {ann_id} belongs to quarantined image {image_id}"
            return f"annotation {ann_id} points to unknown image_id {record['image_id']!r}"
        category = _id(record["category_id"])
        if category is None or category not in categories:
            return f"annotation {ann_id} has unknown category_id {record['category_id']!r}"
        bbox = record["bbox"]
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
            got = snippet(bbox, 80)
            return f"annotation {ann_id}: bbox must be 4 finite numbers [x, y, width, height], got {got}"
        attributes: dict[str, Any] = {}
        for key, value in record.items():
            if key in STANDARD_KEYS:
                continue
            if key == "attributes" and isinstance(value, dict):
                attributes.update({str(k): v for k, v in value.items()})
            elif isinstance(value, bool | int | float | str):
                attributes[key] = value
        if "iscrowd" in attributes:
            attributes["iscrowd"] = bool(attributes["iscrowd"])
        x, y, w, h = (float(v) for v in bbox)
        segmentation = record.get("segmentation")
        return image_id, Annotation(
            ann_id, categories[category], (x, y, w, h), attributes=attributes, segmentation=segmentation
        )


def json_error_position(path: Path, exc: Exception) -> str:
    """One line saying where a JSON file is broken (stdlib json knows line and column; it also
    accepts the NaN and Infinity Python writes, which ijson and JSON itself refuse)."""
    if path.stat().st_size <= 512 * 1024 * 1024:
        text = path.read_bytes()
        try:
            json.loads(text)
        except json.JSONDecodeError as decode:
            return f"invalid JSON at line {decode.lineno}, column {decode.colno} ({decode.msg})"
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass
        found = NOT_A_JSON_NUMBER.search(text)
        if found is not None:
            start = found.start(1)
            line, column = text.count(b"\n", 0, start) + 1, start - text.rfind(b"\n", 0, start)
            return (
                f"invalid JSON at line {line}, column {column} ({found[1].decode()} is not a JSON number: write null)"
            )
    return "invalid JSON (" + str(exc).strip().splitlines()[0] + ")"


def _skip_bom(handle: BinaryIO) -> None:
    """Step over a UTF-8 byte-order mark (Windows tools write one; ijson rejects it)."""
    if handle.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
        handle.seek(0)


def _file_name(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("file_name"), str):
        return str(record["file_name"])
    return None
