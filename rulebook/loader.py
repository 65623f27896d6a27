"""Load rulebook YAML with line numbers, so every problem points at ``file:line:col``.

ruamel.yaml keeps the position of every key and value; pydantic errors carry the path of
the bad value; :class:`Positions` joins the two. All problems are collected, not just the
first, so ``labelgate rulebook check`` can list them together.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from labelgate.errors import RulebookError, RulebookProblem
from rulebook.model import Rulebook

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column of a YAML node; ``block`` when the value is a ``|``/``>`` scalar."""

    line: int
    column: int
    quoted: bool = False
    block: bool = False


class Positions:
    """Maps a value's path (``("rules", 3, "when")``) to where it stands in the file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._keys: dict[Loc, Position] = {}
        self._values: dict[Loc, Position] = {}

    def record(self, node: Any, loc: Loc = (), source: str = "") -> None:
        lines = source.splitlines()
        self._walk(node, loc, lines)

    def _walk(self, node: Any, loc: Loc, lines: list[str]) -> None:
        if isinstance(node, CommentedMap):
            for key in node:
                child = (*loc, str(key))
                kline, kcol = node.lc.key(key)
                self._keys[child] = Position(kline + 1, kcol + 1)
                vline, vcol = node.lc.value(key)
                self._values[child] = _value_position(vline, vcol, lines)
                self._walk(node[key], child, lines)
        elif isinstance(node, CommentedSeq):
            for index, item in enumerate(node):
                child = (*loc, index)
                line, col = node.lc.item(index)
                self._values[child] = _value_position(line, col, lines)
                self._keys[child] = self._values[child]
                self._walk(item, child, lines)

    def of_value(self, loc: Loc) -> Position | None:
        """Where the value at ``loc`` is, falling back to its nearest located parent."""
        probe = tuple(loc)
        while probe:
            if probe in self._values:
                return self._values[probe]
            probe = probe[:-1]
        return None

    def of_key(self, loc: Loc) -> Position | None:
        probe = tuple(loc)
        while probe:
            if probe in self._keys:
                return self._keys[probe]
            probe = probe[:-1]
        return None

    def problem(self, loc: Loc, message: str, *, key: bool = False) -> RulebookProblem:
        pos = self.of_key(loc) if key else self.of_value(loc)
        return RulebookProblem(self.file, pos.line if pos else None, pos.column if pos else None, message)


def _value_position(line0: int, col0: int, lines: list[str]) -> Position:
    text = lines[line0] if 0 <= line0 < len(lines) else ""
    first = text[col0 : col0 + 1]
    if first in ("|", ">"):
        return Position(line0 + 2, _indent_of(lines, line0 + 1) + 1, block=True)
    return Position(line0 + 1, col0 + 1, quoted=first in ("'", '"'))


def _indent_of(lines: list[str], index: int) -> int:
    if 0 <= index < len(lines):
        return len(lines[index]) - len(lines[index].lstrip(" "))
    return 0


@dataclass(frozen=True)
class LoadedRulebook:
    """A validated rulebook plus where each of its values came from."""

    rulebook: Rulebook
    positions: Positions
    path: str
    source: str


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    return node


def _loc_str(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _iter_validation_problems(exc: ValidationError, positions: Positions) -> Iterator[RulebookProblem]:
    for error in exc.errors():
        loc: Loc = tuple(p for p in error["loc"] if not str(p).startswith("function-"))
        kind = error["type"]
        where = _loc_str(loc) or "rulebook"
        if kind == "extra_forbidden":
            yield positions.problem(
                loc,
                f"unknown key {str(loc[-1])!r} in {_loc_str(loc[:-1]) or 'rulebook'}: remove it or check its spelling",
                key=True,
            )
        elif kind == "missing":
            yield positions.problem(loc[:-1], f"{where} is required but missing")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            yield positions.problem(loc, f"{where}: {message}")


def parse_yaml(source: str, file: str) -> tuple[Any, Positions]:
    """Parse YAML text into plain data and positions; syntax errors become located problems."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(io.StringIO(source))
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        raise RulebookError(
            [
                RulebookProblem(
                    file,
                    mark.line + 1 if mark else None,
                    mark.column + 1 if mark else None,
                    f"duplicate key: {(exc.problem or '').strip()}",
                )
            ]
        ) from None
    except MarkedYAMLError as exc:
        raise RulebookError([_syntax_problem(exc, file)]) from None
    positions = Positions(file)
    positions.record(tree, (), source)
    return _plain(tree), positions


