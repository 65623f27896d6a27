"""Text measurements: exact values for spans (bounds, blanks, boundaries, overlaps), text
basics, IOB facts and PII patterns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.model import Annotation, Item
from rulebook.model import Taxonomy
from scorers.measure import MeasureContext, Row, measure_item
from scorers.measure.base import DatasetInfo
from scorers.measure.dataset import TextDuplicates
from scorers.measure.iob import IobSequence
from scorers.measure.pii import PersonalData, card_numbers, phone_numbers
from scorers.measure.spans import SpanChecks
from scorers.measure.text import TextBasics

CTX = MeasureContext(Taxonomy(labels=["PER", "ORG", "LOC"]))


def _rows(item: Item, *measurements: Any) -> tuple[Row, list[Row]]:
    return measure_item(item, CTX, measurements)


def span(ann_id: str, start: int, end: int, label: str = "PER", text: str | None = None) -> Annotation:
    return Annotation(ann_id, label, start=start, end=end, text=text)


TEXT = "Mr. John Smith of Acme Corp. met  the mayor."
#       0    5    10   15   20   25   30   35   40


def test_span_checks_exact_values() -> None:
    item = Item(
        "t1",
        "text",
        [
            span("ok", 4, 14, text="John Smith"),
            span("cut", 5, 14),  # starts inside "John"
            span("mismatch", 18, 27, "ORG", text="Acme Corp."),
            span("blank", 32, 34),
            span("empty", 10, 10),
            span("reversed", 14, 4),
            span("outside", 40, 99),
            span("nested", 9, 14),  # "Smith", inside "ok"
            span("same", 4, 14),
            span("cross", 12, 22, "ORG"),
            span("lower", 34, 44, "PER"),  # "the mayor."
            span("padded", 17, 28, "ORG"),  # " Acme Corp."
        ],
        text=TEXT,
    )
    _, rows = _rows(item, SpanChecks())
    by_id = {ann.id: row for ann, row in zip(item.annotations, rows, strict=True)}
    ok = by_id["ok"]
    assert {k: v for k, v in ok.items() if k.startswith("span.")} == {
        "span.in_text": True,
        "span.length": 10,
        "span.is_empty": False,
        "span.covered_text": "John Smith",
        "span.is_blank": False,
        "span.text_matches": True,
        "span.on_token_boundaries": True,
        "span.has_outer_whitespace": False,
        "span.token_count": 2,
        "span.first_token": "John",
        "span.last_token": "Smith",
        "span.starts_lowercase": False,
        "span.overlap_count": 4,
        "span.crosses": "cross",
    }
    assert by_id["cut"]["span.on_token_boundaries"] is False
    assert by_id["cut"]["span.nested_in"] == "ok"
    assert by_id["mismatch"]["span.text_matches"] is False
    assert by_id["mismatch"]["span.covered_text"] == "Acme Corp"
    assert by_id["blank"]["span.is_blank"] is True and by_id["blank"]["span.has_outer_whitespace"] is True
    assert (by_id["empty"]["span.is_empty"], by_id["empty"]["span.is_blank"]) == (True, True)
    assert (by_id["reversed"]["span.length"], by_id["reversed"]["span.is_empty"]) == (-10, True)
    assert by_id["outside"] == {
        "annotation.id": "outside",
        "annotation.label": "PER",
        "annotation.start": 40,
        "annotation.end": 99,
        "annotation.text": None,
        "span.in_text": False,
        "span.length": 59,
        "span.is_empty": False,
    }
    assert by_id["nested"]["span.nested_in"] == "ok"
    assert by_id["same"]["span.same_extent_as"] == "ok" and "span.same_extent_as" not in by_id["ok"]
    assert (by_id["cross"]["span.crosses"], by_id["cross"]["span.overlap_count"]) == ("ok", 6)
    assert by_id["lower"]["span.starts_lowercase"] is True
    assert (by_id["lower"]["span.first_token"], by_id["lower"]["span.last_token"]) == ("the", ".")
    assert by_id["padded"]["span.has_outer_whitespace"] is True
    assert by_id["mismatch"]["span.nested_in"] == "padded"
    assert by_id["blank"]["span.overlap_count"] == 0


def test_crossing_spans_point_at_each_other() -> None:
    item = Item("t", "text", [span("a", 0, 8), span("b", 4, 14)], text="John Smith met")
    _, rows = _rows(item, SpanChecks())
    assert (rows[0]["span.crosses"], rows[1]["span.crosses"]) == ("b", "a")
    assert rows[0]["span.overlap_count"] == rows[1]["span.overlap_count"] == 1


def test_text_basics() -> None:
    row, _ = _rows(Item("t", "text", text="Hello, world!  "), TextBasics())
    assert (row["text.length"], row["text.tokens"], row["text.is_blank"]) == (15, 4, False)
    row, _ = _rows(Item("t", "text", text=" \n\t"), TextBasics())
    assert (row["text.length"], row["text.tokens"], row["text.is_blank"]) == (3, 0, True)


def test_iob_facts_only_for_conll_items() -> None:
    ann = Annotation("line 3", "LOC", start=0, end=4, attributes={"iob_problem": "I-LOC after O"})
    item = Item(
        "line 3",
        "text",
        [ann, span("x", 5, 6)],
        text="Rome x",
        attributes={"iob_scheme": "IOB2", "iob_errors": 1},
    )
    row, rows = _rows(item, IobSequence())
    assert (row["iob.scheme"], row["iob.errors"]) == ("IOB2", 1)
    assert rows[0]["iob.problem"] == "I-LOC after O" and "iob.problem" not in rows[1]
    row, _ = _rows(Item("a", "text", text="Rome"), IobSequence())
    assert "iob.scheme" not in row


@pytest.mark.parametrize(
    ("text", "email", "phone", "card", "matches"),
    [
        ("Write to jane.doe+qa@example.co.uk today", True, False, False, 1),
        ("Call +44 20 7946 0958 or (020) 7946 0958", False, True, False, 2),
        ("Card 4111 1111 1111 1111, exp 12/27", False, False, True, 1),
        ("Order 4111 1111 1111 1112 is not a card (Luhn)", False, False, False, 0),
        ("Meeting on 2024-01-15 at 10:30, room 1204, 1,000,000 USD", False, False, False, 0),
        ("ring 555-123-4567", False, True, False, 1),
    ],
)
def test_pii_patterns(text: str, email: bool, phone: bool, card: bool, matches: int) -> None:
    row, _ = _rows(Item("t", "text", text=text), PersonalData())
    assert (
        row["text.has_email"],
        row["text.has_phone"],
        row["text.has_card_number"],
        row["text.pii_matches"],
    ) == (
        email,
        phone,
        card,
        matches,
    )


def test_card_numbers_are_not_phone_numbers() -> None:
    assert card_numbers("4111-1111-1111-1111") == ["4111111111111111"]
    assert phone_numbers("4111-1111-1111-1111") == []


@pytest.mark.parametrize(
    ("text", "start", "end", "on_boundaries"),
    [
        ("浙商银行企业信贷部叶老桂博士", 0, 4, True),  # Han: every character may end a word
        ("我住在北京市海淀区。", 3, 6, True),
        ("東京タワーに行った。", 0, 5, True),  # Katakana then Hiragana
        ("ผมไปกรุงเทพเมื่อวาน", 4, 11, True),  # Thai
        ("iPhone手机很好", 0, 6, True),  # Latin against Han
        ("서울특별시에 갔다", 0, 3, False),  # Hangul is written with spaces: 서울 cuts 서울특별시에
        ("Ich wohne in München.", 14, 20, False),
    ],
)
def test_scripts_written_without_spaces_have_a_word_boundary_at_every_character(
    text: str, start: int, end: int, on_boundaries: bool
) -> None:
    _, rows = _rows(Item("t", "text", [span("s", start, end, "LOC")], text=text), SpanChecks())
    assert rows[0]["span.on_token_boundaries"] is on_boundaries


def test_empty_texts_are_not_duplicates_with_conflicting_labels() -> None:
    duplicates = TextDuplicates().bind(DatasetInfo(Path("."), "text-jsonl", frozenset(), CTX))
    items = [
        Item("a", "text", [Annotation("a:label", "positive")], text=""),
        Item("b", "text", [Annotation("b:label", "negative")], text="  \n"),
        Item("c", "text", [Annotation("c:label", "negative")], text="Great"),
    ]
    for item in items:
        duplicates.observe(item)
    duplicates.finish()
    rows = [_rows(item, duplicates)[0] for item in items]
    assert [row.get("text.conflicting_labels") for row in rows] == [None, None, 0]
