"""A canary API key is used for the call and found nowhere else: not in the store, exports or logs."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

import labelgate
from tests.fake_openai import fake_openai
from tests.helpers import run_cli, write_rulebook
from tests.model.conftest import JUDGED_RULEBOOK, one_box_dataset

CANARY = "sk-canary-7f3a9c-DO-NOT-LEAK"


def test_canary_key_is_absent_from_store_exports_and_logs(tmp_path: Path) -> None:
    dataset = one_box_dataset(tmp_path / "data")
    rules = write_rulebook(tmp_path, JUDGED_RULEBOOK)
    db = tmp_path / "runs.duckdb"
    env = {"OPENAI_API_KEY": CANARY}
    with fake_openai() as server:
        server.enqueue(*[json.dumps({"box_fit": "tight", "confidence": 0.9})] * 4)
        scored = run_cli(
            "score",
            dataset,
            "--rulebook",
            rules,
            "--db",
            db,
            "--cheap-model",
            "openai/gpt-4o-mini",
            "--base-url",
            server.url,
            env=env,
        )
        headers = server.headers
    assert scored.code == 0, scored.stderr
    assert headers and all(h["authorization"] == f"Bearer {CANARY}" for h in headers)  # the key was used

    logs = [scored.stdout, scored.stderr]
    exported = run_cli("export", "latest", "--db", db, "--table", "attempts", "--out", tmp_path / "a.jsonl", env=env)
    logs += [exported.stdout, exported.stderr]
    exports = [tmp_path / "a.jsonl"]
    for table in ("findings", "scores", "items", "attempts", "judgments", "routes", "escalations", "quarantine"):
        for fmt in ("jsonl", "csv", "parquet"):
            exports.append(labelgate.export("latest", db, tmp_path / f"{table}.{fmt}", table=table))
    listed = run_cli("findings", "latest", "--db", db, "--json", env=env)
    logs += [listed.stdout, listed.stderr]

    assert not [log for log in logs if CANARY in log]
    assert not [path for path in exports if CANARY.encode() in path.read_bytes()]
    for path in tmp_path.glob("runs.duckdb*"):
        assert CANARY.encode() not in path.read_bytes()
    with duckdb.connect(str(db)) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                assert CANARY not in json.dumps(row, default=str), table
