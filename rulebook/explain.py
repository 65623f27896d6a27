"""Conditions in plain words, for ``labelgate rulebook explain`` and the review screen.

``box.width <= 0 or not box.in_bounds`` becomes "box width is at most 0, or box in bounds is
false": close enough to the guideline's language for a QA lead to check a rule's intent.
"""

from __future__ import annotations

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
    Truth,
)
from rulebook.expr.parse import ExprError, ParseContext, parse

_OPS = {
    "==": "is",
    "!=": "is not",
    "<": "is less than",
    "<=": "is at most",
    ">": "is more than",
    ">=": "is at least",
}
_ARITH = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}


def field_words(path: str) -> str:
    namespace, _, rest = path.partition(".")
    words = rest.replace("_", " ").replace(".", " ")
    if namespace in ("annotation", "item"):
        return f"{namespace} {words}"
    return f"{namespace} {words}" if namespace not in ("params",) else words


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def explain(expr: Expr) -> str:
    """Plain-words rendering of a parsed condition (before NNF, so it keeps the author's shape)."""
    if isinstance(expr, Field):
        return field_words(expr.path)
    if isinstance(expr, Const):
        return _value(expr.value)
    if isinstance(expr, ListConst):
        return ", ".join(_value(v) for v in expr.values) or "nothing"
    if isinstance(expr, Truth):
        return "always" if expr.value else "never"
    if isinstance(expr, Compare):
        if isinstance(expr.right, Const) and isinstance(expr.right.value, bool) and expr.op in ("==", "!="):
            truth = expr.right.value == (expr.op == "==")
            return f"{explain(expr.left)} is {'true' if truth else 'false'}"
        return f"{explain(expr.left)} {_OPS[expr.op]} {explain(expr.right)}"
    if isinstance(expr, In):
        verb = "is not one of" if expr.negated else "is one of"
        return f"{explain(expr.operand)} {verb} {explain(expr.options)}"
    if isinstance(expr, And):
        return " and ".join(_group(i, Or) for i in expr.items)
    if isinstance(expr, Or):
        return ", or ".join(_group(i, And) for i in expr.items)
    if isinstance(expr, Not):
        inner = expr.item
        if isinstance(inner, Field):
            return f"{explain(inner)} is false"
        return f"not ({explain(inner)})"
    if isinstance(expr, Presence):
        return f"{explain(expr.field)} is {'present' if expr.present else 'missing'}"
    if isinstance(expr, Arith):
        return f"{explain(expr.left)} {_ARITH[expr.op]} {explain(expr.right)}"
    if isinstance(expr, Call):
        if expr.name == "count":
            return (
                f"the number of annotations where {explain(expr.args[0])}" if expr.args else "the number of annotations"
            )
        if expr.name == "len":
            return f"the length of {explain(expr.args[0])}"
        if expr.name == "abs":
            return f"the size of {explain(expr.args[0])}"
        return f"the {'smallest' if expr.name == 'min' else 'largest'} of " + ", ".join(explain(a) for a in expr.args)
    return str(expr)


def _group(expr: Expr, other: type) -> str:
    text = explain(expr)
    return f"({text})" if isinstance(expr, other) else text


def explain_text(text: str, context: ParseContext | None = None) -> str:
    """Explain condition text directly (parse errors are shown as-is)."""
    try:
        return explain(parse(text, context))
    except ExprError as exc:
        return f"(cannot read: {exc.message})"
