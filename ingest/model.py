"""What readers produce: :class:`Item` s to score and :class:`Quarantined` records with reasons.

Ids are the dataset's own (image file name, COCO annotation id as text) so every finding can
be joined back to the user's data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

PIXEL_DECIMALS = 2


def to_pixels(fraction: float, side: float) -> float:
    """A fraction of an image side in pixels, rounded to 1/100 px.

    YOLO writes fractions with 6 decimals and Label Studio writes percentages, so a box
    drawn at whole or hundredth pixels comes back a few thousandths off (at most
    0.75e-6 × side for YOLO: 0.003 px on a 4,096 px image). Rounding to 1/100 px gives
    the drawn pixels back, so a box measures the same in every format.
    """
    return round(fraction * side, PIXEL_DECIMALS)


@dataclass(slots=True)
class Annotation:
    """One label on an item: a box (pixels, x/y/w/h), a text span, or a whole-item class."""

    id: str
    label: str
    bbox: tuple[float, float, float, float] | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    segmentation: Any = None  # COCO polygons (list of coordinate lists) or RLE, as written

    def canonical(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "label": self.label}
        if self.bbox is not None:
            data["bbox"] = list(self.bbox)
        if self.start is not None:
            data["span"] = [self.start, self.end]
        if self.text is not None:
            data["text"] = self.text
        if self.attributes:
            data["attributes"] = self.attributes
        if self.segmentation is not None:
            data["segmentation"] = self.segmentation
        return data


@dataclass(slots=True)
class Item:
    """One unit of scoring: an image with its boxes, or a text with its label or spans."""

    id: str
    kind: Literal["image", "text"]
    annotations: list[Annotation] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    media: str | None = None
    text: str | None = None
    source: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    quarantined_annotations: int = 0

    def canonical(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "media": self.media,
            "text": self.text,
            "attributes": self.attributes,
            "annotations": [a.canonical() for a in self.annotations],
        }

    def content_hash(self) -> str:
        """SHA-256 of the item's annotation content: what a review decision is bound to."""
        text = orjson.dumps(self.canonical(), option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(text).hexdigest()


@dataclass(slots=True)
class Quarantined:
    """A record that could not be used, with the reason; counted, stored and shown, never lost."""

    source: str
    locator: str
    reason: str
    level: Literal["item", "annotation"] = "annotation"
    item_id: str | None = None
    annotation_id: str | None = None
    raw: str = ""


def snippet(record: Any, limit: int = 300) -> str:
    """A short JSON rendering of a bad record for the quarantine table."""
    try:
        text = json.dumps(record, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(record)
    return text if len(text) <= limit else text[: limit - 3] + "..."
