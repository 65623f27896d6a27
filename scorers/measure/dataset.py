"""Dataset-level measurements: class distribution, duplicate texts, duplicate images.

Each needs the whole dataset, so it observes every item in a first streaming pass
(:mod:`engine.dataset_pass`) and fills per-item / per-annotation fields in the normal pass.
They keep counters and short hashes, never items: a label counter; about 150 bytes per
distinct text (a 16-byte digest, the first item id, a count and, only for texts seen with
different annotations, the set of 8-byte annotation signatures); about 150 bytes per image.
All are on demand: a rulebook that reads none of their fields costs no extra pass.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from ingest.model import Item
from ingest.paths import DatasetRoot, UnsafePath
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import DatasetMeasurement, MeasureContext, Row
from scorers.measure.text import TEXT_KINDS

ALL_KINDS = frozenset({"image_boxes", "text_classification", "text_spans"})


def normalise_text(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed: 'The  Cat' and 'the cat' are one text."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _digest(value: str, size: int) -> bytes:
    return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=size).digest()


def annotation_signature(item: Item) -> bytes:
    """What the item's annotators said, order-free: labels, with offsets for spans."""
    parts = sorted(f"{a.start}:{a.end}:{a.label}" if a.start is not None else f"::{a.label}" for a in item.annotations)
    return _digest("\x1f".join(parts), 8)


class LabelDistribution(DatasetMeasurement):
    name = "label_distribution"
    applies_to = ALL_KINDS
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("label.dataset_count", "number", "annotation", "annotations with this label in the dataset"),
        FieldSpec(
            "label.dataset_share",
            "number",
            "annotation",
            "share of the dataset's annotations with this label",
        ),
    )

    def reset(self) -> None:
        self.counts: Counter[str] = Counter()
        self.total = 0

    def observe(self, item: Item) -> None:
        for ann in item.annotations:
            self.counts[ann.label] += 1
        self.total += len(item.annotations)

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        if not self.finished or not self.total:
            return
        for ann, row in zip(item.annotations, rows, strict=True):
            count = self.counts.get(ann.label, 0)
            row["label.dataset_count"] = count
            row["label.dataset_share"] = count / self.total


@dataclass(slots=True)
class _Seen:
    """One distinct text: who had it first, how often, and what annotations it got."""

    first: str
    count: int
    signature: bytes
    others: set[bytes] | None = None


class TextDuplicates(DatasetMeasurement):
    name = "text_duplicates"
    applies_to = TEXT_KINDS
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("text.duplicates", "number", "item", "other items with the same normalised text"),
        FieldSpec("text.duplicate_of", "string", "item", "id of the first item with the same normalised text"),
        FieldSpec(
            "text.conflicting_labels",
            "number",
            "item",
            "different annotations (label sets, or spans with labels) other items with the same text have",
        ),
    )

    def reset(self) -> None:
        self.texts: dict[bytes, _Seen] = {}

    def observe(self, item: Item) -> None:
        if item.text is None or not item.text.strip():  # blank texts are not one text repeated
            return
        key = _digest(normalise_text(item.text), 16)
        signature = annotation_signature(item)
        seen = self.texts.get(key)
        if seen is None:
            self.texts[key] = _Seen(item.id, 1, signature)
            return
        seen.count += 1
        if signature != seen.signature:
            if seen.others is None:
                seen.others = set()
            seen.others.add(signature)

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        if not self.finished or item.text is None or not item.text.strip():
            return
        seen = self.texts.get(_digest(normalise_text(item.text), 16))
        if seen is None:
            return
        item_row["text.duplicates"] = seen.count - 1
        if seen.first != item.id:
            item_row["text.duplicate_of"] = seen.first
        signatures = {seen.signature} | (seen.others or set())
        item_row["text.conflicting_labels"] = len(signatures - {annotation_signature(item)})


class ImageDuplicates(DatasetMeasurement):
    name = "image_duplicates"
    applies_to = frozenset({"image_boxes"})
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("image.duplicate_of", "string", "item", "id of the first item whose image file has the same bytes"),
        FieldSpec("image.duplicates", "number", "item", "other items whose image file has the same bytes"),
    )

    def reset(self) -> None:
        self.first: dict[bytes, str] = {}
        self.count: Counter[bytes] = Counter()
        self.by_item: dict[str, bytes] = {}
        self.root = DatasetRoot(self.dataset.root) if self.dataset is not None else None

    def observe(self, item: Item) -> None:
        from ingest.images import content_digest

        if self.root is None or not item.media or item.attributes.get("remote_media"):
            return
        try:
            path = self.root.find(item.media)
        except UnsafePath:
            return
        if path is None:
            return
        digest = content_digest(path)
        self.first.setdefault(digest, item.id)
        self.count[digest] += 1
        self.by_item[item.id] = digest

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        digest = self.by_item.get(item.id) if self.finished else None
        if digest is None:
            return
        item_row["image.duplicates"] = self.count[digest] - 1
        if self.first[digest] != item.id:
            item_row["image.duplicate_of"] = self.first[digest]


register(LabelDistribution())
register(TextDuplicates())
register(ImageDuplicates())
