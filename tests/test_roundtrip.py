"""Round trip: the same boxes written as COCO, YOLO, Pascal VOC and Label Studio read back
and measure identically.

Tolerance, and why there is none in the assertion: YOLO stores fractions with 6 decimals
and Label Studio percentages, so a coordinate comes back at most 0.75e-6 × image side off
(0.003 px on a 4,096 px image); readers round converted coordinates to 1/100 px
(``ingest.model.to_pixels``), which gives back any box drawn on a 1/100 px grid exactly. Boxes
here lie on a 1/4 px grid (binary fractions, so VOC's ``xmax − xmin`` is exact too) on images
up to 4,096 px, and every measured value must be *equal*, including the booleans at the
image border. A second test bounds YOLO's error for arbitrary float boxes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.model import Item
from rulebook.model import Taxonomy
from scorers.measure import MeasureContext, measure_item, measurements_used
from tests.formats import Img, write_coco, write_labelstudio, write_voc, write_yolo
from tests.readers import read

NAMES = ["car", "bus", "person"]
EXAMPLES = int(os.environ.get("LABELGATE_PROPERTY_EXAMPLES", "300")) // 6 or 1
CONTEXT = MeasureContext(Taxonomy(labels=["car", "bus"]))
MEASUREMENTS = measurements_used("image_boxes", set())


@st.composite
def images(draw: Any) -> list[Img]:
    out = []
    for index in range(draw(st.integers(1, 3))):
        width, height = draw(st.integers(16, 4096)), draw(st.integers(16, 4096))
        boxes = []
        for _ in range(draw(st.integers(0, 6))):
            x = draw(st.integers(-40, width * 4 + 40)) / 4
            y = draw(st.integers(-40, height * 4 + 40)) / 4
            w = draw(st.integers(-8, width * 4)) / 4
            h = draw(st.integers(-8, height * 4)) / 4
            boxes.append((draw(st.sampled_from(NAMES)), x, y, w, h))
        if boxes and draw(st.booleans()):
            boxes.append(boxes[0])  # an exact duplicate: IoU 1 with the first box
        out.append(Img(f"img_{index:03d}.png", width, height, boxes))
    return out


def _measured(items: list[Item]) -> list[tuple[Any, ...]]:
    """Every measured value, with ids replaced by positions (each format has its own ids)."""
    out = []
    for item in items:
        item_row, rows = measure_item(item, CONTEXT, MEASUREMENTS)
        position = {ann.id: k for k, ann in enumerate(item.annotations)}
        item_values = {k: v for k, v in item_row.items() if k != "item.id"}
        ann_values = [
            {k: (position[v] if k == "box.duplicate_of" else v) for k, v in row.items() if k != "annotation.id"}
            for row in rows
        ]
        out.append((item.width, item.height, item_values, ann_values))
    return out


def _write_all(root: Path, data: list[Img]) -> dict[str, Path]:
    return {
        "coco": write_coco(root / "coco", data, NAMES),
        "yolo": write_yolo(root / "yolo", data, NAMES, header_only=True),
        "voc": write_voc(root / "voc", data),
        "labelstudio": write_labelstudio(root / "ls", data),
    }


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_every_box_format_measures_identically(data: list[Img]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for fmt, path in _write_all(Path(tmp), data).items():
            items, bad = read(path, fmt)
            assert bad == [], fmt
            assert sum(len(i.annotations) for i in items) == sum(len(i.boxes) for i in data)
            results[fmt] = _measured(items)
    reference = results.pop("coco")
    for fmt, measured in results.items():
        if fmt == "labelstudio":  # sizes live on results: an image without boxes has none
            keep = [k for k, entry in enumerate(reference) if entry[3]]
            assert [measured[k] for k in keep] == [reference[k] for k in keep], fmt
        else:
            assert measured == reference, fmt


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.integers(16, 8192),
    st.floats(0, 1, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
)
def test_yolo_float_boxes_come_back_within_the_documented_bound(side: int, cx: float, cy: float, w: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        x, y, width = (cx - w / 2) * side, (cy - w / 2) * side, w * side
        root = write_yolo(Path(tmp), [Img("a.png", side, side, [("car", x, y, width, width)])], NAMES, header_only=True)
        [item], _ = read(root, "yolo")
    bound = 0.75e-6 * side + 0.005  # 6-decimal fractions, then rounding to 1/100 px
    got = item.annotations[0].bbox
    assert got is not None
    assert got == pytest.approx((x, y, width, width), abs=bound)
