"""The Python API returns pandas DataFrames for runs, findings, scores and reviews."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import labelgate
from tests.reports.conftest import DemoRun


def test_dataframes_for_runs_findings_scores_reviews(demo: DemoRun) -> None:
    runs = labelgate.runs(demo.db)
    assert isinstance(runs, pd.DataFrame) and list(runs["run_id"]) == [demo.run_id]
    run = labelgate.open_run("latest", demo.db)
    assert run.summary is not None and run.summary.status == "finished"
    assert (run.summary.items_scored, run.summary.findings) == (runs.loc[0, "items_scored"], runs.loc[0, "findings"])
    findings, scores = run.findings(), run.scores()
    assert isinstance(findings, pd.DataFrame) and len(findings) == int(runs.loc[0, "findings"])
    assert isinstance(scores, pd.DataFrame) and len(scores) == int(runs.loc[0, "items_scored"])

    history = run.reviews(history=True)
    latest = run.reviews()
    assert isinstance(history, pd.DataFrame) and len(history) == len(demo.reviews) == 13
    assert len(latest) == 12 and latest["item_id"].is_unique
    first = demo.reviews[0].item_id  # reviewed twice: "reject" a day earlier, then "accept"
    assert list(history.loc[history["item_id"] == first, "human_decision"]) == ["reject", "accept"]
    assert list(latest.loc[latest["item_id"] == first, "human_decision"]) == ["accept"]
    columns = {"reviewer", "role", "human_decision", "model_decision", "corrected_label", "bound_hash", "decided_at"}
    assert set(latest.columns) >= columns


def test_report_compare_and_audit_log(demo: DemoRun, tmp_path: Path) -> None:
    path = labelgate.report(demo.run_id[:10], demo.db, tmp_path / "report.html")
    assert path.is_file() and path.stat().st_size > 10_000
    assert labelgate.open_run("latest", demo.db).report(tmp_path / "again.html").is_file()
    summary = labelgate.compare(demo.run_id, "latest", demo.db)
    assert summary["flipped"] == 0 and summary["rulebook_diff"]["added"] == []
    log = labelgate.audit_log(demo.db)
    assert isinstance(log, pd.DataFrame) and list(log["seq"]) == list(range(1, len(log) + 1))
    assert list(log["event"])[-2:] == ["export", "export"]
