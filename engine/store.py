"""The DuckDB store: the only code that opens the database for writing.

DuckDB lets one process hold a file for writing and then refuses every other process, even
readers; holding a connection for a whole run would lock the review screen out. So
connections are short-lived: a query opens, works and closes, and an open that meets another
process's lock retries with backoff for ``LABELGATE_LOCK_TIMEOUT_S`` seconds.

A run writes through a :class:`WriteSession`, which keeps its connection across chunks for at
most ``LABELGATE_HOLD_S`` seconds, then closes it and pauses briefly so a waiting reviewer gets
in. Closing is what costs (DuckDB checkpoints the WAL on the last close: 50-600 ms measured),
so closing after every chunk would cost more than the scoring itself.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from engine.migrations import migrate
from labelgate.errors import StoreError
from labelgate.settings import HOLD_S, LOCK_TIMEOUT_S

_MIGRATED: set[str] = set()
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.RLock:
    """One lock per database file in this process: its write transactions take turns.

    DuckDB lets the threads of one process write at once but aborts one of two transactions
    that touch the same rows (both appending the next audit entry, say); the review screen
    serves every reviewer from threads of one process, so their writes go one at a time.
    """
    key = str(path.resolve())
    with _LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


WAITER_FRESH_S = 1.0  # a waiting flag older than this is a crashed waiter's leftover
YIELD_MAX_S = 0.5  # how long a run lets a waiter in before it takes the file back
MIN_HOLD_S = 0.25  # a run keeps the file this long before yielding to a waiter: reopening costs a checkpoint


def waiting_flag(path: Path) -> Path:
    """``runs.duckdb.waiting``: touched by a process waiting for the file, so a run hands it over."""
    return path.with_name(path.name + ".waiting")


def someone_waiting(path: Path) -> bool:
    try:
        touched = os.stat(waiting_flag(path)).st_mtime
    except OSError:
        return False
    return time.time() - touched < WAITER_FRESH_S


def _announce(flag: Path) -> None:
    with contextlib.suppress(OSError):  # best effort: the lease still hands the file over
        flag.touch()


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "different configuration" in text


class Store:
    """A DuckDB file holding runs; open connections with :meth:`write` or :meth:`read`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self, read_only: bool, announce: bool = True) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying while another process holds it.

        While it waits it keeps :func:`waiting_flag` fresh (``announce``), so a run holding
        the file gives it up at its next transaction instead of at the end of its lease.
        """
        deadline = time.monotonic() + LOCK_TIMEOUT_S.get()
        delay = 0.005
        flag = waiting_flag(self.path)
        announced = False
        try:
            while True:
                try:
                    return duckdb.connect(str(self.path), read_only=read_only)
                except (duckdb.IOException, duckdb.ConnectionException) as exc:
                    if not _is_lock_error(exc):
                        raise StoreError(f"{self.path}: cannot open the database ({exc})") from None
                    if time.monotonic() >= deadline:
                        raise StoreError(
                            f"{self.path}: another process keeps the database locked; retry when it "
                            "finishes or raise LABELGATE_LOCK_TIMEOUT_S"
                        ) from None
                    if announce:
                        _announce(flag)
                        announced = True
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 0.04)
                except duckdb.Error as exc:
                    raise StoreError(
                        f"{self.path}: not a usable DuckDB database ({str(exc).splitlines()[0]})"
                    ) from None
        finally:
            if announced:
                with contextlib.suppress(OSError):
                    flag.unlink(missing_ok=True)

    def open_migrated(self, announce: bool = True) -> duckdb.DuckDBPyConnection:
        """A read-write connection to a database whose schema is up to date."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect(read_only=False, announce=announce)
        try:
            key = str(self.path.resolve())
            if key not in _MIGRATED:
                with _write_lock(self.path):  # threads opening a new file at once would clash on the catalog
                    if key not in _MIGRATED:
                        migrate(con)
                        _MIGRATED.add(key)
        except BaseException:
            con.close()
            raise
        return con

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived read-write connection inside one transaction, committed on success."""
        with _write_lock(self.path):
            con = self.open_migrated()
            try:
                with transaction(con):
                    yield con
            finally:
                con.close()

    def session(self, hold_s: float | None = None) -> WriteSession:
        """A write session for a long job (see :class:`WriteSession`)."""
        return WriteSession(self, HOLD_S.get() if hold_s is None else hold_s)

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection for queries; the file must exist."""
        if not self.path.exists():
            raise StoreError(f"{self.path}: no such database: run `labelgate score ... --db {self.path}` first")
        con = self.open_migrated()
        try:
            yield con
        finally:
            con.close()


