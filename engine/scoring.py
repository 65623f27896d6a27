"""Turn one chunk of items into findings, scores and review reasons.

The flow per item: measure → (judgments, when a judge ran) → rules → score → oversight.
Rules decide findings; the score is arithmetic over their penalties; oversight checks and
unobtainable judgments add review reasons. Nothing here touches the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.model import Item
from rulebook.compiler import CompiledRulebook
from rulebook.evaluation import EMPTY, Env, Facts
from rulebook.model import Scoring
from scorers.measure import MeasureContext, Measurement, Row, measure_item


@dataclass(frozen=True)
class Finding:
    item_id: str
    annotation_id: str | None
    annotation_index: int | None
    rule_id: str
    severity: str
    clause: str
    message: str
    evidence: dict[str, Any]
    penalty: float


@dataclass(frozen=True)
class ReviewReason:
    """Why an item needs a person: an oversight check, or a judgment that could not be had."""

    check_id: str
    reason: str
    annotation_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class ItemJudgments:
    """Judgments obtained for one item (``judgment.*`` fields) and what could not be had."""

    per_annotation: dict[int, dict[str, Any]] = field(default_factory=dict)
    item: dict[str, Any] = field(default_factory=dict)
    unavailable: dict[int | None, str] = field(default_factory=dict)


NO_JUDGE = "no judge model configured for this run"


def _lost_annotations(item: Item) -> ReviewReason:
    """An item that lost annotations to quarantine never passes silently: its pass would not cover them.

    (A rule cannot see an annotation that could not be read; it sees ``item.quarantined_annotations``.)
    """
    count = item.quarantined_annotations
    return ReviewReason(
        "annotations-quarantined",
        f"{count} annotation(s) of this item could not be read and were quarantined, so its score does not "
        "cover them: see `labelgate findings RUN --quarantined`",
        None,
        {"item.quarantined_annotations": count},
    )


@dataclass
class ScoredItem:
    """One scored item; ``stored`` names the row fields worth keeping in the store."""

    item: Item
    item_row: Mapping[str, Any]
    rows: list[Mapping[str, Any]]
    findings: list[Finding]
    score: float
    passed: bool
    reasons: list[ReviewReason]

    @property
    def decision(self) -> str:
        if self.reasons:
            return "review"
        return "pass" if self.passed else "fail"

    @property
    def state(self) -> str:
        return "needs_review" if self.reasons else "scored"


def score_of(findings: Iterable[Finding], scoring: Scoring) -> tuple[float, bool]:
    """Score = start - sum of penalties (not below ``floor``); pass needs no ``fail_on`` finding."""
    findings = list(findings)
    score = max(scoring.floor, scoring.start - sum(f.penalty for f in findings))
    blocked = any(f.severity in scoring.fail_on for f in findings)
    return score, score >= scoring.pass_at and not blocked


class ChunkScorer:
    """Scores chunks of items against one compiled rulebook."""

    def __init__(self, compiled: CompiledRulebook, measurements: Sequence[Measurement]) -> None:
        self.compiled = compiled
        self.measurements = list(measurements)
        rb = compiled.rulebook
        self.context = MeasureContext(rb.taxonomy, dict(rb.attributes))
        self.judgment_rules = [r for r in compiled.rules if r.needs_judgment]
        used = compiled.fields_used()
        # What the store keeps per row: the measured values the rulebook reads (its evidence),
        # not every measurement: serialising all of them costs more than scoring (benchmarks).
        self.stored_annotation_fields = tuple(
            sorted(
                f
                for f in used
                if (spec := compiled.vocabulary.get(f)) is not None
                and spec.scope == "annotation"
                and spec.owner in ("measurement", "judgment")
            )
        )
        self.stored_item_fields = tuple(
            sorted(
                f
                for f in used
                if (spec := compiled.vocabulary.get(f)) is not None
                and spec.scope == "item"
                and spec.owner in ("measurement", "judgment")
            )
        )
        self.seconds: dict[str, float] = {"measure": 0.0, "rules": 0.0, "oversight": 0.0}

    def measure(self, items: Sequence[Item]) -> list[tuple[Row, list[Row]]]:
        started = time.perf_counter()
        measured = [measure_item(item, self.context, self.measurements) for item in items]
        self.seconds["measure"] += time.perf_counter() - started
        return measured

    def score(
        self,
        items: Sequence[Item],
        measured: Sequence[tuple[Row, list[Row]]] | None = None,
        judgments: Mapping[int, ItemJudgments] | None = None,
    ) -> list[ScoredItem]:
        """Score ``items``; ``judgments`` maps an item's index in ``items`` to its judgments."""
        measured = measured if measured is not None else self.measure(items)
        judged = judgments is not None
        facts: list[Facts] = []
        for index, (item_row, rows) in enumerate(measured):
            got = (judgments or {}).get(index)
            if got is not None:
                item_row.update(got.item)
                for ann_index, values in got.per_annotation.items():
                    rows[ann_index].update(values)
            facts.append(Facts(item_row, rows))

        findings: list[list[Finding]] = [[] for _ in items]
        started = time.perf_counter()
        matches = self.compiled.rule_set.evaluator.evaluate(facts)
        self.seconds["rules"] += time.perf_counter() - started
        for match in matches:
            rule = self.compiled.rules[match.condition]
            item, fact = items[match.item], facts[match.item]
            row = fact.annotations[match.row] if match.row is not None else EMPTY
            env = Env(fact.item, row, EMPTY, fact.annotations)
            ann = item.annotations[match.row] if match.row is not None else None

            def lookup(path: str, env: Env = env) -> Any:
                return env.annotation.get(path, env.item.get(path))

            findings[match.item].append(
                Finding(
                    item.id,
                    ann.id if ann else None,
                    match.row,
                    rule.rule.id,
                    rule.rule.severity,
                    rule.rule.clause,
                    rule.message.render(lookup),
                    rule.evidence(env),
                    rule.penalty,
                )
            )

        results: list[ScoredItem] = []
        for index, item in enumerate(items):
            item_findings = findings[index]
            score, passed = score_of(item_findings, self.compiled.rulebook.scoring)
            # A failing item fails whatever a missing judgment would add (penalties only lower a
            # score), so it needs no review for it; only an item that could pass does.
            reasons = self._judgment_reasons(item, (judgments or {}).get(index), judged) if passed else []
            if passed and item.quarantined_annotations:
                reasons.append(_lost_annotations(item))
            results.append(
                ScoredItem(
                    item,
                    facts[index].item,
                    list(facts[index].annotations),
                    item_findings,
                    score,
                    passed,
                    reasons,
                )
            )
        started = time.perf_counter()
        self._oversight(results)
        self.seconds["oversight"] += time.perf_counter() - started
        return results

    def _judgment_reasons(self, item: Item, got: ItemJudgments | None, judged: bool) -> list[ReviewReason]:
        """Rules needing a judgment the run could not obtain never pass silently."""
        if not self.judgment_rules or (not item.annotations and self._per_annotation()):
            return []
        if not judged:
            unavailable: dict[int | None, str] = {None: NO_JUDGE}
        else:
            unavailable = got.unavailable if got is not None else {None: "judgment missing"}
        if not unavailable:
            return []
        rule_ids = ", ".join(r.rule.id for r in self.judgment_rules)
        reasons: list[ReviewReason] = []
        for ann_index, why in unavailable.items():
            ann_id = item.annotations[ann_index].id if ann_index is not None else None
            reasons.append(
                ReviewReason(
                    "judgment-unavailable",
                    f"rules {rule_ids} need a judgment that was not obtained: {why}",
                    ann_id,
                )
            )
        return reasons

    def _per_annotation(self) -> bool:
        judgments = self.compiled.rulebook.judgments
        return judgments is not None and judgments.per == "annotation"

    def _oversight(self, results: list[ScoredItem]) -> None:
        checks = self.compiled.oversight
        if not checks:
            return
        facts: list[Facts] = []
        for result in results:
            item_row = dict(result.item_row)
            item_row["score.value"] = result.score
            item_row["score.passed"] = result.passed
            item_row["score.findings"] = len(result.findings)
            finding_rows = [
                (
                    f.annotation_index,
                    {
                        "finding.rule_id": f.rule_id,
                        "finding.severity": f.severity,
                        "finding.penalty": f.penalty,
                    },
                )
                for f in result.findings
            ]
            facts.append(Facts(item_row, result.rows, finding_rows))
        for match in self.compiled.oversight_set.evaluator.evaluate(facts):
            check = checks[match.condition]
            result, fact = results[match.item], facts[match.item]
            ann_index: int | None = None
            finding_row: Row = {}
            if check.condition.scope == "annotation":
                ann_index = match.row
            elif check.condition.scope == "finding" and match.row is not None:
                ann_index, finding_row = fact.findings[match.row]  # type: ignore[assignment]
            row = fact.annotations[ann_index] if ann_index is not None else EMPTY
            env = Env(fact.item, row, finding_row, fact.annotations)
            ann_id = result.item.annotations[ann_index].id if ann_index is not None else None
            reason = ReviewReason(check.name, check.reason, ann_id, check.evidence(env))
            if reason not in result.reasons:
                result.reasons.append(reason)
