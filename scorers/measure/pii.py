"""Personal data patterns in texts: e-mail addresses, phone numbers, payment card numbers.

On demand: texts are scanned only when the rulebook reads one of these fields, so a
rulebook that does not ask for PII checks never has its texts searched for personal data.
Patterns are deliberately conservative: a phone number needs 9–15 digits in phone-like
groups; a card number needs 13–19 digits that pass the Luhn check.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ingest.model import Item
from rulebook.vocabulary import FieldSpec
from scorers.measure import register
from scorers.measure.base import MeasureContext, Measurement, Row
from scorers.measure.text import TEXT_KINDS

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,5}){1,4}(?![\w])")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    found = []
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            found.append(digits)
    return found


def phone_numbers(text: str) -> list[str]:
    found = []
    for match in PHONE.finditer(text):
        raw = match.group()
        digits = re.sub(r"\D", "", raw)
        grouped = raw.startswith("+") or "(" in raw or len(re.findall(r"\d+", raw)) >= 3
        if 9 <= len(digits) <= 15 and grouped and not _is_card(digits, raw):
            found.append(raw)
    return found


def _is_card(digits: str, raw: str) -> bool:
    """A 13+ digit run that is a valid card number counts as a card, not a phone number."""
    return len(digits) >= 13 and not raw.startswith("+") and luhn_ok(digits)


class PersonalData(Measurement):
    name = "personal_data"
    applies_to = TEXT_KINDS
    on_demand = True
    fields: ClassVar[tuple[FieldSpec, ...]] = (
        FieldSpec("text.has_email", "bool", "item", "the text contains an e-mail address"),
        FieldSpec("text.has_phone", "bool", "item", "the text contains a phone number (9–15 digits)"),
        FieldSpec("text.has_card_number", "bool", "item", "the text contains a payment card number (Luhn-valid)"),
        FieldSpec("text.pii_matches", "number", "item", "number of e-mail, phone and card matches"),
    )

    def measure(self, item: Item, item_row: Row, rows: list[Row], ctx: MeasureContext) -> None:
        text = item.text
        if text is None:
            return
        emails = EMAIL.findall(text)
        cards = card_numbers(text)
        phones = phone_numbers(text)
        item_row["text.has_email"] = bool(emails)
        item_row["text.has_phone"] = bool(phones)
        item_row["text.has_card_number"] = bool(cards)
        item_row["text.pii_matches"] = len(emails) + len(phones) + len(cards)


register(PersonalData())
