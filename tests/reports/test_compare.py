"""Comparing two runs: rulebook diff from the stored text, per-rule counts, flipped decisions."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from app.cli import app
from engine.run import score_dataset
from engine.store import Store
from reports.compare import compare, compare_report, summary_text
from tests.helpers import EXAMPLE_RULEBOOK, run_cli
from tests.reports.checks import assert_self_contained
from tests.reports.conftest import DemoRun, sim_judge


def _changed_rulebook(folder: Path) -> Path:
    """A later version of the example: a stricter height limit, FIT-002 removed, GEO-099 added."""
    yaml = YAML(typ="safe", pure=True)
    data = yaml.load(EXAMPLE_RULEBOOK.read_text(encoding="utf-8"))
    data["version"] = "3.0"
    data["params"]["min_height_px"] = 30
    data["rules"] = [r for r in data["rules"] if r["id"] != "FIT-002"]
    data["rules"].append(
        {"id": "GEO-099", "clause": "test: very wide boxes", "when": "box.width > 200", "severity": "minor"}
    )
    data["examples"] = []
    path = folder / "rules-3.0.yaml"
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return path


def _second_run(demo: DemoRun, tmp_path: Path) -> str:
    rules = _changed_rulebook(tmp_path)
    return score_dataset(demo.dataset.coco, rules, demo.db, format="coco", judge=sim_judge()).run_id


def test_compare_two_runs(demo: DemoRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    after = _second_run(demo, tmp_path)
    with Store(demo.db).read() as con:
        result = compare(con, demo.run_id, after)
    assert result.diff is not None and not result.diff.identical
    assert result.diff.added == ["GEO-099"] and result.diff.removed == ["FIT-002"]
    assert "params" in result.diff.sections
    assert {"section": "params", "key": "min_height_px", "old": 10, "new": 30} in result.section_changes
    assert result.same_dataset and result.both == 16 and result.only_a == result.only_b == 0

    rules = result.rules.set_index("rule_id")
    assert rules.loc["GEO-099", "findings_a"] == 0 and rules.loc["GEO-099", "findings_b"] > 0
    assert rules.loc["GEO-003", "findings_b"] > rules.loc["GEO-003", "findings_a"]

    with duckdb.connect(str(demo.db)) as con:
        a = dict(con.execute("SELECT item_id, decision FROM scores WHERE run_id = ?", [demo.run_id]).fetchall())
        b = dict(con.execute("SELECT item_id, decision FROM scores WHERE run_id = ?", [after]).fetchall())
    flipped = sorted(i for i in a if a[i] != b[i])
    assert flipped and result.flipped == len(flipped)
    assert list(result.flips["item_id"]) == flipped
    assert all(a[r.item_id] == r.decision_a and b[r.item_id] == r.decision_b for r in result.flips.itertuples())
    assert int(result.flip_counts["items"].sum()) == len(flipped)

    text = summary_text(result)
    assert "added GEO-099" in text and "removed FIT-002" in text and f"decisions flipped: {len(flipped)}" in text
    listed = [
        line.split(":")[0].strip()
        for line in text.splitlines()
        if line.startswith("  ") and " → " in line and "(" in line
    ]
    assert listed == flipped[:10]  # the first flipped items by id, each with both decisions and scores
    first = result.flips.iloc[0]
    assert f"{first.item_id}: {first.decision_a} (" in text
    assert "more:" not in text if len(flipped) <= 10 else f"... {len(flipped) - 10} more" in text

    with Store(demo.db).read() as con:  # fewer shown than flipped, and fewer listed than flipped
        capped = compare(con, demo.run_id, after, flip_limit=3)
    monkeypatch.setattr("reports.compare.FLIPS_SHOWN", 2)
    capped_text = summary_text(capped)
    assert f"  ... {len(flipped) - 2} more: --json or --out FILE.html list the first 3" in capped_text


def test_a_run_compared_with_itself_changes_nothing(demo: DemoRun, tmp_path: Path) -> None:
    result = compare_report(demo.db, demo.run_id, demo.run_id, tmp_path / "same.html")
    assert result.diff is not None and result.diff.identical and result.flipped == 0
    html = (tmp_path / "same.html").read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "Identical rulebooks" in html and "No item changed its decision" in html


def _invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_report_commands(demo: DemoRun, tmp_path: Path) -> None:
    after = _second_run(demo, tmp_path)
    compared = run_cli(  # the real entry point, in a subprocess
        "report", "--compare", demo.run_id, after, "--db", demo.db, "--json", "--out", tmp_path / "cmp.html"
    )
    assert compared.code == 0, compared.stderr
    summary = json.loads(compared.stdout)
    assert summary["rulebook_diff"]["added"] == ["GEO-099"] and summary["flipped"] == len(summary["flips"])
    assert (tmp_path / "cmp.html").is_file()

    code, output = _invoke("report", "latest", "--db", demo.db, "--out", tmp_path / "r.html", "--examples", "1")
    assert code == 0, output
    assert f"wrote the report of run {after}" in output and "audit chain verified" in output

    assert _invoke("audit", "verify", "--db", demo.db)[0] == 0
    code, output = _invoke("audit", "list", "--db", demo.db, "--event", "export", "--json")
    assert [e["payload"]["table"] for e in json.loads(output)] == ["report", "compare"]  # newest first
    with Store(demo.db).write() as con:
        con.execute("DELETE FROM audit_log WHERE seq = 3")
    code, output = _invoke("audit", "verify", "--db", demo.db)
    assert code == 1 and "BROKEN at entry 3" in output
    code, output = _invoke("report", "--db", demo.db)
    assert code != 0 and "name a run" in output
