"""The measurement extension point.

A measurement declares the fields it fills (name, type, scope, meaning) and fills them for
one item: the item's row and one row per annotation, each a flat ``{path: value}`` dict.
A value it cannot compute is left out (missing), never invented.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
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


class Measurement(ABC):
    name: ClassVar[str]
    applies_to: ClassVar[frozenset[str]]
    fields: ClassVar[tuple[FieldSpec, ...]]

    @abstractmethod
    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        """Add this measurement's fields to ``item_row`` and to each of ``rows``."""
