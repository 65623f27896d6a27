"""Judging with the simulated provider: faults, escalation, outcome validation, cache, router."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from engine.model_run import JudgeSetup
from engine.run import score_dataset
from ingest.synthetic import SyntheticDataset
from scorers.judge.judge import JudgeSettings
from scorers.providers.sim import TIERS, SimulatedServer, Truth, _all_text, _data_block
from scorers.providers.spec import parse_model
from scorers.router import RouterConfig
from tests.helpers import EXAMPLE_RULEBOOK, write_rulebook
from tests.model.conftest import JUDGED_RULEBOOK

FAST = {name: replace(tier, latency_s=0.001) for name, tier in TIERS.items()}
BOTH = {"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")}


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db)) as con:
        return con.execute(sql).fetchall()


def test_thirty_percent_faults_lose_no_item(scenes: SyntheticDataset, tmp_path: Path) -> None:
    faulty = {name: replace(tier, latency_s=0.001, error_rate=0.3, malformed_rate=0.15) for name, tier in TIERS.items()}
    settings = JudgeSettings(concurrency=8, timeout_s=2.0, backoff_s=0.001, transport_retries=2, breaker_threshold=1000)
    db = tmp_path / "runs.duckdb"
    summary = score_dataset(
        scenes.coco, EXAMPLE_RULEBOOK, db, judge=JudgeSetup(models=BOTH, settings=settings, sim_tiers=faulty)
    )
    assert summary.status == "finished"
    assert summary.items_in == summary.items_scored + summary.items_quarantined == scenes.images
    assert summary.items_scored == summary.passed + summary.failed + summary.needs_review
    outcomes = {row[0] for row in _query(db, "SELECT DISTINCT outcome FROM attempts")}
    assert {"http_429", "http_500", "timeout", "invalid", "ok"} <= outcomes
    # every judgment that was needed was either obtained or is unavailable with its reasons
    routed = _query(db, "SELECT sum(judged_annotations) FROM routes")[0][0]
    rows = _query(db, "SELECT status, reason FROM judgments")
    assert len(rows) == routed
    assert all(status == "ok" or reason for status, reason in rows)
    unavailable = _query(db, "SELECT count(*) FROM judgments WHERE status = 'unavailable'")[0][0]
    reviewed = _query(db, "SELECT count(DISTINCT item_id) FROM escalations WHERE check_id = 'judgment-unavailable'")
    assert (unavailable == 0) == (reviewed[0][0] == 0)
    for decision, reasons in _query(db, "SELECT decision, review_reasons FROM scores"):
        assert (decision == "review") == (reasons is not None)


def test_low_confidence_escalates_with_feedback(scenes: SyntheticDataset, tmp_path: Path) -> None:
    unsure = {
        "cheap": replace(FAST["cheap"], noise=1.0, malformed_rate=0.0),
        "capable": replace(FAST["capable"], noise=0.0, malformed_rate=0.0),
    }
    server = SimulatedServer(Truth.find(scenes.coco), unsure, keep_requests=10_000)
    db = tmp_path / "runs.duckdb"
    score_dataset(scenes.coco, EXAMPLE_RULEBOOK, db, judge=JudgeSetup(models=BOTH, simulator=server))
    # every cheap answer was unsure, so every cheap call went on to the capable model
    cheap = _query(db, "SELECT DISTINCT item_id, annotation_id FROM attempts WHERE strategy = 'cheap'")
    escalated = _query(db, "SELECT DISTINCT item_id, annotation_id FROM attempts WHERE strategy = 'capable'")
    assert cheap and set(cheap) <= set(escalated)
    outcomes = dict(_query(db, "SELECT outcome, count(*) FROM attempts WHERE strategy = 'cheap' GROUP BY 1"))
    assert set(outcomes) <= {"low_confidence", "inconsistent"} and outcomes["low_confidence"] > len(cheap) / 2
    escalated_ids = {str(annotation) for _, annotation in cheap}
    capable_prompts = [
        json.dumps(b["messages"])
        for b in server.received
        if b["model"] == "capable" and str(_data_block(_all_text(b["messages"])).get("annotation_id")) in escalated_ids
    ]
    assert capable_prompts and all("An earlier answer to these questions was rejected" in p for p in capable_prompts)
    assert any("low confidence" in p for p in capable_prompts)


def test_answers_contradicting_measurements_are_rejected_with_the_reason(
    tmp_path: Path, scenes: SyntheticDataset
) -> None:
    text = JUDGED_RULEBOOK.replace(
        "rules:\n",
        '  consistency:\n    - {id: CON-1, when: judgment.box_fit == "tight", reason: tight is impossible here}\n'
        "rules:\n",
    )
    rules = write_rulebook(
        tmp_path,
        text.replace(
            "taxonomy: [car, pedestrian]",
            "taxonomy: [car, truck, bus, pedestrian, bicycle, motorcycle, traffic_cone, barrier]",
        ),
    )
    honest = {name: replace(tier, noise=0.0, malformed_rate=0.0) for name, tier in FAST.items()}
    server = SimulatedServer(Truth.find(scenes.coco), honest, keep_requests=10_000)
    db = tmp_path / "runs.duckdb"
    score_dataset(scenes.coco, rules, db, judge=JudgeSetup(models=BOTH, simulator=server))
    rejected = _query(db, "SELECT count(*) FROM attempts WHERE outcome = 'inconsistent'")[0][0]
    assert rejected > 0
    reasons = [r[0] for r in _query(db, "SELECT reason FROM judgments WHERE status = 'unavailable'")]
    assert reasons and all("contradicts measurements: tight is impossible here" in r for r in reasons)
    retried = [json.dumps(b["messages"]) for b in server.received if "An earlier answer" in json.dumps(b["messages"])]
    assert retried and all("tight is impossible here" in p for p in retried)
    assert {b["model"] for b in server.received} == {"cheap", "capable"}
    escalations = _query(db, "SELECT count(*) FROM escalations WHERE check_id = 'judgment-unavailable'")[0][0]
    assert escalations > 0


def test_rerun_pays_nothing_and_decides_the_same(scenes: SyntheticDataset, tmp_path: Path) -> None:
    db = tmp_path / "runs.duckdb"
    setup = JudgeSetup(models=BOTH, sim_tiers=FAST)
    first = score_dataset(scenes.coco, EXAMPLE_RULEBOOK, db, judge=setup)
    second = score_dataset(scenes.coco, EXAMPLE_RULEBOOK, db, judge=setup)
    assert first.cost_usd > 0 and second.cost_usd == 0
    assert second.model_attempts == first.model_attempts
    assert (first.cached_attempts, second.cached_attempts) == (0, second.model_attempts)
    paid = _query(db, f"SELECT count(*) FROM attempts WHERE run_id = '{second.run_id}' AND NOT cached")[0][0]
    assert paid == 0
    decisions = _query(db, "SELECT run_id, item_id, decision, score FROM scores ORDER BY item_id, run_id")
    by_run: dict[object, list[tuple[object, ...]]] = {}
    for run_id, *rest in decisions:
        by_run.setdefault(run_id, []).append(tuple(rest))
    assert by_run[first.run_id] == by_run[second.run_id]


def test_router_skips_what_no_judgment_can_change(scenes: SyntheticDataset, tmp_path: Path) -> None:
    db = tmp_path / "runs.duckdb"
    score_dataset(scenes.coco, EXAMPLE_RULEBOOK, db, judge=JudgeSetup(models=BOTH, sim_tiers=FAST))
    routes = _query(db, "SELECT r.tier, r.reasons, s.findings FROM routes r JOIN scores s USING (run_id, item_id)")
    failing = [(tier, json.loads(reasons)) for tier, reasons, _ in routes if "already fails" in reasons]
    assert failing and all(tier == "none" for tier, _ in failing)
    judged = _query(
        db,
        """SELECT count(*) FROM judgments j JOIN annotations a USING (run_id, item_id, annotation_id)
                           JOIN findings f USING (run_id, item_id, annotation_id)
                           WHERE f.rule_id = 'GEO-001'""",
    )[0][0]
    assert judged == 0  # a degenerate box fails its image: no model is asked about it


@pytest.mark.parametrize(("budget", "tier"), [(None, "cheap"), (1e-9, "none")])
def test_budget_per_item(scenes: SyntheticDataset, tmp_path: Path, budget: float | None, tier: str) -> None:
    db = tmp_path / "runs.duckdb"
    setup = JudgeSetup(
        models=BOTH, sim_tiers=FAST, router=RouterConfig(budget_usd_per_item=budget, crowded_annotations=1000)
    )
    score_dataset(scenes.coco, EXAMPLE_RULEBOOK, db, judge=setup)
    tiers = {
        row[0]
        for row in _query(
            db, "SELECT tier FROM routes WHERE reasons NOT LIKE '%already fails%' AND reasons NOT LIKE '%can fire%'"
        )
    }
    assert tier in tiers and (budget is None or tiers == {"none"})
    if budget is not None:
        reasons = [r[0] for r in _query(db, "SELECT reason FROM escalations WHERE check_id = 'judgment-unavailable'")]
        assert reasons and all("per-item budget" in r for r in reasons)
