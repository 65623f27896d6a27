"""Parse condition text with Python's ``ast`` into our own nodes, refusing anything else.

Allowed: field paths (``box.width``), numbers, strings, true/false, lists of constants,
comparisons (chained too), ``in``/``not in``, and/or/not, + - * /, and the functions
count, len, abs, min, max, is_a, missing, present. ``params.x`` names a rulebook parameter and
``taxonomy`` the list of labels. Calls to other names, attribute access to ``_private`` or
dunder names, subscripts, lambdas, comprehensions and the like are errors.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    Pos,
    Presence,
    Scalar,
)
from rulebook.model import Taxonomy

FUNCTIONS = ("count", "len", "abs", "min", "max", "is_a", "missing", "present")
_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class ExprError(Exception):
    """A problem at a 0-based (line, column) inside the condition text."""

    def __init__(self, message: str, pos: Pos = (0, 0)) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True)
class ParseContext:
    params: Mapping[str, object] = field(default_factory=dict)
    taxonomy: Taxonomy | None = None


def parse(text: str, ctx: ParseContext | None = None) -> Expr:
    """Parse one condition; raises :class:`ExprError` with the position of the first problem."""
    ctx = ctx or ParseContext()
    source = text.strip()
    if not source:
        raise ExprError("empty condition")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        line = (exc.lineno or 1) - 1
        col = max((exc.offset or 1) - 1, 0)
        raise ExprError(f"syntax error: {exc.msg}", (line, col)) from None
    lead = len(text) - len(text.lstrip())
    return _Converter(ctx, lead if "\n" not in text[:lead] else 0).convert(tree.body)


class _Converter:
    def __init__(self, ctx: ParseContext, lead: int) -> None:
        self.ctx = ctx
        self.lead = lead

    def pos(self, node: ast.AST) -> Pos:
        line = getattr(node, "lineno", 1) - 1
        col = getattr(node, "col_offset", 0) + (self.lead if line == 0 else 0)
        return (line, col)

    def convert(self, node: ast.expr) -> Expr:
        method = getattr(self, "_" + node.__class__.__name__, None)
        if method is None:
            raise ExprError(_unsupported(node), self.pos(node))
        result: Expr = method(node)
        return result

    def _BoolOp(self, node: ast.BoolOp) -> Expr:
        items = tuple(self.convert(v) for v in node.values)
        return And(items, self.pos(node)) if isinstance(node.op, ast.And) else Or(items, self.pos(node))

    def _UnaryOp(self, node: ast.UnaryOp) -> Expr:
        if isinstance(node.op, ast.Not):
            return Not(self.convert(node.operand), self.pos(node))
        if isinstance(node.op, ast.USub):
            inner = self.convert(node.operand)
            if isinstance(inner, Const) and isinstance(inner.value, int | float) and not isinstance(inner.value, bool):
                return Const(-inner.value, self.pos(node))
            return Arith("-", Const(0, self.pos(node)), inner, self.pos(node))
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        raise ExprError("unsupported operator '~': use not", self.pos(node))

    def _Compare(self, node: ast.Compare) -> Expr:
        parts: list[Expr] = []
        left = self.convert(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.convert(comparator)
            pos = self.pos(node)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ListConst):
                    raise ExprError(
                        "the right side of 'in' must be a list of constants or taxonomy",
                        self.pos(comparator),
                    )
                parts.append(In(left, right, isinstance(op, ast.NotIn), pos))
            elif isinstance(op, ast.Is | ast.IsNot):
                raise ExprError("'is' is not supported: use missing(field) or present(field)", pos)
            else:
                parts.append(Compare(_COMPARE[type(op)], left, right, pos))
            left = right
        return parts[0] if len(parts) == 1 else And(tuple(parts), self.pos(node))

    def _BinOp(self, node: ast.BinOp) -> Expr:
        op = _ARITH.get(type(node.op))
        if op is None:
            raise ExprError(f"unsupported operator {node.op.__class__.__name__}: use + - * /", self.pos(node))
        return Arith(op, self.convert(node.left), self.convert(node.right), self.pos(node))

    def _Constant(self, node: ast.Constant) -> Expr:
        value = node.value
        if value is None:
            raise ExprError("None/null is not a value here: use missing(field)", self.pos(node))
        if not isinstance(value, bool | int | float | str):
            raise ExprError(f"unsupported constant {value!r}", self.pos(node))
        return Const(value, self.pos(node))

    def _Name(self, node: ast.Name) -> Expr:
        name = node.id
        if name in ("true", "True"):
            return Const(True, self.pos(node))
        if name in ("false", "False"):
            return Const(False, self.pos(node))
        if name == "taxonomy":
            labels = self.ctx.taxonomy.labels if self.ctx.taxonomy else []
            return ListConst(tuple(labels), self.pos(node))
        if name in ("null", "None", "none"):
            raise ExprError("null is not a value here: use missing(field)", self.pos(node))
        if name.startswith("_"):
            raise ExprError(f"names starting with '_' are not allowed: {name}", self.pos(node))
        raise ExprError(
            f"unknown name {name!r}: fields are written namespace.field (e.g. box.width)",
            self.pos(node),
        )

    def _Attribute(self, node: ast.Attribute) -> Expr:
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if not isinstance(current, ast.Name):
            raise ExprError("attribute access is only allowed on field names", self.pos(node))
        parts.append(current.id)
        parts.reverse()
        for part in parts:
            if part.startswith("_"):
                kind = "dunder" if part.startswith("__") else "private"
                raise ExprError(f"access to {kind} name {part!r} is not allowed", self.pos(node))
        path = ".".join(parts)
        if parts[0] == "params":
            return self._param(path, parts, node)
        return Field(path, self.pos(node))

    def _param(self, path: str, parts: Sequence[str], node: ast.AST) -> Expr:
        if len(parts) != 2 or parts[1] not in self.ctx.params:
            known = ", ".join(sorted(self.ctx.params)) or "none declared"
            raise ExprError(f"unknown parameter {path!r} (params: {known})", self.pos(node))
        value = self.ctx.params[parts[1]]
        if isinstance(value, list):
            return ListConst(tuple(_scalar(v) for v in value), self.pos(node))
        return Const(_scalar(value), self.pos(node))

    def _List(self, node: ast.List) -> Expr:
        return self._sequence(node.elts, node)

    def _Tuple(self, node: ast.Tuple) -> Expr:
        return self._sequence(node.elts, node)

    def _Set(self, node: ast.Set) -> Expr:
        return self._sequence(node.elts, node)

    def _sequence(self, elts: list[ast.expr], node: ast.AST) -> Expr:
        values: list[Scalar] = []
        for elt in elts:
            item = self.convert(elt)
            if not isinstance(item, Const):
                raise ExprError("lists may only contain constants", self.pos(elt))
            values.append(item.value)
        return ListConst(tuple(values), self.pos(node))

    def _Call(self, node: ast.Call) -> Expr:
        if not isinstance(node.func, ast.Name):
            raise ExprError(
                "only the built-in functions " + ", ".join(FUNCTIONS) + " can be called",
                self.pos(node),
            )
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExprError(
                f"function {name!r} is not allowed: use one of " + ", ".join(FUNCTIONS),
                self.pos(node),
            )
        if node.keywords:
            raise ExprError(f"{name}() takes no keyword arguments", self.pos(node))
        args = tuple(self.convert(a) for a in node.args)
        pos = self.pos(node)
        if name in ("missing", "present"):
            if len(args) != 1 or not isinstance(args[0], Field):
                raise ExprError(f"{name}() takes exactly one field", pos)
            return Presence(args[0], name == "present", pos)
        if name == "is_a":
            return self._is_a(args, pos)
        arity = {"count": (0, 1), "len": (1, 1), "abs": (1, 1), "min": (2, 8), "max": (2, 8)}[name]
        if not arity[0] <= len(args) <= arity[1]:
            want = str(arity[0]) if arity[0] == arity[1] else f"{arity[0]} to {arity[1]}"
            raise ExprError(f"{name}() takes {want} argument(s), got {len(args)}", pos)
        return Call(name, args, pos)

    def _is_a(self, args: tuple[Expr, ...], pos: Pos) -> Expr:
        if len(args) != 2 or not isinstance(args[1], Const) or not isinstance(args[1].value, str):
            raise ExprError(
                'is_a() takes a field and a quoted label or group, e.g. is_a(annotation.label, "vehicle")',
                pos,
            )
        group = args[1].value
        taxonomy = self.ctx.taxonomy
        if taxonomy is None or (group not in taxonomy.labels and group not in taxonomy.groups()):
            raise ExprError(f"is_a(): {group!r} is not a taxonomy label or group", pos)
        return In(args[0], ListConst(tuple(taxonomy.descendants(group)), pos), False, pos)

    def _Subscript(self, node: ast.Subscript) -> Expr:
        raise ExprError("indexing with [] is not supported", self.pos(node))


def _scalar(value: object) -> Scalar:
    if isinstance(value, bool | int | float | str):
        return value
    raise ExprError(f"parameter value {value!r} must be a number, string or boolean")


def _unsupported(node: ast.AST) -> str:
    names = {
        "Lambda": "lambda",
        "IfExp": "if-else expressions",
        "ListComp": "comprehensions",
        "GeneratorExp": "generators",
        "DictComp": "comprehensions",
        "SetComp": "comprehensions",
        "Dict": "dict literals",
        "JoinedStr": "f-strings",
        "NamedExpr": "':=' assignments",
        "Await": "await",
        "Yield": "yield",
        "Starred": "'*' unpacking",
        "Slice": "slices",
    }
    what = names.get(node.__class__.__name__, node.__class__.__name__)
    return f"unsupported syntax: {what}"
