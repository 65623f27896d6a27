"""The durable_rules backend: conditions compiled into durable_rules rulesets.

Everything specific to durable_rules lives in this module. We drive its C engine
(``durable_rules_engine``) directly rather than through ``durable.lang``'s per-action Python
callbacks, because the engine is fastest when used this way (see docs/benchmarks.md):

* every item/annotation/finding row becomes a **fact** (never an event: an event is consumed
  by one rule only); a batch of facts is asserted in one call and retracted afterwards;
* each rule carries ``cap`` so one action delivers *all* facts it matched in the batch;
* a fact carries only the fields its shard's rules read, under short keys;
* parts durable_rules cannot express (``count()``, ``len/abs/min/max``, division) are
  computed by the reference closures into derived fact fields (``d0``, ``d1``, ...), and
  durable_rules compares those like any other field.

Two engine limits shape the compilation (both found in durable_rules 2.0.28's C source):
an alpha-node stack of 64 entries per fact (error 303 when more nodes match at once) and
31 expression-sequence entries per rule. Rules are therefore packed into several rulesets
("shards") whose worst-case stack use stays under budget, and a condition too complex for
one rule is a compile error asking to split the rule.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import durable_rules_engine as engine
import orjson

from rulebook.evaluation import EMPTY, Condition, Env, Facts, Match, match_order
from rulebook.expr.nodes import (
    FLIPPED_OP,
    And,
    Arith,
    Compare,
    Const,
    Expr,
    Field,
    Or,
    Presence,
    Truth,
    render,
)
from rulebook.expr.reference import ClosureCompiler, Value
from rulebook.vocabulary import Scope, Vocabulary

STACK_BUDGET = 56  # of durable_rules' 64-entry alpha stack
SEQUENCE_LIMIT = 31  # durable_rules' MAX_SEQUENCE_EXPRESSIONS is 32
FACTS_PER_CALL = 1000
CAP = 1_000_000
OP_NAMES = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_NAME_COUNTER = itertools.count()


class TooComplex(Exception):
    """A condition exceeds what one durable_rules rule can hold."""

    def __init__(self, message: str, condition: Condition) -> None:
        super().__init__(message)
        self.condition = condition


@dataclass
class _Translation:
    spec: dict[str, Any] | None  # None: the condition can never hold
    stack_cost: int
    sequence: int


@dataclass
class _Shard:
    handle: int
    scope: Scope
    conditions: dict[str, int]
    item_keys: list[tuple[str, str]]
    row_keys: list[tuple[str, str, Scope]]
    derived: list[tuple[str, Value]]


@dataclass
class _Translator:
    """Turns NNF into durable_rules' JSON, hoisting what it cannot express into derived keys."""

    closures: ClosureCompiler
    keys: dict[str, str] = field(default_factory=dict)
    derived: dict[str, tuple[str, Value]] = field(default_factory=dict)

    def key(self, path: str) -> str:
        if path not in self.keys:
            self.keys[path] = f"f{len(self.keys)}"
        return self.keys[path]

    def hoist(self, expr: Expr) -> str:
        text = render(expr)
        if text not in self.derived:
            self.derived[text] = (f"d{len(self.derived)}", self.closures.value(expr))
        return self.derived[text][0]

    def translate(self, expr: Expr) -> _Translation:
        if isinstance(expr, Truth):
            return _Translation({"$ex": {"n": 1}} if expr.value else None, 1, 0)
        if isinstance(expr, Presence):
            op = "$ex" if expr.present else "$nex"
            return _Translation({op: {self.key(expr.field.path): 1}}, 1, 0)
        if isinstance(expr, Compare):
            return self._compare(expr)
        if isinstance(expr, And | Or):
            parts = [self.translate(i) for i in expr.items]
            is_and = isinstance(expr, And)
            live = [p for p in parts if p.spec is not None]
            if is_and and len(live) < len(parts):
                return _Translation(None, 0, 0)
            if not live:
                return _Translation(None, 0, 0)
            sequence = 2 + sum(p.sequence for p in live)
            stack = sum(p.stack_cost for p in live) + (0 if is_and else len(live))
            specs = [p.spec for p in live]
            return _Translation({"$and" if is_and else "$or": specs}, stack, sequence)
        raise ValueError(f"not an NNF condition: {expr!r}")

    def _compare(self, expr: Compare) -> _Translation:
        op, left, right = expr.op, expr.left, expr.right
        if not isinstance(left, Field) and isinstance(right, Field):
            op, left, right = FLIPPED_OP[op], right, left
        left_key = self.key(left.path) if isinstance(left, Field) else self.hoist(left)
        if isinstance(right, Const):
            rhs: Any = right.value
            sequence = 0
        elif isinstance(right, Field):
            rhs = {"$m": self.key(right.path)}
            sequence = 1
        elif self._native(right):
            rhs = self._arith(right)
            sequence = 1
        else:
            rhs = {"$m": self.hoist(right)}
            sequence = 1
        test = {left_key: rhs} if op == "==" else {OP_NAMES[op]: {left_key: rhs}}
        references: set[str] = set()
        _references(rhs, references)
        if not references:
            return _Translation(test, 1, sequence)
        # A reference to a missing property does not make durable_rules' comparison false
        # (it compares against a default), so every referenced property is required first.
        guards: list[dict[str, Any]] = [{"$ex": {key: 1}} for key in sorted(references)]
        return _Translation({"$and": [*guards, test]}, 1 + len(guards), sequence + 2)

    def _native(self, expr: Expr) -> bool:
        """Arithmetic durable_rules evaluates itself: + - * over fields and constants."""
        if isinstance(expr, Field | Const):
            return not (isinstance(expr, Const) and isinstance(expr.value, bool | str))
        if isinstance(expr, Arith) and expr.op in ("+", "-", "*"):
            return self._native(expr.left) and self._native(expr.right)
        return False

    def _arith(self, expr: Expr) -> Any:
        if isinstance(expr, Field):
            return {"$m": self.key(expr.path)}
        if isinstance(expr, Const):
            return expr.value
        assert isinstance(expr, Arith)
        name = {"+": "$add", "-": "$sub", "*": "$mul"}[expr.op]
        return {name: {"$l": self._arith(expr.left), "$r": self._arith(expr.right)}}


