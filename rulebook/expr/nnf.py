"""Negation normal form: the single meaning both evaluators implement.

``not`` is pushed down to comparisons (``not a < 5`` becomes ``a >= 5``), ``in`` becomes
or-ed equalities, bare boolean fields become ``== true``, and constant parts are folded.
The semantics are then simple: **a comparison involving a missing value is false**, whatever
its operator. durable_rules behaves that way natively (a fact without the property never
matches), and the reference evaluator does the same, so the two agree by construction.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from rulebook.expr.nodes import (
    NEGATED_OP,
    And,
    Arith,
    Call,
    Compare,
    Const,
    Expr,
    Field,
    In,
    Not,
    Or,
    Presence,
    Truth,
)

COMPARATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def to_nnf(expr: Expr, negate: bool = False) -> Expr:
    """Rewrite a type-checked condition into NNF (see module docstring)."""
    if isinstance(expr, Not):
        return to_nnf(expr.item, not negate)
    if isinstance(expr, And | Or):
        is_and = isinstance(expr, And) != negate
        items = tuple(to_nnf(i, negate) for i in expr.items)
        return _combine(is_and, items, expr)
    if isinstance(expr, Compare):
        op = NEGATED_OP[expr.op] if negate else expr.op
        left, right = value_nnf(expr.left), value_nnf(expr.right)
        if isinstance(left, Const) and isinstance(right, Const):
            return Truth(bool(COMPARATORS[op](left.value, right.value)), expr.pos)
        return Compare(op, left, right, expr.pos)
    if isinstance(expr, In):
        member = expr.negated == negate
        operand = value_nnf(expr.operand)
        parts = tuple(
            to_nnf(Compare("==" if member else "!=", operand, Const(v, expr.pos), expr.pos))
            for v in expr.options.values
        )
        return _combine(not member, parts, expr)
    if isinstance(expr, Presence):
        return Presence(expr.field, expr.present != negate, expr.pos)
    if isinstance(expr, Field):
        return Compare("==", expr, Const(not negate, expr.pos), expr.pos)
    if isinstance(expr, Const) and isinstance(expr.value, bool):
        return Truth(expr.value != negate, expr.pos)
    if isinstance(expr, Truth):
        return Truth(expr.value != negate, expr.pos)
    raise ValueError(f"not a condition: {expr!r}")


def value_nnf(expr: Expr) -> Expr:
    """Normalise a value expression: conditions inside count() go to NNF, constants fold."""
    if isinstance(expr, Call):
        if expr.name == "count":
            return Call("count", tuple(to_nnf(a) for a in expr.args), expr.pos)
        args = tuple(value_nnf(a) for a in expr.args)
        return Call(expr.name, args, expr.pos)
    if isinstance(expr, Arith):
        left, right = value_nnf(expr.left), value_nnf(expr.right)
        if isinstance(left, Const) and isinstance(right, Const):
            folded = arith(expr.op, left.value, right.value)
            if folded is not None:
                return Const(folded, expr.pos)
        return Arith(expr.op, left, right, expr.pos)
    return expr


def arith(op: str, left: object, right: object) -> float | int | None:
    """Arithmetic with the language's rules: a missing operand or a division by zero is missing."""
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        return None
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return None
    return left / right


def _combine(is_and: bool, items: tuple[Expr, ...], origin: Expr) -> Expr:
    flat: list[Expr] = []
    for item in items:
        if isinstance(item, Truth):
            if item.value != is_and:  # false in an and, true in an or: decides the whole
                return Truth(item.value, origin.pos)
            continue
        if (isinstance(item, And) and is_and) or (isinstance(item, Or) and not is_and):
            flat.extend(item.items)
        else:
            flat.append(item)
    if not flat:
        return Truth(is_and, origin.pos)
    if len(flat) == 1:
        return flat[0]
    return And(tuple(flat), origin.pos) if is_and else Or(tuple(flat), origin.pos)


def is_value(expr: Expr) -> bool:
    return isinstance(expr, Field | Const | Arith | Call)
