"""`labelgate rulebook ...`: broken rulebooks give one located line and exit 1; tools work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulebook.model import Rulebook
from tests.helpers import EXAMPLE_RULEBOOK, MINIMAL_RULEBOOK, run_cli, write_rulebook

JUDGED = MINIMAL_RULEBOOK.replace(
    "rules:\n",
    """judgments:
  per: annotation
  fields:
    confidence: {type: number, min: 0, max: 1, question: How sure are you?}
    box_fit: {type: enum, values: [tight, loose], question: Is the box tight?}
rules:
""",
)


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return lines[occurrence - 1]


def _broken(tmp_path: Path, text: str) -> tuple[Path, list[str], int]:
    path = write_rulebook(tmp_path, text, "broken.yaml")
    result = run_cli("rulebook", "check", path)
    return path, result.stderr.strip().splitlines(), result.code


CASES = {
    "yaml syntax": (
        MINIMAL_RULEBOOK.replace("severity: major\n", "severity: [major\n", 1),
        "severity: [major",
        "YAML syntax error",
    ),
    "unknown key": (
        MINIMAL_RULEBOOK.replace("    severity: major\n", "    severity: major\n    sevrity: minor\n", 1),
        "sevrity: minor",
        "unknown key 'sevrity' in rules[1]: remove it or check its spelling",
    ),
    "duplicate id": (
        MINIMAL_RULEBOOK.replace("id: DUP-001", "id: GEO-001"),
        "id: GEO-001",
        "rule id 'GEO-001' is used twice (first defined on line 7): ids must be unique",
    ),
    "unknown field": (
        MINIMAL_RULEBOOK.replace("not box.in_bounds", "not box.inbounds"),
        "box.inbounds",
        "unknown field 'box.inbounds': did you mean box.in_bounds?",
    ),
    "type mismatch": (
        JUDGED.replace("not box.in_bounds", 'judgment.confidence == "high"'),
        'judgment.confidence == "high"',
        "cannot compare a number with a string",
    ),
    "arbitrary call": (
        MINIMAL_RULEBOOK.replace("not box.in_bounds", 'open("/etc/passwd") == 1'),
        "open(",
        "function 'open' is not allowed: use one of count, len",
    ),
    "chained call": (
        MINIMAL_RULEBOOK.replace("not box.in_bounds", '__import__("os").system("true")'),
        "__import__",
        "only the built-in functions count, len, abs, min, max, is_a",
    ),
    "dunder access": (
        MINIMAL_RULEBOOK.replace("not box.in_bounds", "box.__class__ == 1"),
        "box.__class__",
        "access to dunder name '__class__' is not allowed",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_rulebook_gives_one_located_line(tmp_path: Path, case: str) -> None:
    text, needle, message = CASES[case]
    path, lines, code = _broken(tmp_path, text)
    occurrence = 2 if case == "duplicate id" else 1
    line = _line_of(text, needle, occurrence)
    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}:{line}:"), (lines[0], line)
    assert message in lines[0]


def test_column_points_at_the_unknown_field(tmp_path: Path) -> None:
    text = MINIMAL_RULEBOOK.replace("not box.in_bounds", "box.width > 2 and box.heigth > 3")
    path, lines, _ = _broken(tmp_path, text)
    line = _line_of(text, "box.heigth")
    column = text.splitlines()[line - 1].index("box.heigth") + 1
    assert lines == [
        f"error: {path}:{line}:{column}: unknown field 'box.heigth': did you mean box.height or box.width?"
    ]


def test_all_problems_are_listed(tmp_path: Path) -> None:
    text = MINIMAL_RULEBOOK.replace("not box.in_bounds", "box.nope").replace("not label.in_taxonomy", "label.nah")
    _, lines, code = _broken(tmp_path, text)
    assert code == 1 and len(lines) == 2
    assert "box.nope" in lines[0] and "label.nah" in lines[1]


def test_enum_typo_is_caught(tmp_path: Path) -> None:
    text = JUDGED.replace("not box.in_bounds", 'judgment.box_fit == "lose"')
    _, lines, _ = _broken(tmp_path, text)
    assert "'lose' is not a value of judgment.box_fit (tight, loose) (did you mean 'loose'?)" in lines[0]


def test_examples_pass_and_a_changed_expectation_fails_readably(tmp_path: Path) -> None:
    ok = run_cli("rulebook", "test", EXAMPLE_RULEBOOK)
    assert ok.code == 0, ok.stdout + ok.stderr
    assert "0 failed" in ok.stdout

    changed = EXAMPLE_RULEBOOK.read_text().replace("    expect: [DUP-001]\n", "    expect: [DUP-001, GEO-002]\n", 1)
    path = write_rulebook(tmp_path, changed, "changed.yaml")
    bad = run_cli("rulebook", "test", path)
    assert bad.code == 1
    assert "FAIL  near-duplicate boxes" in bad.stdout
    assert "expected rules [DUP-001, GEO-002], got [DUP-001]" in bad.stdout
    assert "- GEO-002: expected to fire, did not" in bad.stdout


def test_check_explain_schema_diff(tmp_path: Path) -> None:
    checked = run_cli("rulebook", "check", EXAMPLE_RULEBOOK)
    assert checked.code == 0 and "ok: nuimages-boxes v2.2" in checked.stdout

    explained = json.loads(run_cli("rulebook", "explain", EXAMPLE_RULEBOOK, "--json").stdout)
    by_rule = {row["rule"]: row for row in explained}
    assert by_rule["GEO-001"]["when"] == "box width is at most 0, or box height is at most 0"
    assert (
        by_rule["ATT-004"]["when"] == 'annotation label is one of "pedestrian" and annotation human activity is missing'
    )
    assert len([r for r in explained if r["severity"] != "review"]) >= 25

    schema = json.loads(run_cli("rulebook", "schema", EXAMPLE_RULEBOOK).stdout)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["box_fit"]["enum"] == [
        "tight",
        "loose",
        "too_tight",
        "wrong_object",
        "no_object",
    ]
    assert schema["properties"]["confidence"]["maximum"] == 1

    old = write_rulebook(tmp_path, MINIMAL_RULEBOOK, "old.yaml")
    new_text = (
        MINIMAL_RULEBOOK.replace('version: "1"', 'version: "2"')
        .replace("severity: major\n", "severity: minor\n", 1)
        .replace("  - id: TAX-001", "  - id: TAX-009")
    )
    new = write_rulebook(tmp_path, new_text, "new.yaml")
    diff = json.loads(run_cli("rulebook", "diff", old, new, "--json").stdout)
    assert diff["added"] == ["TAX-009"] and diff["removed"] == ["TAX-001"]
    assert diff["changed"] == [{"rule_id": "GEO-002", "changes": {"severity": {"old": "major", "new": "minor"}}}]
    assert diff["old"]["fingerprint"] != diff["new"]["fingerprint"]
    text = run_cli("rulebook", "diff", old, new).stdout
    assert "+ TAX-009" in text and "- TAX-001" in text and "severity: 'major' -> 'minor'" in text
    assert diff["metadata_changed"] == ["version"]


def test_diff_summary_names_every_kind_of_change() -> None:
    from rulebook.diff import diff_rulebooks
    from rulebook.loader import load_text

    def book(text: str) -> Rulebook:
        return load_text(text).rulebook

    base = book(MINIMAL_RULEBOOK)
    bumped = book(MINIMAL_RULEBOOK.replace('version: "1"', 'version: "1.1"'))
    assert diff_rulebooks(base, bumped).summary() == "metadata changed: version 1 → 1.1"
    assert diff_rulebooks(base, base).summary() == "nothing that changes a score (formatting, comments or examples)"
    edited = book(
        MINIMAL_RULEBOOK.replace("severity: major\n", "severity: minor\n", 1).replace("pass_at: 75", "pass_at: 80")
    )
    assert diff_rulebooks(base, edited).summary() == "changed GEO-002; sections changed: scoring"
