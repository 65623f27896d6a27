"""Text classification as CSV (or TSV): a header row, then one text per row.

Columns are found by name in the header, case-insensitively; real exports name them many
ways, so each has aliases, and when several are present the first listed wins. Text:
``text``, ``sentence``, ``content``, ``document``, ``review``, ``comment``, ``tweet``,
``body``, ``utterance``, ``question``. Label: ``label``, ``category``, ``class``,
``sentiment``, ``target``, ``labels``, ``intent``. Id: ``id`` if present (else ``line N``,
the row's first physical line). An empty label cell makes an unlabelled item. Other columns
become attributes of the label. Annotation ids are ``<item id>:label``.

Rows are streamed; a malformed row (wrong number of fields, bad quoting, not UTF-8, every
cell empty) is quarantined with its line number, so items in = scored + quarantined (with
its label, when that can still be read). A header that lacks columns, looks like a data row
(a headerless export such as AG News) or is one column split by another delimiter (``;``
from a European spreadsheet) stops the run saying which.

TSV quoting: TSV as registered (IANA ``text/tab-separated-values``) has no quoting, and
datasets such as GLUE's SST-2 hold texts that start with a literal ``"``; CSV quoting would
take that quote as an opening one, swallow the rows after it and strip the marks. So a .tsv
is read without quote processing (every physical line is one row: none can be lost) unless
its first lines show CSV quoting (spreadsheet and pandas exports): some field among the
first 20 lines starts with ``"`` and those rows parse under strict CSV quoting, each as wide
as the header. A literal quote mid-field never starts quoting, so only fields that open
with one are evidence, and a stray one fails the strict parse.
"""

from __future__ import annotations

import codecs
import csv
import re
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _csv import Reader as _Reader

from ingest.base import DatasetReader, Record, register
from ingest.lines import NOT_UTF8, has_bad_bytes, printable
from ingest.model import Annotation, Item, Quarantined, snippet
from labelgate.errors import DatasetError

TEXT_COLUMNS = (
    "text",
    "sentence",
    "content",
    "document",
    "review",
    "comment",
    "tweet",
    "body",
    "utterance",
    "question",
)
LABEL_COLUMNS = ("label", "category", "class", "sentiment", "target", "labels", "intent")
ID_COLUMNS = ("id",)
SUFFIXES = {".csv": ",", ".tsv": "\t"}
QUOTE_SNIFF_ROWS = 20
QUOTE_SNIFF_LINES = 200  # a quoted field in the first rows may span lines
NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'", ",": "commas"}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def _short(cell: str, limit: int = 40) -> str:
    cell = " ".join(cell.split())
    return cell if len(cell) <= limit else cell[: limit - 3] + "..."


def _tsv_is_quoted(path: Path) -> bool:
    """Whether a .tsv uses CSV quoting (see the module docstring)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        lines = list(islice(handle, QUOTE_SNIFF_LINES))
    if not any(field.startswith('"') for line in lines[:QUOTE_SNIFF_ROWS] for field in line.split("\t")):
        return False
    try:
        rows = [row for row in islice(csv.reader(lines, delimiter="\t", strict=True), QUOTE_SNIFF_ROWS) if row]
    except csv.Error:
        return False
    return bool(rows) and all(len(row) == len(rows[0]) for row in rows)


def _header_problem(header: list[str], delimiter: str, suffix: str) -> str | None:
    """Why ``header`` cannot be read as a header (None when it names a text and a label column)."""
    text_col, label_col = _find(header, TEXT_COLUMNS), _find(header, LABEL_COLUMNS)
    if text_col is not None and label_col is not None:
        return None
    found = ", ".join(_short(h) for h in header) or "nothing"
    expected = OTHER_DELIMITERS[delimiter]
    other = next((d for d in OTHER_DELIMITERS if d != delimiter and len(header) == 1 and d in header[0]), None)
    if other is not None:
        hint = " (or as .tsv with tabs)" if suffix == ".csv" else ""
        return (
            f"the header is one column ({found}) split by {OTHER_DELIMITERS[other]}, but a {suffix} file is read "
            f"with {expected} between columns: save it with {expected}{hint}"
        )
    if any(NUMBER.fullmatch(h.strip()) or len(h) > 80 for h in header):
        return (
            f"the first line looks like data, not a header (found: {found}): add a first line naming the "
            "columns, with the text column called text and the label column label"
        )
    missing = []
    if text_col is None:
        missing.append(f"no text column (one of {', '.join(TEXT_COLUMNS)})")
    if label_col is None:
        missing.append(f"no label column (one of {', '.join(LABEL_COLUMNS)})")
    return f"the header has {' and '.join(missing)} (found: {found}): rename the columns"


BOX_COLUMNS = frozenset({"xmin", "ymin", "xmax", "ymax", "x_min", "y_min", "x_max", "y_max", "bbox", "x1", "y1"})


def _peek_header(path: Path, delimiter: str) -> list[str]:
    """The first row, leniently (undecodable bytes replaced), for deciding before reading; [] if unreadable."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            return next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, csv.Error):
        return []


