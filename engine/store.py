"""The DuckDB store: the only code that opens the database for writing.

Connections are short-lived. DuckDB lets one process hold a file for writing and then
refuses every other process, even readers; holding a connection for a whole run would lock
the review screen out. So each chunk of work opens, writes in one transaction, and closes,
and an open that meets another process's lock retries with backoff for
``LABELGATE_LOCK_TIMEOUT_S`` seconds before failing with a clear message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from engine.migrations import migrate
from labelgate.errors import StoreError
from labelgate.settings import LOCK_TIMEOUT_S

_MIGRATED: set[str] = set()


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text or "different configuration" in text


class Store:
    """A DuckDB file holding runs; open connections with :meth:`write` or :meth:`read`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + LOCK_TIMEOUT_S.get()
        delay = 0.01
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
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise StoreError(
                    f"{self.path}: not a usable DuckDB database ({str(exc).splitlines()[0]})"
                ) from None

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection inside one transaction, committed on success."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect(read_only=False)
        try:
            key = str(self.path.resolve())
            if key not in _MIGRATED:
                migrate(con)
                _MIGRATED.add(key)
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection for queries; the file must exist."""
        if not self.path.exists():
            raise StoreError(
                f"{self.path}: no such database: run `labelgate score ... --db {self.path}` first"
            )
        con = self._connect(read_only=False)
        try:
            key = str(self.path.resolve())
            if key not in _MIGRATED:
                migrate(con)
                _MIGRATED.add(key)
            yield con
        finally:
            con.close()


def append(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, list[object]],
    schema: pa.Schema | None = None,
) -> int:
    """Insert column lists as one Arrow batch (orders of magnitude faster than executemany)."""
    if not columns or not next(iter(columns.values())):
        return 0
    batch = pa.table(columns, schema=schema) if schema is not None else pa.table(columns)
    names = ", ".join(columns)
    con.register("_batch", batch)
    try:
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _batch")
    finally:
        con.unregister("_batch")
    return int(batch.num_rows)
