"""Each built-in rule type on crafted COCO cases, asserting the exact findings stored."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import labelgate
from tests.helpers import MINIMAL_RULEBOOK, box, coco, image, write_coco, write_rulebook


def _findings(db: Path, run_id: str) -> list[tuple[str, str | None, str]]:
    with duckdb.connect(str(db)) as con:
        return [
            tuple(r)
            for r in con.execute(  # type: ignore[misc]
                "SELECT item_id, annotation_id, rule_id FROM findings WHERE run_id = ? "
                "ORDER BY item_id, annotation_id, rule_id",
                [run_id],
            ).fetchall()
        ]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return write_rulebook(tmp_path, MINIMAL_RULEBOOK)


@pytest.mark.parametrize("rule_engine", ["durable", "reference"])
def test_crafted_defects_give_exact_findings(tmp_path: Path, db: Path, rules: Path, rule_engine: str) -> None:
    data = coco(
        [
            image(1, "zero.jpg"),
            image(2, "edge.jpg"),
            image(3, "dup.jpg"),
            image(4, "unknown.jpg"),
            image(5, "clean.jpg"),
        ],
        [
            box(10, 1, [50, 50, 0, 40]),  # zero width
            box(20, 2, [600, 100, 80, 40]),  # past the right edge (640)
            box(30, 3, [100, 100, 100, 100]),  # original
            box(31, 3, [100, 100, 100, 95]),  # IoU 0.95 with 30, same class
            box(32, 3, [100, 100, 100, 100], category=2),  # same place, other class: no DUP
            box(40, 4, [10, 10, 30, 30], category=3),  # 'van' is not in the taxonomy
            box(50, 5, [10, 10, 30, 30]),
        ],
    )
    path = write_coco(tmp_path / "data", data)
    run = labelgate.score(path, rulebook=rules, db=db, rule_engine=rule_engine)  # type: ignore[arg-type]
    assert _findings(db, run.id) == [
        ("dup.jpg", "31", "DUP-001"),
        ("edge.jpg", "20", "GEO-002"),
        ("unknown.jpg", "40", "TAX-001"),
        ("zero.jpg", "10", "GEO-001"),
    ]
    frame = run.findings()
    dup = frame[frame.rule_id == "DUP-001"].iloc[0]
    assert dup.message == "Box 31 duplicates 30"
    evidence = json.loads(dup.evidence)
    assert evidence["box.max_iou_earlier_same_class"] == pytest.approx(0.95)
    zero = frame[frame.rule_id == "GEO-001"].iloc[0]
    assert zero.message == "Box 10 is degenerate (0x40)"
    assert zero.clause == "2.1 boxes have positive size"
    assert json.loads(zero.evidence) == {"box.width": 0.0, "box.height": 40.0}

    scores = run.scores().set_index("item_id")
    assert scores.loc["zero.jpg", "score"] == 0 and scores.loc["zero.jpg", "decision"] == "fail"
    assert scores.loc["edge.jpg", "score"] == 75 and scores.loc["edge.jpg", "decision"] == "pass"
    assert scores.loc["clean.jpg", "score"] == 100 and scores.loc["clean.jpg", "decision"] == "pass"


def test_iou_just_below_threshold_does_not_fire(tmp_path: Path, db: Path, rules: Path) -> None:
    data = coco([image(1)], [box(1, 1, [0, 0, 100, 100]), box(2, 1, [0, 0, 100, 89])])  # IoU 0.89
    run = labelgate.score(write_coco(tmp_path / "d", data), rulebook=rules, db=db)
    assert _findings(db, run.id) == []


def test_item_level_count_rule(tmp_path: Path, db: Path) -> None:
    head, scoring = MINIMAL_RULEBOOK.split("scoring:")
    rules = write_rulebook(
        tmp_path,
        head
        + """\
  - id: CNT-001
    clause: "4.1 at most two cars per image"
    when: count(annotation.label == "car") > 2
    severity: minor
    message: "{item.id} has too many cars"
