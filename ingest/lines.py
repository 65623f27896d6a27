"""Line-by-line reading of text datasets with line numbers, in constant memory.

Lines are decoded one at a time, so a single line that is not UTF-8 is quarantined instead
of failing the whole file. A UTF-8 byte-order mark on the first line is dropped. Raw text
kept for the quarantine table shows undecodable bytes as ``\\xe9``: the database stores
UTF-8 only, so one bad byte must never reach it.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from labelgate.errors import DatasetError

NOT_UTF8 = "not valid UTF-8 text (save the file as UTF-8)"


def numbered_lines(path: Path, max_bytes: int | None = None) -> Iterator[tuple[int, str | None, bytes]]:
    """``(line number, text, raw bytes)``; ``text`` is None when the line is not valid UTF-8.

    ``max_bytes`` bounds what is read (format sniffing: a minified JSON file is one huge
    line); a line the bound cuts is not yielded.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    with handle:
        for number, raw in enumerate(handle if max_bytes is None else _bounded(handle, max_bytes), 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield number, None, raw
                continue
            yield number, text, raw


def _bounded(handle: BinaryIO, budget: int) -> Iterator[bytes]:
    while budget > 0:
        raw = handle.readline(budget)
        budget -= len(raw)
        if not raw or (budget <= 0 and not raw.endswith(b"\n")):
            return
        yield raw


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def raw_snippet(raw: bytes, limit: int = 300) -> str:
    """Raw line bytes as valid text, undecodable bytes written ``\\xe9``."""
    return _cut(raw.decode("utf-8", "backslashreplace").rstrip("\r\n"), limit)


def has_bad_bytes(text: str) -> bool:
    """Whether ``text`` (decoded with ``surrogateescape``) holds bytes that were not UTF-8."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def printable(text: str) -> str:
    """``text`` with escaped undecodable bytes (or any lone surrogate) written ``\\xe9``: storable UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
