"""The reader extension point: one class per dataset format, registered by name.

Built-in readers register through the same :func:`register` call a plugin would use.
A reader streams :class:`~ingest.model.Item` and :class:`~ingest.model.Quarantined` records;
it raises :class:`~labelgate.errors.DatasetError` only when the dataset as a whole is
unreadable (missing file, broken JSON syntax), before yielding anything.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from ingest.model import Item, Quarantined
from ingest.paths import DatasetRoot
from labelgate.errors import DatasetError

Record = Item | Quarantined


class DatasetReader(ABC):
    """Base of every reader; subclasses set ``format``, ``kind`` and implement ``records``."""

    format: ClassVar[str]
    kind: ClassVar[Literal["image", "text"]]
    description: ClassVar[str] = ""

    expected_items: int | None = None
    """How many item records the dataset holds, once the reader knows (for progress and ETA)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DatasetError(f"{self.path}: dataset not found: check the path")
        self.root = DatasetRoot(self.path if self.path.is_dir() else self.path.parent)

    @classmethod
    @abstractmethod
    def sniff(cls, path: Path) -> bool:
        """Whether ``path`` looks like this format (for ``--format auto``)."""

    @abstractmethod
    def records(self) -> Iterator[Record]:
        """Items and quarantined records, in a deterministic order."""

    @abstractmethod
    def files(self) -> list[Path]:
        """The annotation files read, for the dataset fingerprint."""

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for file in sorted(self.files()):
            digest.update(self.root.relative(file).encode())
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return "sha256:" + digest.hexdigest()


READERS: dict[str, type[DatasetReader]] = {}


def register(reader: type[DatasetReader]) -> type[DatasetReader]:
    """Register a reader class under its ``format`` name (usable as a decorator)."""
    READERS[reader.format] = reader
    return reader


def open_dataset(path: str | Path, format: str = "auto") -> DatasetReader:
    """A reader for ``path``; ``format="auto"`` asks each registered reader to sniff it."""
    import ingest.formats  # noqa: F401  (registers the built-in readers)

    target = Path(path)
    if not target.exists():
        raise DatasetError(f"{target}: dataset not found: check the path")
    if target.is_dir() and not any(target.iterdir()):
        raise DatasetError(f"{target}: the folder is empty: point at the annotation file or the folder holding it")
    if target.is_file() and target.stat().st_size == 0:
        raise DatasetError(f"{target}: the file is empty: export the annotations again, or check the path")
    if format != "auto":
        reader = READERS.get(format)
        if reader is None:
            raise DatasetError(f"{target}: unknown format {format!r}: use one of auto, {', '.join(sorted(READERS))}")
        return reader(target)
    matches = [r for r in READERS.values() if r.sniff(target)]
    if len(matches) == 1:
        return matches[0](target)
    if not matches:
        raise DatasetError(f"{target}: cannot tell the dataset format: pass --format ({', '.join(sorted(READERS))})")
    names = ", ".join(sorted(r.format for r in matches))
    raise DatasetError(f"{target}: looks like several formats ({names}): pass --format")
