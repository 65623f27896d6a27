"""Label Studio exports: task-annotation items, percent boxes to pixels, text spans and
choices, unsupported results and cancelled annotations quarantined; broken JSON fails first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelgate.errors import DatasetError
from tests.readers import read, reasons


def _rect(rid: str, x: float, label: str = "car", **extra: Any) -> dict[str, Any]:
    value = {"x": x, "y": 10.0, "width": 20.0, "height": 50.0, "rotation": 0, "rectanglelabels": [label]}
    return {
        "id": rid,
        "type": "rectanglelabels",
        "original_width": 200,
        "original_height": 100,
        "value": value,
        **extra,
    }


def _write(tmp_path: Path, tasks: list[Any]) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def test_boxes_per_task_annotation_with_pixel_coordinates(tmp_path: Path) -> None:
    split = [
        {
            "id": "s1",
            "type": "rectangle",
            "original_width": 200,
            "original_height": 100,
            "value": {"x": 50, "y": 0, "width": 10, "height": 10, "rotation": 30},
        },
        {"id": "s1", "type": "labels", "value": {"labels": ["bus", "truck"]}},
    ]
    tasks = [
        {
            "id": 7,
            "data": {"image": "/data/upload/1/a.jpg"},
            "annotations": [
                {"id": 70, "completed_by": 3, "result": [_rect("r1", 10.0), *split]},
                {"id": 71, "result": [_rect("r1", 12.5, "person")]},
            ],
        },
        {"id": 8, "data": {"image": "s3://bucket/b.jpg"}, "annotations": []},
    ]
    items, bad = read(_write(tmp_path, tasks))
    assert bad == []
    assert [i.id for i in items] == ["7-70", "7-71", "8"]
    first = items[0]
    assert (first.width, first.height, first.media) == (200, 100, "/data/upload/1/a.jpg")
    assert first.attributes == {
        "task_id": "7",
        "remote_media": True,
        "annotation_id": "70",
        "completed_by": 3,
    }
    assert [(a.id, a.label, a.bbox, a.attributes) for a in first.annotations] == [
        ("7-70-r1", "car", (20.0, 10.0, 40.0, 50.0), {}),
        ("7-70-s1:0", "bus", (100.0, 0.0, 20.0, 10.0), {"rotation": 30}),
        ("7-70-s1:1", "truck", (100.0, 0.0, 20.0, 10.0), {"rotation": 30}),
    ]
    assert items[1].annotations[0].bbox == (25.0, 10.0, 40.0, 50.0)
    assert items[2].annotations == [] and items[2].width is None


def test_unsupported_results_and_cancelled_annotations_are_quarantined(tmp_path: Path) -> None:
    tasks = [
        {
            "id": 1,
            "data": {"image": "a.jpg"},
            "annotations": [
                {
                    "id": 10,
                    "result": [
                        _rect("ok", 1.0),
                        {
                            "id": "p",
                            "type": "polygonlabels",
                            "value": {"points": [[1, 2]], "polygonlabels": ["car"]},
                        },
                        {
                            "id": "n",
                            "type": "rectanglelabels",
                            "value": {"x": 1, "y": 1, "width": 1, "height": 1, "rectanglelabels": ["car"]},
                        },
                        _rect("nl", 1.0, label=""),
                        {
                            **_rect("bad", 1.0),
                            "value": {"x": "1", "y": 0, "width": 1, "height": 1, "rectanglelabels": ["car"]},
                        },
                    ],
                }
            ],
        },
        {
            "id": 2,
            "data": {"image": "b.jpg"},
            "annotations": [{"id": 20, "was_cancelled": True, "result": [_rect("x", 1.0)]}],
        },
        "not a task",
        {
            "id": 3,
            "data": {"image": "c.jpg"},
            "annotations": [{"id": 10, "result": []}, {"id": 10, "result": []}],
        },
    ]
    items, bad = read(_write(tmp_path, tasks))
    assert [(i.id, len(i.annotations), i.quarantined_annotations) for i in items] == [
        ("1-10", 1, 4),
        ("3-10", 0, 0),
    ]
    assert reasons(bad) == {
        (
            "annotation",
            "[0].annotations[0] 1-10-p",
        ): "result type polygonlabels is not a box: labelgate reads rectanglelabels results",
        (
            "annotation",
            "[0].annotations[0] 1-10-n",
        ): "result has no original_width/original_height: cannot convert percentages to pixels",
        ("annotation", "[0].annotations[0] 1-10-nl"): "rectangle label must be a non-empty string",
        (
            "annotation",
            "[0].annotations[0] 1-10-bad",
        ): 'rectangle needs numeric x, y, width and height (percent), got ["1", 0, 1, 1]',
        ("item", "[1].annotations[0]"): "annotation 2-20 was cancelled (skipped) in Label Studio",
        ("annotation", "[1].annotations[0] 2-20-x"): "belongs to quarantined item 2-20",
        ("item", "[2]"): "task must be an object with an 'id' and a 'data' object",
        ("item", "[3].annotations[1]"): "duplicate task/annotation id 3-10: ids must be unique",
    }


def test_text_spans_and_choices_with_utf16_offsets(tmp_path: Path) -> None:
    text = "I ❤️ 🍕 in Napoli"  # the pizza is one Python character, two UTF-16 units
    start = text.index("Napoli")
    js = len(text[:start].encode("utf-16-le")) // 2  # what JavaScript's String.indexOf says
    assert js == start + 1
    tasks = [
        {
            "id": 5,
            "data": {"text": text},
            "annotations": [
                {
                    "id": 50,
                    "result": [
                        {
                            "id": "e1",
                            "type": "labels",
                            "value": {"start": js, "end": js + 6, "text": "Napoli", "labels": ["LOC"]},
                        },
                        {"id": "c1", "type": "choices", "value": {"choices": ["positive", "food"]}},
                        {"id": "t1", "type": "textarea", "value": {"text": ["note"]}},
                    ],
                }
            ],
        }
    ]
    path = _write(tmp_path, tasks)
    items, bad = read(path)
    [item] = items
    assert item.text == text and item.kind == "text"
    span, pos, food = item.annotations
    assert (span.id, span.label, span.start, span.end, span.text) == (
        "5-50-e1",
        "LOC",
        start,
        start + 6,
        "Napoli",
    )
    assert text[span.start : span.end] == "Napoli"
    assert [(pos.id, pos.label, pos.start), (food.id, food.label)] == [
        ("5-50-c1:0", "positive", None),
        ("5-50-c1:1", "food"),
    ]
    assert [q.reason for q in bad] == ["result type textarea is not read: labelgate reads labels (spans) and choices"]


def test_broken_json_fails_before_anything_is_read(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('[{"id": 1, "data": {"image": "a.jpg"}, "annotations": []},\n {"id": 2, "data": }]')
    with pytest.raises(
        DatasetError,
        match=r"export.json: invalid JSON at line 2, column 20 .*: fix the file or export it again",
    ):
        read(path, "labelstudio")


def test_text_tasks_without_a_clear_text_field_are_quarantined(tmp_path: Path) -> None:
    span = {"id": "e1", "type": "labels", "value": {"start": 0, "end": 1, "labels": ["LOC"]}}
    tasks = [
        {"id": 1, "data": {"title": "a", "body": "b"}, "annotations": [{"id": 10, "result": [span]}]},
        {"id": 2, "data": {"text": "Rome"}, "annotations": [{"id": 20, "result": "oops"}]},
    ]
    items, bad = read(_write(tmp_path, tasks), "labelstudio-text")
    assert [(i.id, i.annotations, i.quarantined_annotations) for i in items] == [("2-20", [], 1)]
    assert reasons(bad) == {
        ("item", "[0].annotations[0]"): "cannot tell which data field holds the text (fields: title, body): "
        "name it 'text'",
        ("annotation", "[0].annotations[0] 1-10-e1"): "belongs to quarantined item 1-10",
        ("annotation", "[1].annotations[0] 2-20-result[0]"): "result must be an object",
    }
