"""CoNLL-2003-style BIO/IOB files converted to character spans, one item per sentence.

Each line is ``token [other columns] TAG`` (the tag is the last column). Columns are split on
tabs when the line has one, else on ASCII spaces only: a token may hold (or be) a no-break
or ideographic space (U+00A0, U+3000), which ``str.split()`` would cut. A blank line ends a
sentence; ``-DOCSTART-`` lines separate documents; ``#`` lines standing before a sentence's
tokens (CoNLL-U's ``# sent_id = 1``, ``# text = ...``) are comments, unless they are token
lines (``#happy O``, a WNUT hashtag) that are not ``# key = value``. A sentence's text is its
tokens joined by single spaces, so span offsets index that text. Items are ``line N`` (the
sentence's first token line; ``<file> line N`` when the dataset is a folder of files) and
spans are ``line M`` (their first token's line). A folder is read file by file in name
order; its CoNLL files are those with a CoNLL suffix and those whose lines sniff as CoNLL
(CoNLL-2003's ``eng.train``, ``eng.testa``; HuggingFace's ``train.txt``, ``valid.txt``).

Conversion never "fixes" a tag sequence silently. The scheme of each file is detected from
how its chunks start: IOB2 (every chunk starts with ``B-``) when ``B-`` starts at least as
many chunks as ``I-``, else IOB1 (CoNLL-2003's original, where ``B-`` only separates two
adjacent chunks of one type). A chunk that starts against the scheme (``I-ORG after O`` in
IOB2, ``B-ORG after O`` in IOB1) still becomes a span, and the problem is recorded on it
(attribute ``iob_problem``) and counted on the sentence (``iob.*`` fields). A sentence with
a line that is not ``token ... TAG`` with TAG ``O``, ``B-TYPE`` or ``I-TYPE`` is quarantined,
and the spans its other lines make are quarantined with it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ingest.base import DatasetReader, Record, register
from ingest.images import IMAGE_SUFFIXES
from ingest.lines import NOT_UTF8, numbered_lines, raw_snippet
from ingest.model import Annotation, Item, Quarantined
from labelgate.errors import DatasetError

TAG = re.compile(r"^(?:O|[BI]-\S+)$")
SUFFIXES = (".conll", ".iob", ".bio", ".iob2", ".conll03")
SNIFF_LINES = 50
SNIFF_BYTES = 1 << 20
# Suffixes never holding CoNLL: a folder of 100,000 images is not opened file by file to find out.
NOT_TEXT = IMAGE_SUFFIXES | {".zip", ".gz", ".json", ".xml"}
SNIFF_FILES = 50  # files of a folder looked into, besides those with a CoNLL suffix

LineKind = Literal["break", "comment", "token", "bad", "undecodable"]


@dataclass
class _Sentence:
    first_line: int = 0
    tokens: list[tuple[str, str, int]] = field(default_factory=list)
    problem: str | None = None
    raw: str = ""  # the offending line, for the quarantine table


def _is_docstart(line: str) -> bool:
    return line.lstrip().startswith("-DOCSTART-")


def _chunk_type(tag: str) -> str | None:
    return None if tag == "O" else tag[2:]


def _columns(line: str) -> list[str]:
    """Tab-separated columns when a tab stands between them (stray spaces around it dropped), else
    ASCII-space-separated; never split on other Unicode spaces, which can be part of a token."""
    stripped = line.strip("\t \r\n")
    if "\t" in stripped:
        return [part.strip(" ") for part in stripped.split("\t")]
    return [part for part in stripped.split(" ") if part]


def _lines(path: Path, max_bytes: int | None = None) -> Iterator[tuple[int, LineKind, list[str], bytes]]:
    """Each line's number, kind, columns and raw bytes; ``break`` is a blank or -DOCSTART- line."""
    in_sentence = False
    for number, line, raw in numbered_lines(path, max_bytes):
        if line is None:
            in_sentence = True
            yield number, "undecodable", [], raw
            continue
        if not line.strip() or _is_docstart(line):
            in_sentence = False
            yield number, "break", [], raw
            continue
        parts = _columns(line)
        token = len(parts) >= 2 and bool(parts[0]) and bool(TAG.match(parts[-1]))
        if not in_sentence and line.startswith("#") and (not token or (parts[0] == "#" and "=" in parts[1:4])):
            yield number, "comment", parts, raw
            continue
        in_sentence = True
        yield number, "token" if token else "bad", parts, raw


