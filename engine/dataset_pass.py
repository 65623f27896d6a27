"""Choose and prepare a run's measurements, with the dataset pre-pass when one needs it.

Only measurements the rulebook needs run: always-on ones, and on-demand ones (PII, image
files, dataset-level checks) when a condition or message reads one of their fields. Each is
bound to the dataset (its root, the fields used). If any needs the whole dataset first
(duplicate texts, class distribution, duplicate images), the reader is streamed once more,
before scoring, and each such measurement observes every item; memory stays bounded by what
those measurements keep (counters and hashes), never the items.
"""

from __future__ import annotations

import time

from ingest.base import DatasetReader
from ingest.model import Item
from rulebook.compiler import CompiledRulebook
from scorers.measure import (
    DatasetInfo,
    DatasetMeasurement,
    MeasureContext,
    Measurement,
    measurements_used,
)


def prepare_measurements(
    reader: DatasetReader, compiled: CompiledRulebook, seconds: dict[str, float] | None = None
) -> list[Measurement]:
    """Measurements for this run, bound to the dataset; runs the pre-pass if one is needed."""
    rulebook = compiled.rulebook
    used = frozenset(compiled.fields_used())
    info = DatasetInfo(
        root=reader.root.root,
        format=reader.format,
        fields_used=used,
        context=MeasureContext(rulebook.taxonomy, dict(rulebook.attributes)),
    )
    bound = [m.bind(info) for m in measurements_used(rulebook.applies_to, used)]
    observers = [m for m in bound if isinstance(m, DatasetMeasurement)]
    if observers:
        started = time.perf_counter()
        for record in reader.records():
            if isinstance(record, Item):
                for measurement in observers:
                    measurement.observe(record)
        for measurement in observers:
            measurement.finish()
        if seconds is not None:
            seconds["dataset pass"] = time.perf_counter() - started
    return bound
