"""Read-only queries behind the reports and the Python API (runs, reviews, costs, agreement).

Every function takes an open connection (``Store.read()``) and a resolved run id and only
reads. Aggregation happens in DuckDB, so a report of a 100,000-item run moves a few hundred
rows into Python, not the run.

Reviews: a run's *review history* is every row of ``reviews``; the *latest review* of an item
is its current decision (the ``current_reviews`` view: the latest in the audit log, as the
review screen shows it), whichever annotation it names.
"""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pandas as pd

# the current decision per item (the latest in the audit log), as the review screen shows it
LATEST_REVIEWS_SQL = "SELECT * FROM current_reviews WHERE run_id = $run_id"


def run_row(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """Every column of the run (``config`` parsed), ``rulebook_yaml`` included."""
    frame = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).df()
    row = {str(k): (None if _missing(v) else v) for k, v in frame.to_dict("records")[0].items()}
    config = row.get("config")
    row["config"] = orjson.loads(config) if isinstance(config, str) and config else {}
    return row


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def reviews(con: duckdb.DuckDBPyConnection, run_id: str, *, latest: bool = True) -> pd.DataFrame:
    """Latest review per item (default), or the whole review history in decision order."""
    if latest:
        sql = f"SELECT * FROM ({LATEST_REVIEWS_SQL}) ORDER BY decided_at, review_id"
    else:
        sql = "SELECT * FROM reviews WHERE run_id = $run_id ORDER BY decided_at, review_id"
    return con.execute(sql, {"run_id": run_id}).df()


