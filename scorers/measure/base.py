"""The measurement extension point.

A measurement declares the fields it fills (name, type, scope, meaning) and fills them for
one item: the item's row and one row per annotation, each a flat ``{path: value}`` dict.
A value it cannot compute is left out (missing), never invented.

Two optional abilities, both off by default:

- ``on_demand = True``: the measurement runs only when the rulebook reads one of its fields
  (PII patterns, file checks: costly or privacy-sensitive work nobody asked for is skipped).
- :class:`DatasetMeasurement`: a measurement that needs the whole dataset first (duplicate
  texts, class distribution, duplicate images). It sees every item in a first streaming
  pass (``observe``), then ``finish``, then fills rows during the normal pass. It keeps
  counters and hashes, never the items. It is always on demand.

Before a run, the engine calls :meth:`Measurement.bind` with the dataset's
:class:`DatasetInfo`; a measurement that needs the dataset root or per-run state returns a
fresh, bound copy (the registered instance is shared and never mutated).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ingest.model import Item
from rulebook.model import AttributeSpec, Taxonomy
from rulebook.vocabulary import FieldSpec

Row = dict[str, Any]


@dataclass(frozen=True)
class MeasureContext:
    """What measurements may know about the rulebook: labels and declared attributes."""

    taxonomy: Taxonomy
    attributes: dict[str, AttributeSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetInfo:
    """What a measurement may know about the dataset of a run, given at bind time."""

    root: Path
    format: str
    fields_used: frozenset[str]
    context: MeasureContext


class Measurement(ABC):
    name: ClassVar[str]
    applies_to: ClassVar[frozenset[str]]
    fields: ClassVar[tuple[FieldSpec, ...]]
    on_demand: ClassVar[bool] = False

    @abstractmethod
    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        """Add this measurement's fields to ``item_row`` and to each of ``rows``."""

    def bind(self, dataset: DatasetInfo) -> Measurement:
        """The instance to use for one run; stateless measurements return themselves."""
        return self

    def used_by(self, fields_used: frozenset[str] | set[str]) -> bool:
        """Whether a rulebook reading ``fields_used`` needs this measurement."""
        return not self.on_demand or any(spec.path in fields_used for spec in self.fields)


class DatasetMeasurement(Measurement):
    """A measurement that needs a first pass over the whole dataset (bounded memory)."""

    on_demand: ClassVar[bool] = True

    def __init__(self) -> None:
        self.dataset: DatasetInfo | None = None
        self.finished = False

    def bind(self, dataset: DatasetInfo) -> DatasetMeasurement:
        fresh = copy.copy(self)
        fresh.dataset = dataset
        fresh.reset()
        return fresh

    @abstractmethod
    def reset(self) -> None:
        """Start empty state for one run."""

    @abstractmethod
    def observe(self, item: Item) -> None:
        """See one item of the first pass; keep counters or hashes only."""

    def finish(self) -> None:
        """The first pass is over."""
        self.finished = True
