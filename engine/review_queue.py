"""The review queue across runs (filters, sorting, counts) and the per-run dashboard.

The queue is every item whose decision is ``review``, one row per item with its escalation
reasons, fired rules, worst severity, classes, lowest judgment confidence, model tiers and
current human decision. One query builds it into a temporary table of the (short-lived)
connection; the page, the ordered keys for next/previous and the counts all read that table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from engine.review import Key, bound_hashes
from engine.store import Store

SEVERITIES = ("critical", "major", "minor", "info")
BANDS = ("< 0.5", "0.5-0.7", "0.7-0.9", ">= 0.9", "no judgment")
STATUSES = ("to review", "decided", "all")
SORTS = {
    "oldest first": "escalated_at ASC NULLS LAST, run_id, seq",
    "newest first": "escalated_at DESC NULLS LAST, run_id DESC, seq",
    "worst severity": "sev_rank DESC, score ASC, run_id, seq",
    "lowest score": "score ASC, run_id, seq",
    "lowest confidence": "confidence ASC NULLS LAST, run_id, seq",
    "item id": "item_id, run_id",
}

_BASE = """
WITH q AS (
    SELECT s.run_id, s.item_id, s.score, s.findings AS finding_count
    FROM scores s WHERE s.decision = 'review'
),
esc AS (
    SELECT e.run_id, e.item_id, list_sort(list_distinct(list(e.check_id))) AS reasons,
           min(e.escalated_at) AS escalated_at
    FROM escalations e JOIN q USING (run_id, item_id) GROUP BY ALL
),
f AS (
    SELECT x.run_id, x.item_id, list_sort(list_distinct(list(x.rule_id))) AS rules,
           list_distinct(list(x.severity)) AS severities,
           max(CASE x.severity WHEN 'critical' THEN 4 WHEN 'major' THEN 3 WHEN 'minor' THEN 2
                               WHEN 'info' THEN 1 ELSE 0 END) AS sev_rank
    FROM findings x JOIN q USING (run_id, item_id) GROUP BY ALL
),
fl AS (
    SELECT run_id, item_id, annotation_id FROM escalations JOIN q USING (run_id, item_id)
    WHERE annotation_id IS NOT NULL
    UNION
    SELECT run_id, item_id, annotation_id FROM findings JOIN q USING (run_id, item_id)
    WHERE annotation_id IS NOT NULL
),
a AS (
    SELECT an.run_id, an.item_id, list_sort(list_distinct(list(an.label))) AS all_classes,
           list_sort(list_distinct(list(an.label) FILTER (WHERE fl.annotation_id IS NOT NULL))) AS flagged_classes
    FROM annotations an JOIN q USING (run_id, item_id)
    LEFT JOIN fl ON fl.run_id = an.run_id AND fl.item_id = an.item_id AND fl.annotation_id = an.annotation_id
    GROUP BY ALL
),
j AS (
    SELECT run_id, item_id, min(confidence) AS confidence,
           list_sort(list_distinct(list(tier) FILTER (WHERE tier IS NOT NULL))) AS tiers
    FROM judgments JOIN q USING (run_id, item_id) GROUP BY ALL
),
rt AS (SELECT run_id, item_id, tier AS route_tier FROM routes JOIN q USING (run_id, item_id))
SELECT q.run_id, q.item_id, i.seq, i.kind, q.score, q.finding_count,
       coalesce(esc.reasons, []::VARCHAR[]) AS reasons, esc.escalated_at,
       coalesce(f.rules, []::VARCHAR[]) AS rules, coalesce(f.severities, []::VARCHAR[]) AS severities,
       coalesce(f.sev_rank, 0) AS sev_rank,
       CASE coalesce(f.sev_rank, 0) WHEN 4 THEN 'critical' WHEN 3 THEN 'major' WHEN 2 THEN 'minor'
            WHEN 1 THEN 'info' ELSE '' END AS severity,
       CASE WHEN len(coalesce(a.flagged_classes, [])) > 0 THEN a.flagged_classes
            ELSE coalesce(a.all_classes, []::VARCHAR[]) END AS classes,
       j.confidence,
       CASE WHEN j.confidence IS NULL THEN 'no judgment' WHEN j.confidence < 0.5 THEN '< 0.5'
            WHEN j.confidence < 0.7 THEN '0.5-0.7' WHEN j.confidence < 0.9 THEN '0.7-0.9'
            ELSE '>= 0.9' END AS band,
       CASE WHEN len(coalesce(j.tiers, [])) > 0 THEN j.tiers
            ELSE [coalesce(rt.route_tier, 'none')] END AS tiers,
       cr.decision, cr.reviewer, cr.decided_at, cr.bound_hash
