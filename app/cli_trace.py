"""``labelgate show``: the full trace of one item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from app.output import out
from engine import queries
from engine.store import Store
from engine.trace import item_trace
from labelgate.settings import DB


def register(app: typer.Typer) -> None:
    app.command("show")(show)


def show(
    item: str = typer.Argument(
        ..., help="The item's id as the run has it: an image's file name or path, a record's id or 'line N', ..."
    ),
    run: str = typer.Option("latest", "--run", help="Run id, unique prefix, or 'latest'."),
    db: Path = typer.Option(None, "--db", help="DuckDB file [env LABELGATE_DB]."),
    json_: bool = typer.Option(False, "--json", help="Output JSON."),
) -> None:
    """Show everything that decided one item: measurements, route, attempts, rules, score, review.

    Example: labelgate show scene_00004.png --run latest --db runs.duckdb
    """
    with Store(db or Path(DB.get())).read() as con:
        run_id = queries.resolve_run(con, run)
        trace = item_trace(con, run_id, item)
    if json_:
        print(json.dumps(trace, default=str, indent=2, ensure_ascii=False))
        return
    _render(trace)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        return
    columns = [c for c in columns if any(row.get(c) not in (None, "", {}, []) for row in rows)]
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[Text(_cell(row.get(c))) for c in columns])
    out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k.split('.', 1)[-1] if '.' in k else k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def _render(trace: dict[str, Any]) -> None:
    item = trace["item"]
    out.print(Text(f"item {item['item_id']} in run {trace['run_id']}: {item.get('state')}", style="bold"))
    facts = {k: item.get(k) for k in ("source", "media", "width", "height", "annotation_count", "content_hash")}
    if any(v is not None for v in facts.values()):
        out.print(Text("  " + ", ".join(f"{k} {v}" for k, v in facts.items() if v is not None)))
    score = trace.get("score")
    if score:
        out.print(Text(f"  score {score['score']:g} -> {score['decision']} ({score['findings']} finding(s))"))
    route = trace.get("route")
    if route:
        out.print(
            Text(
                f"  route: {route['tier']} ({'; '.join(route['reasons'] or [])}); model cost "
                f"{(route['cost_usd'] or 0):.5f} USD"
            )
        )
    _table(
        "annotations",
        trace.get("annotations", []),
        ["annotation_id", "label", "x", "y", "w", "h", "span_start", "span_end", "measurements"],
    )
    _table(
        "model attempts",
        trace.get("attempts", []),
        [
            "annotation_id",
            "call_no",
            "attempt_no",
            "strategy",
            "model",
            "outcome",
            "error",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "latency_ms",
            "cached",
        ],
    )
    _table(
        "judgments", trace.get("judgments", []), ["annotation_id", "status", "strategy", "model", "values", "reason"]
    )
    _table(
        "rules fired",
        trace.get("findings", []),
        ["annotation_id", "rule_id", "severity", "clause", "message", "evidence"],
    )
    _table("escalations", trace.get("escalations", []), ["annotation_id", "check_id", "reason", "escalated_at"])
    _table(
        "reviews",
        trace.get("reviews", []),
        ["reviewer", "role", "decision", "corrected_label", "comment", "decided_at"],
    )
    _table("quarantined", trace.get("quarantined", []), ["source", "locator", "level", "reason", "raw"])
    _table("audit log", trace.get("audit", []), ["seq", "ts", "actor", "event"])
