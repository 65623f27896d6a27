"""Human review: what an item looks like to a reviewer, and recording their decision.

A decision is bound to a hash of what the reviewer saw::

    bound_hash = sha256(items.content_hash
                        + canonical JSON of the item's judgments (annotation id, values, status)
                        + runs.rulebook_fingerprint)

The screen keeps the hash it rendered the item with and passes it as ``expected_hash``;
:func:`record_decision` recomputes it inside the write transaction and refuses with
:class:`StaleReviewError` if anything changed. An item may be decided several times: every
decision is kept (``reviews``), the latest (by audit sequence) is the current one
(``current_reviews`` view). Each decision and its audit-log entry commit together.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import orjson

from engine import audit
from engine.reviewers import Reviewer, check_reviewer
from engine.store import Store
from engine.writer import utcnow
from labelgate.errors import ReviewError, StaleReviewError

if TYPE_CHECKING:  # a run imports this module (review hashes); pandas is for the screen's reads
    import pandas as pd

Decision = Literal["accept", "reject", "fix_label"]
DECISIONS: tuple[Decision, ...] = ("accept", "reject", "fix_label")
DECISION_WORDS = {"accept": "accepted", "reject": "rejected", "fix_label": "label fixed"}
MAX_COMMENT = 4000
Key = tuple[str, str]


# --- the bound hash ---------------------------------------------------------------------------


def compute_bound_hash(
    content_hash: str, judgments: Iterable[tuple[str | None, str | None, str]], rulebook_fingerprint: str
) -> str:
    """The hash a decision is bound to; ``judgments`` are (annotation id, values JSON, status)."""
    rows = [[ann, orjson.loads(values) if values else None, status] for ann, values, status in judgments]
    rows.sort(key=lambda row: orjson.dumps(row, option=orjson.OPT_SORT_KEYS))
    digest = hashlib.sha256(content_hash.encode())
    digest.update(orjson.dumps(rows, option=orjson.OPT_SORT_KEYS))
    digest.update(rulebook_fingerprint.encode())
    return digest.hexdigest()


def bound_hashes(con: duckdb.DuckDBPyConnection, keys: Sequence[Key]) -> dict[Key, str]:
    """Current bound hashes of ``(run_id, item_id)`` pairs (missing items are left out)."""
    if not keys:
        return {}
    import pyarrow as pa

    frame = pa.table({"run_id": [k[0] for k in keys], "item_id": [k[1] for k in keys]})
    con.register("_review_keys", frame)
    try:
        base = con.execute(
            """SELECT i.run_id, i.item_id, i.content_hash, r.rulebook_fingerprint
               FROM items i JOIN _review_keys k USING (run_id, item_id) JOIN runs r USING (run_id)"""
        ).fetchall()
        rows = con.execute(
            """SELECT j.run_id, j.item_id, j.annotation_id, j."values"::VARCHAR, j.status
               FROM judgments j JOIN _review_keys k USING (run_id, item_id)"""
        ).fetchall()
    finally:
        con.unregister("_review_keys")
    per_item: dict[Key, list[tuple[str | None, str | None, str]]] = {}
    for run_id, item_id, ann, values, status in rows:
        per_item.setdefault((run_id, item_id), []).append((ann, values, status))
    return {
        (run_id, item_id): compute_bound_hash(content, per_item.get((run_id, item_id), []), fingerprint)
        for run_id, item_id, content, fingerprint in base
    }


# --- the item as a reviewer sees it ---------------------------------------------------------------


@dataclass
class ItemDetail:
    """Everything the item view shows; ``bound_hash`` is what a decision on it binds to."""

    run_id: str
    item_id: str
    kind: str
    media: str | None
    width: int | None
    height: int | None
    text: str | None
    content_hash: str
    score: float | None
    passed: bool | None
    model_decision: str | None
    run: dict[str, Any]
    taxonomy: list[str]
    annotations: pd.DataFrame
    findings: pd.DataFrame
    escalations: pd.DataFrame
    judgments: pd.DataFrame
    attempts: pd.DataFrame
    route: dict[str, Any] | None
    history: pd.DataFrame
    other_runs: pd.DataFrame
    bound_hash: str
    flagged: list[str] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Any] | None:
        """The latest decision on this item in this run, if any."""
        return {str(k): v for k, v in self.history.iloc[0].to_dict().items()} if len(self.history) else None

    @property
    def current_is_bound(self) -> bool:
        """Whether the latest decision was made on what the item is now."""
        current = self.current
        return current is not None and current["bound_hash"] == self.bound_hash

    @property
    def cost_usd(self) -> float:
        return float(self.attempts["cost_usd"].fillna(0).sum()) if len(self.attempts) else 0.0

    @property
    def label_choices(self) -> list[str]:
        """Labels a reviewer may correct to: the taxonomy, else the labels in this item."""
        return self.taxonomy or sorted(set(self.annotations["label"].astype(str)))


@functools.lru_cache(maxsize=32)
def _taxonomy(fingerprint: str, rulebook_yaml: str | None) -> tuple[str, ...]:
    """Labels of a run's rulebook, from the YAML the run stored (cached by fingerprint)."""
    from rulebook.loader import load_stored

    rulebook = load_stored(rulebook_yaml)
    taxonomy = rulebook.taxonomy if rulebook is not None else None
    return tuple(taxonomy.labels) if taxonomy is not None else ()


