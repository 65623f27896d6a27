"""Compile a validated rulebook into executable condition sets.

Three condition sets come out: the scoring **rules**, the **oversight** checks that send items
to a person, and the judgment **consistency** checks that reject model answers contradicting
measurements. Each condition is parsed, type-checked against the vocabulary, rewritten to NNF
and handed to a backend (durable_rules by default; the reference closures on request).
Every problem in every condition is collected with its file position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from labelgate.errors import RulebookError, RulebookProblem
from rulebook.durable_backend import DurableEvaluator, TooComplex
from rulebook.evaluation import Condition, Env, Evaluator
from rulebook.expr.nnf import to_nnf
from rulebook.expr.nodes import (
    And,
    Arith,
    Call,
    Compare,
    Expr,
    Field,
    In,
    Not,
    Or,
    Presence,
    fields_of,
    render,
)
from rulebook.expr.parse import ExprError, ParseContext, parse
from rulebook.expr.reference import ClosureCompiler, ReferenceEvaluator
from rulebook.expr.typecheck import TypeChecker
from rulebook.fingerprint import rulebook_fingerprint
from rulebook.judgment_model import judgment_fingerprint, judgment_model
from rulebook.loader import LoadedRulebook, Loc, Positions
from rulebook.model import Check, Rule, Rulebook
from rulebook.template import Template, TemplateError, parse_template
from rulebook.vocabulary import (
    SCOPE_RANK,
    FieldSpec,
    Vocabulary,
    oversight_fields,
    rulebook_fields,
    structural_fields,
)

Backend = Literal["durable", "reference"]
Evidence = Callable[[Env], dict[str, Any]]


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    condition: Condition
    needs_judgment: bool
    message: Template
    penalty: float
    evidence: Evidence


@dataclass(frozen=True)
class CompiledCheck:
    """An oversight or consistency check: when it holds, ``reason`` applies."""

    name: str
    reason: str
    condition: Condition
    needs_judgment: bool
    evidence: Evidence


@dataclass
class ConditionSet:
    conditions: list[Condition]
    evaluator: Evaluator


@dataclass
class CompiledRulebook:
    """Everything the engine needs to score items against one rulebook."""

    rulebook: Rulebook
    path: str
    source: str
    fingerprint: str
    judgment_fingerprint: str | None
    vocabulary: Vocabulary
    rules: list[CompiledRule]
    rule_set: ConditionSet
    oversight: list[CompiledCheck]
    oversight_set: ConditionSet
    consistency: list[CompiledCheck]
    consistency_set: ConditionSet
    judgment_model: type[BaseModel] | None
    backend: Backend

    @property
    def name(self) -> str:
        return self.rulebook.rulebook

    @property
    def version(self) -> str:
        return self.rulebook.version

    def rule(self, rule_id: str) -> CompiledRule | None:
        return next((r for r in self.rules if r.rule.id == rule_id), None)

    def fields_used(self) -> set[str]:
        used: set[str] = set()
        for condition in [
            *self.rule_set.conditions,
            *self.oversight_set.conditions,
            *self.consistency_set.conditions,
        ]:
            used.update(condition.fields)
        for rule in self.rules:
            used.update(rule.message.fields)
        return used


def base_vocabulary(rulebook: Rulebook, measurement_fields: Iterable[FieldSpec]) -> Vocabulary:
    """Structure + measurements + declared attributes and judgments."""
    return Vocabulary(
        [
            *structural_fields(rulebook.applies_to),
            *measurement_fields,
            *rulebook_fields(rulebook),
        ]
    )


class _Compiler:
    def __init__(self, loaded: LoadedRulebook, vocabulary: Vocabulary) -> None:
        self.loaded = loaded
        self.rulebook = loaded.rulebook
        self.positions: Positions = loaded.positions
        self.problems: list[RulebookProblem] = []
        self.context = ParseContext(self.rulebook.params, self.rulebook.taxonomy)
        self.vocabulary = vocabulary

    def problem_at(self, loc: Loc, message: str, pos: tuple[int, int] = (0, 0)) -> None:
        anchor = self.positions.of_value(loc)
        if anchor is None:
            self.problems.append(RulebookProblem(self.positions.file, None, None, message))
            return
        line0, col0 = pos
        if anchor.block:
            line, column = anchor.line + line0, anchor.column + col0
        elif line0 == 0:
            line, column = anchor.line, anchor.column + col0 + (1 if anchor.quoted else 0)
        else:
            line, column = anchor.line + line0, col0 + 1
        self.problems.append(RulebookProblem(self.positions.file, line, column, message))

    def condition(
        self, index: int, name: str, text: str, loc: Loc, vocabulary: Vocabulary
    ) -> tuple[Condition, Expr] | None:
        try:
            expr = parse(text, self.context)
            checked = TypeChecker(vocabulary).check_condition(expr)
        except ExprError as exc:
            self.problem_at(loc, exc.message, exc.pos)
            return None
        nnf = to_nnf(expr)
        return Condition(index, name, checked.scope, nnf, tuple(fields_of(expr)), text), expr

    def needs_judgment(self, fields: Sequence[str], vocabulary: Vocabulary) -> bool:
        return any((spec := vocabulary.get(f)) is not None and spec.owner == "judgment" for f in fields)

    def template(self, rule: Rule, index: int, condition: Condition, vocabulary: Vocabulary) -> Template:
        text = rule.message or rule.description or rule.clause
        rank = SCOPE_RANK[condition.scope]

        def known(path: str) -> bool:
            spec = vocabulary.get(path)
            return spec is not None and SCOPE_RANK[spec.scope] <= rank

        try:
            return parse_template(text, known)
        except TemplateError as exc:
            if rule.message is not None:
                self.problem_at(("rules", index, "message"), exc.message, (0, exc.offset))
            return Template(text.replace("{", "{{").replace("}", "}}"), ())


def _evidence(closures: ClosureCompiler, expr: Expr) -> Evidence:
    """Values of every field and count() a condition reads: the finding's evidence."""
    probes: dict[str, Callable[[Env], Any]] = {}

    def walk(node: Expr) -> None:
        if isinstance(node, Field | Call):
            probes.setdefault(render(node), closures.value(node))
            if isinstance(node, Field) or node.name == "count":
                return
        if isinstance(node, Compare | Arith):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, In):
            walk(node.operand)
        elif isinstance(node, Not):
            walk(node.item)
        elif isinstance(node, Presence):
            walk(node.field)
        elif isinstance(node, And | Or):
            for item in node.items:
                walk(item)
        elif isinstance(node, Call):
            for arg in node.args:
                walk(arg)

    walk(expr)

    def evidence(env: Env) -> dict[str, Any]:
        return {key: probe(env) for key, probe in probes.items()}

    return evidence


