"""Exports of a run's tables to CSV, Parquet or JSONL, written by DuckDB's ``COPY``.

Findings exports carry one row per finding with the dataset's own ``item_id`` and
``annotation_id`` so users can join results back to their data; ``evidence`` is JSON. Next to
the model's ``item_decision`` they carry the latest human decision on the item (``review_*``).
The ``reviews`` table has every human decision next to the model's, flagged current or not.
"""

from __future__ import annotations

from pathlib import Path

from engine.queries import findings_sql, resolve_run
from engine.review import REVIEWS_EXPORT_SQL
from engine.store import Store
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
}


def export(
    db: str | Path, run: str, out: str | Path, *, format: str | None = None, table: str = "findings"
) -> tuple[str, Path, int]:
    """Write ``table`` of run ``run`` to ``out``; the format defaults to the file extension."""
    target = Path(out)
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt == "json":
        fmt = "jsonl"
    if fmt not in FORMATS:
        raise ExportError(f"{target}: unknown export format {fmt!r}: use --format csv, parquet or jsonl")
    if table not in TABLES:
        raise ExportError(f"unknown table {table!r}: use one of {', '.join(TABLES)}")
    if not target.parent.exists():
        raise ExportError(f"{target}: folder {target.parent} does not exist: create it first")
    store = Store(db)
    with store.read() as con:
        run_id = resolve_run(con, run)
        query = TABLES[table].replace("$run_id", "'" + run_id.replace("'", "''") + "'")
        path = str(target).replace("'", "''")
        con.execute(f"COPY ({query}) TO '{path}' ({FORMATS[fmt]})")
        count = con.execute(f"SELECT count(*) FROM ({query})").fetchone()
    return run_id, target, int(count[0]) if count else 0