scoring:"""
        + scoring,
    )
    data = coco(
        [image(1, "three.jpg"), image(2, "two.jpg")],
        [
            box(1, 1, [0, 0, 10, 10]),
            box(2, 1, [50, 50, 10, 10]),
            box(3, 1, [100, 100, 10, 10]),
            box(4, 2, [0, 0, 10, 10]),
            box(5, 2, [50, 50, 10, 10]),
            box(6, 2, [100, 100, 10, 10], category=2),
        ],
    )
    run = labelgate.score(write_coco(tmp_path / "d", data), rulebook=rules, db=db)
    assert _findings(db, run.id) == [("three.jpg", None, "CNT-001")]
    row = run.findings().iloc[0]
    assert row.message == "three.jpg has too many cars"
    assert json.loads(row.evidence) == {"count(annotation.label == 'car')": 3}


def test_rules_needing_a_missing_judgment_send_an_item_that_could_pass_to_review(tmp_path: Path, db: Path) -> None:
    head, scoring = MINIMAL_RULEBOOK.split("rules:\n")
    judged = (
        head
        + """judgments:
  per: annotation
  fields:
    box_fit: {type: enum, values: [tight, loose], question: Is the box tight?}
rules:
  - id: FIT-001
    clause: "5.1 boxes are tight"
    when: judgment.box_fit == "loose"
    severity: major
"""
        + scoring
    )
    rules = write_rulebook(tmp_path, judged)
    data = coco([image(1, "ok.jpg"), image(2, "bad.jpg")], [box(1, 1, [0, 0, 10, 10]), box(2, 2, [0, 0, 0, 10])])
    run = labelgate.score(write_coco(tmp_path / "d", data), rulebook=rules, db=db)
    scores = run.scores().set_index("item_id")
    # ok.jpg could pass: review; bad.jpg already fails (score 0): no judgment could change that
    assert list(scores.decision) == ["review", "fail"]
    assert pd.isna(scores.loc["bad.jpg", "review_reasons"])
    reasons = json.loads(scores.loc["ok.jpg", "review_reasons"])
    assert reasons == [
        {
            "check_id": "judgment-unavailable",
            "reason": "rules FIT-001 need a judgment that was not obtained: no judge model configured for this run",
            "annotation_id": None,
        }
    ]
    assert scores.loc["bad.jpg", "score"] == 0  # the deterministic finding still counts
    with duckdb.connect(str(db)) as con:
        escalations = con.execute("SELECT item_id, check_id, escalated_at FROM escalations ORDER BY item_id").fetchall()
    assert [(e[0], e[1]) for e in escalations] == [("ok.jpg", "judgment-unavailable")]
    assert all(e[2] is not None for e in escalations)


def test_an_item_that_lost_annotations_to_quarantine_goes_to_review_not_pass(tmp_path: Path, db: Path) -> None:
    """A rule never sees an annotation that could not be read: a pass would not cover it."""
    head, scoring = MINIMAL_RULEBOOK.split("scoring:")
    rules = write_rulebook(
        tmp_path,
        head
        + """\
  - id: LOST-001
    clause: "4.2 every annotation is readable"
    when: item.quarantined_annotations > 1
    severity: minor
    message: "{item.id} lost {item.quarantined_annotations} annotations"
scoring:"""
        + scoring,
    )
    unreadable = {"id": 3, "image_id": 1, "category_id": 1}  # no bbox: quarantined, its image kept
    data = coco(
        [image(1, "lost.jpg"), image(2, "whole.jpg"), image(3, "broken.jpg")],
        [
            box(1, 1, [0, 0, 10, 10]),
            unreadable,
            box(2, 2, [0, 0, 10, 10]),
            box(4, 3, [0, 0, 0, 10]),  # fails on its own
            {"id": 5, "image_id": 3, "category_id": 1},
            {"id": 6, "image_id": 3, "category_id": 1},
        ],
    )
    run = labelgate.score(write_coco(tmp_path / "d", data), rulebook=rules, db=db)
    scores = run.scores().set_index("item_id")
    assert scores.loc["whole.jpg", "decision"] == "pass"
    assert scores.loc["lost.jpg", "decision"] == "review"
    reason = json.loads(scores.loc["lost.jpg", "review_reasons"])[0]
    assert reason["check_id"] == "annotations-quarantined" and reason["reason"].startswith("1 annotation(s)")
    assert scores.loc["broken.jpg", "decision"] == "fail"  # no review needed to fail it
    assert ("broken.jpg", None, "LOST-001") in _findings(db, run.id)  # rules read the count
