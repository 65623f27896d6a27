"""Expression tree nodes. Positions are 0-based (line, column) inside the condition text."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

Scalar = float | int | str | bool
Pos = tuple[int, int]


@dataclass(frozen=True)
class Field:
    path: str
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Const:
    value: Scalar
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class ListConst:
    values: tuple[Scalar, ...]
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op one of == != < <= > >=."""

    op: str
    left: Expr
    right: Expr
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class In:
    operand: Expr
    options: ListConst
    negated: bool = False
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Not:
    item: Expr
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Arith:
    """``left op right`` with op one of + - * /."""

    op: str
    left: Expr
    right: Expr
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Call:
    """A built-in function: count, len, abs, min, max (is_a/missing/present are rewritten)."""

    name: str
    args: tuple[Expr, ...]
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Presence:
    """``present(field)`` or ``missing(field)``."""

    field: Field
    present: bool
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


@dataclass(frozen=True)
class Truth:
    """A condition known at compile time (e.g. ``1 > 0``)."""

    value: bool
    pos: Pos = dataclasses.field(default=(0, 0), compare=False)


Expr = Field | Const | ListConst | Compare | In | And | Or | Not | Arith | Call | Presence | Truth

NEGATED_OP = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
FLIPPED_OP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def fields_of(expr: Expr) -> list[str]:
    """Every field path the expression reads, in order of first appearance."""
    out: list[str] = []

    def walk(node: Expr) -> None:
        if isinstance(node, Field):
            if node.path not in out:
                out.append(node.path)
        elif isinstance(node, Compare | Arith):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, In):
            walk(node.operand)
        elif isinstance(node, And | Or):
            for item in node.items:
                walk(item)
        elif isinstance(node, Not):
            walk(node.item)
        elif isinstance(node, Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, Presence):
            walk(node.field)

    walk(expr)
    return out


def render(expr: Expr) -> str:
    """Canonical text of an expression (used for evidence keys and fingerprints)."""
    if isinstance(expr, Field):
        return expr.path
    if isinstance(expr, Const):
        return (
            repr(expr.value)
            if isinstance(expr.value, str)
            else str(expr.value).lower()
            if isinstance(expr.value, bool)
            else repr(expr.value)
        )
    if isinstance(expr, ListConst):
        return "[" + ", ".join(render(Const(v)) for v in expr.values) + "]"
    if isinstance(expr, Compare):
        return f"{render(expr.left)} {expr.op} {render(expr.right)}"
    if isinstance(expr, In):
        return f"{render(expr.operand)} {'not in' if expr.negated else 'in'} {render(expr.options)}"
    if isinstance(expr, And):
        return " and ".join(_paren(i) for i in expr.items)
    if isinstance(expr, Or):
        return " or ".join(_paren(i) for i in expr.items)
    if isinstance(expr, Not):
        return f"not {_paren(expr.item)}"
    if isinstance(expr, Arith):
        return f"({render(expr.left)} {expr.op} {render(expr.right)})"
    if isinstance(expr, Call):
        return f"{expr.name}(" + ", ".join(render(a) for a in expr.args) + ")"
    if isinstance(expr, Presence):
        return f"{'present' if expr.present else 'missing'}({expr.field.path})"
    return "true" if expr.value else "false"


def _paren(expr: Expr) -> str:
    text = render(expr)
    return f"({text})" if isinstance(expr, And | Or) else text
