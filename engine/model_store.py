"""Model answers, attempts and finished judgments, persisted as they happen.

Every provider answer goes to ``response_cache`` keyed by the hash of its request, every
attempt (cached, paid, failed) to ``attempts``, and every finished judgment of an item not yet
committed to ``judgment_journal`` (:mod:`scorers.judge.journal`), all flushed together every
``FLUSH_S`` seconds, long before the judgment is used to score. A killed run loses at most
that much: its resume takes journaled judgments as they were and replays stored answers
instead of paying for them again. Lookups are batched into one query per few milliseconds and
run on the database thread, like all database work of a run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import duckdb
import orjson

from engine.background import DatabaseThread
from engine.store import append
from engine.writer import utcnow
from scorers.judge.journal import Record
from scorers.judge.transport import AttemptRecord, CallContext

ITEM_TARGET = -1  # the journal's target for an item-level judgment (its annotations count from 0)

FLUSH_S = 0.25
LOOKUP_WAIT_S = 0.003
ATTEMPT_COLUMNS = (
    "run_id",
    "item_id",
    "annotation_id",
    "call_no",
    "attempt_no",
    "strategy",
    "tier",
    "model",
    "simulated",
    "request_hash",
    "outcome",
    "error",
    "response",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "cached",
    "started_at",
)


class ModelStore:
    """Implements the judge's ``ResponseStore`` and keeps the attempt log of one run."""

    def __init__(self, db: DatabaseThread, run_id: str) -> None:
        self.db = db
        self.run_id = run_id
        self._fresh: dict[str, str] = {}
        self._unsaved: list[tuple[str, str, str, int, int]] = []
        self._attempts: list[AttemptRecord] = []
        self._journal: list[tuple[str, int, str, Record]] = []
        self._journaled: dict[str, dict[int | None, tuple[str, Record]]] = {}
        self._waiting: dict[str, list[asyncio.Future[str | None]]] = {}
        self._lookup_task: asyncio.Task[None] | None = None
        self.attempts_written = 0

    # --- ResponseStore --------------------------------------------------------------------
    async def get(self, key: str) -> str | None:
        if key in self._fresh:
            return self._fresh[key]
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._lookup_task is None or self._lookup_task.done():
            self._lookup_task = asyncio.create_task(self._lookup_soon())
        return await future

    def put(self, key: str, model: str, response: str, input_tokens: int, output_tokens: int) -> None:
        self._fresh[key] = response
        self._unsaved.append((key, model, response, input_tokens, output_tokens))

    async def _lookup_soon(self) -> None:
        """Answer waiting lookups in batches until none are left waiting."""
        while self._waiting:
            await asyncio.sleep(LOOKUP_WAIT_S)
            waiting, self._waiting = self._waiting, {}
            keys = list(waiting)

            def lookup(con: duckdb.DuckDBPyConnection, keys: list[str] = keys) -> dict[str, str]:
                rows = con.execute(
                    "SELECT request_hash, response FROM response_cache WHERE request_hash IN "
                    "(SELECT unnest(?::VARCHAR[]))",
                    [keys],
                ).fetchall()
                return {str(k): str(v) for k, v in rows}

            try:
                found = await asyncio.wrap_future(self.db.submit(lookup))
            except BaseException as exc:
                for futures in [*waiting.values(), *self._waiting.values()]:
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                self._waiting = {}
                return  # the waiters raise it
            for key, futures in waiting.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found.get(key))

    def save(self, context: CallContext) -> None:
        """A call's final attempts and the answers they received (those not saved yet), flushed together."""
        self._attempts.extend(context.attempts[context.saved_attempts :])
        for key, model, response, input_tokens, output_tokens in context.answers[context.saved_answers :]:
            self.put(key, model, response, input_tokens, output_tokens)
        context.saved_attempts, context.saved_answers = len(context.attempts), len(context.answers)

    # --- JudgmentJournal ----------------------------------------------------------------------
    async def load_journal(self) -> None:
        """Read the journaled judgments of this run's uncommitted items (a resumed run's; few)."""
        run_id = self.run_id

        def read(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
            return con.execute(
                """SELECT j.item_id, j.target, j.journal_key, j.record FROM judgment_journal j
                   ANTI JOIN items i ON i.run_id = j.run_id AND i.item_id = j.item_id
                   WHERE j.run_id = ? ORDER BY j.created_at""",  # a later entry for a target wins
                [run_id],
            ).fetchall()

        for item_id, target, key, record in await asyncio.wrap_future(self.db.submit(read)):
            index = None if target == ITEM_TARGET else int(target)
            self._journaled.setdefault(str(item_id), {})[index] = (str(key), orjson.loads(record))

    def recall(self, item_id: str) -> dict[int | None, tuple[str, Record]]:
        return self._journaled.pop(item_id, {})  # each item is judged once per process

    def remember(self, item_id: str, target: int | None, key: str, record: Record) -> None:
        self._journal.append((item_id, ITEM_TARGET if target is None else target, key, record))

    # --- attempts ---------------------------------------------------------------------------
    def record(self, attempts: Sequence[AttemptRecord]) -> None:
        self._attempts.extend(attempts)

    def flush(self) -> asyncio.Future[int]:
        """Write what was answered and attempted since the last flush (one transaction)."""
        responses, self._unsaved = self._unsaved, []
        attempts, self._attempts = self._attempts, []
        journal, self._journal = self._journal, []
        run_id = self.run_id

        def write(con: duckdb.DuckDBPyConnection) -> int:
            if responses:
                now = utcnow()
                append(
                    con,
                    "response_cache",
                    {
                        "request_hash": [r[0] for r in responses],
                        "model": [r[1] for r in responses],
                        "response": [r[2] for r in responses],
                        "input_tokens": [r[3] for r in responses],
                        "output_tokens": [r[4] for r in responses],
                        "created_at": [now] * len(responses),
                    },
                    ignore_duplicates=True,
                )
            if attempts:
                rows = [asdict(a) for a in attempts]
                columns: dict[str, list[Any]] = {c: [] for c in ATTEMPT_COLUMNS}
                for row in rows:
                    row["run_id"] = run_id
                    for column in ATTEMPT_COLUMNS:
                        columns[column].append(row[column])
                append(con, "attempts", columns)
                con.execute(
                    "UPDATE runs SET model_attempts = model_attempts + ?, cost_usd = cost_usd + ? WHERE run_id = ?",
                    [len(attempts), sum(a.cost_usd or 0.0 for a in attempts), run_id],
                )
            if journal:  # after the attempts: a journaled judgment's attempts are stored with it or before
                now = utcnow()
                append(
                    con,
                    "judgment_journal",
                    {
                        "run_id": [run_id] * len(journal),
                        "item_id": [j[0] for j in journal],
                        "target": [j[1] for j in journal],
                        "journal_key": [j[2] for j in journal],
                        "record": [orjson.dumps(j[3]).decode() for j in journal],
                        "created_at": [now] * len(journal),
                    },
                )
            return len(attempts)

        if not responses and not attempts and not journal:
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            done.set_result(0)
            return done
        written = asyncio.wrap_future(self.db.submit(write))
        keys = [r[0] for r in responses]

        def forget(done: asyncio.Future[int]) -> None:  # stored: later lookups go to the database
            if not done.cancelled() and done.exception() is None:
                for key in keys:
                    self._fresh.pop(key, None)

        written.add_done_callback(forget)
        return written

    async def flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            self.attempts_written += await self.flush()


def forget_journaled(con: duckdb.DuckDBPyConnection, run_id: str, item_ids: list[str]) -> None:
    """Drop the journal entries of items committed in this transaction (their judgments are stored)."""
    if item_ids:
        con.execute(
            "DELETE FROM judgment_journal WHERE run_id = ? AND item_id IN (SELECT unnest(?::VARCHAR[]))",
            [run_id, item_ids],
        )
