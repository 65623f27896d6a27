"""Overlap between boxes of one item: near-duplicates and class conflicts (IoU).

``box.max_iou_earlier_same_class`` compares a box only with boxes listed before it, so a
duplicate pair yields one finding (on the second box), not two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ingest.model import Annotation, Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row

if TYPE_CHECKING:  # numpy is imported only for items with VECTOR_FROM boxes or more (~0.1 s a process)
    import numpy as np

VECTOR_FROM = 24  # below this many boxes a Python loop beats numpy's overhead


def _f(path: str, kind: str, doc: str) -> FieldSpec:
    return FieldSpec(path, kind, "annotation", doc)  # type: ignore[arg-type]


def iou_matrix(boxes: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``n × 4`` x/y/w/h boxes; degenerate boxes have IoU 0 with everything."""
    import numpy as np

    x1, y1 = boxes[:, 0], boxes[:, 1]
    w, h = np.clip(boxes[:, 2], 0, None), np.clip(boxes[:, 3], 0, None)
    x2, y2 = x1 + w, y1 + h
    iw = np.clip(np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :]), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :]), 0, None)
    inter = iw * ih
    area = w * h
    union = area[:, None] + area[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    np.fill_diagonal(iou, 0.0)
    return iou


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    aw, ah, bw, bh = max(a[2], 0.0), max(a[3], 0.0), max(b[2], 0.0), max(b[3], 0.0)
    iw = min(a[0] + aw, b[0] + bw) - max(a[0], b[0])
    ih = min(a[1] + ah, b[1] + bh) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class BoxOverlap(Measurement):
    name = "box_overlap"
    applies_to = frozenset({"image_boxes"})
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        _f("box.max_iou_same_class", "number", "highest IoU with another box of the same label (0 if none)"),
        _f(
            "box.max_iou_earlier_same_class",
            "number",
            "highest IoU with a same-label box listed earlier in the item (0 if none)",
        ),
        _f("box.duplicate_of", "string", "id of the earlier same-label box with that highest IoU"),
        _f("box.max_iou_other_class", "number", "highest IoU with a box of a different label (0 if none)"),
        _f("box.overlap_label", "string", "label of the different-label box with that highest IoU"),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        indexed = [(i, a) for i, a in enumerate(item.annotations) if a.bbox is not None]
        for i, _ in indexed:
            rows[i]["box.max_iou_same_class"] = 0.0
            rows[i]["box.max_iou_earlier_same_class"] = 0.0
            rows[i]["box.max_iou_other_class"] = 0.0
        if len(indexed) < 2:
            return
        if len(indexed) >= VECTOR_FROM:
            self._vector(indexed, rows)
        else:
            self._loop(indexed, rows)

    @staticmethod
    def _loop(indexed: list[tuple[int, Annotation]], rows: list[Row]) -> None:
        geometry = []
        for i, ann in indexed:
            x, y, w, h = ann.bbox  # type: ignore[misc]
            w, h = max(w, 0.0), max(h, 0.0)
            geometry.append((i, ann, x, y, x + w, y + h, w * h))
        for pos, (i, a, ax1, ay1, ax2, ay2, aarea) in enumerate(geometry):
            row_i = rows[i]
            for j, b, bx1, by1, bx2, by2, barea in geometry[pos + 1 :]:
                iw = (ax2 if ax2 < bx2 else bx2) - (ax1 if ax1 > bx1 else bx1)
                if iw <= 0:
                    continue
                ih = (ay2 if ay2 < by2 else by2) - (ay1 if ay1 > by1 else by1)
                if ih <= 0:
                    continue
                inter = iw * ih
                union = aarea + barea - inter
                if union <= 0:
                    continue
                value = inter / union
                row_j = rows[j]
                if a.label == b.label:
                    if value > row_i["box.max_iou_same_class"]:
                        row_i["box.max_iou_same_class"] = value
                    if value > row_j["box.max_iou_same_class"]:
                        row_j["box.max_iou_same_class"] = value
                    if value > row_j["box.max_iou_earlier_same_class"]:
                        row_j["box.max_iou_earlier_same_class"] = value
                        row_j["box.duplicate_of"] = a.id
                else:
                    if value > row_i["box.max_iou_other_class"]:
                        row_i["box.max_iou_other_class"] = value
                        row_i["box.overlap_label"] = b.label
                    if value > row_j["box.max_iou_other_class"]:
                        row_j["box.max_iou_other_class"] = value
                        row_j["box.overlap_label"] = a.label

    @staticmethod
    def _vector(indexed: list[tuple[int, Annotation]], rows: list[Row]) -> None:
        import numpy as np

        boxes = np.array([a.bbox for _, a in indexed], dtype=np.float64)
        labels = np.array([a.label for _, a in indexed], dtype=object)
        matrix = iou_matrix(boxes)
        same = labels[:, None] == labels[None, :]
        same_iou = np.where(same, matrix, 0.0)
        other_iou = np.where(same, 0.0, matrix)
        earlier = np.tril(same_iou, k=-1)  # row j, columns i < j
        max_same = same_iou.max(axis=1)
        max_earlier = earlier.max(axis=1)
        arg_earlier = earlier.argmax(axis=1)
        max_other = other_iou.max(axis=1)
        arg_other = other_iou.argmax(axis=1)
        for pos, (i, _) in enumerate(indexed):
            row = rows[i]
            row["box.max_iou_same_class"] = float(max_same[pos])
            row["box.max_iou_earlier_same_class"] = float(max_earlier[pos])
            if max_earlier[pos] > 0:
                row["box.duplicate_of"] = indexed[int(arg_earlier[pos])][1].id
            row["box.max_iou_other_class"] = float(max_other[pos])
            if max_other[pos] > 0:
                row["box.overlap_label"] = indexed[int(arg_other[pos])][1].label


register(BoxOverlap())
