"""Three-valued evaluation: could this condition still hold, given values not known yet?

Before a model is called, judgments are unknown. A rule like
``label.in_taxonomy and judgment.visible_class != annotation.label`` cannot fire on a box whose
label is outside the taxonomy, whatever the model says, so that box needs no judgment for it.
Unknown fields evaluate to ``UNKNOWN`` and propagate through Kleene logic; a condition whose
result is ``False`` can be skipped. Known values follow the NNF semantics of the reference
evaluator exactly (a comparison with a missing value is false).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rulebook.evaluation import Env
from rulebook.expr.nnf import COMPARATORS, arith
from rulebook.expr.nodes import And, Arith, Call, Compare, Const, Expr, Field, Or, Presence, Truth
from rulebook.vocabulary import Vocabulary

UNKNOWN: Any = object()
Maybe = Callable[[Env], "bool | None"]
Value = Callable[[Env], Any]


class PartialCompiler:
    """Compiles NNF to closures returning True, False, or None (= cannot tell yet)."""

    def __init__(self, vocabulary: Vocabulary, unknown_prefixes: tuple[str, ...] = ("judgment.",)) -> None:
        self.vocabulary = vocabulary
        self.unknown = unknown_prefixes

    def value(self, expr: Expr) -> Value:
        if isinstance(expr, Field):
            path = expr.path
            if path.startswith(self.unknown):
                return lambda env: UNKNOWN
            spec = self.vocabulary.get(path)
            scope = spec.scope if spec else "item"
            return lambda env: env.lookup(scope, path)
        if isinstance(expr, Const):
            constant = expr.value
            return lambda env: constant
        if isinstance(expr, Arith):
            left, right, op = self.value(expr.left), self.value(expr.right), expr.op

            def compute(env: Env) -> Any:
                a, b = left(env), right(env)
                if a is UNKNOWN or b is UNKNOWN:
                    return UNKNOWN
                return arith(op, a, b)

            return compute
        if isinstance(expr, Call):
            return self._call(expr)
        raise ValueError(f"not a value: {expr!r}")

    def _call(self, expr: Call) -> Value:
        if expr.name == "count":
            if not expr.args:
                return lambda env: len(env.annotations)
            predicate = self.maybe(expr.args[0])

            def count(env: Env) -> Any:
                total = 0
                for row in env.annotations:
                    result = predicate(Env(env.item, row, env.finding, env.annotations, env.cache))
                    if result is None:
                        return UNKNOWN
                    total += result
                return total

            return count
        args = [self.value(a) for a in expr.args]

        def call(env: Env) -> Any:
            values = [a(env) for a in args]
            if any(v is UNKNOWN for v in values):
                return UNKNOWN
            if any(v is None for v in values):
                return None
            if expr.name == "len":
                return len(values[0])
            if expr.name == "abs":
                return abs(values[0])
            return min(values) if expr.name == "min" else max(values)

        return call

    def maybe(self, expr: Expr) -> Maybe:
        if isinstance(expr, Compare):
            left, right, compare = self.value(expr.left), self.value(expr.right), COMPARATORS[expr.op]

            def comparison(env: Env) -> bool | None:
                a, b = left(env), right(env)
                if a is None or b is None:
                    return False
                if a is UNKNOWN or b is UNKNOWN:
                    return None
                return bool(compare(a, b))

            return comparison
        if isinstance(expr, And):
            parts = [self.maybe(i) for i in expr.items]

            def conjunction(env: Env) -> bool | None:
                result: bool | None = True
                for part in parts:
                    value = part(env)
                    if value is False:
                        return False
                    if value is None:
                        result = None
                return result

            return conjunction
        if isinstance(expr, Or):
            parts = [self.maybe(i) for i in expr.items]

            def disjunction(env: Env) -> bool | None:
                result: bool | None = False
                for part in parts:
                    value = part(env)
                    if value is True:
                        return True
                    if value is None:
                        result = None
                return result

            return disjunction
        if isinstance(expr, Presence):
            get = self.value(expr.field)
            present = expr.present

            def presence(env: Env) -> bool | None:
                value = get(env)
                if value is UNKNOWN:
                    return None
                return (value is not None) == present

            return presence
        if isinstance(expr, Truth):
            constant = expr.value
            return lambda env: constant
        raise ValueError(f"not an NNF condition: {expr!r}")
