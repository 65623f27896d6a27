"""Deterministic measurements: registry, vocabulary and the per-item row builder."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ingest.model import Item
from rulebook.model import AttributeSpec
from rulebook.vocabulary import FieldSpec
from scorers.measure.base import DatasetInfo, DatasetMeasurement, MeasureContext, Measurement, Row

MEASUREMENTS: list[Measurement] = []


def register(measurement: Measurement) -> Measurement:
    """Add a measurement; built-ins use this same path."""
    MEASUREMENTS.append(measurement)
    return measurement


def _builtins() -> None:
    from scorers.measure import (  # noqa: F401  (they register themselves)
        boxes,
        dataset,
        files,
        iob,
        labels,
        overlap,
        pii,
        segmentation,
        spans,
        text,
    )


def measurements_for(applies_to: str) -> list[Measurement]:
    """Every measurement for this kind of item, on-demand ones included (the vocabulary)."""
    _builtins()
    return [m for m in MEASUREMENTS if applies_to in m.applies_to]


def measurements_used(applies_to: str, fields_used: set[str] | frozenset[str]) -> list[Measurement]:
    """The measurements a run needs: always-on ones, and on-demand ones whose fields are read."""
    return [m for m in measurements_for(applies_to) if m.used_by(fields_used)]


def fields_for(applies_to: str) -> list[FieldSpec]:
    """Every field the measurements for this kind of item declare."""
    return [spec for m in measurements_for(applies_to) for spec in m.fields]


def coerce_attribute(value: Any, spec: AttributeSpec) -> Any:
    """Bring a dataset attribute to its declared type; unusable values become missing."""
    if value is None:
        return None
    if spec.type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "y", "t"}:
            return True
        if isinstance(value, str) and value.strip().lower() in {"false", "no", "0", "n", "f", ""}:
            return False
        return None
    if spec.type == "number":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float):
            return value
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return value if isinstance(value, str) else str(value)


def structure_rows(item: Item, ctx: MeasureContext) -> tuple[Row, list[Row]]:
    """The structural fields every item kind has (ids, label, size, declared attributes)."""
    item_row: Row = {
        "item.id": item.id,
        "item.annotation_count": len(item.annotations),
        "item.quarantined_annotations": item.quarantined_annotations,
    }
    if item.kind == "image":
        item_row["item.width"] = item.width
        item_row["item.height"] = item.height
    else:
        item_row["item.text"] = item.text
    rows: list[Row] = []
    for ann in item.annotations:
        row: Row = {"annotation.id": ann.id, "annotation.label": ann.label}
        if ann.start is not None:
            row["annotation.start"] = ann.start
            row["annotation.end"] = ann.end
            row["annotation.text"] = ann.text
        for name, spec in ctx.attributes.items():
            value = coerce_attribute(ann.attributes.get(name), spec)
            if value is not None:
                row[f"annotation.{name}"] = value
        rows.append(row)
    return item_row, rows


def measure_item(item: Item, ctx: MeasureContext, measurements: Iterable[Measurement]) -> tuple[Row, list[Row]]:
    """The item's row and its annotations' rows with every measurement filled in."""
    item_row, rows = structure_rows(item, ctx)
    for measurement in measurements:
        measurement.measure(item, item_row, rows, ctx)
    return item_row, rows


__all__ = [
    "MEASUREMENTS",
    "DatasetInfo",
    "DatasetMeasurement",
    "MeasureContext",
    "Measurement",
    "Row",
    "fields_for",
    "measure_item",
    "measurements_for",
    "measurements_used",
    "register",
]
