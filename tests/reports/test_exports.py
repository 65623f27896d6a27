"""Exports: Parquet round-trips to the same rows as the store, CSV and JSONL carry the same rows,
every export is an audit event, and docs/exports.md lists exactly the exported columns."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from engine.audit import verify
from engine.store import Store
from reports.export import AUDIT_LOG, TABLES, export, export_all, export_audit
from tests.reports.conftest import DemoRun

DOC = Path(__file__).resolve().parents[2] / "docs" / "exports.md"


def _query(table: str, run_id: str) -> str:
    return TABLES[table].replace("$run_id", "'" + run_id + "'")


def _rows(db: Path, sql: str) -> list[dict[str, object]]:
    with duckdb.connect(str(db)) as con:
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


@pytest.mark.parametrize("table", list(TABLES))
def test_parquet_export_reads_back_as_the_same_rows(demo: DemoRun, tmp_path: Path, table: str) -> None:
    expected = _rows(demo.db, _query(table, demo.run_id))  # before the export adds its own audit entry
    run_id, path, count = export(demo.db, demo.run_id, tmp_path / f"{table}.parquet", table=table)
    assert run_id == demo.run_id and count == len(expected)
    assert pq.read_table(path).to_pylist() == expected
    if table in ("findings", "scores", "reviews", "attempts", "audit"):
        assert expected, f"the demo run should have {table} rows for this test to mean something"


def test_csv_and_jsonl_exports_carry_the_same_rows(demo: DemoRun, tmp_path: Path) -> None:
    for table in ("findings", "reviews", "scores"):
        expected = _rows(demo.db, _query(table, demo.run_id))
        export(demo.db, demo.run_id, tmp_path / f"{table}.csv", table=table)
        export(demo.db, demo.run_id, tmp_path / f"{table}.jsonl", table=table)
        with (tmp_path / f"{table}.csv").open(encoding="utf-8") as handle:
            from_csv = list(csv.DictReader(handle))
        from_jsonl = [json.loads(line) for line in (tmp_path / f"{table}.jsonl").read_text().splitlines()]
        assert len(from_csv) == len(from_jsonl) == len(expected)
        assert list(from_csv[0]) == list(from_jsonl[0]) == list(expected[0])
        key = "review_id" if table == "reviews" else "item_id"
        assert [r[key] for r in from_csv] == [r[key] for r in from_jsonl] == [r[key] for r in expected]
    findings = (tmp_path / "findings.jsonl").read_text().splitlines()
    evidence = [json.loads(line)["evidence"] for line in findings]
    assert any(isinstance(e, dict) for e in evidence)  # JSON columns are nested objects in JSONL


def test_every_export_is_an_audit_event_naming_the_file(demo: DemoRun, tmp_path: Path) -> None:
    _, path, count = export(demo.db, demo.run_id, tmp_path / "findings.parquet", actor="auditor-7")
    with Store(demo.db).read() as con:
        actor, event, run_id, payload = con.execute(
            "SELECT actor, event, run_id, payload FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchall()[0]
        assert verify(con).ok
    details = json.loads(payload)
    assert (actor, event, run_id) == ("auditor-7", "export", demo.run_id)
    assert details["file"] == str(path.resolve()) and details["rows"] == count
    assert (details["table"], details["format"]) == ("findings", "parquet")
    assert details["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_whole_audit_log_and_every_table_at_once(demo: DemoRun, tmp_path: Path) -> None:
    written = export_all(demo.db, demo.run_id, tmp_path / "all", format="jsonl")
    assert sorted(p.name for _, p, _ in written) == sorted(f"{t}.jsonl" for t in TABLES)
    expected = _rows(demo.db, AUDIT_LOG)
    rows = export_audit(demo.db, tmp_path / "audit.parquet")
    assert rows == len(expected) and pq.read_table(tmp_path / "audit.parquet").to_pylist() == expected
    assert {"run_started", "run_finished", "review_decision", "export"} <= {r["event"] for r in expected}


def _documented() -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### `(\w+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
            continue
        row = re.match(r"^\| `(\w+)` \| (\w+) \|", line)
        if row and current is not None:
            current.append((row.group(1), row.group(2)))
    return sections


def test_docs_list_exactly_the_exported_columns(db: Path) -> None:
    with Store(db).write():
        pass  # a migrated, empty database
    documented = _documented()
    queries = {**{t: _query(t, "x") for t in TABLES}, "audit_log": AUDIT_LOG}
    assert set(documented) == set(queries), "docs/exports.md must have one section per export table"
    with Store(db).read() as con:
        for table, sql in queries.items():
            actual = [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE ({sql})").fetchall()]
            assert documented[table] == actual, f"docs/exports.md section `{table}` differs from the export"