def _looks_like_conll(path: Path) -> bool:
    tokens, tagged = _tagged_lines(path)
    return tokens > 0 and tagged >= 0.9 * tokens


def _is_text(path: Path) -> bool:
    """Not a binary file (an image beside the annotations): no NUL byte in its first block."""
    try:
        with path.open("rb") as handle:
            return b"\0" not in handle.read(1024)
    except OSError:
        return False


def _tagged_lines(path: Path) -> tuple[int, int]:
    """Of the first token lines, how many there are and how many end in a BIO tag."""
    tokens = tagged = 0
    if not _is_text(path):
        return tokens, tagged
    try:
        for number, kind, _, _ in _lines(path, SNIFF_BYTES):
            if number > SNIFF_LINES * 4 or tokens >= SNIFF_LINES:
                break
            if kind in ("token", "bad"):
                tokens += 1
                tagged += kind == "token"
    except (OSError, DatasetError):
        pass
    return tokens, tagged


def _folder_files(folder: Path, sniffing: bool = False) -> list[Path]:
    """The folder's CoNLL files in name order: a CoNLL suffix, or content that sniffs as CoNLL.

    When ``sniffing`` (``--format auto``), only the first ``SNIFF_FILES`` other files are
    looked into, so a folder of many images is not read file by file.
    """
    with os.scandir(folder) as entries:  # names and types from the listing: no stat per file
        names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file())
    named = [folder / n for n in names if os.path.splitext(n)[1].lower() in SUFFIXES]
    others = [n for n in names if os.path.splitext(n)[1].lower() not in (*SUFFIXES, *NOT_TEXT)]
    if sniffing:
        others = others[:SNIFF_FILES]
    return sorted(named + [folder / n for n in others if _looks_like_conll(folder / n)])


@register
class ConllReader(DatasetReader):
    format = "conll"
    kind = "text"
    description = "CoNLL-2003 BIO/IOB token files (token ... TAG), converted to spans"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        if self.path.is_file():
            tokens, tagged = _tagged_lines(self.path)
            if tokens and not tagged:
                raise DatasetError(
                    f"{self.path}: does not look like CoNLL (no line of the first {tokens} ends in a tag such as "
                    "O, B-PER or I-LOC): check the file, or use --format auto to detect its format"
                )
            self._files = [self.path]
        else:
            self._files = _folder_files(self.path)
            if not self._files:
                raise DatasetError(
                    f"{self.path}: no CoNLL files in this folder (none named {', '.join(SUFFIXES)} and none whose "
                    "lines end in a tag such as O, B-PER or I-LOC): point at the folder holding them"
                )

    @classmethod
    def sniff(cls, path: Path) -> bool:
        return _looks_like_conll(path) if path.is_file() else bool(_folder_files(path, sniffing=True))

    def files(self) -> list[Path]:
        return list(self._files)

    def records(self) -> Iterator[Record]:
        for file in self._files:
            prefix = "" if self.path.is_file() else f"{self.root.relative(file)} "
            yield from self._file_records(file, prefix, _scheme(file))

    def _file_records(self, file: Path, prefix: str, scheme: str) -> Iterator[Record]:
        sentence = _Sentence()
        document = 0
        for number, kind, parts, raw in _lines(file):
            if kind == "comment":
                continue
            if kind == "break":
                if sentence.first_line:
                    yield from self._sentence(file, prefix, sentence, scheme, max(document, 1))
                sentence = _Sentence()
                document += raw.lstrip().startswith(b"-DOCSTART-")
                continue
            sentence.first_line = sentence.first_line or number
            if kind == "token":
                sentence.tokens.append((parts[0], parts[-1], number))
            elif sentence.problem is None:
                sentence.problem = (
                    f"line {number} is {NOT_UTF8}" if kind == "undecodable" else _line_problem(number, parts)
                )
                sentence.raw = raw_snippet(raw)
        if sentence.first_line:
            yield from self._sentence(file, prefix, sentence, scheme, max(document, 1))

    def _sentence(self, file: Path, prefix: str, sentence: _Sentence, scheme: str, document: int) -> Iterator[Record]:
        item_id = f"{prefix}line {sentence.first_line}"
        text, annotations, errors = _spans(sentence.tokens, prefix, scheme)
        if sentence.problem is not None:
            yield Quarantined(
                file.name, f"line {sentence.first_line}", sentence.problem, "item", item_id=item_id, raw=sentence.raw
            )
            reason = f"belongs to quarantined item {item_id}"
            for ann in annotations:
                yield Quarantined(file.name, ann.id.removeprefix(prefix), reason, item_id=item_id, annotation_id=ann.id)
            return
        yield Item(
            item_id,
            "text",
            annotations,
            text=text,
            source=f"{file.name}#line {sentence.first_line}",
            attributes={"iob_scheme": scheme, "iob_errors": errors, "document": document},
        )


