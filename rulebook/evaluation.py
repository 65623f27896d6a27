"""What evaluators consume and produce, shared by the durable_rules and reference backends.

A batch is a list of :class:`Facts`, one per item: the item's row, its annotations' rows and
(for oversight) its findings' rows. Rows are flat mappings from field path to value; a
missing or ``None`` value is *missing*. Each evaluator returns the :class:`Match` es of its
conditions, in no particular order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rulebook.expr.nodes import Expr
from rulebook.vocabulary import Scope

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Facts:
    """One item's facts: ``findings`` pairs each finding row with its annotation index."""

    item: Row
    annotations: Sequence[Row] = ()
    findings: Sequence[tuple[int | None, Row]] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """Condition ``condition`` holds for item ``item``; ``row`` indexes its annotation or finding."""

    item: int
    row: int | None
    condition: int


def match_order(match: Match) -> tuple[int, int, int]:
    return (match.item, -1 if match.row is None else match.row, match.condition)


@dataclass(frozen=True)
class Condition:
    """A compiled condition: NNF tree, scope and the fields it reads."""

    index: int
    name: str
    scope: Scope
    nnf: Expr
    fields: tuple[str, ...]
    source: str = ""


@dataclass(slots=True)
class Env:
    """Where a condition looks values up while evaluating one row of one item."""

    item: Row
    annotation: Row
    finding: Row
    annotations: Sequence[Row]
    cache: dict[int, Any] = field(default_factory=dict)

    def lookup(self, scope: Scope, path: str) -> Any:
        if scope == "annotation":
            return self.annotation.get(path)
        if scope == "finding":
            return self.finding.get(path)
        return self.item.get(path)


EMPTY: Row = {}


def envs(facts: Facts, scope: Scope, cache: dict[int, Any]) -> list[tuple[int | None, Env]]:
    """The rows a condition of ``scope`` is evaluated on, each with its environment."""
    if scope == "item":
        return [(None, Env(facts.item, EMPTY, EMPTY, facts.annotations, cache))]
    if scope == "annotation":
        return [(i, Env(facts.item, row, EMPTY, facts.annotations, cache)) for i, row in enumerate(facts.annotations)]
    out: list[tuple[int | None, Env]] = []
    for i, (ann_index, row) in enumerate(facts.findings):
        ann = facts.annotations[ann_index] if ann_index is not None else EMPTY
        out.append((i, Env(facts.item, ann, row, facts.annotations, cache)))
    return out


class Evaluator(Protocol):
    """Evaluates a fixed list of conditions over batches of items."""

    @property
    def conditions(self) -> Sequence[Condition]: ...

    def evaluate(self, batch: Sequence[Facts]) -> list[Match]: ...
