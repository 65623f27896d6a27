"""``--format auto`` tells every built-in format apart, and the CLI lists them all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.run import score_dataset
from ingest.base import READERS, open_dataset
from ingest.formats import FORMATS
from labelgate.errors import DatasetError
from tests.formats import Img, write_coco, write_labelstudio, write_voc, write_yolo
from tests.helpers import run_cli, write_rulebook

IMAGES = [Img("a.png", 20, 10, [("car", 1, 1, 4, 4)])]


def _datasets(tmp: Path) -> dict[str, Path]:
    text = tmp / "text"
    text.mkdir()
    (text / "cls.jsonl").write_text(json.dumps({"text": "hi", "label": "greeting"}) + "\n")
    (text / "spans.jsonl").write_text(
        json.dumps({"text": "Rome", "spans": [{"start": 0, "end": 4, "label": "LOC"}]}) + "\n"
    )
    (text / "cls.csv").write_text("text,label\nhi,greeting\n")
    (text / "ner.conll").write_text("-DOCSTART- -X- -X- O\n\nRome NNP B-NP B-LOC\nfalls VBZ B-VP O\n")
    ls_text = tmp / "ls_text.json"
    ls_text.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "data": {"text": "Rome"},
                    "annotations": [
                        {
                            "id": 2,
                            "result": [
                                {
                                    "id": "a",
                                    "type": "labels",
                                    "value": {"start": 0, "end": 4, "labels": ["LOC"]},
                                }
                            ],
                        }
                    ],
                }
            ]
        )
    )
    return {
        "coco": write_coco(tmp / "coco", IMAGES, ["car"]),
        "yolo": write_yolo(tmp / "yolo", IMAGES, ["car"]),
        "voc": write_voc(tmp / "voc", IMAGES),
        "labelstudio": write_labelstudio(tmp / "ls", IMAGES),
        "labelstudio-text": ls_text,
        "text-jsonl": text / "cls.jsonl",
        "text-csv": text / "cls.csv",
        "spans-jsonl": text / "spans.jsonl",
        "conll": text / "ner.conll",
    }


def test_auto_detects_every_format(tmp_path: Path) -> None:
    datasets = _datasets(tmp_path)
    assert sorted(datasets) == sorted(READERS) == sorted(FORMATS)
    for expected, path in datasets.items():
        assert open_dataset(path, "auto").format == expected, path
    assert open_dataset(datasets["yolo"] / "data.yaml", "auto").format == "yolo"
    assert open_dataset(datasets["coco"].parent, "auto").format == "coco"


def test_unknown_layouts_say_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("just some notes\n")
    with pytest.raises(DatasetError, match=r"notes.txt: cannot tell the dataset format: pass --format \(coco, conll"):
        open_dataset(tmp_path / "notes.txt")
    with pytest.raises(DatasetError, match=r"unknown format 'yolov8': use one of auto, coco, conll"):
        open_dataset(tmp_path / "notes.txt", "yolov8")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: the folder is empty: point at the annotation file"):
        open_dataset(tmp_path / "empty")
    (tmp_path / "blank.jsonl").write_text("")
    with pytest.raises(DatasetError, match=r"blank.jsonl: the file is empty"):
        open_dataset(tmp_path / "blank.jsonl", "text-jsonl")


def test_score_help_lists_every_format() -> None:
    result = run_cli("score", "--help", env={"COLUMNS": "400"})
    assert result.code == 0
    text = re.sub(r"-\s+", "-", " ".join(result.stdout.split()))  # help text may wrap after a hyphen
    assert "Dataset format: auto, " + ", ".join(FORMATS) + "." in text


KIND_RULES = {
    "image_boxes": "applies_to: image_boxes\ntaxonomy: [car]\nrules:\n"
    "  - {id: R1, clause: c, when: box.width > 3, severity: minor}\n",
    "text_spans": "applies_to: text_spans\ntaxonomy: [LOC]\nrules:\n"
    "  - {id: R1, clause: c, when: span.length > 3, severity: minor}\n",
    "text_classification": "applies_to: text_classification\ntaxonomy: [greeting]\nrules:\n"
    "  - {id: R1, clause: c, when: label.in_taxonomy, severity: minor}\n",
}
KIND_OF = {
    "coco": "image_boxes",
    "yolo": "image_boxes",
    "voc": "image_boxes",
    "labelstudio": "image_boxes",
    "labelstudio-text": "text_spans",
    "text-jsonl": "text_classification",
    "text-csv": "text_classification",
    "spans-jsonl": "text_spans",
    "conll": "text_spans",
}


def test_every_format_scores_end_to_end(tmp_path: Path) -> None:
    datasets = _datasets(tmp_path)
    for name, path in datasets.items():
        rules = write_rulebook(
            tmp_path, f"rulebook: t\nversion: 1\nguideline: g\n{KIND_RULES[KIND_OF[name]]}", f"{name}.yaml"
        )
        summary = score_dataset(path, rules, tmp_path / "runs.duckdb", format=name)
        assert (summary.status, summary.items_in, summary.annotations_in, summary.findings) == (
            "finished",
            1,
            1,
            1,
        ), name


def test_cli_scores_a_yolo_folder(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "yolo", IMAGES, ["car"])
    rules = write_rulebook(tmp_path, "rulebook: t\nversion: 1\nguideline: g\n" + KIND_RULES["image_boxes"])
    result = run_cli("score", root, "--format", "yolo", "--rulebook", rules, "--db", tmp_path / "r.duckdb", "--quiet")
    assert result.code == 0, result.stderr
    found = json.loads(run_cli("findings", "latest", "--db", tmp_path / "r.duckdb", "--json").stdout)
    assert [(f["item_id"], f["annotation_id"], f["rule_id"]) for f in found] == [
        ("images/a.png", "labels/a.txt:1", "R1")
    ]