FROM q
JOIN items i USING (run_id, item_id)
LEFT JOIN esc USING (run_id, item_id)
LEFT JOIN f USING (run_id, item_id)
LEFT JOIN a USING (run_id, item_id)
LEFT JOIN j USING (run_id, item_id)
LEFT JOIN rt USING (run_id, item_id)
LEFT JOIN current_reviews cr USING (run_id, item_id)
"""


@dataclass(frozen=True)
class QueueFilters:
    """What the reviewer narrowed the queue to; empty tuples mean 'any'."""

    runs: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    bands: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    status: str = "to review"
    sort: str = "oldest first"
    search: str = ""

    def where(self) -> tuple[str, dict[str, Any]]:
        """SQL conditions (without the status) and their parameters."""
        parts: list[str] = []
        params: dict[str, Any] = {}
        for name, column, values in (
            ("reasons", "reasons", self.reasons),
            ("rules", "rules", self.rules),
            ("severities", "severities", self.severities),
            ("classes", "classes", self.classes),
            ("tiers", "tiers", self.tiers),
        ):
            if values:
                parts.append(f"list_has_any({column}, ${name}::VARCHAR[])")
                params[name] = list(values)
        if self.runs:
            parts.append("list_contains($runs::VARCHAR[], run_id)")
            params["runs"] = list(self.runs)
        if self.bands:
            parts.append("list_contains($bands::VARCHAR[], band)")
            params["bands"] = list(self.bands)
        if self.search.strip():
            parts.append("contains(lower(item_id), lower($search))")
            params["search"] = self.search.strip()
        return (" AND ".join(parts) or "true"), params


@dataclass
class QueueOptions:
    """The values each filter can take, from every item in review."""

    runs: pd.DataFrame
    reasons: dict[str, str]
    rules: list[str]
    severities: list[str]
    classes: list[str]
    bands: list[str]
    tiers: list[str]
    total: int


@dataclass
class QueueView:
    """One page of the filtered queue, its counts, and every matching key in order."""

    rows: pd.DataFrame
    keys: list[Key]
    total: int
    matching: int
    pending: int
    decided: int
    reason_counts: pd.DataFrame
    page: int
    pages: int
    page_size: int
    extra: dict[str, Any] = field(default_factory=dict)


def _build(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _queue AS " + _BASE)


def _list(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [str(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None]


def queue_options(con: duckdb.DuckDBPyConnection, *, built: bool = False) -> QueueOptions:
    if not built:
        _build(con)
    runs = con.execute(
        """SELECT r.run_id, r.dataset_path, r.rulebook_name, r.rulebook_version, r.created_at,
                  count(q.item_id) AS in_review
           FROM runs r JOIN _queue q USING (run_id) GROUP BY ALL ORDER BY r.created_at DESC, r.run_id DESC"""
    ).df()
    reasons = {
        str(k): str(v)
        for k, v in con.execute(
            """SELECT e.check_id, any_value(e.reason) FROM escalations e
               JOIN _queue q USING (run_id, item_id) GROUP BY 1 ORDER BY 1"""
        ).fetchall()
    }
    present = set(_list(con, "SELECT DISTINCT unnest(severities) FROM _queue"))
    total = con.execute("SELECT count(*) FROM _queue").fetchall()[0]
    return QueueOptions(
        runs=runs,
        reasons=reasons,
        rules=_list(con, "SELECT DISTINCT unnest(rules) AS v FROM _queue ORDER BY v"),
        severities=[s for s in SEVERITIES if s in present] + sorted(present - set(SEVERITIES)),
        classes=_list(con, "SELECT DISTINCT unnest(classes) AS v FROM _queue ORDER BY v"),
        bands=[b for b in BANDS if b in set(_list(con, "SELECT DISTINCT band FROM _queue"))],
        tiers=_list(con, "SELECT DISTINCT unnest(tiers) AS v FROM _queue ORDER BY v"),
        total=int(total[0]) if total else 0,
    )


def queue_view(
    con: duckdb.DuckDBPyConnection,
    filters: QueueFilters,
    *,
    page: int = 1,
    page_size: int = 100,
    built: bool = False,
) -> QueueView:
    """The filtered, sorted queue: one page of rows plus the keys of every matching item."""
    if not built:
        _build(con)
    where, params = filters.where()
    order = SORTS.get(filters.sort, SORTS["oldest first"])
    con.execute(f"CREATE OR REPLACE TEMP TABLE _matching AS SELECT * FROM _queue WHERE {where}", params)
    counts = con.execute(
        "SELECT (SELECT count(*) FROM _queue), count(*), count(*) FILTER (WHERE decision IS NULL) FROM _matching"
    ).fetchall()[0]
    total, matching, pending = (int(v) for v in counts) if counts else (0, 0, 0)
    reason_counts = con.execute(
        """SELECT reason AS check_id, count(*) AS items, count(*) FILTER (WHERE decision IS NULL) AS to_review
           FROM (SELECT unnest(reasons) AS reason, decision FROM _matching)
           GROUP BY 1 ORDER BY items DESC, check_id"""
    ).df()
    status = {"to review": "decision IS NULL", "decided": "decision IS NOT NULL"}.get(filters.status, "true")
    keys = [
        (str(r), str(i))
        for r, i in con.execute(f"SELECT run_id, item_id FROM _matching WHERE {status} ORDER BY {order}").fetchall()
    ]
    pages = max(1, math.ceil(len(keys) / page_size))
    page = min(max(1, page), pages)
    rows = con.execute(
        f"""SELECT run_id, item_id, kind, score, severity, reasons, rules, classes, confidence, band, tiers,
                   decision, reviewer, decided_at, bound_hash, escalated_at
            FROM _matching WHERE {status} ORDER BY {order}
            LIMIT {int(page_size)} OFFSET {(page - 1) * int(page_size)}"""
    ).df()
    decided_keys = [
        (str(r), str(i))
        for r, i, d in zip(rows["run_id"], rows["item_id"], rows["decision"], strict=True)
        if isinstance(d, str)
    ]
    hashes = bound_hashes(con, decided_keys)
    rows["status"] = [
        "to review"
        if not isinstance(d, str)
        else ("decided" if hashes.get((str(r), str(i))) == h else "changed since decision")
        for r, i, d, h in zip(rows["run_id"], rows["item_id"], rows["decision"], rows["bound_hash"], strict=True)
    ]
    return QueueView(
        rows=rows.drop(columns=["bound_hash"]),
        keys=keys,
        total=total,
        matching=matching,
        pending=pending,
        decided=matching - pending,
        reason_counts=reason_counts,
        page=page,
        pages=pages,
        page_size=page_size,
    )


def load_queue(
    db: str | Path, filters: QueueFilters, *, page: int = 1, page_size: int = 100
) -> tuple[QueueOptions, QueueView]:
    """Options and the filtered view in one short-lived connection (one build of the queue)."""
    with Store(db).read() as con:
        _build(con)
        return queue_options(con, built=True), queue_view(con, filters, page=page, page_size=page_size, built=True)


# --- dashboard ---------------------------------------------------------------------------------


SCORE_BUCKETS = tuple(range(0, 100, 10))


def bucket_label(bucket: int) -> str:
    """``70-80`` for the scores from 70 up to 80 (the last bucket holds 100 too)."""
    return f"{bucket}-{bucket + 10}"


@dataclass
class Dashboard:
    run: dict[str, Any]
    progress: dict[str, int]
    decisions: pd.DataFrame
    top_rules: pd.DataFrame
    scores: pd.DataFrame
    cost_by_tier: pd.DataFrame
    overrides: int


def run_dashboard(con: duckdb.DuckDBPyConnection, run_id: str) -> Dashboard:
    """Counts, review progress, top rules, cost and the score distribution of one run."""
    frame = con.execute(
        """SELECT run_id, status, created_at, dataset_path, rulebook_name, rulebook_version, items_in,
                  items_scored, items_quarantined, annotations_scored, passed, failed, needs_review, findings,
                  models, simulated, cost_usd, model_attempts, duration_s
           FROM runs WHERE run_id = ?""",
        [run_id],
    ).df()
    run = {str(k): v for k, v in frame.iloc[0].to_dict().items()} if len(frame) else {}
    row = con.execute(
        """SELECT count(*) AS in_review, count(c.review_id) AS decided
           FROM scores s LEFT JOIN current_reviews c USING (run_id, item_id)
           WHERE s.run_id = ? AND s.decision = 'review'""",
        [run_id],
    ).fetchone()
    in_review, decided = (int(row[0]), int(row[1])) if row else (0, 0)
    decisions = con.execute(
        """SELECT human_decision AS decision, count(*) AS items, count(*) FILTER (WHERE overrides) AS overrides
           FROM review_log WHERE run_id = ? AND is_current GROUP BY 1 ORDER BY items DESC""",
        [run_id],
    ).df()
    top_rules = con.execute(
        """SELECT rule_id, severity, count(*) AS findings, count(DISTINCT item_id) AS items,
                  any_value(clause) AS clause
           FROM findings WHERE run_id = ? GROUP BY rule_id, severity ORDER BY findings DESC, rule_id LIMIT 10""",
        [run_id],
    ).df()
    scores = con.execute(
        """SELECT least(greatest(floor(score / 10) * 10, 0), 90)::INTEGER AS bucket, decision, count(*) AS items
           FROM scores WHERE run_id = ? GROUP BY ALL ORDER BY bucket, decision""",
        [run_id],
    ).df()
    scores["score"] = [bucket_label(int(b)) for b in scores["bucket"]]
    cost_by_tier = con.execute(
        """SELECT tier, model, count(*) AS attempts, count(*) FILTER (WHERE cached) AS cached,
                  sum(coalesce(cost_usd, 0)) AS cost_usd
           FROM attempts WHERE run_id = ? GROUP BY ALL ORDER BY cost_usd DESC""",
        [run_id],
    ).df()
    overrides = int(decisions["overrides"].sum()) if len(decisions) else 0
    return Dashboard(
        run=run,
        progress={"in_review": in_review, "decided": decided, "to_review": in_review - decided},
        decisions=decisions,
        top_rules=top_rules,
        scores=scores,
        cost_by_tier=cost_by_tier,
        overrides=overrides,
    )


def load_dashboard(db: str | Path, run_id: str) -> Dashboard:
    with Store(db).read() as con:
        return run_dashboard(con, run_id)


def run_choices(db: str | Path) -> pd.DataFrame:
    """Runs for pickers: id, dataset, rulebook, counts, newest first."""
    with Store(db).read() as con:
        return con.execute(
            """SELECT run_id, dataset_path, rulebook_name, rulebook_version, status, items_scored, needs_review
               FROM runs ORDER BY created_at DESC, run_id DESC"""
        ).df()
