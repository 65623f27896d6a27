"""Text classification as CSV (or TSV): a header row, then one text per row.

Columns are found by name in the header (case-insensitive): the text in ``text``
(or ``sentence``, ``content``, ``document``), the label in ``label`` (or ``category``,
``class``), the id in ``id`` if present (else ``line N``, the row's first physical line).
An empty label cell makes an unlabelled item. Other columns become attributes of the
label. Rows are streamed; a malformed row (wrong number of fields, bad quoting, not UTF-8)
is quarantined with its line number. Annotation ids are ``<item id>:label``.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _csv import Reader as _Reader

from ingest.base import DatasetReader, Record, register
from ingest.model import Annotation, Item, Quarantined, snippet
from labelgate.errors import DatasetError

TEXT_COLUMNS = ("text", "sentence", "content", "document")
LABEL_COLUMNS = ("label", "category", "class")
ID_COLUMNS = ("id",)
SUFFIXES = {".csv": ",", ".tsv": "\t"}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def _has_bad_bytes(values: list[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


@register
class TextCsvReader(DatasetReader):
    format = "text-csv"
    kind = "text"
    description = "text classification CSV/TSV with a header: text, label, optional id"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: text-csv needs a .csv or .tsv file, not a folder")
        self.delimiter = SUFFIXES.get(self.path.suffix.lower(), ",")

    @classmethod
    def sniff(cls, path: Path) -> bool:
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            return False
        try:
            with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
                header = next(csv.reader(handle, delimiter=SUFFIXES[path.suffix.lower()]), [])
        except (OSError, csv.Error):
            return False
        return _find(header, TEXT_COLUMNS) is not None and _find(header, LABEL_COLUMNS) is not None

    def files(self) -> list[Path]:
        return [self.path]

    def _open(self) -> tuple[TextIO, _Reader, int, int, int | None, list[str]]:
        handle = self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
        rows = csv.reader(handle, delimiter=self.delimiter)
        try:
            header = next(rows)
        except StopIteration:
            handle.close()
            raise DatasetError(f"{self.path}: the file is empty: a header row (text, label) is needed") from None
        except csv.Error as exc:
            handle.close()
            raise DatasetError(f"{self.path}: line 1: cannot read the header ({exc})") from None
        text_col, label_col = _find(header, TEXT_COLUMNS), _find(header, LABEL_COLUMNS)
        if text_col is None or label_col is None:
            handle.close()
            missing = (
                "a text column (text, sentence, content or document)"
                if text_col is None
                else ("a label column (label, category or class)")
            )
            found = ", ".join(header) or "nothing"
            raise DatasetError(f"{self.path}: line 1: the header has no {missing} (found: {found}): rename it")
        return handle, rows, text_col, label_col, _find(header, ID_COLUMNS), header

    def records(self) -> Iterator[Record]:
        handle, rows, text_col, label_col, id_col, header = self._open()
        name = self.path.name
        seen: set[str] = set()
        try:
            while True:
                line = rows.line_num + 1
                locator = f"line {line}"
                try:
                    row = next(rows)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield Quarantined(name, locator, f"malformed CSV row ({exc})", "item")
                    continue
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    reason = f"expected {len(header)} fields like the header, got {len(row)}"
                    if rows.line_num > line and any("\n" in cell for cell in row):
                        reason += f": a quoted field runs from line {line} to line {rows.line_num} (unclosed quote?)"
                    yield Quarantined(name, locator, reason, "item", raw=snippet(row))
                    continue
                if rows.line_num > line and "\n" in row[label_col]:
                    reason = (
                        f"the label runs from line {line} to line {rows.line_num}: a quote opened in it is not "
                        "closed; fix the quoting"
                    )
                    yield Quarantined(name, locator, reason, "item", raw=snippet(row))
                    continue
                if _has_bad_bytes(row):
                    yield Quarantined(name, locator, "not valid UTF-8 text", "item", raw=snippet(row))
                    continue
                item_id = row[id_col].strip() if id_col is not None and row[id_col].strip() else locator
                label = row[label_col].strip()
                if item_id in seen:
                    reason = f"duplicate id {item_id!r}: ids must be unique"
                    yield Quarantined(name, locator, reason, "item", item_id=item_id, raw=snippet(row))
                    if label:
                        yield Quarantined(
                            name,
                            f"{locator} label",
                            f"belongs to quarantined item {item_id}",
                            item_id=item_id,
                            annotation_id=f"{item_id}:label",
                        )
                    continue
                seen.add(item_id)
                skip = {text_col, label_col, id_col}
                attributes = {header[i].strip(): v for i, v in enumerate(row) if i not in skip and v != ""}
                annotations = [Annotation(f"{item_id}:label", label, attributes=attributes)] if label else []
                yield Item(item_id, "text", annotations, text=row[text_col], source=f"{name}#{locator}")
        finally:
            handle.close()
