"""Finding messages: ``"Box {annotation.id} is {box.width:.1f} px wide"``.

Only field references and a numeric format spec are allowed, checked when the rulebook is
compiled; rendering never evaluates code. Missing values render as ``?``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?::([0-9.,+\- ]*[dfge%]?))?\}")


class TemplateError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Template:
    text: str
    fields: tuple[str, ...]

    def render(self, lookup: Callable[[str], Any]) -> str:
        def substitute(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole in ("{{", "}}"):
                return whole[0]
            value = lookup(match.group(1))
            spec = match.group(2)
            if value is None:
                return "?"
            if spec:
                try:
                    return format(value, spec)
                except (TypeError, ValueError):
                    return str(value)
            return format_value(value)

        return _PLACEHOLDER.sub(substitute, self.text)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    return str(value)


def parse_template(text: str, known: Callable[[str], bool]) -> Template:
    """Check a message template; raises :class:`TemplateError` at the first bad placeholder."""
    fields: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        stray = _stray_brace(text[position : match.start()])
        if stray is not None:
            raise TemplateError("a lone '{' or '}': write {{ or }} for a literal brace", position + stray)
        position = match.end()
        name = match.group(1)
        if name is None:
            continue
        if not known(name):
            raise TemplateError(f"message uses unknown field {name!r}", match.start())
        if name not in fields:
            fields.append(name)
    stray = _stray_brace(text[position:])
    if stray is not None:
        raise TemplateError("bad placeholder: write {namespace.field} or {namespace.field:.2f}", position + stray)
    return Template(text, tuple(fields))


def _stray_brace(segment: str) -> int | None:
    for index, char in enumerate(segment):
        if char in "{}":
            return index
    return None
