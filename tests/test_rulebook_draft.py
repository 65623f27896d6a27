"""`labelgate rulebook draft` against a local OpenAI-compatible server (the real client path)."""

from __future__ import annotations

import json
from pathlib import Path

from rulebook.loader import load_file
from tests.fake_openai import fake_openai
from tests.helpers import run_cli

GUIDELINE = """# Street scene boxes

## 2. Bounding boxes
Draw a tight box around every vehicle and pedestrian.
Do not label an object if its height is less than 10 pixels.

## 3. Labels
Every box is labelled car or pedestrian.
"""

TAXONOMY = json.dumps({"applies_to": "image_boxes", "labels": ["car", "pedestrian"]})
BAD_SECTION = json.dumps(
    {
        "rules": [
            {
                "id": "GEO-001",
                "clause": "2 Boxes: minimum height",
                "when": "box.heigth < 10",
                "severity": "major",
                "source": "Do not label an object if its height is less than 10 pixels.",
            }
        ]
    }
)
GOOD_SECTION = json.dumps(
    {
        "rules": [
            {
                "id": "GEO-001",
                "clause": "2 Boxes: minimum height",
                "when": "box.height < 10",
                "severity": "major",
                "message": "Box {annotation.id} is too small",
                "source": "Do not label an object if its height is less than 10 pixels.",
            }
        ]
    }
)
LABEL_SECTION = json.dumps(
    {
        "rules": [
            {
                "id": "TAX-001",
                "clause": "3 Labels",
                "when": "not label.in_taxonomy",
                "severity": "critical",
                "source": "Every box is labelled car or pedestrian.",
            }
        ]
    }
)


def test_draft_marks_rules_draft_and_feeds_compile_errors_back(tmp_path: Path) -> None:
    guideline = tmp_path / "guideline.md"
    guideline.write_text(GUIDELINE, encoding="utf-8")
    out = tmp_path / "draft.yaml"
    with fake_openai() as server:
        server.enqueue(TAXONOMY, BAD_SECTION, GOOD_SECTION, LABEL_SECTION)
        result = run_cli(
            "rulebook",
            "draft",
            guideline,
            "--model",
            "judge-7b",
            "--base-url",
            server.url,
            "--out",
            out,
            env={"LABELGATE_API_KEY": "canary-key-123"},
        )
        requests, headers = server.requests, server.headers
    assert result.code == 0, result.stderr
    assert len(requests) == 4  # taxonomy, section 2 twice (re-asked), section 3
    reask = json.dumps(requests[2]["messages"])
    assert "box.heigth" in reask and "does not compile" in reask and "did you mean box.height" in reask
    assert headers[0]["authorization"] == "Bearer canary-key-123"
    assert "canary-key-123" not in json.dumps(requests)

    drafted = load_file(out).rulebook
    assert [(r.id, r.status, r.when) for r in drafted.rules] == [
        ("GEO-001", "draft", "box.height < 10"),
        ("TAX-001", "draft", "not label.in_taxonomy"),
    ]
    assert drafted.rules[0].source == "Do not label an object if its height is less than 10 pixels."
    assert drafted.taxonomy.labels == ["car", "pedestrian"]
    assert out.read_text().startswith("# Drafted by openai/judge-7b from guideline.md.")

    checked = run_cli("rulebook", "check", out)
    assert checked.code == 0 and "0 active rule(s), 2 draft(s) not used for scoring" in checked.stdout


def test_invented_source_sentences_are_refused(tmp_path: Path) -> None:
    guideline = tmp_path / "g.md"
    guideline.write_text(GUIDELINE, encoding="utf-8")
    invented = json.dumps(
        {
            "rules": [
                {
                    "id": "X-1",
                    "clause": "2",
                    "when": "box.width < 1",
                    "severity": "minor",
                    "source": "Boxes must be blue.",
                }
            ]
        }
    )
    with fake_openai() as server:
        server.enqueue(TAXONOMY, invented, invented, invented, '{"rules": []}')
        result = run_cli("rulebook", "draft", guideline, "--model", "m", "--base-url", server.url)
        requests = server.requests
    assert result.code == 1
    assert "copied exactly from the guideline section" in json.dumps(requests[2]["messages"])
    assert result.stderr.strip() == (
        "error: m drafted no usable rules from g.md (sections refused: 2. Bounding boxes: rules.0.source: "
        "source must be a sentence copied exactly from the guideline section): try a more capable model"
    )


def test_sim_and_missing_keys_are_clear_errors(tmp_path: Path) -> None:
    guideline = tmp_path / "g.md"
    guideline.write_text(GUIDELINE, encoding="utf-8")
    sim = run_cli("rulebook", "draft", guideline, "--model", "sim:cheap")
    assert sim.code == 1 and "simulated provider cannot draft" in sim.stderr
    nokey = run_cli("rulebook", "draft", guideline, "--model", "openai/gpt-4o-mini", env={"OPENAI_API_KEY": ""})
    assert nokey.code == 1
    assert nokey.stderr.strip() == (
        "error: No API key for openai: set OPENAI_API_KEY, or use --model sim:cheap to try labelgate "
        "with the simulated provider"
    )
