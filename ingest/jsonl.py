"""Shared reading of JSON Lines text datasets: one JSON object per line, one item per object.

Each line is parsed on its own (constant memory); a line that is not UTF-8, not JSON, not an
object, has no ``text`` string or repeats an id is quarantined with its line number. The item
id is the record's ``id`` (string or integer), else ``line N``. Subclasses turn a record's
labels or spans into annotations.

Detection reads records until one tells class labels from spans (:func:`record_shape`):
doccano and unfinished exports start with unannotated records (``"label": []``) that fit
both. A ``.json`` file is JSON Lines (HuggingFace's ``Dataset.to_json`` writes them) only
when its first line is a whole object with a ``text``; a JSON document spread over lines is
left to the readers of single-document formats.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import orjson

from ingest.base import DatasetReader, Record
from ingest.ids import as_id
from ingest.lines import NOT_UTF8, numbered_lines, raw_snippet
from ingest.model import Annotation, Item, Quarantined, snippet
from labelgate.errors import DatasetError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonlines")
SNIFF_LINES = 200
SNIFF_BYTES = 16 << 20  # a minified single-document .json is one line: never parse it whole to sniff
Shape = Literal["labels", "spans"]


def record_shape(record: dict[str, Any]) -> Shape | None:
    """Whether a record holds class labels or spans; None when it does not tell (no or empty labels)."""
    if "spans" in record or "entities" in record:
        return "spans"
    value = next((record[key] for key in ("label", "labels") if key in record), None)
    if value is None or value == []:
        return None
    entries = value if isinstance(value, list) else [value]
    if all(isinstance(v, list) or (isinstance(v, dict) and ("start" in v or "start_offset" in v)) for v in entries):
        return "spans"
    if all(not isinstance(v, list | dict) for v in entries):
        return "labels"
    return None


class JsonlTextReader(DatasetReader):
    """Base of the JSON Lines readers; subclasses set ``shape`` and implement ``annotations``."""

    kind = "text"
    reserved: ClassVar[frozenset[str]] = frozenset({"id", "text"})
    shape: ClassVar[Shape]
    """The records this reader claims; records that tell nothing go to ``labels`` (unlabelled items)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: {self.format} needs a .jsonl file, not a folder: pass the file")

    @abstractmethod
    def annotations(
        self, record: dict[str, Any], item_id: str, locator: str
    ) -> tuple[list[Annotation], list[Quarantined]]:
        """The record's annotations, and quarantined ones (with annotation-level locators)."""

    def record_problem(self, record: dict[str, Any]) -> str | None:
        """Why a well-formed record is still not to be scored (None to score it)."""
        return None

    @classmethod
    def sniff(cls, path: Path) -> bool:
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (*JSONL_SUFFIXES, ".json"):
            return False
        texts = 0
        for number, line, _ in numbered_lines(path, SNIFF_BYTES):
            if number > SNIFF_LINES:
                break
            if not line or not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                if suffix == ".json" and not texts:
                    return False
                continue
            texts += 1
            shape = record_shape(record)
            if shape is not None:
                return shape == cls.shape
        return texts > 0 and cls.shape == "labels"

    def files(self) -> list[Path]:
        return [self.path]

    def records(self) -> Iterator[Record]:
        name = self.path.name
        seen: set[str] = set()
        for number, line, raw in numbered_lines(self.path):
            locator = f"line {number}"
            if line is None:
                yield Quarantined(name, locator, NOT_UTF8, "item", raw=raw_snippet(raw))
                continue
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason = f"invalid JSON at column {exc.colno} ({exc.msg})"
                yield Quarantined(name, locator, reason, "item", raw=raw_snippet(raw))
                continue
            if not isinstance(record, dict):
                yield Quarantined(name, locator, "line is not a JSON object", "item", raw=raw_snippet(raw))
                continue
            item_id = as_id(record.get("id")) or locator
            problem = self._item_problem(record, item_id, seen) or self.record_problem(record)
            annotations, bad = self.annotations(record, item_id, locator)
            if problem is not None:
                yield Quarantined(name, locator, problem, "item", item_id=item_id, raw=snippet(record))
                for ann in annotations:
                    reason = f"belongs to quarantined item {item_id}"
                    yield Quarantined(name, f"{locator} {ann.id}", reason, item_id=item_id, annotation_id=ann.id)
                for record_bad in bad:
                    record_bad.reason = f"belongs to quarantined item {item_id}"
                    yield record_bad
                continue
            seen.add(item_id)
            yield from bad
            yield Item(
                item_id,
                "text",
                annotations,
                text=record["text"],
                source=f"{name}#{locator}",
                quarantined_annotations=len(bad),
            )

    @staticmethod
    def _item_problem(record: dict[str, Any], item_id: str, seen: set[str]) -> str | None:
        if "id" in record and record["id"] is not None and as_id(record["id"]) is None:
            return f"'id' must be a string or an integer, got {snippet(record['id'], 60)}"
        if item_id in seen:
            return f"duplicate id {item_id!r}: ids must be unique"
        if "text" not in record:
            return "record has no 'text'"
        text = record["text"]
        if not isinstance(text, str):
            return f"'text' must be a string, got {snippet(text, 60)}"
        return None

    def extra_attributes(self, record: dict[str, Any]) -> dict[str, Any]:
        """Scalar top-level fields other than the reader's own keys, kept as annotation attributes."""
        return {
            str(k): v for k, v in record.items() if k not in self.reserved and isinstance(v, bool | int | float | str)
        }