def first_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a query result, reading the result to the end.

    DuckDB refuses further work on a connection while a result is unfinished, so
    ``fetchone()`` followed by another statement fails; this never leaves one open.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT has already rolled back
            con.execute("ROLLBACK")
        raise


class WriteSession:
    """Reuses one write connection for at most ``hold_s`` seconds, then lets others in.

    It lets them in sooner when one says it is waiting (:func:`waiting_flag`): at the next
    transaction, or within 50 ms when idle, so a reviewer's decision lands in about the time
    of one chunk's write instead of up to a whole lease.
    """

    PAUSE_S = 0.1

    def __init__(self, store: Store, hold_s: float) -> None:
        self.store = store
        self.hold_s = hold_s
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened = 0.0
        self._lock = _write_lock(store.path)  # looked up once: a run writes many transactions

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._should_let_others_in():
            self.release()
            self._pause()
        if self._con is None:
            self._con = self.store.open_migrated(announce=False)
            self._opened = time.monotonic()
        try:
            with self._lock, transaction(self._con):
                yield self._con
        except BaseException:
            self.release()
            raise

    def release_if_expired(self) -> None:
        """Give the file back, while nothing is being written, when the lease ran out or someone waits."""
        if self._should_let_others_in():
            self.release()

    def _should_let_others_in(self) -> bool:
        if self._con is None:
            return False
        held = time.monotonic() - self._opened
        # a review screen reading often must not make the run reopen the file at every transaction
        return held > self.hold_s or (held > MIN_HOLD_S and someone_waiting(self.store.path))

    def _pause(self) -> None:
        """Stay away for ``PAUSE_S``, longer (up to ``YIELD_MAX_S``) while a waiter has not got in yet."""
        started = time.monotonic()
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= YIELD_MAX_S or (elapsed >= self.PAUSE_S and not someone_waiting(self.store.path)):
                return
            time.sleep(0.01)

    def release(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            con.close()

    def __enter__(self) -> WriteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


SMALL_BATCH_ROWS = 500
"""Up to this many rows, DuckDB reads the Python lists itself (``unnest`` of list parameters).

Measured faster than Arrow below ~200 rows and within a few ms up to 500; above, Arrow is
several times faster. Small batches are what a model run and a resume write, and building
an Arrow array imports pandas (pyarrow checks every input against its types): ~0.5 s more
at the start of every process, which a resumed run would pay at each restart.
"""


def warm_up_arrow() -> None:
    """Load Arrow (and the pandas it imports on its first conversion) on this thread, now.

    A run that writes large batches calls this before its database thread starts: loaded
    there in the middle of a run, competing with scoring for the GIL, it took ~2 s instead of
    ~0.5 s (the deterministic bench's store time went from 2.8 s to 5.0 s).
    """
    import pyarrow as pa

    pa.array([0])


def append(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, list[object]],
    *,
    ignore_duplicates: bool = False,
) -> int:
    """Insert column lists in one statement (orders of magnitude faster than executemany)."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns for {table} differ in length: {sorted(lengths)}")
    rows = lengths.pop() if lengths else 0
    if not rows:
        return 0
    names = ", ".join(columns)
    conflict = " ON CONFLICT DO NOTHING" if ignore_duplicates else ""
    if rows <= SMALL_BATCH_ROWS:
        unnested = ", ".join(f"unnest(${i})" for i in range(1, len(columns) + 1))
        values = [_python_values(column) for column in columns.values()]
        con.execute(f"INSERT INTO {table} ({names}) SELECT {unnested}{conflict}", values)
        return rows
    import pyarrow as pa  # here, not at the top: a process writing only small batches never loads it

    batch = pa.table(columns)
    con.register("_batch", batch)
    try:
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _batch{conflict}")
    finally:
        con.unregister("_batch")
    return int(batch.num_rows)


def _python_values(column: list[object]) -> list[object]:
    """numpy scalars as Python values: DuckDB's list parameters refuse most of them (Arrow took them)."""
    if any(type(value).__module__ == "numpy" for value in column):
        return [value.item() if type(value).__module__ == "numpy" else value for value in column]  # type: ignore[attr-defined]
    return column
