"""The HTML report of a run: every section, nothing external, every dataset string escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from engine.events import ReviewDecision, add_reviews
from engine.run import score_dataset
from engine.store import Store
from reports.agreement import HUMAN_OUTCOME, cohen_kappa, confusion_matrix, machine_outcome
from reports.html import SECTIONS, report
from tests.helpers import MINIMAL_RULEBOOK, box, coco, image, write_coco, write_rulebook
from tests.reports.checks import assert_self_contained
from tests.reports.conftest import DemoRun


def _latest_audit(db: Path) -> tuple[str, dict[str, object]]:
    with duckdb.connect(str(db)) as con:
        event, payload = con.execute("SELECT event, payload FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()[0]
    return str(event), json.loads(payload)


def test_report_has_every_section_and_loads_nothing(demo: DemoRun, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    written = report(demo.db, "latest", out)
    html = out.read_text(encoding="utf-8")
    page = assert_self_contained(html)
    assert page.headings == [title for _, title in SECTIONS]
    for text in (
        "Audit chain verified",
        "nuimages-boxes",  # rulebook name, version and fingerprint
        "sha256:",
        "sim:cheap, sim:capable",
        "Simulated models",
        "duration",
        "per accepted item",
        "failed attempts",
        "Per model tier",
        "Attempt outcomes",
        "Costliest items",
        "Latest decision per item",
        "Label corrections",
        "Cohen's kappa",
        "Clause:",
        "<svg",  # charts are inline SVG
        "data:image/jpeg;base64,",  # thumbnails
    ):
        assert text in html, text
    assert written.audit_ok and written.run_id == demo.run_id
    event, payload = _latest_audit(demo.db)  # writing the report is itself an audit event
    assert event == "export" and payload["table"] == "report" and payload["file"] == str(out.resolve())


def test_agreement_numbers_follow_the_documented_mapping(demo: DemoRun, tmp_path: Path) -> None:
    latest: dict[str, str] = {}  # the latest review per item wins (rv-0, an earlier "reject", is superseded)
    for review in sorted(demo.reviews, key=lambda r: str(r.decided_at)):
        latest[review.item_id] = review.decision
    assert latest[demo.reviews[0].item_id] == demo.reviews[1].decision == "accept"
    with duckdb.connect(str(demo.db)) as con:
        passed = dict(con.execute("SELECT item_id, passed FROM scores WHERE run_id = ?", [demo.run_id]).fetchall())
    matrix = confusion_matrix((machine_outcome(passed[i]), HUMAN_OUTCOME[d]) for i, d in latest.items())
    expected = cohen_kappa(matrix)
    html = (report(demo.db, demo.run_id, tmp_path / "r.html").path).read_text(encoding="utf-8")
    section = html[html.index('id="agreement"') : html.index('id="audit"')]
    cells = [int(c) for c in re.findall(r'<td class="(?:agree|disagree)">(\d+)</td>', section)]
    assert cells == [n for row in matrix for n in row]
    assert expected.kappa is not None and f"Cohen's kappa: {expected.kappa:.3f}" in section
    assert f"over {expected.n} reviewed items" in section


def test_missing_images_get_a_placeholder_not_a_crash(demo: DemoRun, tmp_path: Path) -> None:
    with Store(demo.db).write() as con:  # point the run at a dataset folder that is gone
        gone = str(tmp_path / "gone" / "a.json")
        con.execute("UPDATE runs SET dataset_path = ? WHERE run_id = ?", [gone, demo.run_id])
    html = report(demo.db, demo.run_id, tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert "picture unavailable: the dataset folder is no longer there" in html
    assert "data:image/jpeg;base64," in html  # the boxes are still drawn, on grey


HOSTILE_RULEBOOK = """\
rulebook: hostile
version: "1"
guideline: {title: "<script>alert('guideline')</script>", url: "https://example.com/a?b=<c>"}
applies_to: text_spans
taxonomy: [PER, ORG]
rules:
  - id: TAX-001
    clause: "<i>labels</i> & their <b>taxonomy</b>"
    when: not label.in_taxonomy
    severity: critical
    message: "{annotation.label} is not allowed"
"""


def test_dataset_strings_are_escaped_and_spans_highlighted(tmp_path: Path) -> None:
    data = tmp_path / "data" / "spans.jsonl"
    data.parent.mkdir()
    rows = [
        {
            "id": '"><img src=x onerror=alert(1)>',
            "text": "Call <script>alert(1)</script> now & then",
            "spans": [{"start": 5, "end": 30, "label": "<b onmouseover=alert(2)>PER"}],
        },
        {"id": "plain", "text": "Ada Lovelace wrote notes", "spans": [{"start": 0, "end": 12, "label": "PER"}]},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text(HOSTILE_RULEBOOK, encoding="utf-8")
    db = tmp_path / "runs.duckdb"
    run = score_dataset(data, rules, db, format="spans-jsonl")
    with Store(db).write() as con:
        add_reviews(con, [ReviewDecision(run.run_id, "plain", "accept", "<em>eve</em>")])
    html = report(db, run.run_id, tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert_self_contained(html)
    for raw in ("<script>alert", "<img src=x", "<b onmouseover", "<i>labels</i>", "<em>eve</em>"):
        assert raw not in html, raw
    assert "<mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in html
    assert "&lt;i&gt;labels&lt;/i&gt; &amp; their &lt;b&gt;taxonomy&lt;/b&gt;" in html
    assert "https://example.com/a?b=&lt;c&gt;" in html  # the guideline url is text, never a link


def test_a_run_without_models_reviews_or_scored_items_still_reports(tmp_path: Path) -> None:
    data = coco([image(1, "a.jpg"), {"id": 2, "width": 10, "height": 10}], [box(1, 1, [0, 0, 0, 5])])
    rules = write_rulebook(tmp_path, MINIMAL_RULEBOOK)
    db = tmp_path / "runs.duckdb"
    run = score_dataset(write_coco(tmp_path / "data", data), rules, db, format="coco")
    html = report(db, run.run_id, tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert_self_contained(html)
    for text in (
        "No model was called in this run (deterministic rules only)",
        "No human review has been recorded for this run yet",
        "Not computed: no item of this run has a human review yet",
        "image file a.jpg not found in the dataset folder",  # a placeholder, with the reason
        "image 2 has no &#39;file_name&#39;",  # the quarantined record
    ):
        assert text in html, text
