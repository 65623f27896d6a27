"""Small helpers to read a dataset into items and quarantined records."""

from __future__ import annotations

from pathlib import Path

from ingest.base import open_dataset
from ingest.model import Item, Quarantined


def read(path: Path, format: str = "auto") -> tuple[list[Item], list[Quarantined]]:
    items: list[Item] = []
    bad: list[Quarantined] = []
    for record in open_dataset(path, format).records():
        (items if isinstance(record, Item) else bad).append(record)  # type: ignore[arg-type]
    return items, bad


def reasons(bad: list[Quarantined]) -> dict[tuple[str, str], str]:
    return {(q.level, q.locator): q.reason for q in bad}
