"""Line-by-line reading of text datasets with line numbers, in constant memory.

Lines are decoded one at a time, so a single line that is not UTF-8 is quarantined instead
of failing the whole file. A UTF-8 byte-order mark on the first line is dropped.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from labelgate.errors import DatasetError


def numbered_lines(path: Path) -> Iterator[tuple[int, str | None, bytes]]:
    """``(line number, text, raw bytes)``; ``text`` is None when the line is not valid UTF-8."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield number, None, raw
                continue
            yield number, text, raw


def raw_snippet(raw: bytes, limit: int = 300) -> str:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
