"""Static checks of a parsed condition: every name known, every operation well typed.

Type mistakes (``judgment.confidence == "high"`` when confidence is a number) and enum
typos (``judgment.box_fit == "lose"``) are caught here, at rulebook load time, with the
position of the offending part, never while scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

from rulebook.expr.nodes import (
    And,
    Arith,
    Call,
    Compare,
    Const,
    Expr,
    Field,
    In,
    ListConst,
    Not,
    Or,
    Presence,
    Scalar,
    Truth,
)
from rulebook.expr.parse import ExprError
from rulebook.vocabulary import SCOPE_RANK, Scope, Vocabulary, close_values

Type = str  # "number" | "string" | "bool" | "list[number]" | "list[string]" | "list[bool]" | "list[]"


@dataclass(frozen=True)
class Checked:
    """The condition's type and the scope it is evaluated at (item, annotation or finding)."""

    type: Type
    scope: Scope


def _const_type(value: Scalar) -> Type:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _max_scope(a: Scope, b: Scope) -> Scope:
    return a if SCOPE_RANK[a] >= SCOPE_RANK[b] else b


class TypeChecker:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    def check_condition(self, expr: Expr) -> Checked:
        checked = self.check(expr)
        if checked.type != "bool":
            raise ExprError(
                f"a condition must be true or false, but this is a {checked.type}: "
                "compare it with something (e.g. > 0)",
                expr.pos,
            )
        return checked

    def check(self, expr: Expr) -> Checked:
        if isinstance(expr, Field):
            spec = self.vocabulary.get(expr.path)
            if spec is None:
                raise ExprError(f"unknown field {expr.path!r}: {self.vocabulary.suggest(expr.path)}", expr.pos)
            return Checked(spec.type, spec.scope)
        if isinstance(expr, Const):
            return Checked(_const_type(expr.value), "item")
        if isinstance(expr, Truth):
            return Checked("bool", "item")
        if isinstance(expr, ListConst):
            kinds = {_const_type(v) for v in expr.values}
            if len(kinds) > 1:
                raise ExprError("a list must not mix numbers, strings and booleans", expr.pos)
            return Checked(f"list[{next(iter(kinds), '')}]", "item")
        if isinstance(expr, Compare):
            return self._compare(expr)
        if isinstance(expr, In):
            return self._in(expr)
        if isinstance(expr, And | Or):
            scope: Scope = "item"
            for item in expr.items:
                checked = self.check(item)
                if checked.type != "bool":
                    word = "and" if isinstance(expr, And) else "or"
                    raise ExprError(f"'{word}' needs true/false on both sides, got a {checked.type}", item.pos)
                scope = _max_scope(scope, checked.scope)
            return Checked("bool", scope)
        if isinstance(expr, Not):
            checked = self.check(expr.item)
            if checked.type != "bool":
                raise ExprError(f"'not' needs true/false, got a {checked.type}", expr.pos)
            return checked
        if isinstance(expr, Arith):
            left, right = self.check(expr.left), self.check(expr.right)
            for side, checked in ((expr.left, left), (expr.right, right)):
                if checked.type != "number":
                    raise ExprError(f"'{expr.op}' needs numbers, got a {checked.type}", side.pos)
            return Checked("number", _max_scope(left.scope, right.scope))
        if isinstance(expr, Presence):
            checked = self.check(expr.field)
            return Checked("bool", checked.scope)
        if isinstance(expr, Call):
            return self._call(expr)
        raise ExprError(f"unsupported expression {expr!r}", (0, 0))  # pragma: no cover

    def _compare(self, expr: Compare) -> Checked:
        for side in (expr.left, expr.right):
            if isinstance(side, Compare | In | And | Or | Not | Presence):
                raise ExprError("compare values, not conditions: combine conditions with and/or/not", side.pos)
        left, right = self.check(expr.left), self.check(expr.right)
        if left.type.startswith("list") or right.type.startswith("list"):
            raise ExprError("compare a list with 'in', not with " + expr.op, expr.pos)
        if left.type != right.type:
            raise ExprError(
                f"cannot compare a {left.type} with a {right.type} ({_side(expr.left)} {expr.op} {_side(expr.right)})",
                expr.right.pos if isinstance(expr.right, Const) else expr.pos,
            )
        if expr.op not in ("==", "!=") and left.type != "number":
            raise ExprError(f"'{expr.op}' only compares numbers; {left.type}s allow == and !=", expr.pos)
        self._enum_value(expr.left, expr.right)
        self._enum_value(expr.right, expr.left)
        return Checked("bool", _max_scope(left.scope, right.scope))

    def _in(self, expr: In) -> Checked:
        operand = self.check(expr.operand)
        options = self.check(expr.options)
        element = options.type[5:-1]
        if element and element != operand.type:
            raise ExprError(f"cannot look for a {operand.type} in a list of {element}s", expr.options.pos)
        for value in expr.options.values:
            self._enum_value(expr.operand, Const(value, expr.options.pos))
        return Checked("bool", operand.scope)

    def _enum_value(self, field: Expr, other: Expr) -> None:
        if not isinstance(field, Field) or not isinstance(other, Const):
            return
        spec = self.vocabulary.get(field.path)
        if spec is None or spec.values is None or not isinstance(other.value, str):
            return
        if other.value not in spec.values:
            raise ExprError(
                f"{other.value!r} is not a value of {field.path} "
                f"({', '.join(spec.values)}){close_values(other.value, spec.values)}",
                other.pos,
            )

    def _call(self, expr: Call) -> Checked:
        args = [self.check(a) for a in expr.args]
        if expr.name == "count":
            if args:
                if args[0].type != "bool":
                    raise ExprError(
                        "count() counts annotations where a condition holds: give it a true/false condition",
                        expr.args[0].pos,
                    )
                if args[0].scope == "finding":
                    raise ExprError("count() cannot look at findings", expr.args[0].pos)
            return Checked("number", "item")
        if expr.name == "len":
            if args[0].type != "string":
                raise ExprError(f"len() takes text, got a {args[0].type}", expr.args[0].pos)
            return Checked("number", args[0].scope)
        scope: Scope = "item"
        for arg, checked in zip(expr.args, args, strict=True):
            if checked.type != "number":
                raise ExprError(f"{expr.name}() takes numbers, got a {checked.type}", arg.pos)
            scope = _max_scope(scope, checked.scope)
        return Checked("number", scope)


def _side(expr: Expr) -> str:
    if isinstance(expr, Field):
        return expr.path
    if isinstance(expr, Const):
        return repr(expr.value)
    return "..."
