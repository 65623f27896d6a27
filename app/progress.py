"""A progress line on stderr for long runs (items, annotations, rate); silent with --quiet.

The bar starts with the first committed chunk, so a run that fails early prints nothing
but its one-line error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from app.output import err
from engine.writer import ChunkCounts


@contextmanager
def run_progress(quiet: bool) -> Iterator[Callable[[ChunkCounts], None] | None]:
    """Yields a callback for :func:`engine.run.score_dataset`'s ``progress``."""
    if quiet:
        yield None
        return
    totals = {"items": 0, "annotations": 0, "findings": 0}
    started = time.perf_counter()
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True)
    task = bar.add_task("scoring", total=None)
    live = False

    def update(counts: ChunkCounts) -> None:
        nonlocal live
        if not live:
            bar.start()
            live = True
        totals["items"] += counts.items + counts.items_quarantined
        totals["annotations"] += counts.annotations
        totals["findings"] += counts.findings
        rate = totals["annotations"] / max(time.perf_counter() - started, 1e-9)
        bar.update(
            task,
            description=(
                f"scoring: {totals['items']:,} items, {totals['annotations']:,} annotations, "
                f"{totals['findings']:,} findings ({rate:,.0f} annotations/s)"
            ),
        )

    try:
        yield update
    finally:
        if live:
            bar.stop()
