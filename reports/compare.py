"""What changed between two runs: rulebook diff, per-rule counts side by side, flipped decisions.

Runs are compared item by item on ``item_id`` (the dataset's own id), so the comparison is
meaningful when both runs scored the same dataset (the page says whether the dataset
fingerprints match). The rulebook diff is computed from the rulebook text each run stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from engine.audit import verify
from engine.events import record_export
from engine.queries import resolve_run
from engine.store import Store
from labelgate.version import __version__
from reports.data import run_row
from reports.html import environment, records, write_html
from rulebook.diff import RulebookDiff, diff_rulebooks
from rulebook.loader import load_text

RUN_FIELDS = (
    "run_id",
    "created_at",
    "status",
    "dataset_path",
    "dataset_fingerprint",
    "rulebook_name",
    "rulebook_version",
    "rulebook_fingerprint",
    "models",
    "simulated",
    "items_scored",
    "passed",
    "failed",
    "needs_review",
    "findings",
    "cost_usd",
    "duration_s",
)


@dataclass
class Comparison:
    a: dict[str, Any]
    b: dict[str, Any]
    diff: RulebookDiff | None
    diff_note: str | None
    rules: pd.DataFrame
    flip_counts: pd.DataFrame
    flips: pd.DataFrame
    flipped: int
    only_a: int
    only_b: int
    both: int
    section_changes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def same_dataset(self) -> bool:
        return bool(self.a.get("dataset_fingerprint")) and self.a["dataset_fingerprint"] == self.b.get(
            "dataset_fingerprint"
        )

    def as_dict(self) -> dict[str, Any]:
        def plain(row: dict[str, Any]) -> dict[str, Any]:
            return {k: (v.isoformat() if isinstance(v, datetime | pd.Timestamp) else v) for k, v in row.items()}

        return {
            "a": plain(self.a),
            "b": plain(self.b),
            "same_dataset": self.same_dataset,
            "rulebook_diff": self.diff.as_dict() if self.diff is not None else None,
            "rulebook_diff_note": self.diff_note,
            "section_changes": self.section_changes,
            "rules": records(self.rules),
            "items_in_both": self.both,
            "items_only_in_a": self.only_a,
            "items_only_in_b": self.only_b,
            "flipped": self.flipped,
            "flip_counts": records(self.flip_counts),
            "flips": records(self.flips),
        }


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in RUN_FIELDS}


def _diff(a: dict[str, Any], b: dict[str, Any]) -> tuple[RulebookDiff | None, str | None, list[dict[str, Any]]]:
    """The rule diff, a note when there is none, and key-level changes of the other sections."""
    texts = (a.get("rulebook_yaml"), b.get("rulebook_yaml"))
    if not texts[0] or not texts[1]:
        return None, "a run did not store its rulebook text: only the fingerprints can be compared", []
    try:
        old = load_text(texts[0], f"run {a['run_id']}").rulebook
        new = load_text(texts[1], f"run {b['run_id']}").rulebook
    except Exception as exc:  # a stored rulebook that no longer loads (older schema)
        return None, f"a stored rulebook no longer loads ({str(exc).splitlines()[0]}): fingerprints only", []
    diff = diff_rulebooks(old, new)
    old_dump, new_dump = old.model_dump(mode="json"), new.model_dump(mode="json")
    changes: list[dict[str, Any]] = []
    for section in diff.sections:
        before, after = old_dump.get(section), new_dump.get(section)
        if isinstance(before, dict) and isinstance(after, dict):
            for key in sorted(set(before) | set(after), key=str):
                if before.get(key) != after.get(key):
                    changes.append({"section": section, "key": key, "old": before.get(key), "new": after.get(key)})
        else:
            changes.append({"section": section, "key": "", "old": before, "new": after})
    return diff, None, changes


def compare(con: duckdb.DuckDBPyConnection, run_a: str, run_b: str, *, flip_limit: int = 500) -> Comparison:
    a_id, b_id = resolve_run(con, run_a), resolve_run(con, run_b)
    a, b = run_row(con, a_id), run_row(con, b_id)
    diff, note, section_changes = _diff(a, b)
    params = {"a": a_id, "b": b_id}
    rules = con.execute(
        """WITH ca AS (SELECT rule_id, any_value(severity) AS severity, count(*) AS n, count(DISTINCT item_id) AS i
                       FROM findings WHERE run_id = $a GROUP BY rule_id),
                cb AS (SELECT rule_id, any_value(severity) AS severity, count(*) AS n, count(DISTINCT item_id) AS i
                       FROM findings WHERE run_id = $b GROUP BY rule_id)
           SELECT coalesce(ca.rule_id, cb.rule_id) AS rule_id, coalesce(cb.severity, ca.severity) AS severity,
                  coalesce(ca.n, 0) AS findings_a, coalesce(cb.n, 0) AS findings_b,
                  coalesce(cb.n, 0) - coalesce(ca.n, 0) AS change,
                  coalesce(ca.i, 0) AS items_a, coalesce(cb.i, 0) AS items_b
           FROM ca FULL OUTER JOIN cb ON ca.rule_id = cb.rule_id
           ORDER BY abs(coalesce(cb.n, 0) - coalesce(ca.n, 0)) DESC, rule_id""",
        params,
    ).df()
    joined = """FROM (SELECT item_id, score, decision FROM scores WHERE run_id = $a) sa
                FULL OUTER JOIN (SELECT item_id, score, decision FROM scores WHERE run_id = $b) sb
                ON sa.item_id = sb.item_id"""
    counts = con.execute(
        f"""SELECT count(*) FILTER (sa.item_id IS NOT NULL AND sb.item_id IS NOT NULL),
                   count(*) FILTER (sb.item_id IS NULL), count(*) FILTER (sa.item_id IS NULL),
                   count(*) FILTER (sa.decision <> sb.decision) {joined}""",
        params,
    ).fetchall()[0]
    flip_counts = con.execute(
        f"""SELECT sa.decision AS decision_a, sb.decision AS decision_b, count(*) AS items {joined}
            WHERE sa.decision <> sb.decision GROUP BY ALL ORDER BY items DESC, decision_a, decision_b""",
        params,
    ).df()
    flips = con.execute(
        f"""SELECT sa.item_id, sa.decision AS decision_a, sb.decision AS decision_b,
                   sa.score AS score_a, sb.score AS score_b {joined}
            WHERE sa.decision <> sb.decision ORDER BY sa.item_id LIMIT {int(flip_limit)}""",
        params,
    ).df()
    comparison = Comparison(
        _summary(a),
        _summary(b),
        diff,
        note,
        rules,
        flip_counts,
        flips,
        flipped=int(counts[3]),
        only_a=int(counts[1]),
        only_b=int(counts[2]),
        both=int(counts[0]),
        section_changes=section_changes,
    )
    if not comparison.same_dataset:
        comparison.notes.append("the runs scored different datasets (fingerprints differ): items match by id only")
    return comparison


FLIPS_SHOWN = 10


def _score(value: Any) -> str:
    return "no score" if value is None or pd.isna(value) else f"{float(value):g}"


def summary_text(c: Comparison) -> str:
    """A short plain-text account for the terminal."""
    lines = [
        f"A {c.a['run_id']}: {c.a['rulebook_name']} {c.a['rulebook_version']}, "
        f"{c.a['passed']} pass / {c.a['failed']} fail / {c.a['needs_review']} review",
        f"B {c.b['run_id']}: {c.b['rulebook_name']} {c.b['rulebook_version']}, "
        f"{c.b['passed']} pass / {c.b['failed']} fail / {c.b['needs_review']} review",
    ]
    if c.diff is None:
        lines.append(f"rulebook: {c.diff_note}")
    elif c.diff.identical:
        lines.append("rulebook: identical (same fingerprint)")
    else:
        lines.append(f"rulebook: {c.diff.summary()}")
    moved = c.rules[c.rules["change"] != 0]
    if len(moved):
        lines.append(
            "findings per rule (A → B): "
            + ", ".join(f"{r.rule_id} {r.findings_a}→{r.findings_b}" for r in moved.head(12).itertuples())
        )
    lines.append(f"items in both: {c.both}; only in A: {c.only_a}; only in B: {c.only_b}")
    lines.append(f"decisions flipped: {c.flipped}")
    for row in c.flip_counts.itertuples():
        lines.append(f"  {row.decision_a} → {row.decision_b}: {row.items}")
    shown = c.flips.head(FLIPS_SHOWN)
    for flip in shown.itertuples():
        lines.append(
            f"  {flip.item_id}: {flip.decision_a} ({_score(flip.score_a)}) → {flip.decision_b} ({_score(flip.score_b)})"
        )
    if c.flipped > len(shown):
        listed = f"the first {len(c.flips)}" if len(c.flips) < c.flipped else "all of them"
        lines.append(f"  ... {c.flipped - len(shown)} more: --json or --out FILE.html list {listed}")
    lines.extend(f"note: {n}" for n in c.notes)
    return "\n".join(lines)


def compare_report(
    db: str | Path, run_a: str, run_b: str, out: str | Path | None = None, *, actor: str | None = None
) -> Comparison:
    """Compare two runs; with ``out``, also write the comparison as one self-contained HTML file."""
    with Store(db).read() as con:
        comparison = compare(con, run_a, run_b)
        audit = verify(con)
    if out is not None:
        target = Path(out)
        html = (
            environment()
            .get_template("compare.html.j2")
            .render(
                c=comparison,
                records_rules=records(comparison.rules),
                records_flip_counts=records(comparison.flip_counts),
                records_flips=records(comparison.flips),
                audit=audit,
                version=__version__,
                generated_at=datetime.now(UTC),
            )
        )
        write_html(target, html)
        record_export(
            db,
            file=target,
            table="compare",
            format="html",
            rows=comparison.flipped,
            run_id=str(comparison.b["run_id"]),
            actor=actor,
        )
    return comparison
