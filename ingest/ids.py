"""Dataset ids as text, and the helpers readers share to keep them unique."""

from __future__ import annotations

from typing import Any


def as_id(value: Any) -> str | None:
    """A dataset id as text: strings and integers (``7.0`` counts as ``7``); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def as_label(value: Any) -> str | None:
    """A label as text: a non-empty string, or an integer class id; None otherwise."""
    if isinstance(value, str):
        return value if value.strip() else None
    return as_id(value)
