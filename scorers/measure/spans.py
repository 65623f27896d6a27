"""Character-offset spans against their text: bounds, emptiness, boundaries, overlaps.

Offsets are Python string indices (code points), end exclusive. A value that cannot be
computed (offsets outside the text, no span text given) is missing, so a rule never fires
on it by accident; ``span.in_text`` says when offsets are unusable.
"""

from __future__ import annotations

from typing import ClassVar

from ingest.model import Annotation, Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row
from scorers.measure.text import tokens


def _f(path: str, kind: str, doc: str) -> FieldSpec:
    return FieldSpec(path, kind, "annotation", doc)  # type: ignore[arg-type]


# Scripts written without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer,
# Myanmar): every character is a possible word boundary, so a span of 北京市 inside
# 我住在北京市海淀区 cuts no word. Hangul is written with spaces and is not listed.
NO_SPACE_SCRIPTS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA9E0, 0xA9FF),  # Myanmar extended B
    (0xAA60, 0xAA7F),  # Myanmar extended A
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # halfwidth Katakana
    (0x20000, 0x323AF),  # CJK extensions B to H, compatibility supplement
)


def _unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in NO_SPACE_SCRIPTS)


def _cuts_word(text: str, offset: int) -> bool:
    """Whether ``offset`` falls between two letters/digits of one word (never beside a character
    of a script written without spaces: there, any character may end a word)."""
    if not 0 < offset < len(text):
        return False
    before, after = text[offset - 1], text[offset]
    return before.isalnum() and after.isalnum() and not (_unspaced(before) or _unspaced(after))


class SpanChecks(Measurement):
    name = "span_checks"
    applies_to = frozenset({"text_spans"})
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        _f("span.in_text", "bool", "both offsets lie within the text (0 ≤ offset ≤ text length)"),
        _f("span.length", "number", "end − start in characters (zero or negative when empty or reversed)"),
        _f("span.is_empty", "bool", "the span covers no character (end ≤ start)"),
        _f("span.is_blank", "bool", "the covered text is empty or only whitespace"),
        _f("span.covered_text", "string", "the text between the offsets"),
        _f("span.text_matches", "bool", "the span text written in the dataset equals the covered text"),
        _f(
            "span.on_token_boundaries",
            "bool",
            "neither offset cuts through a word (a character of Chinese, Japanese, Thai, Lao, Khmer or Myanmar "
            "script is a word boundary on both sides)",
        ),
        _f("span.has_outer_whitespace", "bool", "the covered text starts or ends with whitespace"),
        _f("span.token_count", "number", "number of tokens in the covered text"),
        _f("span.first_token", "string", "first token of the covered text"),
        _f("span.last_token", "string", "last token of the covered text"),
        _f("span.starts_lowercase", "bool", "the covered text starts with a lowercase letter"),
        _f("span.overlap_count", "number", "number of other spans sharing at least one character"),
        _f("span.same_extent_as", "string", "id of an earlier span with exactly the same offsets"),
        _f("span.nested_in", "string", "id of a longer span that contains this one"),
        _f(
            "span.crosses",
            "string",
            "id of a span that partly overlaps this one (neither contains the other)",
        ),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        text = item.text or ""
        usable: list[tuple[int, Annotation]] = []
        for index, (ann, row) in enumerate(zip(item.annotations, rows, strict=True)):
            if ann.start is None or ann.end is None:
                continue
            start, end = ann.start, ann.end
            inside = 0 <= start <= len(text) and 0 <= end <= len(text)
            row["span.in_text"] = inside
            row["span.length"] = end - start
            row["span.is_empty"] = end <= start
            if not inside:
                continue
            covered = text[start:end] if end > start else ""
            row["span.covered_text"] = covered
            row["span.is_blank"] = not covered.strip()
            if ann.text is not None:
                row["span.text_matches"] = ann.text == covered
            if not covered:
                continue
            row["span.on_token_boundaries"] = not (_cuts_word(text, start) or _cuts_word(text, end))
            row["span.has_outer_whitespace"] = covered != covered.strip()
            words = tokens(covered)
            row["span.token_count"] = len(words)
            if words:
                row["span.first_token"] = words[0]
                row["span.last_token"] = words[-1]
            first = covered.lstrip()[:1]
            row["span.starts_lowercase"] = first.islower()
            usable.append((index, ann))
        self._overlaps(usable, rows)

    @staticmethod
    def _overlaps(usable: list[tuple[int, Annotation]], rows: list[Row]) -> None:
        for index, _ in usable:
            rows[index]["span.overlap_count"] = 0
        for pos, (i, a) in enumerate(usable):
            a_start, a_end = a.start or 0, a.end or 0
            for j, b in usable[pos + 1 :]:
                b_start, b_end = b.start or 0, b.end or 0
                if b_start >= a_end or a_start >= b_end:
                    continue
                rows[i]["span.overlap_count"] += 1
                rows[j]["span.overlap_count"] += 1
                if (a_start, a_end) == (b_start, b_end):
                    rows[j].setdefault("span.same_extent_as", a.id)
                elif a_start <= b_start and b_end <= a_end:
                    rows[j].setdefault("span.nested_in", a.id)
                elif b_start <= a_start and a_end <= b_end:
                    rows[i].setdefault("span.nested_in", b.id)
                else:
                    rows[i].setdefault("span.crosses", b.id)
                    rows[j].setdefault("span.crosses", a.id)


register(SpanChecks())
