"""The audit log: append-only, every entry chained to the previous one by SHA-256.

Each event (run started/resumed/finished, routing decision, escalation to review, review
decision, rulebook change, export) gets the next sequence number, a UTC timestamp, its actor
and a JSON payload. ``hash = sha256(prev_hash + canonical(seq, ts, actor, event, run_id,
payload))``, so editing or deleting any row breaks the chain from that row on, and
:func:`verify` names the first broken entry. Appends happen inside the caller's transaction,
which holds DuckDB's write lock: two processes cannot interleave sequence numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson

from engine.store import append, first_row
from engine.writer import utcnow

GENESIS = "0" * 64


@dataclass(frozen=True)
class Event:
    event: str
    actor: str
    payload: Mapping[str, Any]
    run_id: str | None = None


def _canonical(seq: int, ts: datetime, actor: str, event: str, run_id: str | None, payload: Any) -> bytes:
    body = {
        "seq": seq,
        "ts": ts.isoformat(timespec="microseconds"),
        "actor": actor,
        "event": event,
        "run_id": run_id,
        "payload": payload,
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)


def entry_hash(prev_hash: str, seq: int, ts: datetime, actor: str, event: str, run_id: str | None, payload: Any) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(_canonical(seq, ts, actor, event, run_id, payload))
    return digest.hexdigest()


def _normal_payload(payload: Mapping[str, Any]) -> Any:
    """The payload as it will read back from the JSON column (so hashes verify)."""
    return orjson.loads(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str))


def record(con: duckdb.DuckDBPyConnection, events: Sequence[Event]) -> int:
    """Append events (in order) inside the caller's transaction; returns the last sequence number."""
    last = first_row(con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"))
    seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS)
    columns: dict[str, list[Any]] = {
        k: [] for k in ("seq", "ts", "actor", "event", "run_id", "payload", "prev_hash", "hash")
    }
    now = utcnow()
    for item in events:
        seq += 1
        payload = _normal_payload(item.payload)
        digest = entry_hash(prev, seq, now, item.actor, item.event, item.run_id, payload)
        for key, value in (
            ("seq", seq),
            ("ts", now),
            ("actor", item.actor),
            ("event", item.event),
            ("run_id", item.run_id),
            ("payload", orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str).decode()),
            ("prev_hash", prev),
            ("hash", digest),
        ):
            columns[key].append(value)
        prev = digest
    append(con, "audit_log", columns)
    return seq


def record_one(
    con: duckdb.DuckDBPyConnection, event: str, actor: str, payload: Mapping[str, Any], run_id: str | None = None
) -> int:
    return record(con, [Event(event, actor, payload, run_id)])


@dataclass(frozen=True)
class Verification:
    entries: int
    ok: bool
    first_broken: int | None = None
    problem: str | None = None
    head: str | None = None  # ``SEQ:HASH`` of the last entry: an anchor to keep outside the database


@dataclass(frozen=True)
class Anchor:
    """``SEQ:HASH`` of an entry recorded earlier (printed by ``audit verify``, shown in reports).

    The chain alone cannot show that entries were cut off its end; an anchor kept elsewhere
    can: the entry must still be there with the same hash.
    """

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        seq, _, digest = text.strip().partition(":")
        if (
            not seq.isdigit()
            or int(seq) < 1
            or len(digest) < 12
            or any(c not in "0123456789abcdef" for c in digest.lower())
        ):
            raise ValueError(f"anchor {text!r} is not SEQ:HASH (entry 1 or later; at least 12 hex digits of its hash)")
        return cls(int(seq), digest.lower())


def verify(con: duckdb.DuckDBPyConnection, anchors: Sequence[Anchor] = ()) -> Verification:
    """Recompute the chain; the first entry whose hash, link or sequence number is wrong fails it.

    Each anchor must name an entry still present with a hash starting with the anchor's.
    """
    rows: Iterable[tuple[Any, ...]] = con.execute(
        "SELECT seq, ts, actor, event, run_id, payload, prev_hash, hash FROM audit_log ORDER BY seq"
    ).fetchall()
    prev, expected_seq, count = GENESIS, 1, 0
    hashes: dict[int, str] = {}
    for seq, ts, actor, event, run_id, payload, prev_hash, digest in rows:
        count += 1
        if seq != expected_seq:
            return Verification(count, False, expected_seq, f"entry {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return Verification(count, False, seq, f"entry {seq} does not link to entry {seq - 1}")
        actual = entry_hash(prev_hash, seq, ts, actor, event, run_id, orjson.loads(payload))
        if actual != digest:
            return Verification(count, False, seq, f"entry {seq} ({event}) was altered: its hash does not match")
        if anchors:
            hashes[seq] = digest
        prev, expected_seq = digest, seq + 1
    for anchor in anchors:
        found = hashes.get(anchor.seq)
        if found is None:
            last = expected_seq - 1
            return Verification(
                count, False, anchor.seq, f"anchored entry {anchor.seq} is gone: the log ends at entry {last}"
            )
        if not found.startswith(anchor.hash):
            return Verification(count, False, anchor.seq, f"entry {anchor.seq} differs from its anchor")
    return Verification(count, True, head=f"{expected_seq - 1}:{prev}" if count else None)
