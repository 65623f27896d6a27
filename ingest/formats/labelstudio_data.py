"""Label Studio's conventions, kept apart from the reader: which data field holds the image or
text, which dataset file a media URL stands for, span offsets, rotated rectangles, and the
JSON-MIN export turned back into a task of the full JSON export.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ingest.images import IMAGE_SUFFIXES
from ingest.paths import DatasetRoot, UnsafePath

BOX_TYPES = frozenset({"rectanglelabels", "rectangle"})
READ_TYPES = {"image": BOX_TYPES, "text": frozenset({"labels", "choices"})}
FIELD_NAMES = {"image": ("image", "img", "url"), "text": ("text",)}
UPLOAD_PREFIX = re.compile(r"[0-9a-fA-F]{8}-")  # Label Studio renames uploads to <8 hex digits>-<name>
MIN_KEYS = frozenset({"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement"})


def task_results(task: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every result object of every annotation of a task."""
    annotations = task.get("annotations")
    if annotations is None:
        annotations = task.get("completions")
    for annotation in annotations if isinstance(annotations, list) else []:
        found = annotation.get("result") if isinstance(annotation, dict) else None
        for result in found if isinstance(found, list) else []:
            if isinstance(result, dict):
                yield result


def data_field(task: dict[str, Any], kind: str) -> str | None:
    """The data key holding a task's image or text, None when it cannot be told.

    Tasks often carry other strings (a title, a source) next to it, so: the key the results
    point to (``to_name`` names the object tag, which is usually named after its data key),
    else a conventional name, else (images) the first value that looks like an image, else
    the only string.
    """
    data = task.get("data")
    if not isinstance(data, dict):
        return None
    strings: list[str] = [key for key, value in data.items() if isinstance(value, str)]
    for result in task_results(task):
        name = result.get("to_name")
        if result.get("type") in READ_TYPES[kind] and isinstance(name, str) and name in strings:
            return name
    for name in FIELD_NAMES[kind]:
        if name in strings:
            return name
    if kind == "image":
        looks = [key for key in strings if looks_like_image(data[key])]
        if looks:
            return looks[0]
    return strings[0] if len(strings) == 1 else None


def url_path(url: str) -> str:
    """The file path a media URL names: ``d`` of a local-files URL (``/data/local-files/?d=a/b.jpg``),
    else the URL's path (``s3://bucket/a/b.jpg`` → ``/a/b.jpg``)."""
    try:
        parts = urlsplit(url.replace("\\", "/"))
    except ValueError:
        return url
    local = parse_qs(parts.query).get("d")
    return local[0] if local else unquote(parts.path)


def looks_like_image(value: str) -> bool:
    path = url_path(value)
    return "." in path and path[path.rindex(".") :].lower() in IMAGE_SUFFIXES


def find_media(root: DatasetRoot, url: str) -> str | None:
    """The file inside ``root`` a media URL stands for (relative to the root), or None.

    Exports name images by server URLs (``/data/upload/1/3f2a9c1e-a.jpg``, ``s3://bucket/a.jpg``,
    ``http://host/a.jpg``); users who have the files put them next to the export or in
    ``images/``. Tried in order, there and in ``images/``: the URL's path, its file name, the
    file name without Label Studio's upload prefix. Raises :class:`~ingest.paths.UnsafePath`
    when the path leads out of the root, like any path written in a dataset.
    """
    if url.startswith("data:"):
        return None
    path = url_path(url).lstrip("/")
    name = path.rsplit("/", 1)[-1]
    prefixed = UPLOAD_PREFIX.match(name)
    tries = (path, name, name[prefixed.end() :] if prefixed else "")
    refused: UnsafePath | None = None
    for candidate in dict.fromkeys(t for t in tries if t not in ("", ".", "..")):
        try:  # a path that leads out (C:\\Users\\me\\a.jpg, ../a.jpg) may still have its file name inside
            found = root.find(candidate, ("", "images"))
        except UnsafePath as exc:
            refused = refused or exc
            continue
        if found is not None:
            return root.relative(found)
    if refused is not None:
        raise refused
    return None