def _line_problem(number: int, parts: list[str]) -> str:
    if len(parts) < 2:
        got = f"one column {parts[0]!r}" if parts else "nothing"
    elif not parts[0]:
        got = "an empty token"
    else:
        got = f"tag {parts[-1]!r}"
    return f"line {number}: expected 'token ... TAG' with TAG O, B-TYPE or I-TYPE, got {got}"


def _spans(tokens: list[tuple[str, str, int]], prefix: str, scheme: str) -> tuple[str, list[Annotation], int]:
    """A sentence's text, its spans and how many of them start against ``scheme``."""
    starts: list[int] = []
    offset = 0
    for word, _, _ in tokens:
        starts.append(offset)
        offset += len(word) + 1
    text = " ".join(word for word, _, _ in tokens)
    annotations: list[Annotation] = []
    errors = 0
    current: Annotation | None = None
    previous = "sentence start"
    for index, (word, tag, number) in enumerate(tokens):
        kind = _chunk_type(tag)
        if current is not None and tag.startswith("I-") and kind == current.label:
            current.end = starts[index] + len(word)
        elif kind is not None:
            problem = _start_problem(tag, previous, scheme)
            errors += problem is not None
            current = Annotation(
                f"{prefix}line {number}",
                kind,
                start=starts[index],
                end=starts[index] + len(word),
                attributes={"iob_problem": problem} if problem else {},
            )
            annotations.append(current)
        else:
            current = None
        previous = tag
    for ann in annotations:
        ann.text = text[ann.start : ann.end]
    return text, annotations, errors


def _start_problem(tag: str, previous: str, scheme: str) -> str | None:
    """Why a chunk may not start with ``tag`` after ``previous`` under ``scheme`` (None if fine)."""
    same_type_before = previous != "sentence start" and _chunk_type(previous) == tag[2:]
    if scheme == "IOB2" and tag.startswith("I-"):
        return f"{tag} after {previous}"
    if scheme == "IOB1" and tag.startswith("B-") and not same_type_before:
        return f"{tag} after {previous}"
    return None


def _scheme(file: Path) -> str:
    """IOB2 when B- starts at least as many chunks as I- does, else IOB1 (first pass, counts only)."""
    b_starts = i_starts = 0
    previous: str | None = None
    for _, kind, parts, _ in _lines(file):
        if kind == "comment":
            continue
        tag = parts[-1] if kind == "token" else ""
        if tag in ("", "O"):
            previous = tag or None
            continue
        continues_chunk = previous is not None and previous != "O" and previous[2:] == tag[2:]
        if tag.startswith("B-") and not continues_chunk:
            b_starts += 1
        elif tag.startswith("I-") and not continues_chunk:
            i_starts += 1
        previous = tag
    return "IOB2" if b_starts >= i_starts else "IOB1"
