"""A progress line on stderr for long runs: items, rate, model cost so far and ETA.

The bar starts with the first committed chunk, so a run that fails early prints nothing
but its one-line error; ``--quiet`` silences it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from app.output import err
from engine.writer import ChunkCounts


@contextmanager
def run_progress(quiet: bool, already: int = 0) -> Iterator[Callable[[ChunkCounts], None] | None]:
    """Yields a callback for ``score_dataset``/``resume_run``; ``already`` items were done before."""
    if quiet:
        yield None
        return
    totals = {"items": 0, "annotations": 0, "findings": 0}
    cost = 0.0
    started = time.perf_counter()
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True)
    task = bar.add_task("scoring", total=None)
    live = False

    def update(counts: ChunkCounts) -> None:
        nonlocal live, cost
        if not live:
            bar.start()
            live = True
        totals["items"] += counts.items + counts.items_quarantined
        totals["annotations"] += counts.annotations
        totals["findings"] += counts.findings
        cost += counts.cost_usd
        elapsed = max(time.perf_counter() - started, 1e-9)
        rate = totals["items"] / elapsed
        done = totals["items"] + already
        text = f"scoring: {done:,}"
        if counts.expected_items:
            text += f"/{counts.expected_items:,}"
        text += f" items ({rate:,.1f}/s), {totals['findings']:,} findings"
        if cost:
            text += f", {cost:.4f} USD"
        if counts.expected_items and rate > 0:
            remaining = max(counts.expected_items - done, 0) / rate
            text += f", ETA {int(remaining // 60)}:{int(remaining % 60):02d}"
        bar.update(task, description=text)

    try:
        yield update
    finally:
        if live:
            bar.stop()
