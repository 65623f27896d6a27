"""The reader extension point: one class per dataset format, registered by name.

Built-in readers register through the same :func:`register` call a plugin would use.
A reader streams :class:`~ingest.model.Item` and :class:`~ingest.model.Quarantined` records;
it raises :class:`~labelgate.errors.DatasetError` only when the dataset as a whole is
unreadable (missing file, broken JSON syntax), before yielding anything.
"""

from __future__ import annotations

import functools
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from ingest.model import Item, Quarantined
from ingest.paths import DatasetRoot, dataset_folder
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
        inside = _datasets_inside(target) if target.is_dir() else []
        if inside:
            shown = ", ".join(f"{target / rel} ({fmt})" for rel, fmt in inside[:6])
            which = "that" if len(inside) == 1 else "one of them"
            raise DatasetError(f"{target}: not a dataset itself, but it holds {shown}: pass {which} instead")
        raise DatasetError(f"{target}: cannot tell the dataset format: pass --format ({', '.join(sorted(READERS))})")
    names = ", ".join(sorted(r.format for r in matches))
    raise DatasetError(f"{target}: looks like several formats ({names}): pass --format")


@functools.lru_cache(maxsize=16)
def dataset_root_of(dataset_path: str, format: str | None = None) -> Path:
    """The folder a stored run's images are found in, as its reader resolves it (the folder above
    ``annotations/``, a dataset YAML's ``path``); the dataset's own folder when it cannot be opened.

    For the review screen and reports, which show images long after the run (readers' constructors
    are cheap: they list or parse nothing).
    """
    try:
        return open_dataset(dataset_path, format or "auto").root.root
    except (DatasetError, OSError):
        return dataset_folder(Path(dataset_path))


SNIFF_BUDGET = 200  # entries sniffed when explaining a failed detection: a few folders, not a whole tree


def _datasets_inside(folder: Path) -> list[tuple[str, str]]:
    """``(relative path, format)`` of what a reader recognises one or two levels down
    (``VOCdevkit/VOC2007``, Roboflow's ``train/``/``valid/``, several COCO JSONs): a failed
    detection names them instead of only asking for ``--format``."""
    found: list[tuple[str, str]] = []
    budget = SNIFF_BUDGET
    level = [folder]
    for _ in range(2):
        deeper: list[Path] = []
        for parent in level:
            for child in sorted(parent.iterdir())[:budget]:
                budget -= 1
                formats = [r.format for r in READERS.values() if r.sniff(child)]
                if formats:
                    found.append((str(child.relative_to(folder)), "/".join(sorted(formats))))
                elif child.is_dir():
                    deeper.append(child)
            if budget <= 0:
                return found
        level = deeper
    return found