def score_values(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Items per distinct (score, decision): what the score histogram bins."""
    return con.execute(
        """SELECT score, decision, count(*) AS items FROM scores WHERE run_id = ?
           GROUP BY score, decision ORDER BY score, decision""",
        [run_id],
    ).df()


def score_stats(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, float | None]:
    row = con.execute(
        """SELECT avg(score), median(score), quantile_cont(score, 0.1), min(score), max(score)
           FROM scores WHERE run_id = ?""",
        [run_id],
    ).fetchone()
    keys = ("mean", "median", "p10", "min", "max")
    return {k: (None if row is None or row[i] is None else float(row[i])) for i, k in enumerate(keys)}


def rule_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Per rule: severity, clause, findings, distinct items and annotations, one example message."""
    return con.execute(
        """SELECT rule_id, any_value(severity) AS severity, any_value(clause) AS clause,
                  count(*) AS findings, count(DISTINCT item_id) AS items,
                  count(annotation_id) AS annotations, min(message) AS example_message
           FROM findings WHERE run_id = ? GROUP BY rule_id ORDER BY findings DESC, rule_id""",
        [run_id],
    ).df()


def rule_examples(con: duckdb.DuckDBPyConnection, run_id: str, per_rule: int) -> pd.DataFrame:
    """The first ``per_rule`` items (dataset order) each rule fired on, with the flagged annotation."""
    return con.execute(
        """WITH first_per_item AS (
               SELECT f.rule_id, f.item_id, f.annotation_id, f.message, i.seq,
                      row_number() OVER (PARTITION BY f.rule_id, f.item_id
                                         ORDER BY f.annotation_id NULLS FIRST) AS k
               FROM findings f JOIN items i ON i.run_id = f.run_id AND i.item_id = f.item_id
               WHERE f.run_id = $run_id
           ), ranked AS (
               SELECT *, row_number() OVER (PARTITION BY rule_id ORDER BY seq) AS n
               FROM first_per_item WHERE k = 1
           )
           SELECT r.rule_id, r.item_id, r.annotation_id, r.message, i.kind, i.media, i.width, i.height,
                  i.text, a.label, a.x, a.y, a.w, a.h, a.span_start, a.span_end
           FROM ranked r
           JOIN items i ON i.run_id = $run_id AND i.item_id = r.item_id
           LEFT JOIN annotations a ON a.run_id = $run_id AND a.item_id = r.item_id
                                  AND a.annotation_id = r.annotation_id
           WHERE r.n <= $per_rule
           ORDER BY r.rule_id, r.n""",
        {"run_id": run_id, "per_rule": per_rule},
    ).df()


def item_annotations(con: duckdb.DuckDBPyConnection, run_id: str, item_ids: list[str]) -> pd.DataFrame:
    if not item_ids:
        return pd.DataFrame(columns=["item_id", "annotation_id", "label", "x", "y", "w", "h"])
    return con.execute(
        """SELECT item_id, annotation_id, label, x, y, w, h FROM annotations
           WHERE run_id = ? AND list_contains(?, item_id) ORDER BY item_id, seq""",
        [run_id, item_ids],
    ).df()


def class_breakdown(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Per label: annotations, items, findings on its annotations, flagged share, failed items."""
    return con.execute(
        """WITH flagged AS (
               SELECT item_id, annotation_id, count(*) AS n FROM findings
               WHERE run_id = $run_id AND annotation_id IS NOT NULL GROUP BY item_id, annotation_id
           )
           SELECT a.label, count(*) AS annotations, count(DISTINCT a.item_id) AS items,
                  coalesce(sum(f.n), 0)::BIGINT AS findings, count(f.n) AS flagged_annotations,
                  count(f.n) / count(*) AS flagged_share,
                  count(DISTINCT CASE WHEN s.decision = 'fail' THEN a.item_id END) AS items_failed,
                  count(DISTINCT CASE WHEN s.decision = 'review' THEN a.item_id END) AS items_in_review
           FROM annotations a
           LEFT JOIN flagged f ON f.item_id = a.item_id AND f.annotation_id = a.annotation_id
           LEFT JOIN scores s ON s.run_id = a.run_id AND s.item_id = a.item_id
           WHERE a.run_id = $run_id GROUP BY a.label ORDER BY annotations DESC, a.label""",
        {"run_id": run_id},
    ).df()


def tier_costs(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Per model tier: calls, attempts (ok, failed, cached), tokens and cost (every attempt counts)."""
    return con.execute(
        """SELECT tier, count(DISTINCT (item_id, annotation_id, call_no)) AS calls, count(*) AS attempts,
                      count(*) FILTER (outcome = 'ok') AS ok_attempts,
                      count(*) FILTER (outcome <> 'ok') AS failed_attempts,
                      count(*) FILTER (cached) AS cached_attempts,
                      coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens,
                      coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens,
                      coalesce(sum(cost_usd), 0) AS cost_usd,
                      coalesce(sum(cost_usd) FILTER (outcome <> 'ok'), 0) AS failed_cost_usd,
                      string_agg(DISTINCT model, ', ') AS models,
                      count(DISTINCT item_id) AS items
               FROM attempts WHERE run_id = ? GROUP BY tier ORDER BY cost_usd DESC, tier""",
        [run_id],
    ).df()


def routing(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Per first tier the router chose: items, share, estimated and actual model cost."""
    return con.execute(
        """SELECT tier, count(*) AS items, count(*) / sum(count(*)) OVER () AS share,
                  sum(judged_annotations)::BIGINT AS judged_annotations,
                  coalesce(sum(estimated_cost_usd), 0) AS estimated_cost_usd, coalesce(sum(cost_usd), 0) AS cost_usd
           FROM routes WHERE run_id = ? GROUP BY tier ORDER BY items DESC, tier""",
        [run_id],
    ).df()


def attempt_outcomes(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    return con.execute(
        """SELECT tier, outcome, count(*) AS attempts, count(*) FILTER (cached) AS cached,
                  coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(avg(latency_ms), 0) AS mean_latency_ms
           FROM attempts WHERE run_id = ? GROUP BY ALL ORDER BY tier, attempts DESC""",
        [run_id],
    ).df()


def item_costs(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Model cost per item that had at least one attempt (failed attempts included)."""
    return con.execute(
        """SELECT item_id, count(*) AS attempts, coalesce(sum(cost_usd), 0) AS cost_usd
           FROM attempts WHERE run_id = ? GROUP BY item_id ORDER BY cost_usd DESC, item_id""",
        [run_id],
    ).df()


def review_agreement(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Items with a review: the machine's verdict (``passed``), its decision and the latest human decision."""
    return con.execute(
        f"""SELECT s.item_id, s.passed, s.decision AS machine_decision, r.decision AS human_decision,
                   r.reviewer, r.role, r.corrected_label, r.annotation_id
            FROM scores s JOIN ({LATEST_REVIEWS_SQL}) r ON r.item_id = s.item_id
            WHERE s.run_id = $run_id ORDER BY s.item_id""",
        {"run_id": run_id},
    ).df()


def review_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, int]:
    row = con.execute(
        f"""SELECT (SELECT count(*) FROM reviews WHERE run_id = $run_id),
                   (SELECT count(DISTINCT reviewer) FROM reviews WHERE run_id = $run_id),
                   (SELECT count(*) FROM scores WHERE run_id = $run_id AND decision = 'review'),
                   (SELECT count(*) FROM scores s JOIN ({LATEST_REVIEWS_SQL}) r ON r.item_id = s.item_id
                     WHERE s.run_id = $run_id AND s.decision = 'review'),
                   (SELECT count(*) FROM ({LATEST_REVIEWS_SQL}))""",
        {"run_id": run_id},
    ).fetchone()
    keys = ("reviews", "reviewers", "escalated_items", "escalated_reviewed", "reviewed_items")
    counts = {k: int(row[i]) if row else 0 for i, k in enumerate(keys)}
    counts["escalated_pending"] = counts["escalated_items"] - counts["escalated_reviewed"]
    return counts


def label_corrections(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 15) -> pd.DataFrame:
    """The most common label corrections (latest ``fix_label`` reviews naming an annotation)."""
    return con.execute(
        f"""SELECT coalesce(a.label, '(item: no annotation named)') AS from_label, r.corrected_label AS to_label,
                   count(*) AS reviews
            FROM ({LATEST_REVIEWS_SQL}) r
            LEFT JOIN annotations a ON a.run_id = r.run_id AND a.item_id = r.item_id
                                   AND a.annotation_id = r.annotation_id
            WHERE r.decision = 'fix_label' GROUP BY ALL ORDER BY reviews DESC, to_label LIMIT {int(limit)}""",
        {"run_id": run_id},
    ).df()


def audit_events(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 15) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's audit events: counts per event, and the latest ``limit`` entries."""
    counts = con.execute(
        "SELECT event, count(*) AS entries FROM audit_log WHERE run_id = ? GROUP BY event ORDER BY entries DESC",
        [run_id],
    ).df()
    latest = con.execute(
        f"""SELECT seq, ts, actor, event, payload FROM audit_log WHERE run_id = ?
            ORDER BY seq DESC LIMIT {int(limit)}""",
        [run_id],
    ).df()
    return counts, latest


def decisions(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Item id, score and decision of every scored item (for comparing runs)."""
    return con.execute("SELECT item_id, score, passed, decision FROM scores WHERE run_id = ?", [run_id]).df()