def _references(spec: Any, out: set[str]) -> None:
    """Property names an rhs expression reads through ``{"$m": name}``."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "$m" and isinstance(value, str):
                out.add(value)
            else:
                _references(value, out)


def _keys_in(spec: Any, out: set[str]) -> None:
    if isinstance(spec, dict):
        for key, value in spec.items():
            if not key.startswith("$"):
                out.add(key)
            elif key == "$m" and isinstance(value, str):
                out.add(value)
            _keys_in(value, out)
    elif isinstance(spec, list):
        for value in spec:
            _keys_in(value, out)


class DurableEvaluator:
    """Evaluates conditions with durable_rules, in shards of bounded size per scope."""

    def __init__(self, conditions: Sequence[Condition], vocabulary: Vocabulary, name: str) -> None:
        self.conditions = list(conditions)
        self._shards: list[_Shard] = []
        translator = _Translator(ClosureCompiler(vocabulary))
        translations: list[tuple[Condition, _Translation]] = []
        for condition in self.conditions:
            translation = translator.translate(condition.nnf)
            if translation.sequence > SEQUENCE_LIMIT or translation.stack_cost > STACK_BUDGET:
                raise TooComplex(
                    f"condition is too complex for one durable_rules rule "
                    f"({translation.sequence} terms, {translation.stack_cost} tests; limits "
                    f"{SEQUENCE_LIMIT} and {STACK_BUDGET}): split it into several rules",
                    condition,
                )
            translations.append((condition, translation))
        paths = {key: path for path, key in translator.keys.items()}
        derived = dict(translator.derived.values())
        for scope in ("item", "annotation", "finding"):
            group = [(c, t) for c, t in translations if c.scope == scope and t.spec is not None]
            for shard in _pack(group):
                self._shards.append(self._build(name, scope, shard, paths, derived, vocabulary))

    def _build(
        self,
        name: str,
        scope: Scope,
        shard: list[tuple[Condition, _Translation]],
        paths: dict[str, str],
        derived: dict[str, Value],
        vocabulary: Vocabulary,
    ) -> _Shard:
        rules: dict[str, Any] = {}
        names: dict[str, int] = {}
        used: set[str] = set()
        for condition, translation in shard:
            rule_name = f"r{condition.index}"
            rules[rule_name] = {"all": [{"m": translation.spec}], "cap": CAP}
            names[rule_name] = condition.index
            _keys_in(translation.spec, used)
        item_keys: list[tuple[str, str]] = []
        row_keys: list[tuple[str, str, Scope]] = []
        for key in sorted(used):
            if key in paths:
                spec = vocabulary.get(paths[key])
                field_scope: Scope = spec.scope if spec else "item"
                if field_scope == "item":
                    item_keys.append((key, paths[key]))
                else:
                    row_keys.append((key, paths[key], field_scope))
        hoisted = [(key, derived[key]) for key in sorted(used) if key in derived]
        ruleset_name = f"{name}-{scope}-{next(_NAME_COUNTER)}"
        handle = engine.create_ruleset(ruleset_name, durable_json(rules))
        return _Shard(handle, scope, names, item_keys, row_keys, hoisted)

    def evaluate(self, batch: Sequence[Facts]) -> list[Match]:
        found: set[Match] = set()
        for shard in self._shards:
            prepared = _facts_for(shard, batch)
            for call, start in enumerate(range(0, len(prepared.facts), FACTS_PER_CALL)):
                chunk = prepared.facts[start : start + FACTS_PER_CALL]
                payload = durable_json(chunk, exponents=call in prepared.exponent_calls)
                for rule_name, number in _run(shard.handle, payload):
                    item_index, row_index = prepared.places[start + number]
                    found.add(Match(item_index, row_index, shard.conditions[rule_name]))
        return sorted(found, key=match_order)

    def close(self) -> None:
        for shard in self._shards:
            engine.delete_ruleset(shard.handle)
        self._shards = []


def _pack(group: list[tuple[Condition, _Translation]]) -> list[list[tuple[Condition, _Translation]]]:
    shards: list[list[tuple[Condition, _Translation]]] = []
    current: list[tuple[Condition, _Translation]] = []
    used = 0
    for item in group:
        cost = item[1].stack_cost
        if current and used + cost > STACK_BUDGET:
            shards.append(current)
            current, used = [], 0
        current.append(item)
        used += cost
    if current:
        shards.append(current)
    return shards


INT64 = 2**63

# durable_rules' JSON reader accepts an exponent only after a decimal point: "1e-05" (how
# Python writes 0.00001) is misread, and such a fact crashes the engine (segfault, verified
# with 2.0.28). Python writes a float with an exponent when it is below 1e-4 or from 1e16 in
# magnitude, and without a "." when its digits are a single one (1e-05, 2e-16, 1e+20);
# batches holding such a value get those rewritten ("1.0e-05") before the engine sees them.
_JSON_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|(-?\d+(?:\.\d+)?)([eE][+-]?\d+)')


def _exponent_form(value: float) -> bool:
    """Whether Python writes this float as digits + exponent with no "." (e.g. 1e-05)."""
    return value != 0.0 and (-1e-4 < value < 1e-4 or not -1e16 < value < 1e16) and "." not in repr(value)


def _fact_value(value: Any) -> Any:
    """The value as durable_rules can hold it, or None when it counts as missing.

    None, NaN and infinities are missing; integers beyond 64 bits become floats.
    """
    if value is None:
        return None
    kind = value.__class__
    if kind is float:
        return value if -math.inf < value < math.inf else None
    if kind is int and not -INT64 <= value < INT64:
        return float(value)
    return value


def _fix_exponent(match: re.Match[str]) -> str:
    mantissa = match.group(1)
    if mantissa is None or "." in mantissa:
        return match.group(0)
    return f"{mantissa}.0{match.group(2)}"


def durable_json(data: Any, exponents: bool = True) -> str:
    """JSON text durable_rules reads correctly; ``exponents=False`` promises no such floats."""
    text = orjson.dumps(data).decode()
    if exponents:
        text = _JSON_TOKEN.sub(_fix_exponent, text)
    return text


class _Batch:
    """Facts for one shard, with the engine calls (of FACTS_PER_CALL facts) needing the fix."""

    def __init__(self) -> None:
        self.places: list[tuple[int, int | None]] = []
        self.facts: list[dict[str, Any]] = []
        self.exponent_calls: set[int] = set()

    def add(self, fact: dict[str, Any], place: tuple[int, int | None], exponent: bool) -> None:
        fact["n"] = len(self.facts) % FACTS_PER_CALL
        if exponent:
            self.exponent_calls.add(len(self.facts) // FACTS_PER_CALL)
        self.places.append(place)
        self.facts.append(fact)


def _facts_for(shard: _Shard, batch: Sequence[Facts]) -> _Batch:
    out = _Batch()
    simple = shard.scope == "annotation" and not shard.derived
    annotation_paths = [(key, path) for key, path, _ in shard.row_keys]
    inf = math.inf
    for item_index, item_facts in enumerate(batch):
        item = item_facts.item
        base: dict[str, Any] = {}
        base_exponent = False
        for key, path in shard.item_keys:
            value = _fact_value(item.get(path))
            if value is not None:
                base[key] = value
                base_exponent = base_exponent or (value.__class__ is float and _exponent_form(value))
        if simple:  # the hot path: one fact per annotation, inlined checks
            for row_index, row in enumerate(item_facts.annotations):
                fact = dict(base)
                exponent = base_exponent
                for key, path in annotation_paths:
                    value = row.get(path)
                    if value is None:
                        continue
                    kind = value.__class__
                    if kind is float:
                        if not -inf < value < inf:
                            continue
                        if value != 0.0 and (-1e-4 < value < 1e-4 or not -1e16 < value < 1e16):
                            exponent = exponent or "." not in repr(value)
                    elif kind is int and not -INT64 <= value < INT64:
                        value = float(value)
                        exponent = exponent or _exponent_form(value)
                    fact[key] = value
                out.add(fact, (item_index, row_index), exponent)
            continue
        cache: dict[int, Any] = {}
        rows: list[tuple[int | None, Env]]
        if shard.scope == "item":
            rows = [(None, Env(item, EMPTY, EMPTY, item_facts.annotations, cache))]
        elif shard.scope == "annotation":
            rows = [
                (i, Env(item, row, EMPTY, item_facts.annotations, cache))
                for i, row in enumerate(item_facts.annotations)
            ]
        else:
            rows = []
            for i, (ann_index, row) in enumerate(item_facts.findings):
                ann = item_facts.annotations[ann_index] if ann_index is not None else EMPTY
                rows.append((i, Env(item, ann, row, item_facts.annotations, cache)))
        for place, env in rows:
            fact = dict(base)
            exponent = base_exponent
            values = [(key, env.lookup(scope, path)) for key, path, scope in shard.row_keys]
            values += [(key, compute(env)) for key, compute in shard.derived]
            for key, raw in values:
                value = _fact_value(raw)
                if value is not None:
                    fact[key] = value
                    exponent = exponent or (value.__class__ is float and _exponent_form(value))
            out.add(fact, (item_index, place), exponent)
    return out


def _run(handle: int, payload: str) -> list[tuple[str, int]]:
    """Assert a batch of facts, collect every (rule, fact number) match, retract the batch.

    A batch in which some fact matches no rule returns code 1 ("not handled") from the C
    engine; the other facts are still matched, so that code is expected here.
    """
    _code, state = engine.assert_facts(handle, payload)
    out: list[tuple[str, int]] = []
    try:
        started = engine.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            for rule_name, matched in json.loads(message).items():
                for entry in matched if isinstance(matched, list) else [matched]:
                    fact = entry.get("m", entry)
                    if "n" in fact:  # the session's state object can match missing() tests
                        out.append((rule_name, int(fact["n"])))
            message = engine.complete_and_start_action(handle, state)
    finally:
        engine.retract_facts(handle, payload)
    return out