RUN_FIELDS = """run_id, status, dataset_path, dataset_format, rulebook_name, rulebook_version,
    rulebook_fingerprint, rulebook_yaml, models, simulated, cost_usd"""


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    frame = con.execute(sql, params).df()
    if not len(frame):
        return None
    return {str(k): (None if _missing(v) else v) for k, v in frame.iloc[0].to_dict().items()}


def _missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def item_detail(con: duckdb.DuckDBPyConnection, run_id: str, item_id: str) -> ItemDetail:
    """The item with its annotations, findings, escalations, judgments, trace and decisions."""
    item = _one(
        con,
        """SELECT i.kind, i.media, i.width, i.height, i.text, i.content_hash,
                  s.score, s.passed, s.decision
           FROM items i LEFT JOIN scores s USING (run_id, item_id)
           WHERE i.run_id = ? AND i.item_id = ?""",
        [run_id, item_id],
    )
    if item is None:
        raise ReviewError(f"no item {item_id!r} in run {run_id}: pick one from the queue")
    run = _one(con, f"SELECT {RUN_FIELDS} FROM runs WHERE run_id = ?", [run_id]) or {}
    params = [run_id, item_id]
    annotations = con.execute(
        """SELECT annotation_id, seq, label, x, y, w, h, span_start, span_end, span_text, attributes
           FROM annotations WHERE run_id = ? AND item_id = ? ORDER BY seq""",
        params,
    ).df()
    findings = con.execute(
        """SELECT annotation_id, rule_id, severity, clause, message, evidence, penalty
           FROM findings WHERE run_id = ? AND item_id = ?
           ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END,
                    rule_id, annotation_id""",
        params,
    ).df()
    escalations = con.execute(
        """SELECT annotation_id, check_id, reason, evidence, escalated_at
           FROM escalations WHERE run_id = ? AND item_id = ? ORDER BY check_id, annotation_id""",
        params,
    ).df()
    judgments = con.execute(
        """SELECT annotation_id, tier, model, strategy, status, reason, "values"::VARCHAR AS "values", confidence
           FROM judgments WHERE run_id = ? AND item_id = ? ORDER BY annotation_id""",
        params,
    ).df()
    attempts = con.execute(
        """SELECT annotation_id, call_no, attempt_no, strategy, tier, model, simulated, outcome, error,
                  input_tokens, output_tokens, cost_usd, latency_ms, cached, started_at
           FROM attempts WHERE run_id = ? AND item_id = ?
           ORDER BY started_at, annotation_id, call_no, attempt_no""",
        params,
    ).df()
    route = _one(
        con,
        """SELECT tier, reasons::VARCHAR AS reasons, judged_annotations, estimated_cost_usd, cost_usd
           FROM routes WHERE run_id = ? AND item_id = ?""",
        params,
    )
    history = con.execute(
        """SELECT review_id, annotation_id, reviewer, role, identity, decision, corrected_label,
                  original_label, comment, bound_hash, decided_at, audit_seq
           FROM reviews WHERE run_id = ? AND item_id = ?
           ORDER BY audit_seq DESC NULLS LAST, decided_at DESC, review_id DESC""",
        params,
    ).df()
    other_runs = con.execute(
        """SELECT run_id, annotation_id, reviewer, decision, corrected_label, comment, bound_hash, decided_at
           FROM current_reviews WHERE item_id = ? AND run_id <> ? ORDER BY decided_at DESC LIMIT 20""",
        [item_id, run_id],
    ).df()
    digest = bound_hashes(con, [(run_id, item_id)])[(run_id, item_id)]
    flagged: list[str] = []
    for frame in (escalations, findings):
        for ann in frame["annotation_id"].dropna().astype(str):
            if ann not in flagged:
                flagged.append(ann)
    if len(other_runs):
        other_runs = other_runs.assign(same_content=other_runs["bound_hash"] == digest)
    return ItemDetail(
        run_id=run_id,
        item_id=item_id,
        kind=str(item["kind"]),
        media=item["media"],
        width=None if item["width"] is None else int(item["width"]),
        height=None if item["height"] is None else int(item["height"]),
        text=item["text"],
        content_hash=str(item["content_hash"]),
        score=None if item["score"] is None else float(item["score"]),
        passed=None if item["passed"] is None else bool(item["passed"]),
        model_decision=item["decision"],
        run=run,
        taxonomy=list(_taxonomy(str(run.get("rulebook_fingerprint")), run.get("rulebook_yaml"))),
        annotations=annotations,
        findings=findings,
        escalations=escalations,
        judgments=judgments,
        attempts=attempts,
        route=route,
        history=history,
        other_runs=other_runs,
        bound_hash=digest,
        flagged=flagged,
    )


