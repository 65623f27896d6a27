"""Review logic in the engine: hash binding, decisions with audit entries, refusals, the queue."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from engine import audit
from engine.review import compute_bound_hash, item_detail, load_item, record_decision, reviews
from engine.review_queue import QueueFilters, load_dashboard, load_queue
from engine.reviewers import Reviewer
from engine.store import Store
from labelgate.errors import ReviewerError, ReviewError, StaleReviewError
from tests.review.conftest import ReviewSource, review_items

ANA = Reviewer("Ana", "reviewer", "typed")


def _rows(db: Path, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with Store(db).read() as con:
        return con.execute(sql, params or []).fetchall()


def _first_flagged(run: ReviewSource) -> tuple[str, str]:
    """A review item with a flagged box, and that box's annotation id."""
    for item_id in review_items(run.db, run.run_id):
        detail = load_item(run.db, run.run_id, item_id)
        if detail.flagged:
            return item_id, detail.flagged[0]
    raise AssertionError("no review item has a flagged annotation")


def test_bound_hash_is_order_independent_and_covers_every_part() -> None:
    rows = [("1", '{"a": 1, "b": 2}', "ok"), ("2", None, "failed")]
    base = compute_bound_hash("c", rows, "fp")
    assert base == compute_bound_hash("c", list(reversed(rows)), "fp")
    assert base == compute_bound_hash("c", [("1", '{"b": 2, "a": 1}', "ok"), ("2", None, "failed")], "fp")
    assert base != compute_bound_hash("c2", rows, "fp")
    assert base != compute_bound_hash("c", rows, "fp2")
    assert base != compute_bound_hash("c", [("1", '{"a": 1, "b": 3}', "ok"), ("2", None, "failed")], "fp")
    assert base != compute_bound_hash("c", [("1", '{"a": 1, "b": 2}', "ok"), ("2", None, "ok")], "fp")


def test_a_decision_and_its_audit_entry_are_written_together(image_run: ReviewSource) -> None:
    item_id, annotation = _first_flagged(image_run)
    detail = load_item(image_run.db, image_run.run_id, item_id)
    recorded = record_decision(
        image_run.db,
        image_run.run_id,
        item_id,
        reviewer=ANA,
        decision="fix_label",
        expected_hash=detail.bound_hash,
        annotation_id=annotation,
        corrected_label="car"
        if detail.annotations.set_index("annotation_id").at[annotation, "label"] != "car"
        else "bus",
        comment="  the box holds a car  ",
    )
    row = _rows(
        image_run.db,
        """SELECT review_id, reviewer, role, decision, corrected_label, comment, bound_hash, audit_seq,
                  model_decision, original_label, identity FROM reviews""",
    )
    assert len(row) == 1
    review_id, reviewer, role, decision, label, comment, bound, seq, model, original, identity = row[0]
    assert (review_id, reviewer, role, decision, label) == (
        recorded.review_id,
        "Ana",
        "reviewer",
        "fix_label",
        recorded.corrected_label,
    )
    assert comment == "the box holds a car" and bound == detail.bound_hash and model == "review"
    assert original == detail.annotations.set_index("annotation_id").at[annotation, "label"] and identity == "typed"
    entries = _rows(
        image_run.db,
        "SELECT seq, actor, event, run_id, payload, ts FROM audit_log WHERE event LIKE 'review%' ORDER BY seq",
    )
    assert len(entries) == 1
    entry_seq, actor, event, run_id, payload, ts = entries[0]
    assert (entry_seq, actor, event, run_id) == (seq, "Ana", "review_decision", image_run.run_id)
    body = json.loads(str(payload))
    assert body["review_id"] == review_id and body["item_id"] == item_id and body["annotation_id"] == annotation
    assert body["decision"] == "fix_label" and body["corrected_label"] == label and body["bound_hash"] == bound
    assert body["role"] == "reviewer" and body["comment"] == "the box holds a car"
    assert ts is not None
    with Store(image_run.db).read() as con:
        assert audit.verify(con).ok


