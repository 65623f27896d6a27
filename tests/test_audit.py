"""The hash-chained audit log: appends across transactions, verification, tampering found."""

from __future__ import annotations

from pathlib import Path

from engine.audit import record_one, verify
from engine.store import Store


def test_events_appended_in_separate_transactions_chain_and_verify(db: Path) -> None:
    store = Store(db)
    for n in range(3):  # each append reads the previous entry first: must work past the first one
        with store.write() as con:
            record_one(con, "export", "alice", {"n": n}, run_id="r1")
    with store.read() as con:
        result = verify(con)
        seqs = [r[0] for r in con.execute("SELECT seq FROM audit_log ORDER BY seq").fetchall()]
    assert result.ok and result.entries == 3
    assert seqs == [1, 2, 3]


def test_an_edited_entry_breaks_the_chain_from_there(db: Path) -> None:
    store = Store(db)
    with store.write() as con:
        for n in range(4):
            record_one(con, "review", "bob", {"n": n})
    with store.write() as con:
        con.execute("""UPDATE audit_log SET payload = '{"n": 99}' WHERE seq = 3""")
    with store.read() as con:
        result = verify(con)
    assert not result.ok and result.first_broken == 3
    assert result.problem is not None and "altered" in result.problem
