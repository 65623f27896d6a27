"""Label Studio exports, streamed with ijson: the full "JSON" export (a list of tasks) and the
"JSON-MIN" export (one flat record per annotation, read as the task it came from).

Two formats share this reader: ``labelstudio`` for image boxes (``rectanglelabels`` results,
or ``rectangle`` + ``labels`` results sharing one id) and ``labelstudio-text`` for text
(``labels`` results with character offsets → spans, ``choices`` → classification labels).

One item per completed annotation of a task, ``<task id>-<annotation id>``, so two
annotators of one task are scored separately; a task nobody annotated is an item ``<task
id>`` with no annotations. Annotation ids are ``<task>-<annotation>-<result id>`` (with
``:k`` when one result carries several labels). Percent coordinates become pixels with the
result's ``original_width``/``original_height`` (rounded to 1/100 px, see
:func:`ingest.model.to_pixels`); a rotated rectangle becomes its axis-aligned bounding box,
with ``rotation`` and ``unrotated_bbox`` attributes. Span offsets are code points, or UTF-16
units in older exports (see :func:`~ingest.formats.labelstudio_data.span_offsets`). Image
URLs are looked up inside the export's folder (:func:`~ingest.formats.labelstudio_data.find_media`);
an image not found there keeps its URL and the ``remote_media`` attribute. Cancelled
(skipped) annotations and result types labelgate does not read (polygons, keypoints, text
areas, relations ...) are quarantined with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard

import ijson

from ingest.base import DatasetReader, Record, register
from ingest.formats.coco import json_error_position
from ingest.formats.labelstudio_data import (
    BOX_TYPES,
    data_field,
    find_media,
    is_min_record,
    looks_like_image,
    min_task,
    rotated_bounds,
    span_offsets,
    task_results,
)
from ingest.ids import as_id, as_label
from ingest.model import PIXEL_DECIMALS, Annotation, Item, Quarantined, snippet, to_pixels
from ingest.paths import UnsafePath
from labelgate.errors import DatasetError

SNIFF_TASKS = 5


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _labels(value: dict[str, Any], keys: tuple[str, ...]) -> list[Any] | None:
    for key in keys:
        if isinstance(value.get(key), list):
            return list(value[key])
    return None


def _task_kind(task: Any) -> str | None:
    """``image`` or ``text`` from a task's result types, else from its data; None if unclear."""
    if is_min_record(task):
        task = min_task(task, "image")
    if not isinstance(task, dict):
        return None
    for result in task_results(task):
        kind = result.get("type")
        if kind in BOX_TYPES:
            return "image"
        if kind in ("labels", "choices") and data_field(task, "text") is not None:
            return "text"
    data = task.get("data")
    if isinstance(data, dict):
        if "image" in data or any(isinstance(v, str) and looks_like_image(v) for v in data.values()):
            return "image"
        if "text" in data:
            return "text"
    return None


