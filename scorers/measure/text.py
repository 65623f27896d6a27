"""Basic facts about an item's text: length, tokens, blank texts.

Tokens are words (letters/digits, with inner hyphens or apostrophes: ``O'Neil``, ``6-4``),
clitics (``'s``) and single punctuation marks: close to how CoNLL files split words, without
needing a language model.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ingest.model import Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row

TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|['’]\w+|[^\w\s]")
TEXT_KINDS = frozenset({"text_classification", "text_spans"})


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


class TextBasics(Measurement):
    name = "text_basics"
    applies_to = TEXT_KINDS
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("text.length", "number", "item", "number of characters in the text"),
        FieldSpec("text.tokens", "number", "item", "number of tokens (words and punctuation marks)"),
        FieldSpec("text.is_blank", "bool", "item", "the text is empty or only whitespace"),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        text = item.text
        if text is None:
            return
        item_row["text.length"] = len(text)
        item_row["text.tokens"] = len(tokens(text))
        item_row["text.is_blank"] = not text.strip()


register(TextBasics())
