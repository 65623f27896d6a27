"""Fingerprints: a SHA-256 of a canonical JSON form, so formatting and key order don't matter.

A run stores the fingerprint of the rulebook it used; a resume refuses a changed rulebook.
Golden ``examples`` are left out: they test the rulebook, they don't change any score.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rulebook.model import Rulebook


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_of(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def rulebook_fingerprint(rulebook: Rulebook) -> str:
    """``sha256:<hex>`` over everything that can change a finding, score or review."""
    content = rulebook.model_dump(mode="json", exclude={"examples"})
    return "sha256:" + sha256_of(content)