class _LabelStudioReader(DatasetReader):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: pass the Label Studio JSON export file itself")
        self._media_seen: tuple[tuple[str, str], str | None, dict[str, Any]] | None = None

    @classmethod
    def sniff(cls, path: Path) -> bool:
        if not path.is_file() or path.suffix.lower() != ".json":
            return False
        try:
            with path.open("rb") as handle:
                if not handle.read(4096).lstrip().startswith(b"["):
                    return False
                handle.seek(0)
                for index, task in enumerate(ijson.items(handle, "item", use_float=True)):
                    kind = _task_kind(task)
                    if kind is not None:
                        return kind == cls.kind
                    if index >= SNIFF_TASKS:
                        break
        except (ijson.JSONError, OSError):
            return False
        return False

    def files(self) -> list[Path]:
        return [self.path]

    def _validate(self) -> None:
        """A whole pass over the JSON syntax, so a broken export fails before anything is scored."""
        try:
            with self.path.open("rb") as handle:
                first = handle.read(4096).lstrip()[:1]
                if first != b"[":
                    raise DatasetError(
                        f"{self.path}: not a Label Studio JSON export (a list of tasks): use its JSON export"
                    )
                handle.seek(0)
                for _ in ijson.parse(handle):
                    pass
        except ijson.JSONError as exc:
            raise DatasetError(
                f"{self.path}: {json_error_position(self.path, exc)}: fix the file or export it again"
            ) from None

    def records(self) -> Iterator[Record]:
        self._validate()
        name = self.path.name
        seen: set[str] = set()
        with self.path.open("rb") as handle:
            for index, task in enumerate(ijson.items(handle, "item", use_float=True)):
                if is_min_record(task):
                    yield from self._task(min_task(task, self.kind), f"[{index}]", name, seen, flat=True)
                else:
                    yield from self._task(task, f"[{index}]", name, seen)

    def _task(self, task: Any, locator: str, name: str, seen: set[str], flat: bool = False) -> Iterator[Record]:
        """A task's items; ``flat``: a JSON-MIN record, whose one annotation has no locator of its own."""
        if not isinstance(task, dict) or as_id(task.get("id")) is None or not isinstance(task.get("data"), dict):
            yield Quarantined(
                name,
                locator,
                "task must be an object with an 'id' and a 'data' object",
                "item",
                raw=snippet(task),
            )
            return
        task_id = as_id(task["id"])
        assert task_id is not None
        annotations = task.get("annotations")
        if annotations is None:
            annotations = task.get("completions") or []
        if not isinstance(annotations, list):
            yield Quarantined(name, locator, f"task {task_id}: 'annotations' must be a list", "item", item_id=task_id)
            return
        field = data_field(task, self.kind)
        if not annotations:
            yield from self._item(task, field, task_id, {}, [], locator, name, seen)
        for k, annotation in enumerate(annotations):
            where = locator if flat else f"{locator}.annotations[{k}]"
            if not isinstance(annotation, dict):
                yield Quarantined(
                    name,
                    where,
                    "annotation must be an object",
                    "item",
                    item_id=task_id,
                    raw=snippet(annotation),
                )
                continue
            ann_id = as_id(annotation.get("id")) or str(k)
            results = annotation.get("result") or []
            if not isinstance(results, list):
                results = [results]  # quarantined below as a result that is not an object
            yield from self._item(task, field, f"{task_id}-{ann_id}", annotation, results, where, name, seen)

    def _item(
        self,
        task: dict[str, Any],
        field: str | None,
        item_id: str,
        annotation: dict[str, Any],
        results: list[Any],
        locator: str,
        name: str,
        seen: set[str],
    ) -> Iterator[Record]:
        problem = None
        if item_id in seen:
            problem = f"duplicate task/annotation id {item_id}: ids must be unique"
        elif annotation.get("was_cancelled"):
            problem = f"annotation {item_id} was cancelled (skipped) in Label Studio"
        value = task["data"].get(field) if field is not None else None
        text = value if self.kind == "text" and isinstance(value, str) else None
        if problem is None and self.kind == "text" and text is None:
            keys = ", ".join(map(str, task["data"])) or "none"
            problem = f"cannot tell which data field holds the text (fields: {keys}): name it 'text'"
        converted = self._results(results, item_id, text)
        if problem is not None:
            yield Quarantined(
                name,
                locator,
                problem,
                "item",
                item_id=item_id,
                annotation_id=None,
                raw=snippet(annotation)[:300],
            )
            for ann_id, _ in converted:
                yield Quarantined(
                    name,
                    f"{locator} {ann_id}",
                    f"belongs to quarantined item {item_id}",
                    item_id=item_id,
                    annotation_id=ann_id,
                )
            return
        seen.add(item_id)
        good: list[Annotation] = []
        bad = 0
        size: tuple[int, int] | None = None
        for ann_id, outcome in converted:
            if isinstance(outcome, str):
                bad += 1
                yield Quarantined(name, f"{locator} {ann_id}", outcome, item_id=item_id, annotation_id=ann_id)
                continue
            annotation_obj, original = outcome
            size = size or original
            good.append(annotation_obj)
        task_id = as_id(task["id"])
        assert task_id is not None
        media: str | None = None
        attributes: dict[str, Any] = {"task_id": task_id}
        if self.kind == "image" and isinstance(value, str):
            media, found = self._media(task_id, value)
            attributes.update(found)
        if annotation:
            attributes["annotation_id"] = as_id(annotation.get("id"))
            if annotation.get("completed_by") is not None:
                attributes["completed_by"] = annotation.get("completed_by")
        yield Item(
            item_id,
            self.kind,
            good,
            width=size[0] if size else None,
            height=size[1] if size else None,
            media=media,
            text=text,
            source=f"{name}#{locator}",
            attributes=attributes,
            quarantined_annotations=bad,
        )

    def _media(self, task_id: str, url: str) -> tuple[str, dict[str, Any]]:
        """The image's path in the dataset folder, with the URL kept; else the URL, marked remote.

        The last answer is kept: a task's annotations (one item each) share the image.
        """
        if self._media_seen is None or self._media_seen[0] != (task_id, url):
            try:
                found, problem = find_media(self.root, url), None
            except UnsafePath as exc:
                found, problem = None, f"image for task {task_id} ({url}) refused: {exc}"
            if found is not None:
                self._media_seen = ((task_id, url), found, {"media_url": url})
            else:
                problem = problem or (
                    f"image for task {task_id} ({url}) not found under {self.root.root}: "
                    "put the images next to the export (or in images/)"
                )
                self._media_seen = ((task_id, url), None, {"remote_media": True, "media_problem": problem})
        _, found, attributes = self._media_seen
        return found or url, dict(attributes)

    def _results(
        self, results: list[Any], item_id: str, text: str | None
    ) -> list[tuple[str, tuple[Annotation, tuple[int, int] | None] | str]]:
        """Each result as ``(annotation id, (annotation, original size) or reason)``."""
        merged: dict[str, dict[str, Any]] = {}
        order: list[str] = []
        out: list[tuple[str, tuple[Annotation, tuple[int, int] | None] | str]] = []
        for k, result in enumerate(results):
            if not isinstance(result, dict):
                out.append((f"{item_id}-result[{k}]", "result must be an object"))
                continue
            rid = as_id(result.get("id")) or f"result[{k}]"
            if rid not in merged:
                merged[rid] = {"types": [], "value": {}, "result": result}
                order.append(rid)
            merged[rid]["types"].append(str(result.get("type")))
            if isinstance(result.get("value"), dict):
                merged[rid]["value"].update(result["value"])
        for rid in order:
            entry = merged[rid]
            base_id = f"{item_id}-{rid}"
            out.extend(self.convert(entry["types"], entry["value"], entry["result"], base_id, text))
        return out

    def convert(
        self, types: list[str], value: dict[str, Any], result: dict[str, Any], base_id: str, text: str | None
    ) -> list[tuple[str, tuple[Annotation, tuple[int, int] | None] | str]]:
        raise NotImplementedError


