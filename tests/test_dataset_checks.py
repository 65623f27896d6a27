"""Dataset-level checks end to end: the pre-pass runs only when a rule reads its fields, and
duplicate texts, conflicting labels, class shares, PII and image files give exact findings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from engine.dataset_pass import prepare_measurements
from engine.run import compile_for, score_dataset
from ingest.base import DatasetReader, Record
from ingest.model import Annotation, Item
from tests.formats import header_png, png
from tests.helpers import write_rulebook

TEXT_RULES = """\
rulebook: reviews
version: "1"
guideline: Review labeling guide
applies_to: text_classification
taxonomy: [positive, negative, neutral]
rules:
  - id: CON-001
    clause: "§3 identical texts get identical labels"
    when: text.conflicting_labels > 0
    severity: major
    message: "{item.id} repeats {text.duplicate_of} with another label"
  - id: TAX-001
    clause: "§2 labels come from the list"
    when: not label.in_taxonomy
    severity: critical
  - id: DIST-001
    clause: "§2 rare labels are checked"
    when: label.dataset_share < 0.2
    severity: minor
  - id: PII-001
    clause: "§5 texts with personal data are removed"
    when: text.has_email or text.has_phone
    severity: critical
scoring: {start: 100, penalty: {critical: 100, major: 25, minor: 5}, pass_at: 75}
"""

REVIEWS = [
    {"id": "a", "text": "Great  phone!", "label": "positive"},
    {"id": "b", "text": "great phone!", "label": "negative"},
    {"id": "c", "text": "GREAT phone!", "label": "positive"},
    {"id": "d", "text": "Mail me at bob@example.com", "label": "neutral"},
    {"id": "e", "text": "Fine", "label": "positive"},
    {"id": "f", "text": "Meh", "label": "postive"},
    {"id": "g", "text": "Bad", "label": "negative"},
    {"id": "h", "text": "Bad", "label": "negative"},
]


def _findings(db: Path, run_id: str) -> set[tuple[str, str | None, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT item_id, annotation_id, rule_id FROM findings WHERE run_id = ?", [run_id]).fetchall()
    return {(r[0], r[1], r[2]) for r in rows}


def test_duplicates_conflicts_shares_and_pii(tmp_path: Path, db: Path) -> None:
    data = tmp_path / "reviews.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in REVIEWS))
    summary = score_dataset(data, write_rulebook(tmp_path, TEXT_RULES), db)
    assert (summary.items_in, summary.items_scored, summary.annotations_scored) == (8, 8, 8)
    # a, b, c are one normalised text: a and c (positive) conflict with b (negative)
    # shares: positive 3/8, negative 3/8, neutral 1/8, postive 1/8
    assert _findings(db, summary.run_id) == {
        ("a", None, "CON-001"),
        ("b", None, "CON-001"),
        ("c", None, "CON-001"),
        ("d", "d:label", "DIST-001"),
        ("d", None, "PII-001"),
        ("f", "f:label", "TAX-001"),
        ("f", "f:label", "DIST-001"),
    }
    with duckdb.connect(str(db), read_only=True) as con:
        message, evidence = con.execute(
            "SELECT message, evidence FROM findings WHERE run_id = ? AND item_id = 'c' AND rule_id = 'CON-001'",
            [summary.run_id],
        ).fetchone()  # type: ignore[misc]
    assert message == "c repeats a with another label"
    assert json.loads(evidence) == {"text.conflicting_labels": 1}


class _CountingReader(DatasetReader):
    format = "counting"
    kind = "text"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.passes = 0

    @classmethod
    def sniff(cls, path: Path) -> bool:
        return False

    def files(self) -> list[Path]:
        return []

    def records(self) -> Iterator[Record]:
        self.passes += 1
        yield Item("x", "text", [Annotation("x:label", "positive")], text="hello")


def test_pre_pass_and_on_demand_measurements_run_only_when_read(tmp_path: Path) -> None:
    plain = TEXT_RULES.split("rules:")[0] + (
        "rules:\n  - {id: TAX-001, clause: c, when: not label.in_taxonomy, severity: critical}\n"
    )
    reader = _CountingReader(tmp_path)
    names = {m.name for m in prepare_measurements(reader, compile_for(write_rulebook(tmp_path, plain, "p.yaml")))}
    assert reader.passes == 0
    assert names == {"label_taxonomy", "text_basics"}
    full = prepare_measurements(reader, compile_for(write_rulebook(tmp_path, TEXT_RULES, "f.yaml")))
    assert reader.passes == 1
    assert {m.name for m in full} == {
        "label_taxonomy",
        "text_basics",
        "text_duplicates",
        "label_distribution",
        "personal_data",
    }


IMAGE_RULES = """\
rulebook: files
version: "1"
guideline: Image intake checklist
applies_to: image_boxes
taxonomy: [car]
rules:
  - {id: IMG-001, clause: "1 every image is delivered", when: image.exists == false, severity: critical,
     message: "{image.problem}"}
  - {id: IMG-002, clause: "2 every image opens", when: image.decodable == false, severity: critical,
     message: "{image.problem}"}
  - {id: IMG-003, clause: "3 no image twice", when: present(image.duplicate_of), severity: major,
     message: "same bytes as {image.duplicate_of}"}
  - {id: IMG-004, clause: "4 sizes match", when: image.size_matches == false, severity: major}
  - {id: IMG-005, clause: "5 every image is annotated", when: item.annotation_count == 0, severity: minor}
