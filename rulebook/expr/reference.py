"""The reference evaluator: the NNF tree compiled to plain Python closures.

It defines what a condition means. Property tests hold the durable_rules backend to it,
and the durable backend borrows its value closures for parts that durable_rules cannot
express (counts over annotations, division, functions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rulebook.evaluation import Condition, Env, Facts, Match, envs, match_order
from rulebook.expr.nnf import COMPARATORS, arith
from rulebook.expr.nodes import And, Arith, Call, Compare, Const, Expr, Field, Or, Presence, Truth
from rulebook.vocabulary import Scope, Vocabulary

Value = Callable[[Env], Any]
Test = Callable[[Env], bool]


class ClosureCompiler:
    """Compiles NNF conditions and value expressions to closures over an :class:`Env`."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    def scope_of(self, path: str) -> Scope:
        spec = self.vocabulary.get(path)
        return spec.scope if spec else "item"

    def value(self, expr: Expr) -> Value:
        if isinstance(expr, Field):
            scope, path = self.scope_of(expr.path), expr.path
            if scope == "annotation":
                return lambda env: env.annotation.get(path)
            if scope == "finding":
                return lambda env: env.finding.get(path)
            return lambda env: env.item.get(path)
        if isinstance(expr, Const):
            constant = expr.value
            return lambda env: constant
        if isinstance(expr, Arith):
            left, right, op = self.value(expr.left), self.value(expr.right), expr.op
            return lambda env: arith(op, left(env), right(env))
        if isinstance(expr, Call):
            return self._call(expr)
        raise ValueError(f"not a value: {expr!r}")

    def _call(self, expr: Call) -> Value:
        if expr.name == "count":
            if not expr.args:
                return lambda env: len(env.annotations)
            predicate = self.test(expr.args[0])
            key = id(expr)

            def count(env: Env) -> int:
                cached = env.cache.get(key)
                if cached is None:
                    cached = sum(
                        1
                        for row in env.annotations
                        if predicate(Env(env.item, row, env.finding, env.annotations, env.cache))
                    )
                    env.cache[key] = cached
                return int(cached)

            return count
        args = [self.value(a) for a in expr.args]
        if expr.name == "len":
            only = args[0]
            return lambda env: None if (v := only(env)) is None else len(v)
        if expr.name == "abs":
            only = args[0]
            return lambda env: None if (v := only(env)) is None else abs(v)
        pick = min if expr.name == "min" else max

        def extreme(env: Env) -> Any:
            values = [a(env) for a in args]
            return None if any(v is None for v in values) else pick(values)

        return extreme

    def test(self, expr: Expr) -> Test:
        if isinstance(expr, Compare):
            left, right, compare = self.value(expr.left), self.value(expr.right), COMPARATORS[expr.op]

            def comparison(env: Env) -> bool:
                lv = left(env)
                if lv is None:
                    return False
                rv = right(env)
                return rv is not None and bool(compare(lv, rv))

            return comparison
        if isinstance(expr, And):
            parts = [self.test(i) for i in expr.items]
            return lambda env: all(p(env) for p in parts)
        if isinstance(expr, Or):
            parts = [self.test(i) for i in expr.items]
            return lambda env: any(p(env) for p in parts)
        if isinstance(expr, Presence):
            get = self.value(expr.field)
            if expr.present:
                return lambda env: get(env) is not None
            return lambda env: get(env) is None
        if isinstance(expr, Truth):
            constant = expr.value
            return lambda env: constant
        raise ValueError(f"not an NNF condition: {expr!r}")


class ReferenceEvaluator:
    """Evaluates conditions with plain closures; the meaning the durable backend must match."""

    def __init__(self, conditions: Sequence[Condition], vocabulary: Vocabulary) -> None:
        self.conditions = list(conditions)
        compiler = ClosureCompiler(vocabulary)
        self._tests = [(c, compiler.test(c.nnf)) for c in self.conditions]

    def evaluate(self, batch: Sequence[Facts]) -> list[Match]:
        matches: list[Match] = []
        for item_index, facts in enumerate(batch):
            cache: dict[int, Any] = {}
            by_scope: dict[str, list[tuple[int | None, Env]]] = {}
            for condition, test in self._tests:
                rows = by_scope.get(condition.scope)
                if rows is None:
                    rows = by_scope[condition.scope] = envs(facts, condition.scope, cache)
                for row_index, env in rows:
                    if test(env):
                        matches.append(Match(item_index, row_index, condition.index))
        return sorted(matches, key=match_order)
