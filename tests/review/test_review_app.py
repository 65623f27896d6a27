"""The Streamlit review screen driven end to end with AppTest, asserting what lands in DuckDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from engine import audit
from engine.review import load_item
from engine.reviewers import hash_token
from engine.store import Store
from tests.helpers import REPO
from tests.review.conftest import ReviewSource, review_items

APP = REPO / "app" / "review_app.py"


@pytest.fixture(autouse=True)
def _no_reviewers_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELGATE_REVIEWERS", raising=False)


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    monkeypatch.setenv("LABELGATE_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params.update(query)
    return at


def _texts(elements: Any) -> str:
    """The elements' text, markdown escapes removed (the screen escapes ids and names)."""
    return "\n".join(str(e.value) for e in elements).replace("\\", "")


def _rows(db: Path, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with Store(db).read() as con:
        return con.execute(sql, params or []).fetchall()


def _flagged_item(run: ReviewSource) -> tuple[str, str]:
    for item_id in review_items(run.db, run.run_id):
        detail = load_item(run.db, run.run_id, item_id)
        if detail.flagged and detail.kind == "image":
            return item_id, detail.flagged[0]
    raise AssertionError("no flagged review item")


def _wkey(name: str, run_id: str, item_id: str) -> str:
    return f"{name}:{run_id}:{item_id}"


def test_queue_counts_filters_and_sorting(image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(image_run.db, monkeypatch).run()
    assert not at.exception
    in_review = review_items(image_run.db, image_run.run_id)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["In review (all runs)"] == str(len(in_review)) and metrics["To review"] == str(len(in_review))
    assert f"Items ({len(in_review)})" in _texts(at.subheader)
    reasons = at.dataframe[0].value
    low = int(reasons.set_index("check_id").at["OV-LOW-CONFIDENCE", "items"])
    at.multiselect(key="f_reasons").set_value(["OV-LOW-CONFIDENCE"]).run()
    assert f"Items ({low})" in _texts(at.subheader)
    assert {m.label: m.value for m in at.metric}["Match the filters"] == str(low)
    at.button(key="f_clear").click().run()
    at.selectbox(key="f_sort").set_value("lowest confidence").run()
    table = at.dataframe(key="q_table").value
    confidences = list(table["confidence"].dropna())
    assert confidences == sorted(confidences) and len(table) == len(in_review)
    at.multiselect(key="f_classes").set_value([at.multiselect(key="f_classes").options[0]]).run()
    assert 0 < len(at.dataframe(key="q_table").value) <= len(in_review)
    assert not at.exception


def test_navigation_next_previous_and_deep_links(image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(image_run.db, monkeypatch).run()
    order = [str(i) for i in at.dataframe(key="q_table").value["item"]]
    at.button(key="q_start").click().run()
    assert at.query_params["item"] == order[0] and at.query_params["run"] == image_run.run_id
    assert f"1 of {len(order)} in the queue" in _texts(at.markdown)
    at.button(key="i_next").click().run()
    assert at.query_params["item"] == order[1]
    at.button(key="i_next").click().run()
    at.button(key="i_prev").click().run()
    assert at.query_params["item"] == order[1]
    at.button(key="i_back").click().run()
    assert "item" not in at.query_params
    at.selectbox(key="q_open").set_value(f"{image_run.run_id}\x1f{order[2]}").run()
    assert at.query_params["item"] == order[2]
    linked = _app(image_run.db, monkeypatch, run=image_run.run_id, item=order[-1]).run()
    assert order[-1] in _texts(linked.markdown)
    assert f"{len(order)} of {len(order)} in the queue" in _texts(linked.markdown)
    assert linked.button(key="i_next").disabled and not linked.exception


def test_item_view_shows_rules_clauses_judgments_and_trace(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id, annotation = _flagged_item(image_run)
    detail = load_item(image_run.db, image_run.run_id, item_id)
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    page = _texts(at.markdown)
    for finding in detail.findings.itertuples():
        assert str(finding.rule_id) in page
        assert str(finding.clause).replace("&", "&amp;")[:40] in page
    for escalation in detail.escalations.itertuples():
        assert str(escalation.check_id) in page
    assert f"#{annotation}" in page and "confidence <b>" in page
    assert len(at.image) == 1 and detail.media in at.image[0].captions[0]  # the picture with its boxes drawn
    assert {m.label for m in at.metric} >= {"Model calls", "Cost", "Tokens"}
    assert not at.exception


def test_a_decision_end_to_end_writes_the_review_and_the_audit_log(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id, annotation = _flagged_item(image_run)
    detail = load_item(image_run.db, image_run.run_id, item_id)
    original = str(detail.annotations.set_index("annotation_id").at[annotation, "label"])
    corrected = next(label for label in detail.taxonomy if label != original)
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    at.text_input(key="id_typed").input("Ana Lima").run()
    at.selectbox(key=_wkey("d_annotation", image_run.run_id, item_id)).set_value(annotation)
    at.selectbox(key=_wkey("d_label", image_run.run_id, item_id)).set_value(corrected)
    at.text_area(key=_wkey("d_comment", image_run.run_id, item_id)).input("wrong class")
    at.button(key="d_fix").click().run()
    assert not at.exception and not at.error
    assert "Label fixed" in _texts(at.success)
    rows = _rows(
        image_run.db,
        """SELECT review_id, item_id, annotation_id, reviewer, role, identity, decision, corrected_label,
                  original_label, comment, bound_hash, audit_seq FROM reviews""",
    )
    assert len(rows) == 1
    review_id, item, ann, reviewer, role, identity, decision, label, before, comment, bound, seq = rows[0]
    assert (item, ann, reviewer, role, identity) == (item_id, annotation, "Ana Lima", "reviewer", "typed")
    assert (decision, label, before, comment, bound) == (
        "fix_label",
        corrected,
        original,
        "wrong class",
        detail.bound_hash,
    )
    entries = _rows(image_run.db, "SELECT seq, actor, event, run_id, payload FROM audit_log WHERE event LIKE 'review%'")
    assert len(entries) == 1 and entries[0][:4] == (seq, "Ana Lima", "review_decision", image_run.run_id)
    payload = json.loads(str(entries[0][4]))
    assert payload["review_id"] == review_id and payload["corrected_label"] == corrected
    assert payload["bound_hash"] == detail.bound_hash and payload["comment"] == "wrong class"
    with Store(image_run.db).read() as con:
        assert audit.verify(con).ok
    # decided items leave the 'to review' queue and the screen moved on to the next one
    assert at.query_params["item"] != item_id
    at.button(key="i_back").click().run()
    assert item_id not in {str(i) for i in at.dataframe(key="q_table").value["item"]}
    at.selectbox(key="f_status").set_value("decided").run()
    table = at.dataframe(key="q_table").value
    assert list(table["item"]) == [item_id] and list(table["reviewer"]) == ["Ana Lima"]


def test_a_decision_without_reviewer_identity_is_refused(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = review_items(image_run.db, image_run.run_id)[0]
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    assert "Enter your name" in _texts(at.warning)
    at.button(key="d_accept").click().run()
    assert "needs a reviewer" in _texts(at.error)
    assert _rows(image_run.db, "SELECT count(*) FROM reviews") == [(0,)]
    assert _rows(image_run.db, "SELECT count(*) FROM audit_log WHERE event LIKE 'review%'") == [(0,)]
    assert at.query_params["item"] == item_id


def test_a_decision_on_a_changed_item_is_refused_then_asked_again(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id, annotation = _flagged_item(image_run)
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    at.text_input(key="id_typed").input("Ana").run()
    with Store(image_run.db).write() as con:  # another process re-judged the flagged box meanwhile
        con.execute(
            """UPDATE judgments SET "values" = '{"box_fit": "no_object"}', confidence = 0.1
               WHERE run_id = ? AND item_id = ? AND annotation_id = ?""",
            [image_run.run_id, item_id, annotation],
        )
    at.button(key="d_accept").click().run()
    assert "changed since you opened it" in _texts(at.error)
    assert _rows(image_run.db, "SELECT count(*) FROM reviews") == [(0,)]
    assert at.query_params["item"] == item_id  # still on the item, now shown as it is
    at.button(key="d_accept").click().run()
    fresh = load_item(image_run.db, image_run.run_id, item_id).bound_hash
    assert _rows(image_run.db, "SELECT item_id, bound_hash FROM reviews") == [(item_id, fresh)]


def _reviewers_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str | None = None) -> Path:
    lines = [f'token_hash = "{hash_token(token)}"'] if token else []
    lines += [
        '[[reviewers]]\nname = "Ana Lima"\nrole = "reviewer"\nemail = "ana@example.com"',
        '[[reviewers]]\nname = "Vic"\nrole = "viewer"',
    ]
    path = tmp_path / "reviewers.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("LABELGATE_REVIEWERS", str(path))
    return path


def test_viewers_see_but_cannot_decide(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _reviewers_file(tmp_path, monkeypatch)
    item_id = review_items(image_run.db, image_run.run_id)[0]
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    at.selectbox(key="id_name").set_value("Vic")
    at.button(key="id_signin").click().run()
    assert "a viewer: you can look but not decide" in _texts(at.info)
    assert not [b for b in at.button if b.key in ("d_accept", "d_reject", "d_fix")]
    assert any("Rules fired" in str(m.value) for m in at.markdown)


def test_shared_token_is_checked_before_deciding(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _reviewers_file(tmp_path, monkeypatch, token="s3cret-token")
    item_id = review_items(image_run.db, image_run.run_id)[0]
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    at.selectbox(key="id_name").set_value("Ana Lima")
    at.text_input(key="id_token").input("guess")
    at.button(key="id_signin").click().run()
    assert "wrong or missing shared token" in _texts(at.error)
    at.text_input(key="id_token").input("s3cret-token")
    at.button(key="id_signin").click().run()
    at.button(key="d_reject").click().run()
    assert _rows(image_run.db, "SELECT reviewer, role, identity, decision FROM reviews") == [
        ("Ana Lima", "reviewer", "token", "reject")
    ]


def test_streamlit_login_identity_is_used_when_configured(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _reviewers_file(tmp_path, monkeypatch)
    item_id = review_items(image_run.db, image_run.run_id)[0]
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id)
    at.secrets["auth"] = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32}
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button if b.key == "id_login"] == ["Log in"]
    at.user = {"is_logged_in": True, "email": "ana@example.com", "name": "Ana L."}
    at.run()
    at.button(key="d_accept").click().run()
    assert _rows(image_run.db, "SELECT reviewer, identity FROM reviews") == [("Ana Lima", "oidc")]


def test_dashboard_page(image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(image_run.db, monkeypatch, view="dashboard").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    with Store(image_run.db).read() as con:
        passed, failed, review = con.execute("SELECT passed, failed, needs_review FROM runs").fetchall()[0]
    assert (metrics["Passed"], metrics["Failed"], metrics["Needs review"]) == (str(passed), str(failed), str(review))
    assert {"Review progress", "Cost", "Score distribution", "Top rules"} <= {str(s.value) for s in at.subheader}
    at.button(key="dash_review").click().run()
    assert "view" not in at.query_params and at.multiselect(key="f_runs").value == [image_run.run_id]


def test_text_item_view_highlights_escaped_spans(text_run: ReviewSource, monkeypatch: pytest.MonkeyPatch) -> None:
    item_id = review_items(text_run.db, text_run.run_id)[0]
    with Store(text_run.db).write() as con:  # hostile text must come out as text
        con.execute("UPDATE items SET text = '<script>alert(1)</script> ' || text WHERE item_id = ?", [item_id])
        con.execute(
            "UPDATE annotations SET span_start = span_start + 26, span_end = span_end + 26 WHERE item_id = ?", [item_id]
        )
    at = _app(text_run.db, monkeypatch, run=text_run.run_id, item=item_id).run()
    assert not at.exception
    html_blocks = [str(m.value) for m in at.markdown if "white-space:pre-wrap" in str(m.value)]
    assert len(html_blocks) == 1
    assert "&lt;script&gt;" in html_blocks[0] and "<script>" not in html_blocks[0]
    assert "<sup" in html_blocks[0]


def test_missing_items_and_images_show_a_message_not_a_crash(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = _app(image_run.db, monkeypatch, run=image_run.run_id, item="no-such-item.png").run()
    assert not missing.exception and "no item 'no-such-item.png'" in _texts(missing.error)
    missing.button(key="i_back_missing").click().run()
    assert "item" not in missing.query_params
    with Store(image_run.db).write() as con:  # the dataset folder is not on this machine
        con.execute("UPDATE runs SET dataset_path = '/nonexistent/dataset/annotations.json'")
    item_id = review_items(image_run.db, image_run.run_id)[0]
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    assert not at.exception and not at.image
    assert "Image not available" in _texts(at.markdown) and "Rules fired" in _texts(at.markdown)


def test_a_role_change_in_the_reviewers_file_applies_at_once(
    image_run: ReviewSource, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _reviewers_file(tmp_path, monkeypatch)
    item_id = review_items(image_run.db, image_run.run_id)[0]
    at = _app(image_run.db, monkeypatch, run=image_run.run_id, item=item_id).run()
    at.selectbox(key="id_name").set_value("Ana Lima")
    at.button(key="id_signin").click().run()
    assert any(b.key == "d_accept" for b in at.button)
    path.write_text(path.read_text().replace('role = "reviewer"', 'role = "viewer"'))
    at.run()
    assert not any(b.key == "d_accept" for b in at.button)
