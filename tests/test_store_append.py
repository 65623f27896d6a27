"""Small batches go into DuckDB as list parameters, large ones as Arrow: both must store the same."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pytest

from engine import store
from engine.store import append

COLUMNS: dict[str, list[Any]] = {
    "id": ["a", "b", "c"],
    "score": [0, 0.5, None],  # ints and floats mixed, as costs and scores are
    "count": [np.int64(3), None, 7],  # numpy scalars come out of measurements
    "ratio": [np.float32(0.25), np.float64(1.5), 2.0],
    "flag": [True, None, np.bool_(False)],
    "seen_at": [datetime(2026, 12, 5, 17, 40, 9, 123456), None, datetime(2026, 1, 1)],
    "payload": ['{"a": [1, 2]}', None, "[]"],
    "labels": [["car"], [], ["bus", "car"]],
    "nothing": [None, None, None],
}
TABLE = """CREATE TABLE t (id VARCHAR, score DOUBLE, count BIGINT, ratio DOUBLE, flag BOOLEAN,
    seen_at TIMESTAMP, payload JSON, labels VARCHAR[], nothing DOUBLE)"""


def _stored(monkeypatch: pytest.MonkeyPatch, small_batch_rows: int) -> list[tuple[Any, ...]]:
    monkeypatch.setattr(store, "SMALL_BATCH_ROWS", small_batch_rows)
    con = duckdb.connect()
    con.execute(TABLE)
    assert append(con, "t", {name: list(values) for name, values in COLUMNS.items()}) == 3
    return con.execute("SELECT * FROM t ORDER BY id").fetchall()


def test_list_parameters_and_arrow_store_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    by_parameters = _stored(monkeypatch, 500)
    by_arrow = _stored(monkeypatch, 0)
    assert by_parameters == by_arrow
    assert by_parameters[0] == (
        "a",
        0.0,
        3,
        0.25,
        True,
        datetime(2026, 12, 5, 17, 40, 9, 123456),
        '{"a": [1, 2]}',
        ["car"],
        None,
    )


def test_columns_of_different_lengths_are_refused() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE u (a INTEGER, b INTEGER)")
    with pytest.raises(ValueError, match="differ in length"):
        append(con, "u", {"a": [1, 2], "b": [1]})
