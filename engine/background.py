"""One thread owns the run's DuckDB write connection; everything else hands it work.

DuckDB releases the GIL while it inserts, commits and checkpoints, so running the database
work on its own thread overlaps it with the (GIL-bound) scoring of the next chunk: on two
cores this is worth about a third of the wall time of the deterministic path. Model runs also
send it attempt logs and response-cache lookups. Work runs in submission order, each piece in
its own transaction; the queue is bounded so memory stays small; the first error stops the run.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

import duckdb

from engine import audit
from engine.ownership import check_owner
from engine.scoring import ScoredItem
from engine.store import Store
from engine.writer import ChunkCounts, write_chunk
from ingest.model import Quarantined
from labelgate.errors import LabelgateError, StoreError

T = TypeVar("T")
Work = Callable[[duckdb.DuckDBPyConnection], Any]
_STOP = object()


class DatabaseThread:
    """Runs database work on a dedicated thread, in order, one transaction per piece."""

    def __init__(self, store: Store, depth: int = 4) -> None:
        self.seconds = 0.0
        self._session = store.session()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="labelgate-db", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        """Run work in order; after the first error, fail every later piece instead of running it.

        Every future is resolved one way or the other, so nothing waiting on the database (a
        cache lookup, a chunk commit) can hang when a write fails; cancelled work is skipped.
        """
        try:
            while True:
                try:
                    entry = self._queue.get(timeout=0.05)
                except queue.Empty:
                    if self._error is None:
                        self._session.release_if_expired()  # idle: don't keep others out past the lease
                    continue
                if entry is _STOP:
                    break
                assert isinstance(entry, tuple)
                work: Work = entry[0]
                future: Future[Any] = entry[1]
                if not future.set_running_or_notify_cancel():
                    continue
                if self._error is not None:
                    future.set_exception(self._failure())
                    continue
                started = time.perf_counter()
                try:
                    with self._session.transaction() as con:
                        result = work(con)
                except BaseException as exc:
                    self._error = exc
                    future.set_exception(exc)
                    self._session.release()
                    continue
                self.seconds += time.perf_counter() - started
                future.set_result(result)
        finally:
            started = time.perf_counter()
            self._session.release()
            self.seconds += time.perf_counter() - started

    def _failure(self) -> BaseException:
        """A fresh exception for each later waiter (re-raising one object grows its traceback)."""
        error = self._error
        fresh: BaseException = StoreError(f"writing to the database failed: {error}")
        if isinstance(error, LabelgateError):
            with contextlib.suppress(TypeError):  # an error class with a richer constructor keeps the generic one
                fresh = type(error)(str(error))
        fresh.__cause__ = error
        return fresh

    def check(self) -> None:
        if self._error is not None:
            raise self._failure()

    def submit(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        future: Future[T] = Future()
        while True:
            self.check()
            try:
                self._queue.put((work, future), timeout=0.2)
                return future
            except queue.Full:
                if not self._thread.is_alive():
                    self.check()
                    raise RuntimeError("the database thread stopped unexpectedly") from None

    def close(self) -> None:
        """Wait until all submitted work is done; re-raise a database error."""
        if self._thread.is_alive():
            while True:
                try:
                    self._queue.put(_STOP, timeout=0.2)
                    break
                except queue.Full:
                    if not self._thread.is_alive():
                        break
            self._thread.join()
        self.check()


class BackgroundWriter:
    """Commits scored chunks on the database thread; ``on_commit`` runs after each."""

    def __init__(
        self,
        db: DatabaseThread,
        run_id: str,
        on_commit: Callable[[ChunkCounts], None],
        item_fields: Sequence[str] = (),
        annotation_fields: Sequence[str] = (),
        actor: str = "labelgate",
        owner_token: str | None = None,
    ) -> None:
        self.db = db
        self.owner_token = owner_token
        self.run_id = run_id
        self.on_commit = on_commit
        self.item_fields = item_fields
        self.annotation_fields = annotation_fields
        self.actor = actor

    def submit(
        self,
        number: int,
        first_seq: int,
        scored: Sequence[ScoredItem],
        quarantined: Sequence[Quarantined],
        extra: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
        seqs: Sequence[int] | None = None,
        cost_usd: float = 0.0,
    ) -> Future[ChunkCounts]:
        def work(con: duckdb.DuckDBPyConnection) -> ChunkCounts:
            if self.owner_token is not None:
                check_owner(con, self.run_id, self.owner_token)
            counts = write_chunk(
                con, self.run_id, number, first_seq, scored, quarantined, self.item_fields, self.annotation_fields, seqs
            )
            counts.cost_usd = cost_usd
            if extra is not None:
                extra(con)
            escalations = [
                audit.Event(
                    "escalated_to_review",
                    self.actor,
                    {
                        "item_id": result.item.id,
                        "annotation_id": reason.annotation_id,
                        "check_id": reason.check_id,
                        "reason": reason.reason,
                    },
                    self.run_id,
                )
                for result in scored
                for reason in result.reasons
            ]
            if escalations:
                audit.record(con, escalations)
            return counts

        future = self.db.submit(work)
        # after COMMIT, on the database thread, outside the transaction and the file's write lock
        future.add_done_callback(self._committed)
        return future

    def _committed(self, future: Future[ChunkCounts]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.on_commit(future.result())