def test_the_latest_decision_wins_and_history_is_kept(image_run: ReviewSource) -> None:
    item_id = review_items(image_run.db, image_run.run_id)[0]
    digest = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    first = record_decision(
        image_run.db, image_run.run_id, item_id, reviewer=ANA, decision="reject", expected_hash=digest
    )
    second = record_decision(
        image_run.db, image_run.run_id, item_id, reviewer=Reviewer("Bo"), decision="accept", expected_hash=digest
    )
    assert second.audit_seq == first.audit_seq + 1
    current = _rows(image_run.db, "SELECT review_id, reviewer FROM current_reviews WHERE item_id = ?", [item_id])
    assert current == [(second.review_id, "Bo")]
    detail = load_item(image_run.db, image_run.run_id, item_id)
    assert list(detail.history["review_id"]) == [second.review_id, first.review_id]
    assert detail.current is not None and detail.current["decision"] == "accept" and detail.current_is_bound
    everything = reviews_of(image_run, history=True)
    assert list(everything["is_current"]) == [False, True]


def reviews_of(run: ReviewSource, **options: bool) -> object:
    with Store(run.db).read() as con:
        return reviews(con, run.run_id, **options)


@pytest.mark.parametrize(
    ("reviewer", "message"),
    [
        (None, "needs a reviewer"),
        (Reviewer("   "), "needs a reviewer"),
        (Reviewer("Vi", "viewer", "reviewers-file"), "viewer"),
    ],
)
def test_decisions_without_identity_or_by_a_viewer_are_refused(
    image_run: ReviewSource, reviewer: Reviewer | None, message: str
) -> None:
    item_id = review_items(image_run.db, image_run.run_id)[0]
    digest = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    with pytest.raises(ReviewerError, match=message):
        record_decision(
            image_run.db, image_run.run_id, item_id, reviewer=reviewer, decision="accept", expected_hash=digest
        )
    assert _rows(image_run.db, "SELECT count(*) FROM reviews") == [(0,)]
    assert _rows(image_run.db, "SELECT count(*) FROM audit_log WHERE event LIKE 'review%'") == [(0,)]


def test_a_decision_on_changed_judgments_is_refused(image_run: ReviewSource) -> None:
    item_id, annotation = _first_flagged(image_run)
    shown = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    with Store(image_run.db).write() as con:  # a resumed run re-judged the box meanwhile
        con.execute(
            """UPDATE judgments SET "values" = '{"box_fit": "loose"}', confidence = 0.2
               WHERE run_id = ? AND item_id = ? AND annotation_id = ?""",
            [image_run.run_id, item_id, annotation],
        )
    with pytest.raises(StaleReviewError, match="changed since you opened it"):
        record_decision(image_run.db, image_run.run_id, item_id, reviewer=ANA, decision="accept", expected_hash=shown)
    assert _rows(image_run.db, "SELECT count(*) FROM reviews") == [(0,)]
    fresh = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    assert fresh != shown
    record_decision(image_run.db, image_run.run_id, item_id, reviewer=ANA, decision="accept", expected_hash=fresh)


def test_a_decision_on_changed_content_or_rulebook_is_refused(image_run: ReviewSource) -> None:
    items = review_items(image_run.db, image_run.run_id)
    shown = {i: load_item(image_run.db, image_run.run_id, i).bound_hash for i in items[:2]}
    with Store(image_run.db).write() as con:
        con.execute("UPDATE items SET content_hash = 'edited' WHERE item_id = ?", [items[0]])
    with pytest.raises(StaleReviewError):
        record_decision(
            image_run.db, image_run.run_id, items[0], reviewer=ANA, decision="accept", expected_hash=shown[items[0]]
        )
    with Store(image_run.db).write() as con:
        con.execute("UPDATE runs SET rulebook_fingerprint = 'sha256:other'")
    with pytest.raises(StaleReviewError):
        record_decision(
            image_run.db, image_run.run_id, items[1], reviewer=ANA, decision="accept", expected_hash=shown[items[1]]
        )
    with pytest.raises(StaleReviewError, match="no hash"):
        record_decision(image_run.db, image_run.run_id, items[1], reviewer=ANA, decision="accept", expected_hash=None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"decision": "approve"}, "unknown decision"),
        ({"decision": "fix_label"}, "needs the annotation"),
        ({"decision": "fix_label", "annotation_id": "FLAGGED"}, "needs the corrected label"),
        (
            {"decision": "fix_label", "annotation_id": "FLAGGED", "corrected_label": "zebra"},
            "not a label of this rulebook",
        ),
        ({"decision": "fix_label", "annotation_id": "nope", "corrected_label": "car"}, "has no annotation"),
        ({"decision": "accept", "corrected_label": "car"}, "goes with fix_label"),
        ({"decision": "accept", "comment": "x" * 5000}, "keep it under"),
        ({"decision": "accept", "item_id": "missing.png"}, "no item"),
    ],
)
def test_malformed_decisions_are_refused(image_run: ReviewSource, changes: dict[str, str], message: str) -> None:
    item_id, annotation = _first_flagged(image_run)
    digest = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    arguments: dict[str, object] = {"decision": "accept", "item_id": item_id, **changes}
    if arguments.get("annotation_id") == "FLAGGED":
        arguments["annotation_id"] = annotation
    target = str(arguments.pop("item_id"))
    with pytest.raises(ReviewError, match=message):
        record_decision(image_run.db, image_run.run_id, target, reviewer=ANA, expected_hash=digest, **arguments)  # type: ignore[arg-type]
    assert _rows(image_run.db, "SELECT count(*) FROM reviews") == [(0,)]