def _each_label(labels: list[Any], base_id: str) -> Iterator[tuple[str, str | None]]:
    for k, label in enumerate(labels):
        yield (base_id if len(labels) == 1 else f"{base_id}:{k}"), as_label(label)


@register
class LabelStudioImageReader(_LabelStudioReader):
    format = "labelstudio"
    kind = "image"
    description = "Label Studio JSON export with rectangle results (image boxes)"

    def convert(
        self, types: list[str], value: dict[str, Any], result: dict[str, Any], base_id: str, text: str | None
    ) -> list[tuple[str, tuple[Annotation, tuple[int, int] | None] | str]]:
        if not BOX_TYPES & set(types):
            kinds = ", ".join(sorted(set(types)))
            return [(base_id, f"result type {kinds} is not a box: labelgate reads rectanglelabels results")]
        labels = _labels(value, ("rectanglelabels", "labels"))
        if not labels:
            return [(base_id, "rectangle has no label")]
        width, height = result.get("original_width"), result.get("original_height")
        if not (_number(width) and _number(height) and width > 0 and height > 0):
            return [
                (
                    base_id,
                    "result has no original_width/original_height: cannot convert percentages to pixels",
                )
            ]
        raw = [value.get(k) for k in ("x", "y", "width", "height")]
        coords = [c for c in raw if _number(c)]
        if len(coords) != 4:
            return [
                (
                    base_id,
                    f"rectangle needs numeric x, y, width and height (percent), got {snippet(raw, 80)}",
                )
            ]
        x, y, w, h = coords
        box = (
            to_pixels(x / 100, width),
            to_pixels(y / 100, height),
            to_pixels(w / 100, width),
            to_pixels(h / 100, height),
        )
        attributes: dict[str, Any] = {}
        rotation = value.get("rotation")
        if _number(rotation) and rotation % 360:
            # measured as its bounding box (what Label Studio's COCO/YOLO converters export); the
            # rotation and the drawn rectangle stay attributes a rule can read
            attributes["rotation"] = rotation
            attributes["unrotated_bbox"] = list(box)
            bounds = rotated_bounds(x / 100 * width, y / 100 * height, w / 100 * width, h / 100 * height, rotation)
            box = (
                round(bounds[0], PIXEL_DECIMALS),
                round(bounds[1], PIXEL_DECIMALS),
                round(bounds[2], PIXEL_DECIMALS),
                round(bounds[3], PIXEL_DECIMALS),
            )
        size = (int(width), int(height))
        out: list[tuple[str, tuple[Annotation, tuple[int, int] | None] | str]] = []
        for ann_id, label in _each_label(labels, base_id):
            if label is None:
                out.append((ann_id, "rectangle label must be a non-empty string"))
            else:
                out.append((ann_id, (Annotation(ann_id, label, box, attributes=dict(attributes)), size)))
        return out


