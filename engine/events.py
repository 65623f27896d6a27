"""Writes made on behalf of a person rather than a run: export events and review rows.

``reports/`` only reads the store. Producing a file from it (an export or an HTML report) is
still something an auditor must be able to see, so when ``reports/`` has written a file it
calls :func:`record_export`, which appends one ``export`` event to the hash-chained audit log
(``engine.audit``) in its own short write transaction. The payload names the file, what was
exported (a table, or ``report``/``compare``), the format, the row count and the file's
SHA-256, so a shared file can later be matched to the log entry that produced it.

:func:`add_reviews` writes human review decisions with one ``review`` audit event each. The
review screen writes the same rows; tests and benches use this helper instead of raw SQL.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine.audit import Event, record, record_one
from engine.store import Store, append
from engine.writer import utcnow
from labelgate.errors import RunError

DECISIONS = ("accept", "reject", "fix_label")


def default_actor() -> str:
    """Who is acting, for the audit log: the operating-system user name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "unknown"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_export(
    db: str | Path,
    *,
    file: Path,
    table: str,
    format: str,
    rows: int,
    run_id: str | None,
    actor: str | None = None,
) -> int:
    """Append an ``export`` event for a file just written; returns its sequence number."""
    payload: dict[str, Any] = {
        "file": str(file.resolve()),
        "table": table,
        "format": format,
        "rows": rows,
        "run_id": run_id,
        "sha256": file_sha256(file) if file.is_file() else None,
    }
    with Store(db).write() as con:
        return record_one(con, "export", actor or default_actor(), payload, run_id)


@dataclass(frozen=True)
class ReviewDecision:
    """One human decision on an item (or one of its annotations).

    ``bound_hash`` ties the decision to the content that was reviewed; it defaults to the
    item's ``content_hash`` in the run.
    """

    run_id: str
    item_id: str
    decision: str
    reviewer: str
    role: str = "reviewer"
    annotation_id: str | None = None
    corrected_label: str | None = None
    comment: str | None = None
    decided_at: datetime | None = None
    bound_hash: str | None = None
    review_id: str | None = None


def add_reviews(con: duckdb.DuckDBPyConnection, reviews: Sequence[ReviewDecision]) -> list[str]:
    """Insert review rows and one ``review`` audit event each, inside the caller's transaction."""
    for review in reviews:
        if review.decision not in DECISIONS:
            allowed = ", ".join(DECISIONS)
            raise RunError(f"review decision {review.decision!r} for {review.item_id}: use one of {allowed}")
        if review.decision == "fix_label" and not review.corrected_label:
            raise RunError(f"review of {review.item_id}: fix_label needs the corrected label")
    hashes = _content_hashes(con, reviews)
    now = utcnow()
    columns: dict[str, list[Any]] = {
        k: []
        for k in (
            "review_id",
            "run_id",
            "item_id",
            "annotation_id",
            "reviewer",
            "role",
            "decision",
            "corrected_label",
            "comment",
            "bound_hash",
            "decided_at",
        )
    }
    events: list[Event] = []
    for review in reviews:
        bound = review.bound_hash or hashes.get((review.run_id, review.item_id))
        if bound is None:
            raise RunError(f"run {review.run_id} has no scored item {review.item_id!r} to review")
        row = {
            "review_id": review.review_id or "rv-" + secrets.token_hex(8),
            "run_id": review.run_id,
            "item_id": review.item_id,
            "annotation_id": review.annotation_id,
            "reviewer": review.reviewer,
            "role": review.role,
            "decision": review.decision,
            "corrected_label": review.corrected_label,
            "comment": review.comment,
            "bound_hash": bound,
            "decided_at": review.decided_at or now,
        }
        for key, value in row.items():
            columns[key].append(value)
        payload = {k: row[k] for k in ("review_id", "item_id", "annotation_id", "decision", "corrected_label", "role")}
        events.append(Event("review", review.reviewer, payload, review.run_id))
    append(con, "reviews", columns)
    if events:
        record(con, events)
    return [str(r) for r in columns["review_id"]]


def _content_hashes(con: duckdb.DuckDBPyConnection, reviews: Sequence[ReviewDecision]) -> dict[tuple[str, str], str]:
    wanted = sorted({(r.run_id, r.item_id) for r in reviews if r.bound_hash is None})
    if not wanted:
        return {}
    con.register("_wanted", pa.table({"run_id": [w[0] for w in wanted], "item_id": [w[1] for w in wanted]}))
    try:
        rows = con.execute(
            "SELECT i.run_id, i.item_id, i.content_hash FROM items i JOIN _wanted w USING (run_id, item_id)"
        ).fetchall()
    finally:
        con.unregister("_wanted")
    return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}
