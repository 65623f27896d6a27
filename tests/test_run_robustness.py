"""A failed database write, a cancelled write and a second process never hang or double-score a run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

import engine.background as background
from engine.background import DatabaseThread
from engine.model_run import JudgeSetup
from engine.run import score_dataset
from engine.store import Store
from ingest.synthetic import SyntheticSpec, generate
from labelgate.errors import RunError, StoreError
from scorers.judge.judge import JudgeSettings
from scorers.providers.sim import TIERS
from scorers.providers.spec import parse_model
from tests.helpers import EXAMPLE_RULEBOOK, REPO, run_cli


def _setup(latency: float) -> JudgeSetup:
    return JudgeSetup(
        models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")},
        settings=JudgeSettings(concurrency=4),
        sim_tiers={name: replace(tier, latency_s=latency) for name, tier in TIERS.items()},
        sim_seed=11,
    )


def test_after_a_failed_write_every_later_piece_fails_and_a_cancelled_one_is_skipped(tmp_path: Path) -> None:
    db = DatabaseThread(Store(tmp_path / "t.duckdb"))
    ran: list[str] = []

    def slow(con: duckdb.DuckDBPyConnection) -> None:
        time.sleep(0.3)
        ran.append("slow")

    def broken(con: duckdb.DuckDBPyConnection) -> None:
        raise OSError("No space left on device")

    async def main() -> tuple[list[Any], list[str]]:
        db.submit(slow)
        cancelled = asyncio.wrap_future(db.submit(lambda con: ran.append("cancelled")))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        failing = db.submit(broken)
        after = db.submit(lambda con: ran.append("after"))
        results = await asyncio.gather(asyncio.wrap_future(failing), asyncio.wrap_future(after), return_exceptions=True)
        return results, list(ran)

    results, seen = asyncio.run(asyncio.wait_for(main(), 10))
    assert seen == ["slow"]  # the cancelled piece was skipped, the one after the failure never ran
    assert isinstance(results[0], OSError)
    assert isinstance(results[1], StoreError) and "No space left on device" in str(results[1])
    with pytest.raises(StoreError, match="No space left"):
        db.close()


@pytest.mark.timeout(120)
def test_a_model_run_whose_chunk_write_fails_stops_with_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = generate(tmp_path / "data", SyntheticSpec(images=40, seed=2))
    real = background.write_chunk
    calls = {"n": 0}

    def failing(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("No space left on device (simulated)")
        return real(con, *args, **kwargs)

    monkeypatch.setattr(background, "write_chunk", failing)
    started = time.monotonic()
    with pytest.raises((OSError, StoreError), match="No space left"):
        score_dataset(data.coco, EXAMPLE_RULEBOOK, tmp_path / "runs.duckdb", judge=_setup(0.02), chunk_annotations=50)
    assert time.monotonic() - started < 60
    with duckdb.connect(str(tmp_path / "runs.duckdb")) as con:
        status, error = con.execute("SELECT status, error FROM runs").fetchall()[0]
    assert status == "failed" and "No space left" in error


def _start_run(tmp_path: Path, images: int, latency: float) -> tuple[subprocess.Popen[bytes], Path, str]:
    dataset = generate(tmp_path / "data", SyntheticSpec(images=images, seed=9)).coco
    db = tmp_path / "runs.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-m", "bench.durability", "--worker", str(db), str(dataset), str(latency)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if db.exists():
            with Store(db).read() as con:
                rows = con.execute("SELECT run_id FROM items LIMIT 1").fetchall()
            if rows:
                return run, db, str(rows[0][0])
    run.kill()
    raise AssertionError("the run committed nothing")


@pytest.mark.timeout(300)
def test_resuming_a_run_another_process_is_scoring_is_refused(tmp_path: Path) -> None:
    run, db, run_id = _start_run(tmp_path, images=80, latency=0.1)
    try:
        refused = run_cli("resume", "latest", "--db", db, "--quiet")
        assert run.poll() is None, "the run should still be going"
        assert refused.code == 1
        assert refused.stderr.strip() == (
            f"error: run {run_id} is being scored right now by process {run.pid} on this machine: let it finish, "
            "or stop it (Ctrl-C) and resume then"
        )
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err.decode()
    finally:
        run.kill()
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) - count(DISTINCT item_id) FROM items").fetchall()[0][0] == 0
        assert con.execute("SELECT status FROM runs").fetchall()[0][0] == "finished"


@pytest.mark.timeout(300)
def test_a_run_taken_over_by_another_process_stops_without_writing(tmp_path: Path) -> None:
    run, db, run_id = _start_run(tmp_path, images=80, latency=0.1)
    try:
        with Store(db).write() as con:  # what another process's resume does
            con.execute(
                """UPDATE runs SET owner = '{"host": "elsewhere", "pid": 1, "started": null, "token": "theirs"}'"""
            )
            before = con.execute("SELECT count(*) FROM items").fetchall()[0][0]
        _, err = run.communicate(timeout=120)
        stderr = err.decode()
        assert run.returncode == 1, stderr
    finally:
        run.kill()
    assert f"run {run_id} was resumed by another process, which now scores it: this one stops" in stderr
    with duckdb.connect(str(db)) as con:
        after = con.execute("SELECT count(*) FROM items").fetchall()[0][0]
        status = con.execute("SELECT status FROM runs").fetchall()[0][0]
        events = [r[0] for r in con.execute("SELECT event FROM audit_log").fetchall()]
    assert after == before and status == "running"  # nothing written after the takeover
    assert "run_failed" not in events


def test_take_over_names_the_live_owner(tmp_path: Path) -> None:
    from engine.ownership import Owner, take_over

    data = generate(tmp_path / "data", SyntheticSpec(images=3, seed=1))
    run = score_dataset(data.coco, EXAMPLE_RULEBOOK, tmp_path / "runs.duckdb")
    live = Owner("x", os.getppid(), None, "t")  # the parent (pytest's launcher) is alive
    with Store(tmp_path / "runs.duckdb").write() as con:
        con.execute("UPDATE runs SET owner = ?", [live.to_json()])
    with Store(tmp_path / "runs.duckdb").write() as con:
        assert take_over(con, run.run_id, "running").pid == os.getpid()  # another host: not checked
    here = Owner(Owner.me().host, os.getppid(), None, "t")
    with Store(tmp_path / "runs.duckdb").write() as con:
        con.execute("UPDATE runs SET owner = ?", [here.to_json()])
    with (
        pytest.raises(RunError, match=f"process {os.getppid()} on this machine"),
        Store(tmp_path / "runs.duckdb").write() as con,
    ):
        take_over(con, run.run_id, "running")


def test_threads_opening_a_database_not_yet_migrated_all_get_in(tmp_path: Path) -> None:
    """The review screen's first reads after an upgrade come from several threads at once."""
    import threading

    import duckdb

    from engine.store import Store

    db = tmp_path / "old.duckdb"
    duckdb.connect(str(db)).close()  # exists, no schema yet
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def read() -> None:
        start.wait()
        try:
            with Store(db).read() as con:
                con.execute("SELECT count(*) FROM runs").fetchall()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_run_holding_the_file_lets_a_waiting_process_in_at_once(tmp_path: Path) -> None:
    """The lease is 30 s here; a waiter that announces itself still gets in within a second."""
    import subprocess
    import sys
    import time

    from engine.store import Store, waiting_flag
    from tests.helpers import REPO

    db = tmp_path / "runs.duckdb"
    session = Store(db).session(hold_s=30)
    with session.transaction() as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    insert = (
        f"from engine.store import Store\nwith Store({str(db)!r}).write() as c: c.execute('INSERT INTO t VALUES (1)')"
    )
    waiter = subprocess.Popen([sys.executable, "-c", insert], cwd=REPO)
    started = time.monotonic()
    while waiter.poll() is None and time.monotonic() - started < 20:
        session.release_if_expired()  # what the run's database thread does when idle
        time.sleep(0.05)
    assert waiter.wait(timeout=30) == 0
    assert time.monotonic() - started < 10  # not the 30 s lease
    with session.transaction() as con:
        assert con.execute("SELECT count(*) FROM t").fetchall() == [(1,)]
    session.release()
    assert not waiting_flag(db).exists()  # the waiter cleans up after itself


def test_a_dataset_without_a_single_record_stops_before_a_run_is_written(tmp_path: Path) -> None:
    """A run that 'finished' with 0 items (a YOLO folder whose images are elsewhere) would prove nothing."""
    data = tmp_path / "yolo"
    (data / "labels").mkdir(parents=True)
    (data / "data.yaml").write_text("names: [car, pedestrian]\n", encoding="utf-8")
    db = tmp_path / "runs.duckdb"
    result = run_cli("score", data, "--rulebook", EXAMPLE_RULEBOOK, "--db", db, "--format", "yolo")
    assert result.code == 1
    assert result.stderr.startswith(f"error: {data}: no items found in this yolo dataset: check that it is")
    assert not db.exists() or duckdb.connect(str(db)).execute("SELECT count(*) FROM runs").fetchall() == [(0,)]
