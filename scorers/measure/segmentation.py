"""COCO segmentation validity: polygon shape, self-intersection, RLE size and counts.

COCO stores a mask either as polygons (``[[x1, y1, x2, y2, ...], ...]``, at least three
points each) or as run-length encoding (``{"size": [h, w], "counts": [...] or "..."}``,
compressed counts decoded as pycocotools does). An empty list means "no mask" and is not
measured. The box is still scored when the mask is broken: rules decide what a bad mask costs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from ingest.model import Annotation, Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row

if TYPE_CHECKING:  # numpy is imported where a polygon is measured: a run without masks never loads it
    import numpy as np

OUTSIDE_TOLERANCE_PX = 1.0


def _f(path: str, kind: str, doc: str) -> FieldSpec:
    return FieldSpec(path, kind, "annotation", doc)  # type: ignore[arg-type]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def polygon_area(points: np.ndarray) -> float:
    import numpy as np

    x, y = points[:, 0], points[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def self_intersects(points: np.ndarray) -> bool:
    """Whether two non-adjacent edges of the closed polygon cross or touch (vectorised)."""
    import numpy as np

    n = len(points)
    if n < 4:
        return False
    a, b = points, np.roll(points, -1, axis=0)

    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.sign(  # type: ignore[no-any-return]
            (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])
        )

    p1, p2 = a[:, None, :], b[:, None, :]
    q1, q2 = a[None, :, :], b[None, :, :]
    o1, o2 = orient(p1, p2, q1), orient(p1, p2, q2)
    o3, o4 = orient(q1, q2, p1), orient(q1, q2, p2)
    crossing = (o1 * o2 < 0) & (o3 * o4 < 0)
    index = np.arange(n)
    gap = np.abs(index[:, None] - index[None, :])
    adjacent = (gap <= 1) | (gap == n - 1)
    return bool(np.any(crossing & ~adjacent))


def rle_counts(counts: Any) -> list[int] | None:
    """Run lengths from uncompressed (list) or compressed (string) COCO RLE; None if invalid."""
    if isinstance(counts, list):
        return counts if all(isinstance(c, int) and not isinstance(c, bool) for c in counts) else None
    if not isinstance(counts, str):
        return None
    out: list[int] = []
    pos = 0
    data = counts.encode()
    while pos < len(data):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(data):
                return None
            char = data[pos] - 48
            value |= (char & 0x1F) << (5 * shift)
            more = bool(char & 0x20)
            pos += 1
            shift += 1
            if not more and char & 0x10:
                value |= -1 << (5 * shift)
        if len(out) > 2:
            value += out[-2]
        out.append(value)
    return out


class Segmentation(Measurement):
    name = "segmentation"
    applies_to = frozenset({"image_boxes"})
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        _f("segmentation.kind", "string", "how the mask is written: polygon or rle"),
        _f("segmentation.valid", "bool", "the mask is well formed (see segmentation.problem)"),
        _f("segmentation.problem", "string", "why the mask is not valid"),
        _f("segmentation.polygons", "number", "number of polygons"),
        _f("segmentation.points", "number", "number of polygon vertices in all"),
        _f("segmentation.area", "number", "mask area in square pixels"),
        _f("segmentation.box_fill", "number", "mask area / box area"),
        _f(
            "segmentation.outside_box",
            "bool",
            f"a vertex lies more than {OUTSIDE_TOLERANCE_PX:g} px outside the box",
        ),
        _f("segmentation.self_intersects", "bool", "a polygon's edges cross each other"),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        for ann, row in zip(item.annotations, rows, strict=True):
            mask = ann.segmentation
            if mask is None or mask == []:
                continue
            if isinstance(mask, dict):
                self._rle(mask, item, row)
            else:
                self._polygons(mask, ann, row)
            if "segmentation.area" in row and ann.bbox is not None:
                box_area = max(ann.bbox[2], 0.0) * max(ann.bbox[3], 0.0)
                if box_area > 0:
                    row["segmentation.box_fill"] = row["segmentation.area"] / box_area

    @staticmethod
    def _polygons(mask: Any, ann: Annotation, row: Row) -> None:
        row["segmentation.kind"] = "polygon"
        problem = None
        if not isinstance(mask, list) or not all(isinstance(p, list) for p in mask):
            problem = "polygons must be a list of coordinate lists [[x1, y1, x2, y2, ...], ...]"
            row["segmentation.valid"] = False
            row["segmentation.problem"] = problem
            return
        row["segmentation.polygons"] = len(mask)
        area, points, crossing, outside = 0.0, 0, False, False
        for k, polygon in enumerate(mask):
            if not all(_finite(v) for v in polygon):
                problem = problem or f"polygon {k} has a coordinate that is not a finite number"
                continue
            if len(polygon) % 2:
                problem = problem or f"polygon {k} has an odd number of coordinates ({len(polygon)})"
                continue
            if len(polygon) < 6:
                problem = problem or f"polygon {k} has {len(polygon) // 2} point(s); a polygon needs at least 3"
                continue
            import numpy as np

            xy = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
            points += len(xy)
            part = polygon_area(xy)
            area += part
            if self_intersects(xy):  # before the area: a bow-tie's two halves cancel to zero area
                crossing = True
                problem = problem or f"polygon {k} crosses itself"
            elif part == 0:
                problem = problem or f"polygon {k} has zero area (its points are on one line)"
            if ann.bbox is not None:
                x, y, w, h = ann.bbox
                tol = OUTSIDE_TOLERANCE_PX
                if (
                    xy[:, 0].min() < x - tol
                    or xy[:, 1].min() < y - tol
                    or xy[:, 0].max() > x + w + tol
                    or xy[:, 1].max() > y + h + tol
                ):
                    outside = True
        row["segmentation.points"] = points
        row["segmentation.area"] = area
        row["segmentation.self_intersects"] = crossing
        row["segmentation.outside_box"] = outside
        row["segmentation.valid"] = problem is None
        if problem is not None:
            row["segmentation.problem"] = problem

    @staticmethod
    def _rle(mask: dict[str, Any], item: Item, row: Row) -> None:
        row["segmentation.kind"] = "rle"
        size = mask.get("size")
        problem = None
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v >= 0 for v in size)):
            problem = "RLE 'size' must be [height, width]"
        elif (item.height, item.width) != (size[0], size[1]):
            problem = f"RLE size {size} differs from the image size [{item.height}, {item.width}]"
        counts = rle_counts(mask.get("counts"))
        if counts is None:
            problem = problem or "RLE 'counts' must be a list of integers or a COCO-compressed string"
        elif any(c < 0 for c in counts):
            problem = problem or "RLE 'counts' has a negative run length"
        elif isinstance(size, list) and len(size) == 2 and sum(counts) != size[0] * size[1]:
            problem = problem or f"RLE runs cover {sum(counts)} pixels, not height × width = {size[0] * size[1]}"
        if counts is not None and problem is None:
            row["segmentation.area"] = float(sum(counts[1::2]))
        row["segmentation.valid"] = problem is None
        if problem is not None:
            row["segmentation.problem"] = problem


register(Segmentation())