def test_a_failing_audit_append_leaves_no_review(image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch) -> None:
    item_id = review_items(image_run.db, image_run.run_id)[0]
    digest = load_item(image_run.db, image_run.run_id, item_id).bound_hash

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_one", broken)
    with pytest.raises(RuntimeError):
        record_decision(image_run.db, image_run.run_id, item_id, reviewer=ANA, decision="accept", expected_hash=digest)
    assert _rows(image_run.db, "SELECT count(*) FROM reviews") == [(0,)]


def test_queue_filters_counts_and_sorting(image_run: ReviewSource) -> None:
    options, view = load_queue(image_run.db, QueueFilters())
    in_review = review_items(image_run.db, image_run.run_id)
    assert view.total == options.total == len(in_review) == view.pending and view.decided == 0
    assert sorted(i for _, i in view.keys) == in_review
    reasons = dict(zip(view.reason_counts["check_id"], view.reason_counts["items"], strict=True))
    assert set(reasons) == set(options.reasons) and sum(reasons.values()) >= len(in_review)
    for reason, count in reasons.items():
        assert len(load_queue(image_run.db, QueueFilters(reasons=(reason,)))[1].keys) == count
    rule = options.rules[0]
    with Store(image_run.db).read() as con:
        expected = {
            str(r[0])
            for r in con.execute(
                """SELECT DISTINCT f.item_id FROM findings f JOIN scores s USING (run_id, item_id)
                   WHERE f.rule_id = ? AND s.decision = 'review'""",
                [rule],
            ).fetchall()
        }
    assert {i for _, i in load_queue(image_run.db, QueueFilters(rules=(rule,)))[1].keys} == expected
    for field in ("severities", "classes", "bands", "tiers"):
        for value in getattr(options, field):
            narrowed = load_queue(image_run.db, QueueFilters(**{field: (value,)}))[1]  # type: ignore[arg-type]
            assert 0 < narrowed.matching <= view.matching, (field, value)
    assert load_queue(image_run.db, QueueFilters(runs=("nope",)))[1].matching == 0
    assert load_queue(image_run.db, QueueFilters(search=in_review[0][-8:]))[1].keys[0][1] == in_review[0]
    by_confidence = load_queue(image_run.db, QueueFilters(sort="lowest confidence"))[1].rows["confidence"].dropna()
    assert list(by_confidence) == sorted(by_confidence)


def test_queue_status_follows_decisions_and_hash_changes(image_run: ReviewSource) -> None:
    item_id = review_items(image_run.db, image_run.run_id)[0]
    digest = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    record_decision(image_run.db, image_run.run_id, item_id, reviewer=ANA, decision="accept", expected_hash=digest)
    _, pending = load_queue(image_run.db, QueueFilters())
    assert item_id not in {i for _, i in pending.keys} and pending.decided == 1
    _, decided = load_queue(image_run.db, QueueFilters(status="decided"))
    assert [i for _, i in decided.keys] == [item_id] and list(decided.rows["status"]) == ["decided"]
    with Store(image_run.db).write() as con:
        con.execute("UPDATE items SET content_hash = 'edited' WHERE item_id = ?", [item_id])
    _, changed = load_queue(image_run.db, QueueFilters(status="decided"))
    assert list(changed.rows["status"]) == ["changed since decision"]