scoring: {start: 100, penalty: {critical: 100, major: 25, minor: 5}, pass_at: 75}
"""


def test_image_files_missing_broken_bombs_duplicates_and_sizes(tmp_path: Path, db: Path) -> None:
    root = tmp_path / "coco"
    png(root / "images" / "ok.png", 40, 30)
    png(root / "images" / "copy.png", 40, 30)  # same bytes as ok.png
    whole = png(root / "images" / "other.png", 40, 30, color=200).read_bytes()
    (root / "images" / "truncated.png").write_bytes(whole[: len(whole) // 2])  # cut in the middle
    header_png(root / "images" / "bomb.png", 50_000, 50_000)
    files = ["ok.png", "copy.png", "other.png", "truncated.png", "bomb.png", "missing.png"]
    images: list[dict[str, Any]] = [
        {"id": i + 1, "file_name": f, "width": 40, "height": 30} for i, f in enumerate(files)
    ]
    images[2]["width"] = 41  # declared size differs from the file
    box = {"category_id": 1, "bbox": [1, 1, 5, 5]}
    annotations = [{"id": i + 1, "image_id": i + 1, **box} for i in range(5)]
    (root / "annotations.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "car"}]})
    )
    summary = score_dataset(root / "annotations.json", write_rulebook(tmp_path, IMAGE_RULES), db)
    assert summary.items_scored == 6
    assert _findings(db, summary.run_id) == {
        ("copy.png", None, "IMG-003"),
        ("other.png", None, "IMG-004"),
        ("truncated.png", None, "IMG-002"),
        ("bomb.png", None, "IMG-002"),
        ("missing.png", None, "IMG-001"),
        ("missing.png", None, "IMG-005"),
    }
    with duckdb.connect(str(db), read_only=True) as con:
        messages = dict(
            con.execute(
                "SELECT item_id, message FROM findings "
                "WHERE run_id = ? AND rule_id IN ('IMG-001', 'IMG-002', 'IMG-003')",
                [summary.run_id],
            ).fetchall()
        )
    assert messages["bomb.png"] == (
        "image bomb.png has 2,500,000,000 pixels, over the limit of 89,478,485 (LABELGATE_MAX_IMAGE_PIXELS): "
        "refused as a possible decompression bomb"
    )
    assert messages["truncated.png"] == "image truncated.png cannot be decoded (Truncated File Read)"
    assert messages["missing.png"] == (
        f"image file missing.png not found in the dataset folder {root.resolve()} "
        "(looked for missing.png and images/missing.png)"
    )
    assert messages["copy.png"] == "same bytes as ok.png"
