"""IOB tag-sequence problems recorded by the CoNLL reader, as measurable facts.

The reader converts tags to spans without "fixing" anything: a span that starts with an
``I-`` tag where the file's scheme needs ``B-`` is still a span, and the problem is kept on
it (``iob_problem`` attribute) and counted on its sentence. Missing for other formats.
"""

from __future__ import annotations

from typing import ClassVar

from ingest.model import Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row


class IobSequence(Measurement):
    name = "iob_sequence"
    applies_to = frozenset({"text_spans"})
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec(
            "iob.scheme",
            "string",
            "item",
            "tagging scheme detected for the file: IOB1 or IOB2",
            ("IOB1", "IOB2"),
        ),
        FieldSpec("iob.errors", "number", "item", "number of tag-sequence errors in the sentence"),
        FieldSpec(
            "iob.problem",
            "string",
            "annotation",
            "the tag-sequence error at the span's first token, e.g. 'I-ORG after O'",
        ),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        scheme = item.attributes.get("iob_scheme")
        if scheme is None:
            return
        item_row["iob.scheme"] = scheme
        item_row["iob.errors"] = int(item.attributes.get("iob_errors", 0))
        for ann, row in zip(item.annotations, rows, strict=True):
            problem = ann.attributes.get("iob_problem")
            if problem:
                row["iob.problem"] = problem


register(IobSequence())
