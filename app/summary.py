"""The end-of-run summary printed by ``score`` and ``demo``."""

from __future__ import annotations

from rich.table import Table

from app.output import err, out
from engine.run import RunSummary


def print_summary(summary: RunSummary) -> None:
    table = Table(title=f"run {summary.run_id} ({summary.status})", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rate = summary.annotations_scored / summary.duration_s if summary.duration_s else 0.0
    table.add_row("items in", f"{summary.items_in:,}")
    table.add_row("  scored", f"{summary.items_scored:,}")
    table.add_row("  quarantined", f"{summary.items_quarantined:,}")
    table.add_row("annotations in", f"{summary.annotations_in:,}")
    table.add_row("  scored", f"{summary.annotations_scored:,}")
    table.add_row("  quarantined", f"{summary.annotations_quarantined:,}")
    table.add_row("passed", f"[green]{summary.passed:,}[/green]")
    table.add_row("failed", f"[red]{summary.failed:,}[/red]")
    table.add_row("needs review", f"[yellow]{summary.needs_review:,}[/yellow]")
    table.add_row("findings", f"{summary.findings:,}")
    shown = f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"  # a model run of a few items is not "0 annotations/s"
    table.add_row("time", f"{summary.duration_s:.2f} s ({shown} annotations/s)")
    if summary.models:
        label = f"{summary.models} (simulated)" if summary.simulated else summary.models
        table.add_row("models", label)
        calls = f"{summary.model_attempts:,}"
        if summary.cached_attempts:
            calls += f" ({summary.cached_attempts:,} answered from the store, not paid again)"
        table.add_row("model calls", calls)
        priced = " (simulated prices)" if summary.simulated else ""
        table.add_row("model cost", f"{summary.cost_usd:.4f} USD{priced}")
        per_item = summary.cost_per_accepted_item
        if per_item is not None:
            table.add_row("cost per accepted item", f"{per_item:.5f} USD")
    out.print(table)
    if summary.top_rules:
        top = ", ".join(f"{rule} ({n})" for rule, n in summary.top_rules)
        out.print(f"top rules fired: {top}", soft_wrap=True)
    for rule in summary.rules_on_every_item:
        err.print(
            f"note: {rule} fired on every one of the {summary.items_scored:,} items: a dataset-wide cause "
            "(dataset path or format, image folder, a rulebook parameter) is likelier than that many separate "
            f"mistakes; `labelgate findings {summary.run_id} --rule {rule} --limit 5` shows examples",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
