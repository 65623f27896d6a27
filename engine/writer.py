"""Write one scored chunk to DuckDB in one transaction, as Arrow batches.

Items, annotations, findings, scores, escalations, quarantined records, the run's running
counters and a chunk marker commit together, so a crash leaves either the whole chunk or
none of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from engine.scoring import ScoredItem
from engine.store import append
from ingest.model import Quarantined


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_json(value: Any) -> str:
    """Compact JSON; NaN and infinity become null (orjson does that natively, and fast)."""
    return orjson.dumps(value, default=str).decode()


def _subset(row: Mapping[str, Any], fields: Sequence[str]) -> str | None:
    kept = {f: row[f] for f in fields if row.get(f) is not None}
    return to_json(kept) if kept else None


@dataclass
class ChunkCounts:
    items: int = 0
    annotations: int = 0
    items_quarantined: int = 0
    annotations_quarantined: int = 0
    passed: int = 0
    failed: int = 0
    review: int = 0
    findings: int = 0
    cost_usd: float = 0.0
    expected_items: int | None = None  # the dataset's size when the reader knows it (progress)


def write_chunk(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    chunk_no: int,
    first_seq: int,
    scored: Sequence[ScoredItem],
    quarantined: Sequence[Quarantined],
    item_fields: Sequence[str] = (),
    annotation_fields: Sequence[str] = (),
    seqs: Sequence[int] | None = None,
) -> ChunkCounts:
    """Insert one chunk and bump the run's counters; the caller owns the transaction."""
    now = utcnow()
    counts = ChunkCounts()
    items: dict[str, list[Any]] = {
        k: []
        for k in (
            "run_id",
            "item_id",
            "seq",
            "kind",
            "source",
            "media",
            "width",
            "height",
            "text",
            "annotation_count",
            "quarantined_annotations",
            "content_hash",
            "state",
            "measurements",
            "updated_at",
        )
    }
    anns: dict[str, list[Any]] = {
        k: []
        for k in (
            "run_id",
            "item_id",
            "annotation_id",
            "seq",
            "label",
            "x",
            "y",
            "w",
            "h",
            "span_start",
            "span_end",
            "span_text",
            "attributes",
            "measurements",
        )
    }
    finds: dict[str, list[Any]] = {
        k: []
        for k in (
            "run_id",
            "item_id",
            "annotation_id",
            "rule_id",
            "severity",
            "clause",
            "message",
            "evidence",
            "penalty",
        )
    }
    scores: dict[str, list[Any]] = {
        k: []
        for k in (
            "run_id",
            "item_id",
            "score",
            "passed",
            "decision",
            "findings",
            "penalty_total",
            "review_reasons",
            "scored_at",
        )
    }
    escal: dict[str, list[Any]] = {
        k: [] for k in ("run_id", "item_id", "annotation_id", "check_id", "reason", "evidence", "escalated_at")
    }

    for offset, result in enumerate(scored):
        item = result.item
        counts.items += 1
        counts.annotations += len(item.annotations)
        items["run_id"].append(run_id)
        items["item_id"].append(item.id)
        items["seq"].append(seqs[offset] if seqs is not None else first_seq + offset)
        items["kind"].append(item.kind)
        items["source"].append(item.source)
        items["media"].append(item.media)
        items["width"].append(item.width)
        items["height"].append(item.height)
        items["text"].append(item.text)
        items["annotation_count"].append(len(item.annotations))
        items["quarantined_annotations"].append(item.quarantined_annotations)
        items["content_hash"].append(item.content_hash())
        items["state"].append(result.state)
        items["measurements"].append(_subset(result.item_row, item_fields))
        items["updated_at"].append(now)
        for seq, (ann, row) in enumerate(zip(item.annotations, result.rows, strict=True)):
            anns["run_id"].append(run_id)
            anns["item_id"].append(item.id)
            anns["annotation_id"].append(ann.id)
            anns["seq"].append(seq)
            anns["label"].append(ann.label)
            box = ann.bbox or (None, None, None, None)
            anns["x"].append(box[0])
            anns["y"].append(box[1])
            anns["w"].append(box[2])
            anns["h"].append(box[3])
            anns["span_start"].append(ann.start)
            anns["span_end"].append(ann.end)
            anns["span_text"].append(ann.text)
            anns["attributes"].append(to_json(ann.attributes) if ann.attributes else None)
            anns["measurements"].append(_subset(row, annotation_fields))
        for finding in result.findings:
            counts.findings += 1
            finds["run_id"].append(run_id)
            finds["item_id"].append(finding.item_id)
            finds["annotation_id"].append(finding.annotation_id)
            finds["rule_id"].append(finding.rule_id)
            finds["severity"].append(finding.severity)
            finds["clause"].append(finding.clause)
            finds["message"].append(finding.message)
            finds["evidence"].append(to_json(finding.evidence))
            finds["penalty"].append(finding.penalty)
        decision = result.decision
        counts.passed += decision == "pass"
        counts.failed += decision == "fail"
        counts.review += decision == "review"
        scores["run_id"].append(run_id)
        scores["item_id"].append(item.id)
        scores["score"].append(result.score)
        scores["passed"].append(result.passed)
        scores["decision"].append(decision)
        scores["findings"].append(len(result.findings))
        scores["penalty_total"].append(sum(f.penalty for f in result.findings))
        scores["review_reasons"].append(
            to_json(
                [{"check_id": r.check_id, "reason": r.reason, "annotation_id": r.annotation_id} for r in result.reasons]
            )
            if result.reasons
            else None
        )
        scores["scored_at"].append(now)
        for reason in result.reasons:
            escal["run_id"].append(run_id)
            escal["item_id"].append(item.id)
            escal["annotation_id"].append(reason.annotation_id)
            escal["check_id"].append(reason.check_id)
            escal["reason"].append(reason.reason)
            escal["evidence"].append(to_json(reason.evidence) if reason.evidence else None)
            escal["escalated_at"].append(now)

    quar: dict[str, list[Any]] = {
        k: [] for k in ("run_id", "source", "locator", "level", "item_id", "annotation_id", "reason", "raw")
    }
    for record in quarantined:
        if record.level == "item":
            counts.items_quarantined += 1
        else:
            counts.annotations_quarantined += 1
        quar["run_id"].append(run_id)
        quar["source"].append(record.source)
        quar["locator"].append(record.locator)
        quar["level"].append(record.level)
        quar["item_id"].append(record.item_id)
        quar["annotation_id"].append(record.annotation_id)
        quar["reason"].append(record.reason)
        quar["raw"].append(record.raw)

    append(con, "items", items)
    append(con, "annotations", anns)
    append(con, "findings", finds)
    append(con, "scores", scores)
    append(con, "escalations", escal)
    append(con, "quarantine", quar)
    con.execute(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?)",
        [run_id, chunk_no, counts.items, counts.annotations, now],
    )
    con.execute(
        """UPDATE runs SET
            items_in = items_in + ?, items_scored = items_scored + ?,
            items_quarantined = items_quarantined + ?,
            annotations_in = annotations_in + ?, annotations_scored = annotations_scored + ?,
            annotations_quarantined = annotations_quarantined + ?,
            passed = passed + ?, failed = failed + ?, needs_review = needs_review + ?,
            findings = findings + ?
        WHERE run_id = ?""",
        [
            counts.items + counts.items_quarantined,
            counts.items,
            counts.items_quarantined,
            counts.annotations + counts.annotations_quarantined,
            counts.annotations,
            counts.annotations_quarantined,
            counts.passed,
            counts.failed,
            counts.review,
            counts.findings,
            run_id,
        ],
    )
    return counts
