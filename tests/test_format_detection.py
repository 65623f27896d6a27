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


def test_voc_is_recognised_when_its_first_xml_is_empty(tmp_path: Path) -> None:
    root = write_voc(tmp_path / "voc", IMAGES)
    (root / "Annotations" / "000000.xml").write_text("")  # a crashed tool's leftover sorts first
    assert open_dataset(root).format == "voc"


def test_folders_holding_datasets_name_them(tmp_path: Path) -> None:
    write_voc(tmp_path / "VOCdevkit" / "VOC2007", IMAGES)
    with pytest.raises(
        DatasetError, match=r"VOCdevkit: not a dataset itself, but it holds .*VOC2007 \(voc\): pass that"
    ):
        open_dataset(tmp_path / "VOCdevkit")
    roboflow = tmp_path / "roboflow"
    for split in ("train", "valid"):
        write_coco(roboflow / split, IMAGES, ["car"]).rename(roboflow / split / "_annotations.coco.json")
    with pytest.raises(DatasetError, match=r"holds .*roboflow/train \(coco\), .*roboflow/valid \(coco\): pass one of"):
        open_dataset(roboflow)
    several = tmp_path / "several"
    for name in ("instances_train.json", "instances_val.json"):
        write_coco(several, IMAGES, ["car"]).rename(several / name)
    with pytest.raises(DatasetError, match=r"instances_train\.json \(coco\), .*instances_val\.json \(coco\)"):
        open_dataset(several)


def test_ultralytics_dataset_yaml_of_any_name_is_yolo(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "coco8", IMAGES, ["car"])
    (tmp_path / "coco8.yaml").write_text("path: coco8\ntrain: images\nval: images\nnames: {0: car}\n")
    reader = open_dataset(tmp_path / "coco8.yaml")
    assert (reader.format, reader.root.root) == ("yolo", root.resolve())
    (tmp_path / "other.yaml").write_text("rulebook: not a dataset\n")
    with pytest.raises(DatasetError, match="cannot tell the dataset format"):
        open_dataset(tmp_path / "other.yaml")


def test_detection_reads_past_unlabelled_records(tmp_path: Path) -> None:
    doccano = tmp_path / "admin.jsonl"
    records = [
        {"id": 100, "text": "No entities here .", "label": []},
        {"id": 1, "text": "EU rejects it", "label": [[0, 2, "ORG"]]},
    ]
    doccano.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert open_dataset(doccano).format == "spans-jsonl"
    classes = tmp_path / "cls.jsonl"
    classes.write_text(
        json.dumps({"text": "a", "labels": []}) + "\n" + json.dumps({"text": "b", "labels": ["x"]}) + "\n"
    )
    assert open_dataset(classes).format == "text-jsonl"
    unlabelled = tmp_path / "todo.jsonl"
    unlabelled.write_text(json.dumps({"text": "a", "label": []}) + "\n")
    assert open_dataset(unlabelled).format == "text-jsonl"


def test_json_lines_saved_as_json_are_json_lines(tmp_path: Path) -> None:
    hf = tmp_path / "train.json"  # datasets.Dataset.to_json writes JSON Lines
    hf.write_text(json.dumps({"text": "Zentropa", "label": 1}) + "\n" + json.dumps({"text": "Ça", "label": 0}) + "\n")
    assert open_dataset(hf).format == "text-jsonl"
    hf.write_text(json.dumps({"text": "Rome", "spans": [{"start": 0, "end": 4, "label": "LOC"}]}) + "\n")
    assert open_dataset(hf).format == "spans-jsonl"
    document = tmp_path / "doc.json"  # one JSON document over several lines: not JSON Lines
    document.write_text('[\n{"text": "a", "label": 1},\n{"text": "b", "label": 0}\n]\n')
    with pytest.raises(DatasetError, match="cannot tell the dataset format"):
        open_dataset(document)


def test_every_csv_is_text_csv_so_its_header_problem_is_explained(tmp_path: Path) -> None:
    headerless = tmp_path / "ag_news.csv"
    headerless.write_text('"3","Wall St. Bears Claw Back","Reuters - Short-sellers"\n')
    with pytest.raises(DatasetError, match=r"ag_news.csv: line 1: the first line looks like data, not a header"):
        next(open_dataset(headerless).records())