def _refuse_box_table(path: Path, delimiter: str) -> None:
    """A CSV of boxes (Roboflow's TensorFlow CSV, Open Images) is not text: say so before anything else."""
    header = _peek_header(path, delimiter)
    boxes = [h.strip() for h in header if h.strip().lower() in BOX_COLUMNS]
    if len(boxes) >= 2:
        raise DatasetError(
            f"{path}: line 1: a table of boxes ({', '.join(boxes)}) is not a dataset format labelgate reads: "
            "export the boxes as COCO JSON, YOLO or Pascal VOC"
        )


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
        self.quoted = self.delimiter != "\t" or _tsv_is_quoted(self.path)
        _refuse_box_table(self.path, self.delimiter)

    @classmethod
    def sniff(cls, path: Path) -> bool:
        """Every .csv (no other format uses the suffix: the reader explains a header it cannot use);
        a .tsv only with a text and a label column (BIO token files are .tsv too)."""
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in SUFFIXES:
            return False
        if suffix == ".csv":
            return True
        header = _peek_header(path, "\t")
        return _find(header, TEXT_COLUMNS) is not None and _find(header, LABEL_COLUMNS) is not None

    def files(self) -> list[Path]:
        return [self.path]

    def _open(self) -> tuple[TextIO, _Reader, list[str]]:
        with self.path.open("rb") as probe:
            if probe.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                raise DatasetError(f"{self.path}: the file is UTF-16 text: save it as UTF-8 (CSV UTF-8 in Excel)")
        handle = self.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
        rows = csv.reader(
            handle, delimiter=self.delimiter, quoting=csv.QUOTE_MINIMAL if self.quoted else csv.QUOTE_NONE
        )
        try:
            header = [printable(h) for h in next(rows, [])]
        except csv.Error as exc:
            handle.close()
            raise DatasetError(f"{self.path}: line 1: cannot read the header ({exc}): fix its quoting") from None
        problem = _header_problem(header, self.delimiter, self.path.suffix.lower())
        if problem is not None:
            handle.close()
            raise DatasetError(f"{self.path}: line 1: {problem}")
        return handle, rows, header

    def records(self) -> Iterator[Record]:
        handle, rows, header = self._open()
        text_col, label_col, id_col = (_find(header, names) for names in (TEXT_COLUMNS, LABEL_COLUMNS, ID_COLUMNS))
        assert text_col is not None and label_col is not None
        name = self.path.name
        seen: set[str] = set()
        with handle:
            while True:
                line = rows.line_num + 1
                locator = f"line {line}"
                try:
                    row = next(rows)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield Quarantined(name, locator, f"malformed CSV row ({exc}): fix the row", "item")
                    continue
                if not row:  # a blank line is no row
                    continue
                fits = len(row) == len(header)
                item_id = printable(row[id_col].strip()) if fits and id_col is not None else ""
                item_id = item_id or locator
                label = row[label_col].strip() if fits else ""
                problem = self._row_problem(row, len(header), label_col, line, rows.line_num)
                if problem is None and item_id in seen:
                    problem = f"duplicate id {item_id!r}: ids must be unique"
                if problem is not None:
                    yield Quarantined(name, locator, problem, "item", item_id=item_id, raw=printable(snippet(row)))
                    if label and "\n" not in label and not has_bad_bytes(label):  # the label can still be read
                        reason = f"belongs to quarantined item {item_id}"
                        yield Quarantined(
                            name, f"{locator} label", reason, item_id=item_id, annotation_id=f"{item_id}:label"
                        )
                    continue
                seen.add(item_id)
                skip = {text_col, label_col, id_col}
                attributes = {header[i].strip(): v for i, v in enumerate(row) if i not in skip and v != ""}
                annotations = [Annotation(f"{item_id}:label", label, attributes=attributes)] if label else []
                yield Item(item_id, "text", annotations, text=row[text_col], source=f"{name}#{locator}")

    @staticmethod
    def _row_problem(row: list[str], width: int, label_col: int, first: int, last: int) -> str | None:
        """Why a row cannot be an item (None if it can); ``first``/``last`` are its physical lines."""
        if any(has_bad_bytes(cell) for cell in row):
            return NOT_UTF8
        if not any(cell.strip() for cell in row):
            return "empty row (every cell is empty): delete it or fill it in"
        if len(row) != width:
            reason = f"expected {width} fields like the header, got {len(row)}"
            if last > first and any("\n" in cell for cell in row):
                reason += f": a quoted field runs from line {first} to line {last} (unclosed quote?)"
            elif any("\n" in cell for cell in row):
                reason += f": a quote opened on line {first} is never closed; fix the quoting"
            return reason
        if last > first and "\n" in row[label_col]:
            return (
                f"the label runs from line {first} to line {last}: a quote opened in it is not closed; fix the quoting"
            )
        return None