def test_item_detail_has_everything_the_screen_shows(image_run: ReviewSource) -> None:
    item_id, annotation = _first_flagged(image_run)
    with Store(image_run.db).read() as con:
        detail = item_detail(con, image_run.run_id, item_id)
        with pytest.raises(ReviewError, match="no item"):
            item_detail(con, image_run.run_id, "missing")
    assert detail.kind == "image" and detail.media and len(detail.annotations) and len(detail.escalations)
    assert annotation in set(detail.annotations["annotation_id"])
    assert len(detail.judgments) and len(detail.attempts) and detail.cost_usd > 0 and detail.route is not None
    assert "car" in detail.taxonomy and detail.label_choices == detail.taxonomy
    assert detail.current is None and not detail.current_is_bound


def test_overrides_findings_and_exports_carry_the_human_decision(image_run: ReviewSource, tmp_path: Path) -> None:
    import labelgate

    items = review_items(image_run.db, image_run.run_id)
    hashes = {i: load_item(image_run.db, image_run.run_id, i).bound_hash for i in items[:2]}
    with Store(image_run.db).read() as con:
        passed = dict(con.execute("SELECT item_id, passed FROM scores WHERE item_id IN (?, ?)", items[:2]).fetchall())
    agree = "accept" if passed[items[0]] else "reject"
    overrule = "reject" if passed[items[1]] else "accept"
    record_decision(
        image_run.db, image_run.run_id, items[0], reviewer=ANA, decision=agree, expected_hash=hashes[items[0]]
    )
    record_decision(
        image_run.db, image_run.run_id, items[1], reviewer=ANA, decision=overrule, expected_hash=hashes[items[1]]
    )
    run = labelgate.open_run(image_run.run_id, image_run.db)
    frame = run.reviews()
    assert list(frame["item_id"]) == sorted(items[:2]) and frame["bound"].all()
    flags = dict(zip(frame["item_id"], frame["overrides"], strict=True))
    assert flags == {items[0]: False, items[1]: True}
    assert list(run.reviews(overrides_only=True)["item_id"]) == [items[1]]
    findings = run.findings(item=items[1])
    assert set(findings["review_decision"]) == {overrule} and set(findings["reviewer"]) == {"Ana"}
    assert findings["reviewed_at"].notna().all()
    out = run.export(tmp_path / "reviews.jsonl", table="reviews")
    exported = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert {r["item_id"]: r["overrides"] for r in exported} == flags
    assert all(r["is_current"] for r in exported)
    csv = run.export(tmp_path / "findings.csv").read_text()
    assert "review_decision" in csv.splitlines()[0] and overrule in csv
    scores = run.scores().set_index("item_id")
    assert scores.at[items[1], "review_decision"] == overrule and scores.at[items[1], "decision"] == "review"
    scores_csv = run.export(tmp_path / "scores.csv", table="scores").read_text()
    assert "review_decision" in scores_csv.splitlines()[0]


def test_dashboard_counts_progress_and_cost(image_run: ReviewSource) -> None:
    item_id = review_items(image_run.db, image_run.run_id)[0]
    digest = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    record_decision(image_run.db, image_run.run_id, item_id, reviewer=ANA, decision="accept", expected_hash=digest)
    board = load_dashboard(image_run.db, image_run.run_id)
    run = board.run
    assert board.progress["decided"] == 1 and board.progress["in_review"] == run["needs_review"]
    assert int(board.scores["items"].sum()) == run["items_scored"]
    assert len(board.top_rules) and float(board.cost_by_tier["cost_usd"].sum()) == pytest.approx(run["cost_usd"])
    assert list(board.decisions["decision"]) == ["accept"]


def test_concurrent_decisions_in_one_process_all_land_and_keep_the_chain(
    image_run: ReviewSource, tmp_path: Path
) -> None:
    """Streamlit serves every reviewer from threads of one process: their decisions must not clash."""
    import threading

    db = tmp_path / "copy.duckdb"
    db.write_bytes(image_run.db.read_bytes())
    items = review_items(db, image_run.run_id)[:6]
    hashes = {item: load_item(db, image_run.run_id, item).bound_hash for item in items}
    before = _rows(db, "SELECT count(*) FROM reviews")[0][0]
    start = threading.Barrier(len(items))
    errors: list[BaseException] = []

    def decide(item: str) -> None:
        start.wait()
        try:
            record_decision(db, image_run.run_id, item, reviewer=ANA, decision="accept", expected_hash=hashes[item])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=decide, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _rows(db, "SELECT count(*) FROM reviews")[0][0] == before + len(items)
    with Store(db).read() as con:
        assert audit.verify(con).ok
