"""End-to-end CLI tests through the real entry point in a subprocess."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from tests.helpers import MINIMAL_RULEBOOK, REPO, box, coco, image, run_cli, write_coco, write_rulebook


def _dataset(tmp_path: Path) -> Path:
    data = coco(
        [image(1, "a.jpg"), image(2, "b.jpg")],
        [box(1, 1, [0, 0, 0, 5]), box(2, 2, [10, 10, 20, 20]), box(3, 7, [1, 1, 2, 2])],
    )
    return write_coco(tmp_path / "data", data)


def test_demo_runs_offline_and_prints_summary(tmp_path: Path) -> None:
    result = run_cli("demo", "--images", "8", cwd=tmp_path)
    assert result.code == 0, result.stderr
    for word in ("items in", "passed", "failed", "needs review", "top rules fired", "labelgate findings"):
        assert word in result.stdout
    demo = tmp_path / "labelgate-demo"
    assert (demo / "dataset" / "annotations.json").is_file()
    assert (demo / "labelgate.duckdb").is_file()
    rows = list(csv.DictReader((demo / "findings.csv").open()))
    assert rows and {
        "run_id",
        "item_id",
        "annotation_id",
        "rule_id",
        "severity",
        "clause",
        "message",
        "evidence",
    } <= set(rows[0])
    assert any(r["rule_id"] == "GEO-001" for r in rows)


def test_a_rule_firing_on_every_item_gets_a_note(tmp_path: Path) -> None:
    from ingest.synthetic import SyntheticSpec, generate

    rules = REPO / "examples" / "nuimages-boxes.yaml"
    spec = SyntheticSpec(images=24, seed=1, malformed=False)
    bare = generate(tmp_path / "bare", replace(spec, draw_images=False)).coco  # annotations without image files
    noted = run_cli("score", bare, "--rulebook", rules, "--db", tmp_path / "a.duckdb")
    assert noted.code == 0, noted.stderr
    assert "note: FILE-001 fired on every one of the 24 items: a dataset-wide cause" in noted.stderr
    full = generate(tmp_path / "full", spec).coco
    quiet = run_cli("score", full, "--rulebook", rules, "--db", tmp_path / "b.duckdb")
    assert quiet.code == 0 and "fired on every one" not in quiet.stderr


def test_score_runs_findings_export(tmp_path: Path) -> None:
    rules = write_rulebook(tmp_path, MINIMAL_RULEBOOK)
    db = tmp_path / "runs.duckdb"
    scored = run_cli("score", _dataset(tmp_path), "--format", "coco", "--rulebook", rules, "--db", db)
    assert scored.code == 0, scored.stderr
    assert "run id:" in scored.stdout
    run_id = scored.stdout.split("run id:")[1].split()[0]

    listed = run_cli("runs", "--db", db, "--json")
    runs = json.loads(listed.stdout)
    assert [r["run_id"] for r in runs] == [run_id]
    assert runs[0]["rulebook_version"] == "1" and runs[0]["status"] == "finished"
    assert runs[0]["items_in"] == 2 and runs[0]["annotations_quarantined"] == 1

    found = json.loads(run_cli("findings", run_id[:12], "--db", db, "--json").stdout)
    assert [(f["item_id"], f["annotation_id"], f["rule_id"]) for f in found] == [("a.jpg", "1", "GEO-001")]
    assert found[0]["evidence"] == {"box.width": 0.0, "box.height": 5.0}
    assert found[0]["reviewed_at"] is None and found[0]["review_decision"] is None  # missing, not "NaT"

    table = run_cli("findings", "latest", "--db", db)
    assert "GEO-001" in table.stdout and "points to unknown image_id 7" in table.stdout

    typo = run_cli("findings", run_id, "--db", db, "--severity", "critcal")
    assert typo.code == 1 and "--severity 'critcal' is not in run" in typo.stderr and "critical" in typo.stderr
    typo = run_cli("findings", run_id, "--db", db, "--rule", "GEO-01")
    assert typo.code == 1 and "use one of DUP-001, GEO-001, GEO-002, TAX-001" in typo.stderr
    assert run_cli("findings", run_id, "--db", db, "--rule", "GEO-001", "--severity", "critical").code == 0

    quarantined = json.loads(run_cli("findings", run_id, "--db", db, "--quarantined", "--json").stdout)
    assert [q["reason"] for q in quarantined] == ["annotation 3 points to unknown image_id 7"]

    for fmt in ("jsonl", "csv", "parquet"):
        target = tmp_path / f"findings.{fmt}"
        exported = run_cli("export", run_id, "--db", db, "--format", fmt, "--out", target)
        assert exported.code == 0, exported.stderr
        frame = (
            pd.read_json(target, lines=True, dtype={"annotation_id": str})
            if fmt == "jsonl"
            else pd.read_csv(target, dtype={"annotation_id": str})
            if fmt == "csv"
            else pd.read_parquet(target)
        )
        assert list(frame.rule_id) == ["GEO-001"] and list(frame.annotation_id) == ["1"]
        assert list(frame.item_id) == ["a.jpg"]


def test_missing_dataset_fails_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    rules = write_rulebook(tmp_path, MINIMAL_RULEBOOK)
    db = tmp_path / "runs.duckdb"
    result = run_cli("score", tmp_path / "nope.json", "--rulebook", rules, "--db", db)
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.json'}: dataset not found: check the path"]
    assert not db.exists()


def test_broken_json_fails_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    rules = write_rulebook(tmp_path, MINIMAL_RULEBOOK)
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [ {"id": 1,, }', encoding="utf-8")
    db = tmp_path / "runs.duckdb"
    result = run_cli("score", bad, "--format", "coco", "--rulebook", rules, "--db", db)
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {bad}: invalid JSON at line 1, column 23 (Expecting property name enclosed "
        "in double quotes): fix the file or re-export it from your labeling tool"
    ]
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_rulebook_errors_name_file_and_line(tmp_path: Path) -> None:
    db = tmp_path / "runs.duckdb"
    dataset = _dataset(tmp_path)
    broken = write_rulebook(
        tmp_path,
        MINIMAL_RULEBOOK.replace("severity: major\n", "severity: major\n  bad: [\n", 1),
        "broken.yaml",
    )
    result = run_cli("score", dataset, "--rulebook", broken, "--db", db)
    assert result.code == 1
    assert result.stderr.startswith(f"error: {broken}:") and "YAML syntax error" in result.stderr

    unknown = write_rulebook(
        tmp_path, MINIMAL_RULEBOOK.replace("not box.in_bounds", "not box.inbounds"), "unknown.yaml"
    )
    result = run_cli("score", dataset, "--rulebook", unknown, "--db", db)
    assert result.code == 1
    line = next(i + 1 for i, text in enumerate(unknown.read_text().splitlines()) if "box.inbounds" in text)
    assert result.stderr.strip() == (
        f"error: {unknown}:{line}:15: unknown field 'box.inbounds': did you mean box.in_bounds?"
    )
    assert not db.exists()


def test_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    rules = write_rulebook(tmp_path, MINIMAL_RULEBOOK)
    db = tmp_path / "runs.duckdb"
    run_cli("score", _dataset(tmp_path), "--rulebook", rules, "--db", db, "--quiet")
    result = run_cli("findings", "zzz", "--db", db)
    assert result.code == 1
    assert result.stderr.strip() == "error: no run 'zzz' in this database: `labelgate runs` lists them"


def test_the_simulated_judge_warns_on_a_dataset_without_truth(tmp_path: Path) -> None:
    from ingest.synthetic import SyntheticSpec, generate
    from tests.helpers import EXAMPLE_RULEBOOK

    generated = generate(tmp_path / "generated", SyntheticSpec(images=4, seed=1)).coco
    own = tmp_path / "own" / "annotations.json"
    own.parent.mkdir()
    own.write_text(generated.read_text())  # the same annotations, without the generator's truth file
    for dataset, warned in ((generated, False), (own, True)):
        result = run_cli(
            "score", dataset, "--rulebook", EXAMPLE_RULEBOOK, "--db", tmp_path / "r.duckdb", "--judge", "sim"
        )
        assert result.code == 0, result.stderr
        assert (
            "has no labelgate_truth.json, so the simulated models (--judge sim) will guess" in result.stderr
        ) is warned


def _cancelled_run(tmp_path: Path) -> Path:
    """A Label Studio text run of 12 tasks whose items 2-2 and 10-10 (cancelled) are quarantined."""
    rules = write_rulebook(
        tmp_path,
        'rulebook: t\nversion: "1"\nguideline: g\napplies_to: text_spans\ntaxonomy: [PER]\nrules:\n'
        '  - {id: TAX-001, clause: "1", when: not label.in_taxonomy, severity: major}\n',
    )
    tasks: list[dict[str, object]] = [
        {"id": k, "data": {"text": f"text {k}"}, "annotations": [{"id": k, "result": []}]} for k in range(12)
    ]
    for k in (2, 10):
        tasks[k]["annotations"] = [{"id": k, "was_cancelled": True, "result": [{"id": "p", "type": "polygon"}]}]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    db = tmp_path / "runs.duckdb"
    assert run_cli("score", export, "--format", "labelstudio-text", "--rulebook", rules, "--db", db).code == 0
    return db


def test_findings_item_filter_applies_to_quarantined_records(tmp_path: Path) -> None:
    db = _cancelled_run(tmp_path)
    only = json.loads(run_cli("findings", "latest", "--db", db, "--quarantined", "--json", "--item", "10-10").stdout)
    assert {q["item_id"] for q in only} == {"10-10"} and len(only) == 2
    table = run_cli("findings", "latest", "--db", db, "--item", "2-2").stdout
    assert "2 quarantined record(s)" in table and "10-10" not in table


def test_show_gives_the_records_of_a_quarantined_item(tmp_path: Path) -> None:
    db = _cancelled_run(tmp_path)
    shown = run_cli("show", "2-2", "--db", db)
    assert shown.code == 0, shown.stderr
    assert "item 2-2 in run" in shown.stdout and ": quarantined" in shown.stdout
    trace = json.loads(run_cli("show", "2-2", "--db", db, "--json").stdout)
    first = trace["quarantined"][0]
    assert first["reason"] == "annotation 2-2 was cancelled (skipped) in Label Studio"
    assert '"was_cancelled": true' in first["raw"]


def test_quarantine_in_natural_order_and_unknown_ids_explained(tmp_path: Path) -> None:
    db = _cancelled_run(tmp_path)
    listed = json.loads(run_cli("findings", "latest", "--db", db, "--quarantined", "--json").stdout)
    assert [(q["locator"], q["level"]) for q in listed] == [
        ("[2].annotations[0]", "item"),
        ("[2].annotations[0] 2-2-p", "annotation"),
        ("[10].annotations[0]", "item"),
        ("[10].annotations[0] 10-10-p", "annotation"),
    ]
    unknown = run_cli("show", "2", "--db", db)
    assert unknown.code == 1 and "image" not in unknown.stderr
    assert "an item id is '<task id>-<annotation id>', e.g. 0-0, 1-1, 3-3" in unknown.stderr
