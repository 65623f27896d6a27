"""Box geometry against the image: size, shape, bounds and border contact."""

from __future__ import annotations

from typing import ClassVar

from ingest.model import Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row

BORDER_PX = 1.0  # a box edge within this many pixels of the image edge touches the border


def _f(path: str, kind: str, doc: str, scope: str = "annotation") -> FieldSpec:
    return FieldSpec(path, kind, scope, doc)  # type: ignore[arg-type]


class BoxGeometry(Measurement):
    name = "box_geometry"
    applies_to = frozenset({"image_boxes"})
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        _f("box.x", "number", "left edge in pixels"),
        _f("box.y", "number", "top edge in pixels"),
        _f("box.width", "number", "width in pixels (as annotated; may be zero or negative)"),
        _f("box.height", "number", "height in pixels (as annotated; may be zero or negative)"),
        _f("box.area", "number", "width × height in square pixels (0 when degenerate)"),
        _f("box.min_side", "number", "the shorter of width and height, in pixels"),
        _f("box.aspect_ratio", "number", "width / height (missing when height <= 0)"),
        _f("box.area_ratio", "number", "box area as a fraction of the image area"),
        _f("box.in_bounds", "bool", "the whole box lies inside the image"),
        _f("box.outside_fraction", "number", "fraction of the box area outside the image (0..1)"),
        _f("box.touches_border", "bool", f"an edge lies within {BORDER_PX:g} px of the image edge"),
        _f("box.center_x", "number", "horizontal centre as a fraction of image width"),
        _f("box.center_y", "number", "vertical centre as a fraction of image height"),
        _f("item.area", "number", "image width × height in pixels", "item"),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        W = float(item.width or 0)
        H = float(item.height or 0)
        image_area = W * H
        item_row["item.area"] = image_area
        for ann, row in zip(item.annotations, rows, strict=True):
            if ann.bbox is None:
                continue
            x, y, w, h = ann.bbox
            area = w * h if w > 0 and h > 0 else 0.0
            row["box.x"] = x
            row["box.y"] = y
            row["box.width"] = w
            row["box.height"] = h
            row["box.area"] = area
            row["box.min_side"] = min(w, h)
            if h > 0:
                row["box.aspect_ratio"] = w / h
            if image_area > 0:
                row["box.area_ratio"] = area / image_area
                row["box.center_x"] = (x + w / 2) / W
                row["box.center_y"] = (y + h / 2) / H
                row["box.in_bounds"] = x >= 0 and y >= 0 and x + w <= W and y + h <= H
                if area > 0:
                    ix = max(0.0, min(x + w, W) - max(x, 0.0))
                    iy = max(0.0, min(y + h, H) - max(y, 0.0))
                    outside = 1.0 - (ix * iy) / area
                    row["box.outside_fraction"] = outside if outside > 1e-9 else 0.0  # no float dust
                else:
                    row["box.outside_fraction"] = 0.0
                row["box.touches_border"] = (
                    x <= BORDER_PX or y <= BORDER_PX or x + w >= W - BORDER_PX or y + h >= H - BORDER_PX
                )


register(BoxGeometry())
