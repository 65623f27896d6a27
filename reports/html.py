"""The audit report of one run: a single self-contained HTML file.

Everything is inline: CSS in ``<style>``, charts as SVG (``reports.charts``), thumbnails as
``data:`` URIs (``reports.thumbs``); the page has no script and a Content-Security-Policy that
forbids loading anything, so it opens the same offline, in a mail attachment or an archive.
Jinja2 autoescapes every value: dataset strings (labels, texts, ids, messages) are untrusted.

``reports/`` only reads the store; writing the file is recorded as an ``export`` audit event
through ``engine.events.record_export`` (see its docstring).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from engine.audit import verify
from engine.events import record_export
from engine.queries import quarantine, resolve_run
from engine.store import Store
from labelgate.errors import ExportError
from labelgate.version import __version__
from reports import charts, data
from reports.agreement import HUMAN_OUTCOME, OUTCOMES, cohen_kappa, confusion_matrix, machine_outcome
from reports.thumbs import Box, Thumbnailer, dataset_root, highlight
from rulebook.loader import load_stored

TEMPLATES = Path(__file__).parent / "templates"
SECTIONS = (
    ("run", "Run"),
    ("outcomes", "Outcomes"),
    ("scores", "Score distribution"),
    ("rules", "Findings per rule"),
    ("classes", "Per-class breakdown"),
    ("cost", "Routing and cost"),
    ("reviews", "Review outcomes"),
    ("agreement", "Agreement: machine vs human"),
    ("audit", "Audit log"),
)


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True)
    env.filters.update(num=fmt_num, pct=fmt_pct, usd=fmt_usd, when=fmt_when, secs=fmt_secs)
    return env


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def fmt_num(value: Any, digits: int = 0) -> str:
    if _blank(value):
        return "–"
    return f"{float(value):,.{digits}f}" if digits else f"{round(float(value)):,}"


def fmt_pct(value: Any) -> str:
    return "–" if _blank(value) else f"{float(value):.1%}"


def fmt_usd(value: Any) -> str:
    if _blank(value):
        return "–"
    amount = float(value)
    if amount == 0:
        return "$0"
    return f"${amount:,.2f}" if amount >= 100 else f"${amount:.4f}" if amount >= 0.01 else f"${amount:.6f}"


def fmt_when(value: Any) -> str:
    if _blank(value):
        return "–"
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_secs(value: Any) -> str:
    return "–" if _blank(value) else f"{float(value):,.2f} s"


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with missing values as ``None`` (templates test ``is none``)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


def _rulebook_facts(yaml_text: str | None) -> dict[str, Any]:
    book = load_stored(yaml_text)
    if book is None:  # none stored, or it no longer loads: the report goes without its facts
        return {"guideline": None, "guideline_url": None, "pass_at": None, "rules": {}}
    return {
        "guideline": book.guideline.title,
        "guideline_url": book.guideline.url,
        "pass_at": book.scoring.pass_at,
        "rules": {r.id: r for r in book.rules},
    }


def _examples(con: duckdb.DuckDBPyConnection, run: Mapping[str, Any], per_rule: int, budget: int) -> dict[str, Any]:
    frame = data.rule_examples(con, str(run["run_id"]), per_rule)
    if frame.empty:
        return {}
    image_items = sorted(set(frame.loc[frame["kind"] == "image", "item_id"]))
    boxes: dict[str, list[Box]] = {}
    for row in records(data.item_annotations(con, str(run["run_id"]), image_items)):
        if any(_blank(row[k]) for k in ("x", "y", "w", "h")):
            continue
        boxes.setdefault(str(row["item_id"]), []).append(
            Box(str(row["annotation_id"]), float(row["x"]), float(row["y"]), float(row["w"]), float(row["h"]))
        )
    thumbnailer = Thumbnailer(dataset_root(run.get("dataset_path"), run.get("dataset_format")), budget=budget)
    examples: dict[str, list[dict[str, Any]]] = {}
    for row in records(frame):
        example = dict(row)
        if row["kind"] == "image":
            example["thumb"] = thumbnailer.image(
                row["media"], row["width"], row["height"], boxes.get(str(row["item_id"]), []), row["annotation_id"]
            )
        else:
            start = None if _blank(row["span_start"]) else int(row["span_start"])
            end = None if _blank(row["span_end"]) else int(row["span_end"])
            example["snippet"] = highlight(row["text"], start, end)
        examples.setdefault(str(row["rule_id"]), []).append(example)
    return examples


def _cost(con: duckdb.DuckDBPyConnection, run: Mapping[str, Any]) -> dict[str, Any]:
    run_id = str(run["run_id"])
    tiers = data.tier_costs(con, run_id)
    items = data.item_costs(con, run_id)
    total = float(tiers["cost_usd"].sum()) if len(tiers) else 0.0
    failed = float(tiers["failed_cost_usd"].sum()) if len(tiers) else 0.0
    passed = int(run.get("passed") or 0)
    scored = int(run.get("items_scored") or 0)
    with_calls = len(items)
    return {
        "tiers": records(tiers),
        "routing": records(data.routing(con, run_id)),
        "outcomes": records(data.attempt_outcomes(con, run_id)),
        "total": total,
        "failed": failed,
        "attempts": int(tiers["attempts"].sum()) if len(tiers) else 0,
        "failed_attempts": int(tiers["failed_attempts"].sum()) if len(tiers) else 0,
        "per_item": total / scored if scored else None,
        "per_item_with_calls": total / with_calls if with_calls else None,
        "per_accepted": total / passed if passed else None,
        "items_with_calls": with_calls,
        "item_median": float(items["cost_usd"].median()) if with_calls else None,
        "item_p95": float(items["cost_usd"].quantile(0.95)) if with_calls else None,
        "item_max": float(items["cost_usd"].max()) if with_calls else None,
        "top_items": records(items.head(10)),
        "tier_chart": charts.tier_cost_bars(tiers) if len(tiers) else None,
        "item_chart": charts.item_cost_histogram(items) if with_calls else None,
    }


def _agreement(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    pairs = data.review_agreement(con, run_id)
    mapped = [
        (machine_outcome(bool(p)), HUMAN_OUTCOME[h])
        for p, h in zip(pairs["passed"], pairs["human_decision"], strict=True)
        if h in HUMAN_OUTCOME
    ]
    matrix = confusion_matrix(mapped)
    detail = (
        pairs.groupby(["machine_decision", "human_decision"]).size().reset_index(name="items")
        if len(pairs)
        else pd.DataFrame(columns=["machine_decision", "human_decision", "items"])
    )
    return {"labels": OUTCOMES, "matrix": matrix, "kappa": cohen_kappa(matrix), "detail": records(detail)}


def build(con: duckdb.DuckDBPyConnection, run_id: str, *, per_rule: int = 3, thumbnails: int = 120) -> dict[str, Any]:
    """Everything the report template shows, read from the store."""
    run = data.run_row(con, run_id)
    facts = _rulebook_facts(run.get("rulebook_yaml"))
    rules = data.rule_summary(con, run_id)
    classes = data.class_breakdown(con, run_id)
    values = data.score_values(con, run_id)
    audit_counts, audit_latest = data.audit_events(con, run_id)
    scored = int(run.get("items_scored") or 0)
    review_counts = data.review_counts(con, run_id)
    decided = data.reviews(con, run_id) if review_counts["reviews"] else pd.DataFrame(columns=["decision"])
    return {
        "run": run,
        "version": __version__,
        "generated_at": datetime.now(UTC),
        "sections": SECTIONS,
        "facts": facts,
        "judge": (run.get("config") or {}).get("judge") or {},
        "outcomes": [
            (name, int(run.get(key) or 0), (int(run.get(key) or 0) / scored) if scored else None)
            for name, key in (("pass", "passed"), ("fail", "failed"), ("review", "needs_review"))
        ],
        "stats": data.score_stats(con, run_id),
        "score_chart": charts.score_histogram(values, facts["pass_at"]) if len(values) else None,
        "rules": records(rules),
        "rule_chart": charts.rule_bars(rules) if len(rules) else None,
        "examples": _examples(con, run, per_rule, thumbnails),
        "classes": records(classes),
        "class_chart": charts.class_bars(classes) if len(classes) else None,
        "cost": _cost(con, run),
        "review_counts": review_counts,
        "review_decisions": records(decided.groupby("decision").size().reset_index(name="items")),
        "corrections": records(data.label_corrections(con, run_id)),
        "agreement": _agreement(con, run_id),
        "audit": verify(con),
        "audit_counts": records(audit_counts),
        "audit_latest": records(audit_latest),
        "quarantine": records(quarantine(con, run_id).head(20)),
    }


@dataclass(frozen=True)
class Written:
    run_id: str
    path: Path
    audit_ok: bool
    audit_entries: int


def write_html(target: Path, html: str) -> None:
    """Write atomically (a temporary file in the same folder, then rename)."""
    if not target.parent.exists():
        raise ExportError(f"{target}: folder {target.parent} does not exist: create it first")
    handle, temp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes it private; a report is meant to be shared
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def report(
    db: str | Path, run: str, out: str | Path, *, per_rule: int = 3, thumbnails: int = 120, actor: str | None = None
) -> Written:
    """Write the HTML report of ``run`` to ``out`` and record the export in the audit log."""
    target = Path(out)
    with Store(db).read() as con:
        run_id = resolve_run(con, run)
        context = build(con, run_id, per_rule=per_rule, thumbnails=thumbnails)
    html = environment().get_template("report.html.j2").render(**context)
    write_html(target, html)
    rows = int(context["run"].get("items_scored") or 0)
    record_export(db, file=target, table="report", format="html", rows=rows, run_id=run_id, actor=actor)
    return Written(run_id, target, context["audit"].ok, context["audit"].entries)
