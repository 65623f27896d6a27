"""Judgments already made for items that a killed run had not committed yet.

A killed run loses the items it had judged but not committed. Their answers are stored and
would be replayed for free, but replaying costs nearly the CPU of asking again: the image is
decoded, cropped and encoded, and every answer is parsed again. So each finished judgment is
also journaled, and a resumed run takes it as it was when nothing it depends on changed: the
item's content, its image bytes, the target, its tier, and everything that shapes the request
(rulebook, judgment schema, prompts, models, judge settings). That is the journal key; any
difference means the judgment is made again (its answers still come from the store when the
request is the same). The engine keeps the journal in DuckDB beside the attempts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from ingest.model import Item

Record = dict[str, Any]


class JudgmentJournal(Protocol):
    """Finished judgments by item; the engine implements it on DuckDB (``engine.model_store``)."""

    def recall(self, item_id: str) -> Mapping[int | None, tuple[str, Record]]:
        """The journaled judgments of an item: target → (journal key, record)."""
        ...

    def remember(self, item_id: str, target: int | None, key: str, record: Record) -> None:
        """Journal a finished judgment; it is stored with (never before) its attempts."""
        ...


def keys_for(salt: str, item: Item, image_digest: str, tiers: Mapping[int | None, str]) -> dict[int | None, str]:
    """Journal keys of several targets of one item (its content hashed once)."""
    content = item.content_hash()
    return {target: _key(salt, content, image_digest, target, tier) for target, tier in tiers.items()}


def _key(salt: str, content: str, image_digest: str, target: int | None, tier: str) -> str:
    digest = hashlib.sha256(salt.encode())
    for part in (content, image_digest, "item" if target is None else str(target), tier):
        digest.update(b"\0")
        digest.update(part.encode())
    return digest.hexdigest()
