"""The durable_rules backend agrees with the reference evaluator on random conditions and facts.

Conditions are generated as typed expression trees, rendered to text and compiled through the
same parser, type checker and NNF rewrite the rulebook uses, so the whole path is exercised.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulebook.durable_backend import DurableEvaluator
from rulebook.evaluation import Condition, Facts
from rulebook.expr.nnf import to_nnf
from rulebook.expr.nodes import fields_of
from rulebook.expr.parse import parse
from rulebook.expr.reference import ReferenceEvaluator
from rulebook.expr.typecheck import TypeChecker
from rulebook.vocabulary import FieldSpec, Vocabulary

VOCAB = Vocabulary(
    [
        FieldSpec("box.a", "number", "annotation", ""),
        FieldSpec("box.b", "number", "annotation", ""),
        FieldSpec("box.c", "number", "annotation", ""),
        FieldSpec("annotation.label", "string", "annotation", ""),
        FieldSpec("annotation.flag", "bool", "annotation", ""),
        FieldSpec("item.n", "number", "item", ""),
        FieldSpec("item.tag", "string", "item", ""),
    ]
)
NUM_FIELDS = ["box.a", "box.b", "box.c", "item.n"]
STR_FIELDS = ["annotation.label", "item.tag"]
WORDS = ["car", "bus", "é", "a b", ""]
NUMBERS = st.one_of(
    st.integers(min_value=-5, max_value=5),
    st.sampled_from([0.5, -0.25, 1e-7, 1e9, 2.5, 100.0, 0.1 + 0.2]),
)


def _num(value: float) -> str:
    return f"({value!r})" if value < 0 else repr(value)


num_leaf = st.one_of(st.sampled_from(NUM_FIELDS), NUMBERS.map(_num))


def num_expr(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"abs({x})"),
        st.tuples(inner, inner).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.sampled_from(STR_FIELDS).map(lambda f: f"len({f})"),
    )


numbers = st.recursive(num_leaf, num_expr, max_leaves=4)

atoms = st.one_of(
    st.tuples(numbers, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), numbers).map(" ".join),
    st.tuples(st.sampled_from(STR_FIELDS), st.sampled_from(["==", "!="]), st.sampled_from(WORDS).map(repr)).map(
        " ".join
    ),
    st.tuples(
        st.sampled_from(STR_FIELDS),
        st.sampled_from(["in", "not in"]),
        st.lists(st.sampled_from(WORDS), max_size=3).map(repr),
    ).map(" ".join),
    st.just("annotation.flag"),
    st.sampled_from(["annotation.flag == true", "annotation.flag != false"]),
    st.sampled_from(NUM_FIELDS + STR_FIELDS + ["annotation.flag"]).flatmap(
        lambda f: st.sampled_from([f"missing({f})", f"present({f})"])
    ),
    st.sampled_from(["count(annotation.label == 'car') > 1", "count() >= 2", "count(box.a > box.b) == item.n"]),
)


def combine(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"not ({x})"),
    )


conditions = st.recursive(atoms, combine, max_leaves=5)
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
annotation_rows = st.fixed_dictionaries(
    {
        "box.a": maybe(NUMBERS),
        "box.b": maybe(NUMBERS),
        "box.c": maybe(NUMBERS),
        "annotation.label": maybe(st.sampled_from(WORDS)),
        "annotation.flag": maybe(st.booleans()),
    }
)
items = st.builds(
    lambda item, anns: Facts(item, anns),
    st.fixed_dictionaries({"item.n": maybe(NUMBERS), "item.tag": maybe(st.sampled_from(WORDS))}),
    st.lists(annotation_rows, max_size=4),
)


def compile_conditions(texts: list[str]) -> list[Condition]:
    out = []
    for index, text in enumerate(texts):
        expr = parse(text)
        checked = TypeChecker(VOCAB).check_condition(expr)
        out.append(Condition(index, f"c{index}", checked.scope, to_nnf(expr), tuple(fields_of(expr)), text))
    return out


def _strip_none(facts: Facts) -> Facts:
    def clean(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if v is not None}

    return Facts(clean(dict(facts.item)), [clean(dict(a)) for a in facts.annotations])


@settings(
    max_examples=int(os.environ.get("LABELGATE_PROPERTY_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(conditions, min_size=1, max_size=6), st.lists(items, min_size=1, max_size=5), st.booleans())
def test_durable_agrees_with_reference(texts: list[str], batch: list[Facts], strip: bool) -> None:
    compiled = compile_conditions(texts)
    facts = [_strip_none(f) for f in batch] if strip else batch
    durable = DurableEvaluator(compiled, VOCAB, "prop")
    try:
        assert durable.evaluate(facts) == ReferenceEvaluator(compiled, VOCAB).evaluate(facts), texts
    finally:
        durable.close()