def compile_rulebook(
    loaded: LoadedRulebook,
    measurement_fields: Iterable[FieldSpec],
    backend: Backend = "durable",
) -> CompiledRulebook:
    """Compile every condition of the rulebook; raises :class:`RulebookError` with all problems."""
    rulebook = loaded.rulebook
    vocabulary = base_vocabulary(rulebook, measurement_fields)
    oversight_vocabulary = vocabulary.extended(oversight_fields(rulebook))
    compiler = _Compiler(loaded, vocabulary)
    closures = ClosureCompiler(oversight_vocabulary)

    rules: list[CompiledRule] = []
    rule_locs: list[Loc] = []
    for index, rule in enumerate(rulebook.rules):
        compiled = compiler.condition(len(rules), rule.id, rule.when, ("rules", index, "when"), vocabulary)
        if compiled is None:
            continue
        condition, expr = compiled
        template = compiler.template(rule, index, condition, vocabulary)
        if rule.status != "active":
            continue
        penalty = rule.penalty if rule.penalty is not None else rulebook.scoring.penalty.get(rule.severity, 0.0)
        rule_locs.append(("rules", index, "when"))
        rules.append(
            CompiledRule(
                rule,
                condition,
                compiler.needs_judgment(condition.fields, vocabulary),
                template,
                penalty,
                _evidence(closures, expr),
            )
        )

    def checks(items: Sequence[Check], section: str, vocab: Vocabulary) -> list[CompiledCheck]:
        out: list[CompiledCheck] = []
        for index, check in enumerate(items):
            name = check.id or f"{section}[{index}]"
            compiled = compiler.condition(len(out), name, check.when, (*_section_loc(section), index, "when"), vocab)
            if compiled is None:
                continue
            condition, expr = compiled
            out.append(
                CompiledCheck(
                    name,
                    check.reason,
                    condition,
                    compiler.needs_judgment(condition.fields, vocab),
                    _evidence(closures, expr),
                )
            )
        return out

    oversight = checks(rulebook.oversight, "oversight", oversight_vocabulary)
    consistency_items = rulebook.judgments.consistency if rulebook.judgments else []
    consistency = checks(consistency_items, "consistency", vocabulary)

    sets: dict[str, ConditionSet] = {}
    for label, conditions, vocab, loc_of in (
        ("rules", [r.condition for r in rules], vocabulary, lambda i: rule_locs[i]),
        (
            "oversight",
            [c.condition for c in oversight],
            oversight_vocabulary,
            lambda i: ("oversight", i, "when"),
        ),
        (
            "consistency",
            [c.condition for c in consistency],
            vocabulary,
            lambda i: ("judgments", "consistency", i, "when"),
        ),
    ):
        try:
            sets[label] = ConditionSet(
                conditions, _evaluator(backend, conditions, vocab, f"{rulebook.rulebook}-{label}")
            )
        except TooComplex as exc:
            compiler.problem_at(loc_of(exc.condition.index), str(exc))
    if compiler.problems:
        raise RulebookError(compiler.problems)

    return CompiledRulebook(
        rulebook=rulebook,
        path=loaded.path,
        source=loaded.source,
        fingerprint=rulebook_fingerprint(rulebook),
        judgment_fingerprint=judgment_fingerprint(rulebook),
        vocabulary=vocabulary,
        rules=rules,
        rule_set=sets["rules"],
        oversight=oversight,
        oversight_set=sets["oversight"],
        consistency=consistency,
        consistency_set=sets["consistency"],
        judgment_model=judgment_model(rulebook),
        backend=backend,
    )


def _section_loc(section: str) -> Loc:
    return ("judgments", "consistency") if section == "consistency" else (section,)


def _evaluator(backend: Backend, conditions: list[Condition], vocabulary: Vocabulary, name: str) -> Evaluator:
    if backend == "reference":
        return ReferenceEvaluator(conditions, vocabulary)
    return DurableEvaluator(conditions, vocabulary, name)
