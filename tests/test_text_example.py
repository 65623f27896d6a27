"""The shipped text example (README's one command) finds exactly the defects written into it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.model_run import JudgeSetup
from engine.run import score_dataset
from scorers.providers.spec import parse_model
from tests.helpers import REPO, run_cli

DATASET = REPO / "examples" / "news-ner.conll"
RULEBOOK = REPO / "examples" / "conll-entities.yaml"


def test_readme_command_scores_the_text_example(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    command = re.search(r"^labelgate score examples/news-ner\.conll .*$", readme, re.MULTILINE)
    assert command is not None, "the README documents the text example command"
    args = command.group(0).split()[1:]
    db = tmp_path / "runs.duckdb"
    args[args.index("--db") + 1] = str(db)  # the README's --db, moved into the test's folder
    result = run_cli(*args, cwd=REPO)
    assert result.code == 0, result.stderr
    assert "items in" in result.stdout and "IOB-001 (4)" in result.stdout
    [run] = json.loads(run_cli("runs", "--db", db, "--json").stdout)
    assert (run["dataset_format"], run["items_scored"], run["findings"]) == ("conll", 33, 10)


def test_example_findings_are_the_planted_defects(tmp_path: Path) -> None:
    db = tmp_path / "runs.duckdb"
    summary = score_dataset(
        DATASET,
        RULEBOOK,
        db,
        judge=JudgeSetup(models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")}),
    )
    assert (summary.items_in, summary.items_scored, summary.items_quarantined) == (34, 33, 1)
    assert (summary.annotations_in, summary.annotations_quarantined) == (71, 1)
    assert (summary.passed, summary.failed, summary.needs_review) == (31, 1, 1)
    found = json.loads(run_cli("findings", summary.run_id, "--db", db, "--json").stdout)
    assert sorted((f["item_id"], f["annotation_id"], f["rule_id"]) for f in found) == [
        ("line 115", "line 115", "EXT-001"),  # "President Anna Moretti"
        ("line 229", "line 238", "IOB-001"),  # "Antwerp" tagged I-LOC after O
        ("line 281", None, "CON-001"),  # repeated headline: OSLO tagged ORG here ...
        ("line 3", None, "CON-001"),  # ... and LOC in the first document
        ("line 32", "line 32", "EXT-002"),  # "Kovac 's"
        ("line 353", "line 356", "TAX-001"),  # B-PERS
        ("line 364", "line 364", "IOB-001"),  # a sentence of I- starts: also sent to review
        ("line 364", "line 366", "IOB-001"),
        ("line 364", "line 370", "IOB-001"),
        ("line 83", "line 86", "EXT-003"),  # "the European Union"
    ]
    quarantined = json.loads(run_cli("findings", summary.run_id, "--db", db, "--quarantined", "--json").stdout)
    assert [(q["locator"], q["reason"]) for q in quarantined] == [
        (
            "line 258",
            "line 263: expected 'token ... TAG' with TAG O, B-TYPE or I-TYPE, got one column 'regulators'",
        ),
        ("line 265", "belongs to quarantined item line 258"),  # "Brussels" B-LOC, quarantined with it
    ]
    labels = json.loads(run_cli("labels", summary.run_id, "--db", db, "--json").stdout)
    assert [(row["label"], row["annotations"]) for row in labels] == [
        ("LOC", 22),
        ("PER", 19),
        ("ORG", 18),
        ("MISC", 10),
        ("PERS", 1),
    ]
