"""Read-side queries used by the CLI, the Python API, reports and the review screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from engine.store import first_row
from labelgate.errors import RunError

if TYPE_CHECKING:  # DuckDB's .df() builds the frames; a run only needs resolve_run
    import pandas as pd


def resolve_run(con: duckdb.DuckDBPyConnection, ref: str) -> str:
    """A run id from an exact id, a unique prefix, or ``latest``."""
    if ref == "latest":
        row = first_row(con.execute("SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC LIMIT 1"))
        if row is None:
            raise RunError("there are no runs in this database yet: run `labelgate score` first")
        return str(row[0])
    rows = con.execute(
        "SELECT run_id FROM runs WHERE run_id = ? OR starts_with(run_id, ?) ORDER BY run_id", [ref, ref]
    ).fetchall()
    exact = [r[0] for r in rows if r[0] == ref]
    if exact:
        return str(exact[0])
    if len(rows) == 1:
        return str(rows[0][0])
    if not rows:
        raise RunError(f"no run {ref!r} in this database: `labelgate runs` lists them")
    shown = ", ".join(r[0] for r in rows[:5])
    raise RunError(f"run id {ref!r} is ambiguous ({shown}): give more characters")


RUN_COLUMNS = """run_id, created_at, status, dataset_path, dataset_format, rulebook_name,
    rulebook_version, rulebook_fingerprint, items_in, items_scored, items_quarantined,
    annotations_in, annotations_scored, annotations_quarantined, passed, failed, needs_review,
    findings, duration_s, error"""


def runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, run_id DESC").df()


def run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, object]:
    frame = con.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id]).df()
    return {str(k): v for k, v in frame.to_dict("records")[0].items()} if len(frame) else {}


FINDING_COLUMNS = """f.run_id, f.item_id, f.annotation_id, f.rule_id, f.severity, f.clause,
    f.message, f.evidence, f.penalty, s.score AS item_score, s.decision AS item_decision,
    r.decision AS review_decision, r.reviewer, r.annotation_id AS review_annotation_id,
    r.corrected_label, r.decided_at AS reviewed_at"""


def findings_sql(where: str = "") -> str:
    """Findings with the model's item decision and the latest human decision, in dataset order."""
    return f"""SELECT {FINDING_COLUMNS}
        FROM findings f LEFT JOIN scores s ON s.run_id = f.run_id AND s.item_id = f.item_id
        LEFT JOIN current_reviews r ON r.run_id = f.run_id AND r.item_id = f.item_id
        LEFT JOIN items i ON i.run_id = f.run_id AND i.item_id = f.item_id
        LEFT JOIN annotations a ON a.run_id = f.run_id AND a.item_id = f.item_id AND a.annotation_id = f.annotation_id
        WHERE f.run_id = $run_id {where}
        ORDER BY i.seq, a.seq NULLS FIRST, f.rule_id"""


def findings(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    rule: str | None = None,
    severity: str | None = None,
    item: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    where, params = "", {"run_id": run_id}
    for column, value in (("f.rule_id", rule), ("f.severity", severity), ("f.item_id", item)):
        if value is not None:
            key = column.split(".")[1]
            where += f" AND {column} = ${key}"
            params[key] = value
    sql = findings_sql(where) + (f" LIMIT {int(limit)}" if limit else "")
    return con.execute(sql, params).df()


def natural(column: str) -> str:
    """SQL sort key of a text column in natural order (``line 2`` before ``line 10``): digits zero-padded."""
    return (
        f"array_to_string(list_transform(regexp_extract_all({column}, '\\d+|\\D+'), "
        "lambda p: CASE WHEN p[1] BETWEEN '0' AND '9' THEN lpad(p, 30, '0') ELSE p END), '')"
    )


QUARANTINE_ITEM = "(item_id = $item OR (item_id IS NULL AND source || ' ' || locator = $item))"
"""A quarantined item by its id; a record without one by its file and place, as in ``item_states``."""


def quarantine(con: duckdb.DuckDBPyConnection, run_id: str, *, item: str | None = None) -> pd.DataFrame:
    """Quarantined records in the order of the dataset's files and records (an item before its annotations)."""
    where = f"AND {QUARANTINE_ITEM}" if item is not None else ""
    return con.execute(
        f"""SELECT run_id, source, locator, level, item_id, annotation_id, reason, raw
           FROM quarantine WHERE run_id = $run_id {where}
           ORDER BY {natural("source")}, {natural("locator")}, level <> 'item'""",
        {"run_id": run_id} | ({"item": item} if item is not None else {}),
    ).df()


def scores(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    return con.execute(
        """SELECT s.run_id, s.item_id, s.score, s.passed, s.decision, s.findings, s.penalty_total,
                  s.review_reasons, s.scored_at, r.decision AS review_decision, r.reviewer,
                  r.annotation_id AS review_annotation_id, r.corrected_label, r.decided_at AS reviewed_at
           FROM scores s JOIN items i ON i.run_id = s.run_id AND i.item_id = s.item_id
           LEFT JOIN current_reviews r ON r.run_id = s.run_id AND r.item_id = s.item_id
           WHERE s.run_id = ? ORDER BY i.seq""",
        [run_id],
    ).df()


def rule_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    return con.execute(
        """SELECT rule_id, severity, any_value(clause) AS clause, count(*) AS findings,
                  count(DISTINCT item_id) AS items
           FROM findings WHERE run_id = ? GROUP BY rule_id, severity ORDER BY findings DESC, rule_id""",
        [run_id],
    ).df()


def label_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """The class distribution of a run's scored annotations: count, items and share per label."""
    return con.execute(
        """SELECT label, count(*) AS annotations, count(DISTINCT item_id) AS items,
                  count(*) / sum(count(*)) OVER () AS share
           FROM annotations WHERE run_id = ? GROUP BY label ORDER BY annotations DESC, label""",
        [run_id],
    ).df()
