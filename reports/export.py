"""Exports of a run's tables to CSV, Parquet or JSONL, written by DuckDB's ``COPY``.

Findings exports carry one row per finding with the dataset's own ``item_id`` and
``annotation_id`` so users can join results back to their data; ``evidence`` is JSON. Next to
the model's ``item_decision`` they carry the latest human decision on the item (``review_*``).
The ``reviews`` table has every human decision next to the model's, flagged current or not.
Every table's columns and types are documented in ``docs/exports.md`` (a test keeps the two
in step). The audit log is global: :func:`export_audit` writes all of it; the ``audit`` table
of a run export holds only that run's entries. Each export is recorded as an ``export`` event
in the audit log (``engine.events.record_export``); this module itself only reads.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.events import record_export
from engine.queries import findings_sql, resolve_run
from engine.review import REVIEWS_EXPORT_SQL
from engine.store import Store, first_row
from labelgate.errors import ExportError

FORMATS = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet", "jsonl": "FORMAT json"}

TABLES = {
    "findings": findings_sql(),
    "scores": """SELECT s.*, r.decision AS review_decision, r.reviewer, r.annotation_id AS review_annotation_id,
                        r.corrected_label, r.decided_at AS reviewed_at
                 FROM scores s JOIN items i USING (run_id, item_id)
                 LEFT JOIN current_reviews r USING (run_id, item_id)
                 WHERE s.run_id = $run_id ORDER BY i.seq""",
    "quarantine": "SELECT * FROM quarantine WHERE run_id = $run_id ORDER BY source, level, locator",
    "items": "SELECT * EXCLUDE (measurements) FROM items WHERE run_id = $run_id ORDER BY seq",
    "escalations": "SELECT * FROM escalations WHERE run_id = $run_id ORDER BY escalated_at, item_id",
    "attempts": "SELECT * FROM attempts WHERE run_id = $run_id ORDER BY item_id, annotation_id, call_no, attempt_no",
    "judgments": "SELECT * FROM judgments WHERE run_id = $run_id ORDER BY item_id, annotation_id",
    "routes": "SELECT * FROM routes WHERE run_id = $run_id ORDER BY item_id",
    "reviews": REVIEWS_EXPORT_SQL,
    "annotations": "SELECT * FROM annotations WHERE run_id = $run_id ORDER BY item_id, seq",
    "audit": "SELECT * FROM audit_log WHERE run_id = $run_id ORDER BY seq",
}
AUDIT_LOG = "SELECT * FROM audit_log ORDER BY seq"


def _format(target: Path, format: str | None) -> str:
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt == "json":
        fmt = "jsonl"
    if fmt not in FORMATS:
        raise ExportError(f"{target}: unknown export format {fmt!r}: use --format csv, parquet or jsonl")
    if not target.parent.exists():
        raise ExportError(f"{target}: folder {target.parent} does not exist: create it first")
    return fmt


def _copy(con: duckdb.DuckDBPyConnection, query: str, target: Path, fmt: str) -> int:
    path = str(target).replace("'", "''")
    con.execute(f"COPY ({query}) TO '{path}' ({FORMATS[fmt]})")
    count = first_row(con.execute(f"SELECT count(*) FROM ({query})"))
    return int(count[0]) if count else 0


def export(
    db: str | Path,
    run: str,
    out: str | Path,
    *,
    format: str | None = None,
    table: str = "findings",
    actor: str | None = None,
) -> tuple[str, Path, int]:
    """Write ``table`` of run ``run`` to ``out``; the format defaults to the file extension."""
    target = Path(out)
    fmt = _format(target, format)
    if table not in TABLES:
        raise ExportError(f"unknown table {table!r}: use one of {', '.join(TABLES)}")
    store = Store(db)
    with store.read() as con:
        run_id = resolve_run(con, run)
        query = TABLES[table].replace("$run_id", "'" + run_id.replace("'", "''") + "'")
        rows = _copy(con, query, target, fmt)
    record_export(db, file=target, table=table, format=fmt, rows=rows, run_id=run_id, actor=actor)
    return run_id, target, rows


def export_all(
    db: str | Path, run: str, folder: str | Path, *, format: str = "parquet", actor: str | None = None
) -> list[tuple[str, Path, int]]:
    """Every table of a run, one file each (``<table>.<format>``) in ``folder``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    with Store(db).read() as con:
        run_id = resolve_run(con, run)
    suffix = "jsonl" if format in ("json", "jsonl") else format
    return [export(db, run_id, target / f"{t}.{suffix}", format=format, table=t, actor=actor) for t in TABLES]


def export_audit(db: str | Path, out: str | Path, *, format: str | None = None, actor: str | None = None) -> int:
    """Write the whole audit log (every run, in sequence order) to ``out``; returns the row count."""
    target = Path(out)
    fmt = _format(target, format)
    with Store(db).read() as con:
        rows = _copy(con, AUDIT_LOG, target, fmt)
    record_export(db, file=target, table="audit_log", format=fmt, rows=rows, run_id=None, actor=actor)
    return rows
