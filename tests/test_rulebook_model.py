"""What a real dataset brings to a rulebook: class ids written as numbers, data of another task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import labelgate
from labelgate.errors import RunError
from rulebook.loader import load_text

INTEGER_CLASSES = """\
rulebook: sst2
version: "1"
guideline: {title: SST-2 binary sentiment}
applies_to: text_classification
taxonomy:
  labels: [0, 1]
  aliases: {2: 1}
rules:
  - id: TAX-001
    clause: "labels are 0 or 1"
    when: not label.in_taxonomy and not label.is_alias
    severity: critical
    message: "Text {item.id} has label '{annotation.label}'"
  - id: TAX-002
    clause: "write the canonical id"
    when: label.is_alias
    severity: minor
"""


def test_integer_class_ids_in_the_taxonomy_match_integer_labels(tmp_path: Path) -> None:
    rulebook = load_text(INTEGER_CLASSES).rulebook
    assert rulebook.taxonomy is not None
    assert rulebook.taxonomy.labels == ["0", "1"] and rulebook.taxonomy.aliases == {"2": "1"}
    data = tmp_path / "sst2.jsonl"
    rows = [{"id": "a", "text": "great", "label": 1}, {"id": "b", "text": "meh", "label": 2}]
    rows.append({"id": "c", "text": "awful", "label": 7})
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text(INTEGER_CLASSES, encoding="utf-8")
    run = labelgate.score(data, rulebook=rules, db=tmp_path / "runs.duckdb", format="text-jsonl")
    found = sorted(zip(run.findings().item_id, run.findings().rule_id, strict=True))
    assert found == [("b", "TAX-002"), ("c", "TAX-001")]


def test_a_classification_rulebook_refuses_a_spans_dataset_and_the_reverse(tmp_path: Path) -> None:
    """Its rules would read fields the records do not have: every item would pass unchecked."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(INTEGER_CLASSES, encoding="utf-8")
    spans = tmp_path / "spans.jsonl"
    spans.write_text(json.dumps({"text": "Ada Lovelace", "spans": [{"start": 0, "end": 12, "label": "PER"}]}) + "\n")
    with pytest.raises(RunError, match=r"applies to text_classification but .* was read as spans-jsonl \(text_spans\)"):
        labelgate.score(spans, rulebook=rules, db=tmp_path / "runs.duckdb")
    entities = Path(__file__).resolve().parents[1] / "examples" / "conll-entities.yaml"
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"id": "a", "text": "great", "label": 1}) + "\n")
    with pytest.raises(RunError, match=r"use a text_classification rulebook, or pass --format spans-jsonl"):
        labelgate.score(labels, rulebook=entities, db=tmp_path / "runs.duckdb", format="text-jsonl")