def load_item(db: str | Path, run_id: str, item_id: str) -> ItemDetail:
    with Store(db).read() as con:
        return item_detail(con, run_id, item_id)


# --- recording a decision ----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedReview:
    review_id: str
    run_id: str
    item_id: str
    annotation_id: str | None
    decision: str
    corrected_label: str | None
    reviewer: str
    bound_hash: str
    audit_seq: int


def _clean_decision(
    decision: str, annotation_id: str | None, corrected_label: str | None, comment: str | None
) -> tuple[Decision, str | None, str | None, str | None]:
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}: use accept, reject or fix_label")
    label = (corrected_label or "").strip() or None
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        raise ReviewError(f"the comment has {len(text):,} characters: keep it under {MAX_COMMENT:,}")
    if decision == "fix_label":
        if not annotation_id:
            raise ReviewError("fix label needs the annotation to correct: choose it")
        if label is None:
            raise ReviewError("fix label needs the corrected label: choose it")
    elif label is not None:
        raise ReviewError(f"a corrected label goes with fix_label, not {decision}")
    return decision, annotation_id or None, label, text


def record_decision(
    db: str | Path,
    run_id: str,
    item_id: str,
    *,
    reviewer: Reviewer | None,
    decision: str,
    expected_hash: str | None,
    annotation_id: str | None = None,
    corrected_label: str | None = None,
    comment: str | None = None,
) -> RecordedReview:
    """Store a decision and its audit entry in one transaction, if the item is as the reviewer saw it.

    Raises :class:`ReviewerError` without an identity or for a viewer, :class:`StaleReviewError`
    when the bound hash changed, :class:`ReviewError` for anything else that is wrong.
    """
    who = check_reviewer(reviewer)
    kind, annotation, label, text = _clean_decision(decision, annotation_id, corrected_label, comment)
    if not expected_hash:
        raise StaleReviewError(f"no hash given for item {item_id}: reload it and decide again")
    with Store(db).write() as con:
        facts = _one(
            con,
            """SELECT s.decision, s.score, r.rulebook_fingerprint, r.rulebook_yaml
               FROM items i JOIN runs r USING (run_id) LEFT JOIN scores s USING (run_id, item_id)
               WHERE i.run_id = ? AND i.item_id = ?""",
            [run_id, item_id],
        )
        if facts is None:
            raise ReviewError(f"no item {item_id!r} in run {run_id}: pick one from the queue")
        current = bound_hashes(con, [(run_id, item_id)])[(run_id, item_id)]
        if current != expected_hash:
            raise StaleReviewError(
                f"item {item_id} changed since you opened it (content, judgments or rulebook): "
                "look at it again and decide again"
            )
        original = None
        if annotation is not None:
            found = con.execute(
                "SELECT label FROM annotations WHERE run_id = ? AND item_id = ? AND annotation_id = ?",
                [run_id, item_id, annotation],
            ).fetchall()
            if not found:
                raise ReviewError(f"item {item_id} has no annotation {annotation!r}")
            original = str(found[0][0])
        if kind == "fix_label":
            taxonomy = _taxonomy(str(facts["rulebook_fingerprint"]), facts["rulebook_yaml"])
            if taxonomy and label not in taxonomy:
                raise ReviewError(f"{label!r} is not a label of this rulebook: choose one of {', '.join(taxonomy)}")
            if label == original:
                raise ReviewError(f"annotation {annotation} is already labelled {label!r}: accept it instead")
        review_id = "rv-" + secrets.token_hex(8)
        payload = {
            "review_id": review_id,
            "item_id": item_id,
            "annotation_id": annotation,
            "decision": kind,
            "corrected_label": label,
            "original_label": original,
            "comment": text,
            "bound_hash": current,
            "role": who.role,
            "identity": who.identity,
            "model_decision": facts["decision"],
        }
        seq = audit.record_one(con, "review_decision", who.name, payload, run_id)
        con.execute(
            """INSERT INTO reviews (review_id, run_id, item_id, annotation_id, reviewer, role, decision,
                   corrected_label, comment, bound_hash, decided_at, audit_seq, identity, model_decision,
                   model_score, original_label)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                review_id,
                run_id,
                item_id,
                annotation,
                who.name,
                who.role,
                kind,
                label,
                text,
                current,
                utcnow(),
                seq,
                who.identity,
                facts["decision"],
                facts["score"],
                original,
            ],
        )
    return RecordedReview(review_id, run_id, item_id, annotation, kind, label, who.name, current, seq)


# --- decisions for analysis ------------------------------------------------------------------------

REVIEW_LOG_COLUMNS = """review_id, run_id, item_id, annotation_id, model_decision, model_score, model_verdict,
    human_decision, human_verdict, overrides, original_label, corrected_label, reviewer, role, identity,
    comment, decided_at, is_current, bound_hash"""

REVIEWS_EXPORT_SQL = f"""SELECT {REVIEW_LOG_COLUMNS} FROM review_log WHERE run_id = $run_id
    ORDER BY item_id, audit_seq"""


def reviews(
    con: duckdb.DuckDBPyConnection, run_id: str, *, history: bool = False, overrides_only: bool = False
) -> pd.DataFrame:
    """The run's decisions next to the model's: current ones (or every one with ``history``).

    ``overrides`` is true when the person's verdict differs from the model's score-based
    pass/fail or they fixed a label; ``bound`` whether the item is still what they decided on.
    """
    where = "run_id = ?" + ("" if history else " AND is_current") + (" AND overrides" if overrides_only else "")
    frame = con.execute(
        f"SELECT {REVIEW_LOG_COLUMNS} FROM review_log WHERE {where} ORDER BY item_id, audit_seq", [run_id]
    ).df()
    keys = sorted({(run_id, str(i)) for i in frame["item_id"]})
    hashes = bound_hashes(con, keys)
    frame["bound"] = [
        hashes.get((run_id, str(i))) == h for i, h in zip(frame["item_id"], frame["bound_hash"], strict=True)
    ]
    return frame
