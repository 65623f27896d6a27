"""The item state machine: every item's state is derived from what the store holds durably."""

from __future__ import annotations

import json
from pathlib import Path

from engine.events import ReviewDecision, add_reviews
from engine.model_run import JudgeSetup
from engine.run import score_dataset
from engine.store import Store
from engine.writer import utcnow
from ingest.synthetic import SyntheticSpec, generate
from scorers.providers.spec import parse_model
from tests.helpers import EXAMPLE_RULEBOOK, run_cli


def test_states_follow_scoring_judging_review_and_quarantine(tmp_path: Path) -> None:
    data = generate(tmp_path / "data", SyntheticSpec(images=20, seed=4))
    db = tmp_path / "runs.duckdb"
    judge = JudgeSetup(models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")})
    run = score_dataset(data.coco, EXAMPLE_RULEBOOK, db, judge=judge)
    with Store(db).read() as con:
        states = dict(
            con.execute("SELECT state, count(*) FROM item_states WHERE run_id = ? GROUP BY 1", [run.run_id]).fetchall()
        )
        counts = con.execute(
            "SELECT items_scored, items_quarantined, needs_review FROM runs WHERE run_id = ?", [run.run_id]
        ).fetchall()[0]
        reviewed_item, decision = con.execute(
            "SELECT item_id, decision FROM scores WHERE run_id = ? AND decision = 'review' ORDER BY item_id LIMIT 1",
            [run.run_id],
        ).fetchall()[0]
    scored, quarantined, needs_review = counts
    assert needs_review > 0 and quarantined > 0 and decision == "review"
    assert states == {
        "scored": scored - needs_review,
        "needs_review": needs_review,
        "quarantined": quarantined,
    }

    with Store(db).write() as con:
        add_reviews(con, [ReviewDecision(run.run_id, reviewed_item, "accept", "ana")])
        # an item whose model attempts were recorded, but which was not committed (a killed run)
        con.execute(
            """INSERT INTO attempts (run_id, item_id, call_no, attempt_no, strategy, tier, model, simulated,
                   request_hash, outcome, input_tokens, output_tokens, cost_usd, latency_ms, cached, started_at)
               VALUES (?, 'in-flight.png', 1, 1, 'cheap', 'cheap', 'sim:cheap', true, 'h', 'ok', 1, 1, 0, 1,
                       false, ?)""",
            [run.run_id, utcnow()],
        )
    with Store(db).read() as con:
        after = dict(con.execute("SELECT item_id, state FROM item_states WHERE run_id = ?", [run.run_id]).fetchall())
    assert after[reviewed_item] == "reviewed" and after["in-flight.png"] == "judging"
    assert sum(1 for s in after.values() if s == "needs_review") == needs_review - 1

    shown = run_cli("show", reviewed_item, "--run", run.run_id, "--db", db)
    assert shown.code == 0, shown.stderr
    assert f"item {reviewed_item} in run {run.run_id}: reviewed" in shown.stdout


def test_show_gives_a_quarantined_items_records(tmp_path: Path) -> None:
    from PIL import Image

    from tests.helpers import MINIMAL_RULEBOOK, write_rulebook

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "labels").mkdir()
    Image.new("RGB", (64, 48)).save(data / "images" / "a.jpg")
    (data / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (data / "labels" / "b.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # a label file without its image
    (data / "classes.txt").write_text("car\n")
    db = tmp_path / "runs.duckdb"
    run = score_dataset(data, write_rulebook(tmp_path, MINIMAL_RULEBOOK), db)
    shown = run_cli("show", "labels/b.txt", "--run", run.run_id, "--db", db, "--json")
    assert shown.code == 0, shown.stderr
    trace = json.loads(shown.stdout)
    assert trace["item"] == {"item_id": "labels/b.txt", "state": "quarantined"}
    assert [(q["locator"], q["level"], q["reason"]) for q in trace["quarantined"]] == [
        ("labels/b.txt", "item", "label file labels/b.txt has no image next to it or under images/"),
        ("labels/b.txt:1", "annotation", "belongs to quarantined item labels/b.txt"),
    ]
