"""COCO segmentation validity: polygons (shape, area, crossing, outside the box) and RLE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest.model import Annotation, Item
from rulebook.model import Taxonomy
from scorers.measure import MeasureContext, Row
from scorers.measure.segmentation import Segmentation, rle_counts
from tests.helpers import box, coco, image, write_coco
from tests.readers import read


def _row(mask: Any, bbox: tuple[float, float, float, float] = (0, 0, 10, 10)) -> Row:
    item = Item("a.jpg", "image", [Annotation("1", "car", bbox, segmentation=mask)], width=20, height=10)
    rows: list[Row] = [{}]
    Segmentation().measure(item, {}, rows, MeasureContext(Taxonomy(labels=["car"])))
    return rows[0]


def test_valid_polygon() -> None:
    assert _row([[0, 0, 10, 0, 10, 10, 0, 10]]) == {
        "segmentation.kind": "polygon",
        "segmentation.polygons": 1,
        "segmentation.points": 4,
        "segmentation.area": 100.0,
        "segmentation.self_intersects": False,
        "segmentation.outside_box": False,
        "segmentation.valid": True,
        "segmentation.box_fill": 1.0,
    }


@pytest.mark.parametrize(
    ("mask", "problem"),
    [
        ([0, 0, 10, 0, 10, 10], "polygons must be a list of coordinate lists [[x1, y1, x2, y2, ...], ...]"),
        ([[0, 0, 10, 0, 10]], "polygon 0 has an odd number of coordinates (5)"),
        ([[0, 0, 10, 0]], "polygon 0 has 2 point(s); a polygon needs at least 3"),
        ([[0, 0, 10, "x", 10, 10]], "polygon 0 has a coordinate that is not a finite number"),
        ([[0, 0, 5, 5, 10, 10]], "polygon 0 has zero area (its points are on one line)"),
        ([[0, 0, 10, 10, 10, 0, 0, 4]], "polygon 0 crosses itself"),
        ({"size": [10, 20], "counts": [50, 100, 40]}, "RLE runs cover 190 pixels, not height × width = 200"),
        ({"size": [10, 30], "counts": [300]}, "RLE size [10, 30] differs from the image size [10, 20]"),
        ({"size": [10, 20], "counts": [250, -50]}, "RLE 'counts' has a negative run length"),
        (
            {"size": [10, 20], "counts": 7},
            "RLE 'counts' must be a list of integers or a COCO-compressed string",
        ),
    ],
)
def test_invalid_masks_say_why(mask: Any, problem: str) -> None:
    row = _row(mask)
    assert (row["segmentation.valid"], row["segmentation.problem"]) == (False, problem)


def test_crossing_polygon_and_points_outside_the_box() -> None:
    row = _row([[0, 0, 10, 10, 10, 0, 0, 4]])
    assert row["segmentation.self_intersects"] is True
    row = _row([[0, 0, 14, 0, 14, 10, 0, 10]])
    assert (row["segmentation.valid"], row["segmentation.outside_box"], row["segmentation.area"]) == (
        True,
        True,
        140.0,
    )


def test_rle_uncompressed_and_compressed() -> None:
    row = _row({"size": [10, 20], "counts": [50, 100, 50]})
    assert (row["segmentation.kind"], row["segmentation.valid"], row["segmentation.area"]) == (
        "rle",
        True,
        100.0,
    )
    runs = [3, 40, 10, 2, 1, 70, 5, 0, 69]
    assert rle_counts(_compress(runs)) == runs
    row = _row({"size": [10, 20], "counts": _compress(runs)})
    assert (row["segmentation.valid"], row["segmentation.area"]) == (True, 40 + 2 + 70 + 0.0)
    assert rle_counts("5") == [5] and rle_counts("P") is None  # ends in the middle of a number


def _compress(runs: list[int]) -> str:
    """pycocotools' rleToString: delta-coded runs in 5-bit groups offset by 48."""
    out = []
    for i, run in enumerate(runs):
        x = run - runs[i - 2] if i > 2 else run
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def test_coco_reader_keeps_segmentation_and_empty_lists_mean_none(tmp_path: Path) -> None:
    data = coco(
        [image(1, "a.jpg")],
        [
            box(1, 1, [0, 0, 10, 10], segmentation=[[0, 0, 10, 0, 10, 10]]),
            box(2, 1, [0, 0, 5, 5], segmentation=[]),
        ],
    )
    [item], _ = read(write_coco(tmp_path, data), "coco")
    assert [a.segmentation for a in item.annotations] == [[[0, 0, 10, 0, 10, 10]], []]
    assert "segmentation" not in item.annotations[0].attributes
    assert json.loads(json.dumps(item.canonical()))["annotations"][0]["segmentation"] == [[0, 0, 10, 0, 10, 10]]
    row = _row([])
    assert row == {}
