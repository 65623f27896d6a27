"""Every shipped example rulebook compiles and passes its own golden examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.golden import run_examples
from engine.run import compile_for
from tests.helpers import REPO

RULEBOOKS = sorted((REPO / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", RULEBOOKS, ids=[p.name for p in RULEBOOKS])
def test_example_rulebook_passes_its_golden_examples(path: Path) -> None:
    compiled = compile_for(path)
    results = run_examples(compiled)
    assert results, f"{path.name} has no golden examples"
    failures = [f"{r.name}: {r.explain()}" for r in results if not r.passed]
    assert not failures, failures


def test_examples_cover_every_kind_and_cite_their_guideline() -> None:
    kinds = {compile_for(p).rulebook.applies_to for p in RULEBOOKS}
    assert kinds == {"image_boxes", "text_classification", "text_spans"}
    for path in RULEBOOKS:
        rulebook = compile_for(path).rulebook
        assert rulebook.guideline.url, path.name
        assert all(rule.clause for rule in rulebook.rules)


def test_the_box_rulebook_flags_a_missing_image_file_and_a_wrong_size_without_a_judge(tmp_path: Path) -> None:
    import json

    import duckdb

    from engine.run import score_dataset
    from ingest.synthetic import SyntheticSpec, generate

    coco = generate(tmp_path / "data", SyntheticSpec(images=6, seed=3, defect_rate=0, malformed=False)).coco
    data = json.loads(coco.read_text())
    missing, resized = data["images"][1], data["images"][2]
    (coco.parent / "images" / missing["file_name"]).unlink()
    resized["width"] = 800
    coco.write_text(json.dumps(data))
    db = tmp_path / "runs.duckdb"
    score_dataset(coco, REPO / "examples" / "nuimages-boxes.yaml", db)
    with duckdb.connect(str(db), read_only=True) as con:
        fired = con.execute(
            "SELECT rule_id, item_id FROM findings WHERE rule_id LIKE 'FILE-%' ORDER BY rule_id"
        ).fetchall()
        decision = con.execute("SELECT decision FROM scores WHERE item_id = ?", [missing["file_name"]]).fetchall()
    assert fired == [("FILE-001", missing["file_name"]), ("FILE-002", resized["file_name"])]
    assert decision == [("fail",)]  # a critical finding fails it; it needs no judgment to do so
