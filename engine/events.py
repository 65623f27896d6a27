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

from engine.audit import Event, record, record_one
from engine.review import bound_hashes
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
    """Insert review rows and one ``review_decision`` audit entry each, inside the caller's transaction.

    The bulk path for imports, tests and benches; the review screen uses
    :func:`engine.review.record_decision`, which also checks who decides and that the item is
    unchanged. Rows are shaped the same (audit sequence, the model's decision and score, the
    original label) and appended in decision-time order, so the latest decision is current.
    """
    for review in reviews:
        if review.decision not in DECISIONS:
            allowed = ", ".join(DECISIONS)
            raise RunError(f"review decision {review.decision!r} for {review.item_id}: use one of {allowed}")
        if review.decision == "fix_label" and not (review.corrected_label and review.annotation_id):
            raise RunError(f"review of {review.item_id}: fix_label needs the annotation and its corrected label")
    if not reviews:
        return []
    now = utcnow()
    ordered = sorted(reviews, key=lambda r: r.decided_at or now)
    keys = sorted({(r.run_id, r.item_id) for r in ordered})
    hashes = bound_hashes(con, keys)
    facts = _model_facts(con, ordered)
    rows: list[dict[str, Any]] = []
    events: list[Event] = []
    for review in ordered:
        key = (review.run_id, review.item_id)
        if key not in hashes:
            raise RunError(f"run {review.run_id} has no scored item {review.item_id!r} to review")
        decision, score, label = facts.get((*key, review.annotation_id or ""), (None, None, None))
        if review.decision == "fix_label" and label == review.corrected_label:
            raise RunError(f"review of {review.item_id}: annotation {review.annotation_id} is already {label!r}")
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
            "bound_hash": review.bound_hash or hashes[key],
            "decided_at": review.decided_at or now,
            "identity": None,
            "model_decision": decision,
            "model_score": score,
            "original_label": label,
        }
        rows.append(row)
        names = ("review_id", "item_id", "annotation_id", "decision", "corrected_label", "original_label", "role")
        payload = {k: row[k] for k in names} | {"model_decision": decision}
        events.append(Event("review_decision", review.reviewer, payload, review.run_id))
    last = record(con, events)
    for offset, row in enumerate(rows):
        row["audit_seq"] = last - len(rows) + 1 + offset
    append(con, "reviews", {k: [r[k] for r in rows] for k in rows[0]})
    return [str(r["review_id"]) for r in rows]


def _model_facts(
    con: duckdb.DuckDBPyConnection, reviews: Sequence[ReviewDecision]
) -> dict[tuple[str, str, str], tuple[str | None, float | None, str | None]]:
    """Per (run, item, annotation or ""): the model's decision and score, the annotation's label."""
    wanted = sorted({(r.run_id, r.item_id, r.annotation_id or "") for r in reviews})
    import pyarrow as pa

    table = pa.table({name: [w[i] for w in wanted] for i, name in enumerate(("run_id", "item_id", "annotation_id"))})
    con.register("_wanted", table)
    try:
        rows = con.execute(
            """SELECT w.run_id, w.item_id, w.annotation_id, s.decision, s.score, a.label
               FROM _wanted w
               LEFT JOIN scores s ON s.run_id = w.run_id AND s.item_id = w.item_id
               LEFT JOIN annotations a ON a.run_id = w.run_id AND a.item_id = w.item_id
                    AND a.annotation_id = w.annotation_id"""
        ).fetchall()
    finally:
        con.unregister("_wanted")
    return {(str(r[0]), str(r[1]), str(r[2])): (r[3], r[4], r[5]) for r in rows}
