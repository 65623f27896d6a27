"""Judgments already made for items that a killed run had not committed yet.

A killed run loses the items it had judged but not committed. Their answers are stored and
would be replayed for free, but replaying costs nearly the CPU of asking again: the image is
decoded, cropped and encoded, and every answer is parsed again. So each finished judgment is
also journaled, and a resumed run takes it as it was when nothing it depends on changed: the
item's content, its image bytes, the target, its tier, the measured facts its answer is checked
against, and everything that shapes the request (rulebook, judgment schema, prompts, models,
judge settings, the image pixel limit). That is the journal key; any difference means the
judgment is made again (its answers still come from the store when the request is the same).
A judgment that a provider failure decided (down, timing out) is not journaled: asked again
later, it may be answered. The engine keeps the journal in DuckDB beside the attempts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

import orjson

from ingest.model import Item

Record = dict[str, Any]
JOURNAL_FORMAT = 1  # raise when what a record holds, or how a key is made, changes


class JudgmentJournal(Protocol):
    """Finished judgments by item; the engine implements it on DuckDB (``engine.model_store``)."""

    def recall(self, item_id: str) -> Mapping[int | None, tuple[str, Record]]:
        """The journaled judgments of an item: target → (journal key, record)."""
        ...

    def remember(self, item_id: str, target: int | None, key: str, record: Record) -> None:
        """Journal a finished judgment; it is stored with (never before) its attempts."""
        ...


def keys_for(
    salt: str, item: Item, image_digest: str, targets: Mapping[int | None, tuple[str, Any]]
) -> dict[int | None, str]:
    """Journal keys of an item's targets, each given as (tier, the measured facts it is checked against)."""
    content = item.content_hash()
    return {target: _key(salt, content, image_digest, target, tier, facts) for target, (tier, facts) in targets.items()}


def _key(salt: str, content: str, image_digest: str, target: int | None, tier: str, facts: Any) -> str:
    digest = hashlib.sha256(salt.encode())
    for part in (content, image_digest, "item" if target is None else str(target), tier):
        digest.update(b"\0")
        digest.update(part.encode())
    digest.update(b"\0")
    # measured facts can be dataset-level (a label's share of the dataset): the same item's can change
    digest.update(orjson.dumps(facts, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY, default=str))
    return digest.hexdigest()