@register
class LabelStudioTextReader(_LabelStudioReader):
    format = "labelstudio-text"
    kind = "text"
    description = "Label Studio JSON export with text labels (spans) and choices"

    def convert(
        self, types: list[str], value: dict[str, Any], result: dict[str, Any], base_id: str, text: str | None
    ) -> list[tuple[str, tuple[Annotation, tuple[int, int] | None] | str]]:
        if "choices" in types:
            labels = _labels(value, ("choices",)) or []
            if not labels:
                return [(base_id, "choices result has no choice")]
            return [
                (ann_id, (Annotation(ann_id, label), None) if label else "choice must be a non-empty string")
                for ann_id, label in _each_label(labels, base_id)
            ]
        if "labels" not in types:
            kinds = ", ".join(sorted(set(types)))
            return [(base_id, f"result type {kinds} is not read: labelgate reads labels (spans) and choices")]
        span_labels = _labels(value, ("labels",))
        start, end = value.get("start"), value.get("end")
        if not span_labels:
            return [(base_id, "span has no label")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            return [(base_id, f"span needs integer start and end offsets, got {snippet([start, end], 60)}")]
        assert isinstance(start, int) and isinstance(end, int)
        if text is None:
            return [(base_id, "the task has no text for this span")]
        span_text = value.get("text") if isinstance(value.get("text"), str) else None
        begin, finish, utf16 = span_offsets(text, start, end, span_text)
        attributes = {"offsets": "utf16"} if utf16 else {}
        return [
            (
                ann_id,
                (Annotation(ann_id, label, start=begin, end=finish, text=span_text, attributes=dict(attributes)), None)
                if label
                else "span label must be a non-empty string",
            )
            for ann_id, label in _each_label(span_labels, base_id)
        ]
