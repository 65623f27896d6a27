"""The full trace of one item in one run: everything that decided its fate, in order.

Measurements, route and reasons, every model attempt (model, tokens, cost, latency, outcome,
validation errors), judgments, rules fired with their clauses, score, oversight decision,
escalations, review history and the audit events that mention it.
"""

from __future__ import annotations

from typing import Any

import duckdb
import orjson

from engine.queries import QUARANTINE_ITEM, natural
from engine.store import first_row
from labelgate.errors import RunError

ID_FORMS = {
    "coco": "the image's file_name",
    "yolo": "the image's path in the dataset folder",
    "voc": "the image's path in the dataset folder",
    "labelstudio": "'<task id>-<annotation id>'",
    "labelstudio-text": "'<task id>-<annotation id>'",
    "conll": "'line N' (the sentence's first token)",
}
"""What item ids look like per dataset format; other text formats use the record's id, else 'line N'."""


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any], json_columns: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Rows as dicts, with the JSON text of ``json_columns`` parsed."""
    result = con.execute(sql, params)
    names = [d[0] for d in result.description or []]
    rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    for row in rows:
        for column in json_columns:
            row[column] = _json(row[column])
    return rows


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def item_trace(con: duckdb.DuckDBPyConnection, run_id: str, item_id: str) -> dict[str, Any]:
    """The trace as plain data (JSON-ready); raises RunError if the item is not in the run."""
    items = _rows(
        con,
        """SELECT item_id, seq, kind, source, media, width, height, annotation_count,
                                 quarantined_annotations, content_hash, state, measurements, updated_at
                          FROM items WHERE run_id = ? AND item_id = ?""",
        [run_id, item_id],
        ("measurements",),
    )
    quarantined = _rows(
        con,
        f"""SELECT source, locator, level, annotation_id, reason, raw FROM quarantine
            WHERE run_id = $run_id AND {QUARANTINE_ITEM} ORDER BY {natural("locator")}, level <> 'item'""",
        {"run_id": run_id, "item": item_id},
    )
    if not items:
        attempts = first_row(
            con.execute("SELECT count(*) FROM attempts WHERE run_id = ? AND item_id = ?", [run_id, item_id])
        )
        if any(q["level"] == "item" for q in quarantined) or (quarantined and not (attempts and attempts[0])):
            return {"run_id": run_id, "item": {"item_id": item_id, "state": "quarantined"}, "quarantined": quarantined}
        if attempts and attempts[0]:
            return {
                "run_id": run_id,
                "item": {"item_id": item_id, "state": "judging"},
                "attempts": _attempts(con, run_id, item_id),
            }
        raise RunError(f"item {item_id!r} is not in run {run_id}: {_id_hint(con, run_id)}")
    item = items[0]
    state = first_row(con.execute("SELECT state FROM item_states WHERE run_id = ? AND item_id = ?", [run_id, item_id]))
    item["state"] = state[0] if state else item["state"]
    annotations = _rows(
        con,
        """SELECT annotation_id, label, x, y, w, h, span_start, span_end, span_text,
                                       attributes, measurements
                                FROM annotations WHERE run_id = ? AND item_id = ? ORDER BY seq""",
        [run_id, item_id],
        ("attributes", "measurements"),
    )
    route = _rows(
        con,
        "SELECT tier, reasons, judged_annotations, estimated_cost_usd, cost_usd FROM routes "
        "WHERE run_id = ? AND item_id = ?",
        [run_id, item_id],
        ("reasons",),
    )
    judgments = _rows(
        con,
        """SELECT annotation_id, status, strategy, tier, model, "values", confidence, reason
                              FROM judgments WHERE run_id = ? AND item_id = ? ORDER BY annotation_id""",
        [run_id, item_id],
        ("values",),
    )
    findings = _rows(
        con,
        """SELECT annotation_id, rule_id, severity, clause, message, evidence, penalty
                             FROM findings WHERE run_id = ? AND item_id = ? ORDER BY annotation_id NULLS FIRST,
                             rule_id""",
        [run_id, item_id],
        ("evidence",),
    )
    score = _rows(
        con,
        "SELECT score, passed, decision, findings, penalty_total, review_reasons, scored_at "
        "FROM scores WHERE run_id = ? AND item_id = ?",
        [run_id, item_id],
        ("review_reasons",),
    )
    escalations = _rows(
        con,
        "SELECT annotation_id, check_id, reason, escalated_at FROM escalations "
        "WHERE run_id = ? AND item_id = ? ORDER BY escalated_at",
        [run_id, item_id],
    )
    reviews = _rows(
        con,
        """SELECT review_id, annotation_id, reviewer, role, decision, corrected_label, comment,
                                   bound_hash, decided_at FROM reviews WHERE run_id = ? AND item_id = ?
                            ORDER BY audit_seq NULLS FIRST, decided_at""",
        [run_id, item_id],
    )
    events = _rows(
        con,
        """SELECT seq, ts, actor, event, payload FROM audit_log
                           WHERE run_id = ? AND payload->>'$.item_id' = ? ORDER BY seq""",
        [run_id, item_id],
        ("payload",),
    )
    return {
        "run_id": run_id,
        "item": item,
        "annotations": annotations,
        "quarantined": quarantined,
        "route": route[0] if route else None,
        "attempts": _attempts(con, run_id, item_id),
        "judgments": judgments,
        "findings": findings,
        "score": score[0] if score else None,
        "escalations": escalations,
        "reviews": reviews,
        "audit": events,
    }


def _id_hint(con: duckdb.DuckDBPyConnection, run_id: str) -> str:
    """What the run's item ids look like: their form for the dataset's format, and a few of them."""
    row = first_row(con.execute("SELECT dataset_format FROM runs WHERE run_id = ?", [run_id]))
    kind = first_row(con.execute("SELECT kind FROM items WHERE run_id = ? LIMIT 1", [run_id]))
    form = ID_FORMS.get(str(row[0]) if row else "") or (
        "the image's file name" if kind and kind[0] == "image" else "the record's id, else 'line N'"
    )
    examples = [
        str(r[0])
        for r in con.execute(
            """SELECT item_id FROM (SELECT item_id, seq FROM items WHERE run_id = $run
                   UNION ALL SELECT item_id, NULL FROM quarantine WHERE run_id = $run AND item_id IS NOT NULL)
               GROUP BY item_id ORDER BY min(seq) NULLS LAST, item_id LIMIT 3""",
            {"run": run_id},
        ).fetchall()
    ]
    shown = f", e.g. {', '.join(examples)}" if examples else ""
    return f"an item id is {form}{shown} (`labelgate findings {run_id}` lists them)"


def _attempts(con: duckdb.DuckDBPyConnection, run_id: str, item_id: str) -> list[dict[str, Any]]:
    return _rows(
        con,
        """SELECT annotation_id, call_no, attempt_no, strategy, tier, model, simulated, outcome,
                                error, input_tokens, output_tokens, cost_usd, latency_ms, cached, started_at
                         FROM attempts WHERE run_id = ? AND item_id = ?
                         ORDER BY annotation_id, call_no, attempt_no, started_at""",
        [run_id, item_id],
    )