def utf16_to_index(text: str, offset: int) -> int:
    """A Python string index from a JavaScript (UTF-16 code unit) offset."""
    if text.isascii() or all(ord(c) <= 0xFFFF for c in text):
        return offset
    units = 0
    for index, char in enumerate(text):
        if units >= offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(text) + (offset - units)


def span_offsets(text: str, start: int, end: int, selected: str | None) -> tuple[int, int, bool]:
    """A span's Python indexes, and whether they were read as UTF-16 code units.

    Current Label Studio writes code points (Python's indexes); older versions wrote
    JavaScript's UTF-16 units, which differ after every astral character (most emoji). The
    selected text the result carries decides; without it, code points.
    """
    if selected is None or text[start:end] == selected:
        return start, end, False
    begin, finish = utf16_to_index(text, start), utf16_to_index(text, end)
    if text[begin:finish] == selected:
        return begin, finish, True
    return start, end, False


def rotated_bounds(x: float, y: float, w: float, h: float, degrees: float) -> tuple[float, float, float, float]:
    """The axis-aligned box (x, y, w, h) around a rectangle turned clockwise about its top-left corner.

    Label Studio stores a rotated rectangle as its unrotated corner and size plus ``rotation``
    in degrees, clockwise on screen (y points down) about that corner; its own COCO and YOLO
    converters export this bounding box.
    """
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    xs = (0.0, w * cos, w * cos - h * sin, -h * sin)
    ys = (0.0, w * sin, w * sin + h * cos, h * cos)
    return x + min(xs), y + min(ys), max(xs) - min(xs), max(ys) - min(ys)


def is_min_record(record: Any) -> bool:
    """A record of the JSON-MIN export: flat, no ``data`` object, an ``annotation_id`` key."""
    return isinstance(record, dict) and "data" not in record and "annotation_id" in record


def min_task(record: dict[str, Any], kind: str) -> dict[str, Any]:
    """A JSON-MIN record (one annotation: the task's data, its id and the results' values keyed
    by ``from_name``) as a task of the JSON export, so both are read alike.

    Lists of objects and ``{"choices": [...]}`` are results. JSON-MIN writes a single choice as
    a bare string, like a data field: in text exports, strings other than the text are read as
    choices; image exports read only boxes from it.
    """
    data: dict[str, Any] = {}
    found: list[dict[str, Any]] = []
    for key, value in record.items():
        if key in MIN_KEYS:
            continue
        if isinstance(value, dict) and isinstance(value.get("choices"), list):
            found.append(_min_result(key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            found.extend(_min_result(f"{key}[{k}]", v, key) for k, v in enumerate(value))
        else:
            data[key] = value
    if kind == "text":
        text = data_field({"data": data}, "text")
        for key in [k for k, v in data.items() if isinstance(v, str) and k != text] if text else []:
            found.append(_min_result(key, {"choices": [data.pop(key)]}))
    annotation_id = record.get("annotation_id")
    annotation = {"id": annotation_id, "completed_by": record.get("annotator"), "result": found}
    annotated = annotation_id is not None or found
    return {"id": record.get("id"), "data": data, "annotations": [annotation] if annotated else []}


def _min_result(rid: str, value: dict[str, Any], from_name: str | None = None) -> dict[str, Any]:
    named = [key for key in value if key.endswith("labels") and key != "labels"]
    if named:
        kind = named[0]
    elif "labels" in value:
        kind = "labels" if "start" in value else "rectanglelabels"
    elif "x" in value:
        kind = "rectangle"
    else:
        kind = "choices" if "choices" in value else "textarea" if "text" in value else "unknown"
    return {
        "id": rid,
        "from_name": from_name or rid,
        "type": kind,
        "value": value,
        "original_width": value.get("original_width"),
        "original_height": value.get("original_height"),
    }
