"""CoNLL-2003-style BIO/IOB files converted to character spans, one item per sentence.

Each line is ``token [other columns] TAG`` (the tag is the last column); a blank line ends a
sentence; ``-DOCSTART-`` lines separate documents. A sentence's text is its tokens joined by
single spaces, so span offsets index that text. Items are ``line N`` (the sentence's first
token line; ``<file> line N`` when the dataset is a folder of files) and spans are
``line M`` (their first token's line).

Conversion never "fixes" a tag sequence silently. The scheme of each file is detected from
how its chunks start: IOB2 (every chunk starts with ``B-``) when ``B-`` starts at least as
many chunks as ``I-``, else IOB1 (CoNLL-2003's original, where ``B-`` only separates two
adjacent chunks of one type). A chunk that starts against the scheme (``I-ORG after O`` in
IOB2, ``B-ORG after O`` in IOB1) still becomes a span, and the problem is recorded on it
(attribute ``iob_problem``) and counted on the sentence (``iob.*`` fields). A sentence with
a line that is not ``token ... TAG`` with TAG ``O``, ``B-TYPE`` or ``I-TYPE`` is quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.base import DatasetReader, Record, register
from ingest.lines import numbered_lines
from ingest.model import Annotation, Item, Quarantined
from labelgate.errors import DatasetError

TAG = re.compile(r"^(?:O|[BI]-\S+)$")
SUFFIXES = (".conll", ".iob", ".bio", ".iob2", ".conll03")
SNIFF_LINES = 50


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


def _looks_like_conll(path: Path) -> bool:
    tokens, tagged = _tagged_lines(path)
    return tokens > 0 and tagged >= 0.9 * tokens


def _tagged_lines(path: Path) -> tuple[int, int]:
    """Of the first token lines, how many there are and how many end in a BIO tag."""
    tokens = tagged = 0
    try:
        for number, line, _ in numbered_lines(path):
            if number > SNIFF_LINES * 4 or tokens >= SNIFF_LINES:
                break
            if line is None or not line.strip() or _is_docstart(line):
                continue
            tokens += 1
            parts = line.split()
            tagged += len(parts) >= 2 and bool(TAG.match(parts[-1]))
    except (OSError, DatasetError):
        pass
    return tokens, tagged


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
            self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
            if not self._files:
                raise DatasetError(f"{self.path}: no CoNLL files ({', '.join(SUFFIXES)}) in this folder")

    @classmethod
    def sniff(cls, path: Path) -> bool:
        if path.is_file():
            return _looks_like_conll(path)
        return any(p.suffix.lower() in SUFFIXES and _looks_like_conll(p) for p in sorted(path.iterdir()))

    def files(self) -> list[Path]:
        return list(self._files)

    def records(self) -> Iterator[Record]:
        for file in self._files:
            prefix = "" if self.path.is_file() else f"{self.root.relative(file)} "
            yield from self._file_records(file, prefix, _scheme(file))

    def _file_records(self, file: Path, prefix: str, scheme: str) -> Iterator[Record]:
        sentence = _Sentence()
        document = 0
        for number, line, _ in numbered_lines(file):
            if line is None:
                sentence.first_line = sentence.first_line or number
                sentence.problem = sentence.problem or f"line {number} is not valid UTF-8 text"
                continue
            if not line.strip() or _is_docstart(line):
                if sentence.first_line:
                    yield from self._sentence(file, prefix, sentence, scheme, max(document, 1))
                sentence = _Sentence()
                document += _is_docstart(line)
                continue
            parts = line.split()
            sentence.first_line = sentence.first_line or number
            if len(parts) < 2 or not TAG.match(parts[-1]):
                got = f"one column {parts[0]!r}" if len(parts) < 2 else f"tag {parts[-1]!r}"
                if sentence.problem is None:
                    sentence.problem = (
                        f"line {number}: expected 'token ... TAG' with TAG O, B-TYPE or I-TYPE, got {got}"
                    )
                    sentence.raw = line[:300]
                continue
            sentence.tokens.append((parts[0], parts[-1], number))
        if sentence.first_line:
            yield from self._sentence(file, prefix, sentence, scheme, max(document, 1))

    def _sentence(self, file: Path, prefix: str, sentence: _Sentence, scheme: str, document: int) -> Iterator[Record]:
        item_id = f"{prefix}line {sentence.first_line}"
        if sentence.problem is not None:
            yield Quarantined(
                file.name, f"line {sentence.first_line}", sentence.problem, "item", item_id=item_id, raw=sentence.raw
            )
            return
        words = [token for token, _, _ in sentence.tokens]
        starts: list[int] = []
        offset = 0
        for word in words:
            starts.append(offset)
            offset += len(word) + 1
        text = " ".join(words)
        annotations: list[Annotation] = []
        errors = 0
        current: Annotation | None = None
        previous = "sentence start"
        for index, (word, tag, number) in enumerate(sentence.tokens):
            kind = _chunk_type(tag)
            continues = current is not None and tag.startswith("I-") and kind == current.label
            if continues:
                assert current is not None
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
        yield Item(
            item_id,
            "text",
            annotations,
            text=text,
            source=f"{file.name}#line {sentence.first_line}",
            attributes={"iob_scheme": scheme, "iob_errors": errors, "document": document},
        )


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
    for _, line, _ in numbered_lines(file):
        if line is None or not line.strip() or _is_docstart(line):
            previous = None
            continue
        tag = line.split()[-1]
        if not TAG.match(tag) or tag == "O":
            previous = tag if tag == "O" else None
            continue
        continues_chunk = previous is not None and previous != "O" and previous[2:] == tag[2:]
        if tag.startswith("B-") and not continues_chunk:
            b_starts += 1
        elif tag.startswith("I-") and not continues_chunk:
            i_starts += 1
        previous = tag
    return "IOB2" if b_starts >= i_starts else "IOB1"
