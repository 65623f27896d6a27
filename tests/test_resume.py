"""Durable runs: kill -9 at random points and resume; refuse changed inputs; audit chain; two processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from bench.durability import facts, run_with_kills
from engine.store import Store
from ingest.synthetic import SyntheticSpec, generate
from rulebook.loader import load_file
from tests.helpers import REPO, run_cli


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("scenes"), SyntheticSpec(images=30, seed=8)).coco


def _reference(tmp_path: Path, dataset: Path) -> dict[str, object]:
    db = tmp_path / "reference.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-m", "bench.durability", "--worker", str(db), str(dataset), "0.03"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    return facts(db)


@pytest.mark.timeout(600)
def test_kill_nine_at_five_points_then_resume_equals_an_uninterrupted_run(tmp_path: Path, small: Path) -> None:
    reference = _reference(tmp_path, small)
    db = tmp_path / "killed.duckdb"
    outcome = run_with_kills(db, small, 0.03, kills=5, rng=random.Random(3))
    assert outcome.kills == 5
    got = facts(db)
    assert got["status"] == "finished"
    assert all(count == 1 for _, count in got["items"])  # type: ignore[union-attr]
    assert len(got["items"]) == len(reference["items"])  # type: ignore[arg-type]
    assert got["counts"] == reference["counts"]
    assert got["paid"] == reference["paid"]
    assert got["scores"] == reference["scores"]
    assert got["findings"] == reference["findings"]
    with duckdb.connect(str(db)) as con:
        events = [r[0] for r in con.execute("SELECT event FROM audit_log ORDER BY seq").fetchall()]
        journal_left = con.execute("SELECT count(*) FROM judgment_journal").fetchall()[0][0]
    assert events.count("run_resumed") >= 1 and events[-1] == "run_finished"
    assert journal_left == 0  # every journaled judgment's item was committed in the end
    assert run_cli("audit", "verify", "--db", db).code == 0


def test_resume_refuses_a_changed_rulebook_unless_allowed(tmp_path: Path, small: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text((REPO / "examples" / "nuimages-boxes.yaml").read_text())
    db = tmp_path / "runs.duckdb"
    with duckdb.connect(str(db)):
        pass
    db.unlink()
    from engine.run import score_dataset

    score_dataset(small, rules, db)  # finished: nothing to resume
    assert "already finished" in run_cli("resume", "latest", "--db", db).stderr
    with duckdb.connect(str(db)) as con:  # pretend it was killed half-way
        run_id = con.execute("SELECT run_id FROM runs").fetchall()[0][0]
        con.execute("DELETE FROM items WHERE run_id = ? AND seq >= 15", [run_id])
        con.execute("UPDATE runs SET status = 'running', owner = NULL")  # its process is gone
    original = tmp_path / "original.yaml"
    original.write_text(rules.read_text())
    edited = (
        rules.read_text()
        .replace("min_height_px: 10", "min_height_px: 12")
        .replace("severity: minor", "severity: major", 1)
    )
    rules.write_text(edited)
    refused = run_cli("resume", run_id[:10], "--db", db)
    assert refused.code == 1
    changed_rule = next(r for r in load_file(original).rulebook.rules if r.severity == "minor").id
    assert refused.stderr.strip() == (
        f"error: run {run_id} cannot resume: the rulebook (changed {changed_rule}; sections changed: params) "
        "changed since it started; start a new run, pass --rulebook with the run's rulebook, or resume with "
        "--allow-changed (recorded in the audit log)"
    )
    twin = tmp_path / "twin.duckdb"
    twin.write_bytes(db.read_bytes())
    with_original = run_cli("resume", run_id, "--db", twin, "--rulebook", original, "--quiet")
    assert with_original.code == 0, with_original.stderr
    with duckdb.connect(str(twin)) as con:
        payload = json.loads(con.execute("SELECT payload FROM audit_log WHERE event = 'run_resumed'").fetchall()[0][0])
    assert payload["changed"] == [] and payload["allowed_changes"] is False
    assert payload["rulebook_moved"] == {"from": str(rules.resolve()), "to": str(original.resolve())}
    with duckdb.connect(str(twin)) as con:  # a later resume finds the rulebook where it was given
        assert con.execute("SELECT rulebook_path FROM runs").fetchall() == [(str(original.resolve()),)]
    allowed = run_cli("resume", run_id, "--db", db, "--allow-changed", "--quiet")
    assert allowed.code == 0, allowed.stderr
    with duckdb.connect(str(db)) as con:
        payload = json.loads(con.execute("SELECT payload FROM audit_log WHERE event = 'run_resumed'").fetchall()[0][0])
        duplicates = con.execute("SELECT item_id FROM items GROUP BY 1 HAVING count(*) > 1").fetchall()
    assert payload["changed"] == ["rulebook"] and payload["allowed_changes"] is True
    assert duplicates == []


def test_a_moved_dataset_resumes_from_its_new_place(tmp_path: Path) -> None:
    import shutil

    import labelgate
    from engine.run import score_dataset
    from labelgate.errors import RunInterrupted

    data = generate(tmp_path / "data", SyntheticSpec(images=20, seed=2))
    rules = REPO / "examples" / "nuimages-boxes.yaml"
    whole = labelgate.score(data.coco, rulebook=rules, db=tmp_path / "whole.duckdb").summary
    db = tmp_path / "runs.duckdb"
    pressed: list[int] = []

    def ctrl_c_once(_: object) -> None:  # after the first chunk is committed
        if not pressed:
            pressed.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(RunInterrupted) as stopped:
        score_dataset(data.coco, rules, db, chunk_annotations=10, progress=ctrl_c_once)
    run_id = stopped.value.run_id
    with duckdb.connect(str(db)) as con:
        done = con.execute("SELECT count(*) FROM items").fetchall()[0][0]
    assert 0 < done < whole.items_scored
    moved = tmp_path / "elsewhere"
    shutil.move(data.root, moved)
    refused = run_cli("resume", run_id, "--db", db)
    assert refused.code == 1 and "which no longer exists: pass --dataset" in refused.stderr
    typo = run_cli("resume", run_id, "--db", db, "--dataset", tmp_path / "elswhere")
    assert typo.stderr.strip() == f"error: --dataset {tmp_path / 'elswhere'} does not exist: check the path"
    other = generate(tmp_path / "other", SyntheticSpec(images=20, seed=3)).coco  # same shape, other content
    different = run_cli("resume", run_id, "--db", db, "--dataset", other)
    assert different.code == 1 and different.stderr.strip() == (
        f"error: run {run_id} cannot resume: the dataset changed since it started; start a new run, "
        "pass --dataset with the run's dataset, or resume with --allow-changed (recorded in the audit log)"
    )
    with duckdb.connect(str(db)) as con:  # a refused resume changes nothing
        assert con.execute("SELECT dataset_path FROM runs").fetchall() == [(str(data.coco.resolve()),)]
    again = labelgate.resume(run_id, db, dataset=moved / data.coco.name).summary
    assert (again.items_scored, again.passed, again.failed, again.needs_review, again.findings) == (
        whole.items_scored,
        whole.passed,
        whole.failed,
        whole.needs_review,
        whole.findings,
    )
    with duckdb.connect(str(db)) as con:
        path = con.execute("SELECT dataset_path FROM runs").fetchall()[0][0]
        payload = json.loads(con.execute("SELECT payload FROM audit_log WHERE event = 'run_resumed'").fetchall()[0][0])
    assert path == str((moved / data.coco.name).resolve())
    assert payload["dataset_moved"] == {"from": str(data.coco.resolve()), "to": path} and payload["changed"] == []
    assert "rulebook_moved" not in payload


def test_audit_verify_names_an_edited_or_deleted_entry(tmp_path: Path, small: Path) -> None:
    from engine.run import score_dataset

    db = tmp_path / "runs.duckdb"
    score_dataset(small, REPO / "examples" / "nuimages-boxes.yaml", db)
    ok = run_cli("audit", "verify", "--db", db)
    assert ok.code == 0 and "chain intact" in ok.stdout
    with duckdb.connect(str(db)) as con:
        count = con.execute("SELECT count(*) FROM audit_log").fetchall()[0][0]
        con.execute("UPDATE audit_log SET payload = json_object('item_id', 'forged') WHERE seq = 3")
    edited = run_cli("audit", "verify", "--db", db)
    assert edited.code == 1
    assert edited.stderr.strip().startswith("error: audit log BROKEN at entry 3: entry 3 (")
    assert "was altered" in edited.stderr

    db2 = tmp_path / "runs2.duckdb"
    score_dataset(small, REPO / "examples" / "nuimages-boxes.yaml", db2)
    with duckdb.connect(str(db2)) as con:
        con.execute("DELETE FROM audit_log WHERE seq = 2")
    deleted = run_cli("audit", "verify", "--db", db2)
    assert deleted.code == 1
    assert deleted.stderr.strip() == "error: audit log BROKEN at entry 2: entry 2 is missing (next is 3)"
    assert count > 3


def test_an_anchor_shows_entries_cut_off_the_end(tmp_path: Path, small: Path) -> None:
    from engine.run import score_dataset

    db = tmp_path / "runs.duckdb"
    score_dataset(small, REPO / "examples" / "nuimages-boxes.yaml", db)
    ok = run_cli("audit", "verify", "--db", db)
    head = ok.stdout.split("head: ")[1].split()[0]
    seq, digest = head.split(":")
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT max(seq), arg_max(hash, seq) FROM audit_log").fetchall() == [(int(seq), digest)]
    short = f"{seq}:{digest[:16]}"
    assert run_cli("audit", "verify", "--db", db, "--anchor", short).code == 0
    score_dataset(small, REPO / "examples" / "nuimages-boxes.yaml", db)  # the log grows: the anchor still holds
    assert "1 anchor(s) found" in run_cli("audit", "verify", "--db", db, "--anchor", short).stdout
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM audit_log WHERE seq >= ?", [int(seq) - 1])  # cut the tail: the chain alone is fine
    assert run_cli("audit", "verify", "--db", db).code == 0
    cut = run_cli("audit", "verify", "--db", db, "--anchor", short)
    assert cut.code == 1
    assert cut.stderr.strip() == (
        f"error: audit log BROKEN at entry {seq}: anchored entry {seq} is gone: the log ends at entry {int(seq) - 2}"
    )
    rewritten = run_cli("audit", "verify", "--db", db, "--anchor", "2:" + "0" * 16)  # a chain recomputed since
    assert rewritten.code == 1 and "entry 2 differs from its anchor" in rewritten.stderr
    bad = run_cli("audit", "verify", "--db", db, "--anchor", "12")
    assert bad.code == 2 and "is not SEQ:HASH" in bad.stderr


REVIEW_WRITER = """
import sys, time
from engine.review import load_item, record_decision
from engine.reviewers import Reviewer
db, run_id, item_id = sys.argv[1:4]
started = time.perf_counter()
seen = load_item(db, run_id, item_id).bound_hash
record_decision(db, run_id, item_id, reviewer=Reviewer("alice"), decision="accept", expected_hash=seen)
print(f"{time.perf_counter() - started:.3f}")
"""


@pytest.mark.timeout(300)
def test_a_review_written_during_a_run_is_kept_and_does_not_block_it(tmp_path: Path) -> None:
    dataset = generate(tmp_path / "data", SyntheticSpec(images=100, seed=9)).coco
    db = tmp_path / "runs.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-m", "bench.durability", "--worker", str(db), str(dataset), "0.15"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    item = None
    deadline = time.monotonic() + 60
    while item is None and time.monotonic() < deadline:  # wait for the first committed item
        time.sleep(0.3)
        if not db.exists():
            continue
        with Store(db).read() as con:  # waits for the run's lease like the review screen does
            rows = con.execute("SELECT run_id, item_id FROM items LIMIT 1").fetchall()
            item = rows[0] if rows else None
    assert item is not None, "the run committed nothing"
    assert run.poll() is None, "the run finished before the review could be written"
    writer = subprocess.run(
        [sys.executable, "-c", REVIEW_WRITER, str(db), *item],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert writer.returncode == 0, writer.stderr
    assert float(writer.stdout) < 5  # the run hands the file over at its next transaction (0.2-0.5 s here)
    assert run.wait(timeout=240) == 0, run.stderr.read().decode() if run.stderr else ""
    with duckdb.connect(str(db)) as con:
        reviews = con.execute("SELECT item_id, decision FROM reviews").fetchall()
        status = con.execute("SELECT status FROM runs").fetchall()[0][0]
        events = [r[0] for r in con.execute("SELECT event FROM audit_log ORDER BY seq").fetchall()]
    assert reviews == [(item[1], "accept")] and status == "finished"
    assert "review_decision" in events and events[-1] == "run_finished"
    assert events.index("review_decision") < events.index("run_finished")  # written while the run was going
    assert run_cli("audit", "verify", "--db", db).code == 0


def test_show_prints_the_whole_trace(tmp_path: Path, small: Path) -> None:
    from engine.model_run import JudgeSetup
    from engine.run import score_dataset
    from scorers.providers.spec import parse_model

    db = tmp_path / "runs.duckdb"
    score_dataset(
        small,
        REPO / "examples" / "nuimages-boxes.yaml",
        db,
        judge=JudgeSetup(models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")}),
    )
    with duckdb.connect(str(db)) as con:
        item = con.execute(
            "SELECT item_id FROM routes WHERE judged_annotations > 0 ORDER BY item_id LIMIT 1"
        ).fetchall()[0][0]
    trace = json.loads(run_cli("show", item, "--db", db, "--json").stdout)
    assert trace["item"]["item_id"] == item and trace["score"]["decision"] in ("pass", "fail", "review")
    assert trace["route"]["tier"] in ("cheap", "capable", "mixed") and trace["route"]["reasons"]
    assert trace["attempts"] and {"model", "input_tokens", "cost_usd", "latency_ms", "outcome"} <= set(
        trace["attempts"][0]
    )
    assert trace["judgments"] and trace["annotations"]
    assert any(e["event"] == "routed" for e in trace["audit"])
    text = run_cli("show", item, "--db", db).stdout
    for heading in ("model attempts", "judgments", "annotations", "audit log", f"item {item}"):
        assert heading in text
    missing = run_cli("show", "nope.png", "--db", db)
    assert missing.code == 1 and "is not in run" in missing.stderr
