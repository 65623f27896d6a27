"""durable_rules backend edge cases found in its C engine (see rulebook/durable_backend.py)."""

from __future__ import annotations

import json

import durable_rules_engine as engine
import pytest

from rulebook.durable_backend import DurableEvaluator, TooComplex, durable_json
from rulebook.evaluation import Condition, Facts, Match
from rulebook.expr.nnf import to_nnf
from rulebook.expr.nodes import fields_of
from rulebook.expr.parse import parse
from rulebook.expr.reference import ReferenceEvaluator
from rulebook.expr.typecheck import TypeChecker
from rulebook.vocabulary import FieldSpec, Vocabulary

VOCAB = Vocabulary(
    [
        FieldSpec("box.w", "number", "annotation", ""),
        FieldSpec("box.h", "number", "annotation", ""),
        FieldSpec("annotation.label", "string", "annotation", ""),
        FieldSpec("item.n", "number", "item", ""),
    ]
)


def conditions(*texts: str) -> list[Condition]:
    out = []
    for index, text in enumerate(texts):
        expr = parse(text)
        scope = TypeChecker(VOCAB).check_condition(expr).scope
        out.append(Condition(index, f"c{index}", scope, to_nnf(expr), tuple(fields_of(expr)), text))
    return out


def both(texts: list[str], batch: list[Facts]) -> list[Match]:
    compiled = conditions(*texts)
    durable = DurableEvaluator(compiled, VOCAB, "t")
    try:
        got = durable.evaluate(batch)
        for shard in durable._shards:  # nothing may stay asserted between batches
            left = [f for f in json.loads(engine.get_facts(shard.handle, "0")) if "$s" not in f]
            assert left == []
    finally:
        durable.close()
    assert got == ReferenceEvaluator(compiled, VOCAB).evaluate(batch)
    return got


def test_five_hundred_rules_matching_one_fact_are_sharded() -> None:
    texts = [f"box.w > {i}" for i in range(500)]
    got = both(texts, [Facts({}, [{"box.w": 1000.0}])])
    assert len(got) == 500


def test_batches_larger_than_one_engine_call() -> None:
    rows = [{"box.w": float(i % 7), "box.h": 1.0} for i in range(2500)]
    got = both(["box.w > 5", "box.w <= box.h"], [Facts({}, rows[:1200]), Facts({}, rows[1200:])])
    expected = sum(1 for r in rows if r["box.w"] > 5) + sum(1 for r in rows if r["box.w"] <= 1)
    assert len(got) == expected == 1072


def test_missing_matches_rows_not_the_session_state() -> None:
    got = both(["missing(annotation.label)"], [Facts({}, [{"box.w": 1.0}, {"annotation.label": "x"}])])
    assert got == [Match(0, 0, 0)]


def test_exponent_numbers_and_huge_integers() -> None:
    batch = [Facts({"item.n": 2**70}, [{"box.w": 1e-7, "box.h": 1e20}, {"box.w": 0.00001, "box.h": 5.0}])]
    got = both(["box.w > 0 and box.w < 0.0001", "box.h > 1e19", "item.n > 1e20"], batch)
    assert got == [Match(0, None, 2), Match(0, 0, 0), Match(0, 0, 1), Match(0, 1, 0)]


def test_reference_to_a_missing_field_is_false() -> None:
    got = both(["box.w == box.h", "box.w < box.h + 1"], [Facts({}, [{"box.w": 0.0}, {"box.w": 1.0, "box.h": 1.0}])])
    assert got == [Match(0, 1, 0), Match(0, 1, 1)]


def test_durable_json_keeps_strings_intact() -> None:
    assert durable_json({"a": 1e-07, "b": "1e-05", "c": 2.5e-07}) == '{"a":1.0e-7,"b":"1e-05","c":2.5e-7}'


def test_overly_complex_condition_is_refused() -> None:
    text = " or ".join(f"(box.w > {i} and box.h < box.w * {i})" for i in range(12))
    with pytest.raises(TooComplex, match="split it into several rules"):
        DurableEvaluator(conditions(text), VOCAB, "t")
