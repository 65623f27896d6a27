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
        "media_problem": f"image for task 7 (/data/upload/1/a.jpg) not found under {tmp_path}: "
        "put the images next to the export (or in images/)",
        "annotation_id": "70",
        "completed_by": 3,
    }
    turned = {"rotation": 30, "unrotated_bbox": [100.0, 0.0, 20.0, 10.0]}
    assert [(a.id, a.label, a.bbox, a.attributes) for a in first.annotations] == [
        ("7-70-r1", "car", (20.0, 10.0, 40.0, 50.0), {}),
        ("7-70-s1:0", "bus", (95.0, 0.0, 22.32, 18.66), turned),
        ("7-70-s1:1", "truck", (95.0, 0.0, 22.32, 18.66), turned),
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


def _span(rid: str, start: int, end: int, text: str | None, label: str = "MISC") -> dict[str, Any]:
    value: dict[str, Any] = {"start": start, "end": end, "labels": [label]}
    if text is not None:
        value["text"] = text
    return {"id": rid, "type": "labels", "from_name": "label", "to_name": "text", "value": value}


def test_span_offsets_are_code_points_and_utf16_only_for_old_exports(tmp_path: Path) -> None:
    # Label Studio's e2e fixture (ner/emoji.cy.ts): "test" after a cat emoji is start 21, end 25
    text = "🐱 Warning: This is a test text"
    assert text[21:25] == "test"
    old = len(text[: text.index("text", 25)].encode("utf-16-le")) // 2  # an older export's UTF-16 offset
    tasks = [
        {
            "id": 1,
            "data": {"text": text},
            "annotations": [
                {
                    "id": 10,
                    "result": [
                        _span("cp", 21, 25, "test"),
                        _span("u16", old, old + 4, "text"),
                        _span("bare", 21, 25, None),
                    ],
                }
            ],
        }
    ]
    [item], bad = read(_write(tmp_path, tasks), "labelstudio-text")
    assert bad == []
    assert [(a.id, text[a.start : a.end], a.attributes) for a in item.annotations] == [
        ("1-10-cp", "test", {}),
        ("1-10-u16", "text", {"offsets": "utf16"}),
        ("1-10-bare", "test", {}),
    ]


def test_rotated_rectangles_are_measured_by_their_bounding_box(tmp_path: Path) -> None:
    def turned(rid: str, rotation: float) -> dict[str, Any]:
        # (600, 100) 100 x 40 px in a 640 x 480 image, turned clockwise about its top-left corner
        value: dict[str, Any] = {"x": 93.75, "y": 100 / 4.8, "width": 100 / 6.4, "height": 40 / 4.8}
        value |= {"rotation": rotation, "rectanglelabels": ["truck"]}
        return {"id": rid, "type": "rectanglelabels", "original_width": 640, "original_height": 480, "value": value}

    tasks = [
        {"id": 4, "data": {"image": "a.jpg"}, "annotations": [{"id": 6, "result": [turned("q", 90), turned("h", 180)]}]}
    ]
    [item], _ = read(_write(tmp_path, tasks), "labelstudio")
    unrotated = [600.0, 100.0, 100.0, 40.0]
    assert [(a.bbox, a.attributes) for a in item.annotations] == [
        ((560.0, 100.0, 40.0, 100.0), {"rotation": 90, "unrotated_bbox": unrotated}),
        ((500.0, 60.0, 100.0, 40.0), {"rotation": 180, "unrotated_bbox": unrotated}),
    ]


def test_image_urls_are_found_inside_the_dataset_folder_only(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"secret")
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for name in ("images/street_001.jpg", "images/x.jpg", "street_002.jpg", "images/y.jpg"):
        (data / name).write_bytes(b"jpeg")
    (data / "images" / "link.jpg").symlink_to(outside)
    urls = [
        "/data/upload/1/3f2a9c1e-street_001.jpg",
        "/data/local-files/?d=images/x.jpg",
        "s3://bucket/raw/street_002.jpg",
        "http://host/y.jpg?token=1",
        "/data/local-files/?d=C:\\Users\\me\\images\\x.jpg",  # absolute on the annotator's machine: its name
        "http://host/missing.jpg",
        "/data/local-files/?d=../outside.jpg",
        "http://host/link.jpg",
    ]
    tasks = [{"id": k, "data": {"image": url}, "annotations": []} for k, url in enumerate(urls)]
    path = data / "export.json"
    path.write_text(json.dumps(tasks))
    items, _ = read(path, "labelstudio")
    found = ["images/street_001.jpg", "images/x.jpg", "street_002.jpg", "images/y.jpg", "images/x.jpg"]
    assert [i.media for i in items[:5]] == found
    assert [i.attributes for i in items[:5]] == [{"task_id": str(k), "media_url": urls[k]} for k in range(5)]
    problems = [(i.media, i.attributes["remote_media"], i.attributes["media_problem"]) for i in items[5:]]
    assert problems == [
        (
            "http://host/missing.jpg",
            True,
            f"image for task 5 (http://host/missing.jpg) not found under {data}: "
            "put the images next to the export (or in images/)",
        ),
        (
            "/data/local-files/?d=../outside.jpg",
            True,
            "image for task 6 (/data/local-files/?d=../outside.jpg) refused: "
            "path '../outside.jpg' climbs out of the dataset with '..'",
        ),
        (
            "http://host/link.jpg",
            True,
            "image for task 7 (http://host/link.jpg) refused: "
            "path 'images/link.jpg' leads outside the dataset root (symlink?)",
        ),
    ]


def test_the_data_field_is_the_one_the_results_point_to(tmp_path: Path) -> None:
    rect = _rect("r", 1.0)
    tasks = [
        {"id": 1, "data": {"title": "Street corner", "image": "a.jpg"}, "annotations": [{"id": 1, "result": [rect]}]},
        {
            "id": 2,
            "data": {"caption": "x.jpg", "photo": "p"},
            "annotations": [{"id": 2, "result": [{**rect, "to_name": "photo"}]}],
        },
        {"id": 3, "data": {"note": "hello", "pic": "http://h/b.png?s=1"}, "annotations": []},
    ]
    items, _ = read(_write(tmp_path, tasks), "labelstudio")
    assert [i.attributes.get("media_url", i.media) for i in items] == ["a.jpg", "p", "http://h/b.png?s=1"]
    span = {**_span("e", 0, 4, "Ana "), "to_name": "body"}
    texts = [{"id": 4, "data": {"title": "T", "body": "Ana Lima"}, "annotations": [{"id": 4, "result": [span]}]}]
    [item], bad = read(_write(tmp_path, texts), "labelstudio-text")
    assert (item.text, bad) == ("Ana Lima", [])


def test_json_min_exports_are_read_like_json_exports(tmp_path: Path) -> None:
    box = {**_rect("r", 10.0)["value"], "original_width": 200, "original_height": 100}
    images = [
        {
            "image": "/data/upload/1/a.jpg",
            "id": 1,
            "label": [box, {**box, "x": 50.0}],
            "annotator": 2,
            "annotation_id": 9,
        },
        {"image": "b.jpg", "id": 2, "annotator": None, "annotation_id": None, "lead_time": None},
    ]
    items, bad = read(_write(tmp_path, images))
    assert bad == []
    assert [(i.id, i.media, [(a.id, a.label, a.bbox) for a in i.annotations]) for i in items] == [
        (
            "1-9",
            "/data/upload/1/a.jpg",
            [("1-9-label[0]", "car", (20.0, 10.0, 40.0, 50.0)), ("1-9-label[1]", "car", (100.0, 10.0, 40.0, 50.0))],
        ),
        ("2", "b.jpg", []),
    ]
    assert items[0].attributes["completed_by"] == 2
    text = "Ana Lima lives in Rome"
    span = {"start": 18, "end": 22, "text": "Rome", "labels": ["LOC"]}
    texts = [{"id": 3, "text": text, "label": [span], "sentiment": "positive", "annotator": 1, "annotation_id": 7}]
    [item], bad = read(_write(tmp_path, texts))
    assert (item.kind, item.text, bad) == ("text", text, [])
    assert [(a.id, a.label, a.start, a.end) for a in item.annotations] == [
        ("3-7-label[0]", "LOC", 18, 22),
        ("3-7-sentiment", "positive", None, None),
    ]
