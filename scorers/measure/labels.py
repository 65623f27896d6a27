"""Labels against the rulebook's taxonomy: known, alias, canonical name, parent group."""

from __future__ import annotations

from typing import ClassVar

from ingest.model import Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row


class LabelTaxonomy(Measurement):
    name = "label_taxonomy"
    applies_to = frozenset({"image_boxes", "text_classification", "text_spans"})
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("label.in_taxonomy", "bool", "annotation", "the label is one of the taxonomy's labels"),
        FieldSpec("label.is_alias", "bool", "annotation", "the label is a declared alias of a taxonomy label"),
        FieldSpec("label.canonical", "string", "annotation", "the taxonomy label after resolving aliases"),
        FieldSpec("label.parent", "string", "annotation", "the label's parent group, if the taxonomy has one"),
        FieldSpec("item.distinct_labels", "number", "item", "number of distinct labels on the item"),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        labels = set(ctx.taxonomy.labels)
        aliases = ctx.taxonomy.aliases
        parents = ctx.taxonomy.parents
        for ann, row in zip(item.annotations, rows, strict=True):
            label = ann.label
            known = label in labels
            row["label.in_taxonomy"] = known
            row["label.is_alias"] = label in aliases
            canonical = label if known else aliases.get(label)
            if canonical is not None:
                row["label.canonical"] = canonical
                parent = parents.get(canonical)
                if parent is not None:
                    row["label.parent"] = parent
        item_row["item.distinct_labels"] = len({a.label for a in item.annotations})


register(LabelTaxonomy())