def _syntax_problem(exc: MarkedYAMLError, file: str) -> RulebookProblem:
    """Locate a YAML syntax error where the author must look.

    An unclosed bracket or quote is noticed lines later; the place it was opened (the
    "context") is where the fix goes, so that is reported. Other errors point where the
    parser stopped.
    """
    problem = (exc.problem or "").strip()
    context = (exc.context or "").strip()
    opened = context.startswith(("while parsing a flow", "while scanning a quoted", "while scanning a simple key"))
    mark = exc.context_mark if opened and exc.context_mark else (exc.problem_mark or exc.context_mark)
    reason = problem or context or "invalid YAML"
    if context and problem:
        other = exc.problem_mark if mark is exc.context_mark else exc.context_mark
        where = (
            f"noticed on line {other.line + 1}"
            if mark is exc.context_mark and other
            else (f"that starts on line {other.line + 1}" if other else "")
        )
        reason += f" ({context} {where})".replace("  ", " ").replace(" )", ")")
    if mark is None:
        return RulebookProblem(file, None, None, f"YAML syntax error: {reason}")
    return RulebookProblem(file, mark.line + 1, mark.column + 1, f"YAML syntax error: {reason}")


def load_text(source: str, file: str = "<rulebook>") -> LoadedRulebook:
    """Validate rulebook YAML text; raises :class:`RulebookError` listing every problem it finds."""
    data, positions = parse_yaml(source, file)
    if not isinstance(data, dict):
        raise RulebookError([RulebookProblem(file, 1, 1, "a rulebook must be a YAML mapping")])
    try:
        rulebook = Rulebook.model_validate(data)
    except ValidationError as exc:
        raise RulebookError(list(_iter_validation_problems(exc, positions))) from None
    problems = list(_semantic_problems(rulebook, positions))
    if problems:
        raise RulebookError(problems)
    return LoadedRulebook(rulebook, positions, file, source)


def load_stored(source: str | None) -> Rulebook | None:
    """The rulebook a run stored as YAML text, or None when it has none or it no longer loads.

    For read-side views (reports, the review screen, option checks): an old run whose
    rulebook predates today's schema still gets a report, just without the rulebook's facts.
    """
    if not source:
        return None
    try:
        return load_text(source, "stored rulebook").rulebook
    except RulebookError:
        return None


def load_file(path: str | Path) -> LoadedRulebook:
    """Read and validate a rulebook file (not yet compiled: see :func:`rulebook.compile`)."""
    file = str(path)
    try:
        source = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulebookError([RulebookProblem(file, None, None, "rulebook file not found: check the path")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError(
            [
                RulebookProblem(
                    file,
                    None,
                    None,
                    f"cannot read rulebook ({exc.__class__.__name__}: {exc}); it must be a UTF-8 YAML file",
                )
            ]
        ) from None
    return load_text(source, file)


def _semantic_problems(rb: Rulebook, positions: Positions) -> Iterator[RulebookProblem]:
    seen: dict[str, int] = {}
    for index, rule in enumerate(rb.rules):
        if rule.id in seen:
            first = positions.of_value(("rules", seen[rule.id], "id"))
            at = f" (first defined on line {first.line})" if first else ""
            yield positions.problem(
                ("rules", index, "id"), f"rule id {rule.id!r} is used twice{at}: ids must be unique"
            )
        else:
            seen[rule.id] = index
        if rule.severity not in rb.scoring.penalty:
            yield positions.problem(
                ("rules", index, "severity"),
                f"unknown severity {rule.severity!r}: use one of {', '.join(rb.severities)} "
                "or add it to scoring.penalty",
            )
    oversight_ids: set[str] = set()
    for index, check in enumerate(rb.oversight):
        if check.id and check.id in oversight_ids:
            yield positions.problem(("oversight", index, "id"), f"oversight id {check.id!r} is used twice")
        if check.id:
            oversight_ids.add(check.id)
    clash = set(rb.attributes) & {"id", "label", "bbox", "span", "start", "end", "text"}
    for name in sorted(clash):
        yield positions.problem(
            ("attributes", name),
            f"attribute {name!r} clashes with a built-in annotation field",
            key=True,
        )
    for index, example in enumerate(rb.examples):
        for rule_id in example.expect:
            if rule_id not in seen:
                yield positions.problem(
                    ("examples", index, "expect"),
                    f"example {example.name!r} expects unknown rule {rule_id!r}",
                )


def to_yaml(rulebook: Rulebook) -> str:
    """Write a rulebook back to YAML (used by ``rulebook draft`` and round-trip tests)."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 100
    buffer = io.StringIO()
    yaml.dump(rulebook.model_dump(mode="json", exclude_defaults=True), buffer)
    return buffer.getvalue()
