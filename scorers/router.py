"""The router: which model tier judges what, and which annotations need a judgment at all.

Cheap by default; the capable tier for what is hard: every judgment of a crowded item or a
long text, and single annotations that are small, overlap another class or have a rare class.
Annotations where no judgment-based rule could fire, given everything measured, need no
model at all (tier ``none``); so do items that a deterministic finding already fails, unless
told otherwise. A per-item budget caps the estimated cost. Every decision carries its
reasons, which the engine stores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rulebook.compiler import CompiledRulebook
from rulebook.evaluation import EMPTY, Env
from rulebook.expr.partial import PartialCompiler

TOKENS_TEXT = 700
TOKENS_OUTPUT = 60


@dataclass
class RouterConfig:
    default_tier: str = "cheap"
    crowded_annotations: int = 30
    small_box_px: float = 16.0
    overlap_iou: float = 0.5
    rare_share: float = 0.02
    rare_warmup: int = 500
    long_text_chars: int = 2000
    budget_usd_per_item: float | None = None
    skip_failed_items: bool = True


@dataclass
class RouteDecision:
    tier: str
    targets: list[int | None] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    estimated_cost_usd: float = 0.0
    over_budget: bool = False
    tiers: dict[int | None, str] = field(default_factory=dict)

    def tier_of(self, target: int | None) -> str:
        """The tier that judges ``target`` first (items can mix tiers: hard boxes go capable)."""
        return self.tiers.get(target, self.tier)


@dataclass(frozen=True)
class TierCost:
    """Rough USD cost of one judgment call on a tier (prompt text, images, answer)."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float
    image_tokens: int = 255

    def per_call(self, images: int) -> float:
        tokens_in = TOKENS_TEXT + images * self.image_tokens
        return (tokens_in * self.input_usd_per_mtok + TOKENS_OUTPUT * self.output_usd_per_mtok) / 1e6


class Router:
    def __init__(
        self,
        compiled: CompiledRulebook,
        tiers: Mapping[str, TierCost],
        config: RouterConfig | None = None,
        failing_severities: Sequence[str] | None = None,
    ) -> None:
        self.compiled = compiled
        self.tiers = dict(tiers)
        self.config = config or RouterConfig()
        judgments = compiled.rulebook.judgments
        self.per_annotation = judgments is not None and judgments.per == "annotation"
        partial = PartialCompiler(compiled.vocabulary)
        self.judged_rules = [
            (r.rule.id, r.condition.scope, partial.maybe(r.condition.nnf)) for r in compiled.rules if r.needs_judgment
        ]
        self.failing = set(failing_severities if failing_severities is not None else compiled.rulebook.scoring.fail_on)
        self.scoring = compiled.rulebook.scoring
        self.labels: Counter[str] = Counter()
        self.seen = 0

    def observe(self, labels: Sequence[str]) -> None:
        """Count labels seen so far (rarity is judged against them, in dataset order).

        A resumed run calls this for the items it skips, so it routes the rest as the
        uninterrupted run would have.
        """
        self.labels.update(labels)
        self.seen += len(labels)

    def _settled_fail(self, findings: Sequence[tuple[str, float]]) -> str | None:
        """Why the item fails whatever a judgment says, or None (penalties only ever lower a score)."""
        blocking = sorted({severity for severity, _ in findings} & self.failing)
        if blocking:
            return f"already fails on a {', '.join(blocking)} finding"
        scoring = self.scoring
        score = max(scoring.floor, scoring.start - sum(penalty for _, penalty in findings))
        if score < scoring.pass_at:
            return f"already fails: score {score:g} is below the pass mark {scoring.pass_at:g}"
        return None

    def _could_fire(
        self, item_row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], index: int | None
    ) -> list[str]:
        env = Env(item_row, rows[index] if index is not None else EMPTY, EMPTY, rows, {})
        return [
            rule_id
            for rule_id, scope, maybe in self.judged_rules
            if (scope == "annotation") == (index is not None) and maybe(env) is None
        ]

    def route(
        self,
        item_kind: str,
        item_row: Mapping[str, Any],
        rows: Sequence[Mapping[str, Any]],
        findings: Sequence[tuple[str, float]],
    ) -> RouteDecision:
        """Decide for one item; ``findings`` are the (severity, penalty) of its deterministic findings."""
        config = self.config
        labels = [str(r.get("annotation.label")) for r in rows]
        rare = [
            label
            for label in set(labels)
            if self.seen >= config.rare_warmup and self.labels[label] / max(self.seen, 1) < config.rare_share
        ]
        self.observe(labels)
        if not self.judged_rules or not self.tiers:
            return RouteDecision("none", reasons=["no rule needs a judgment"])
        if config.skip_failed_items and (settled := self._settled_fail(findings)):
            return RouteDecision("none", reasons=[f"{settled}: no judgment can change that"])
        targets: list[int | None] = []
        if self.per_annotation:
            targets = [i for i in range(len(rows)) if self._could_fire(item_row, rows, i)]
            if not targets:
                return RouteDecision("none", reasons=["no judgment-based rule can fire on any annotation"])
        else:
            if not self._could_fire(item_row, rows, None) and not any(
                self._could_fire(item_row, rows, i) for i in range(len(rows))
            ):
                return RouteDecision("none", reasons=["no judgment-based rule can fire on this item"])
            targets = [None]
        default = config.default_tier if config.default_tier in self.tiers else next(iter(self.tiers))
        capable = "capable" if "capable" in self.tiers else default
        reasons: list[str] = []
        item_hard: list[str] = []
        if len(rows) > config.crowded_annotations:
            item_hard.append(f"crowded ({len(rows)} annotations)")
        text = item_row.get("item.text")
        if isinstance(text, str) and len(text) > config.long_text_chars:
            item_hard.append(f"long text ({len(text)} characters)")
        tiers: dict[int | None, str] = {}
        for target in targets:
            hard = list(item_hard)
            row = rows[target] if target is not None else {}
            side = row.get("box.min_side")
            if isinstance(side, int | float) and 0 < side < config.small_box_px:
                hard.append(f"small box under {config.small_box_px:g} px")
            if (row.get("box.max_iou_other_class") or 0) >= config.overlap_iou:
                hard.append(f"overlaps another class (IoU >= {config.overlap_iou:g})")
            label = row.get("annotation.label")
            if label in rare or (target is None and rare):
                hard.append(f"rare class {label if target is not None else ', '.join(sorted(rare))}")
            tiers[target] = capable if hard else default
            if hard:
                who = f"annotation {row.get('annotation.id')}" if target is not None else "item"
                reasons.append(f"capable for {who}: {', '.join(hard)}")
        tier = (
            "capable"
            if all(t == capable for t in tiers.values()) and capable != default
            else (default if all(t == default for t in tiers.values()) else "mixed")
        )
        if not reasons:
            reasons.append("routine item")
        images = 2 if item_kind == "image" else 0
        estimate = sum(self.tiers[t].per_call(images) for t in tiers.values())
        budget = config.budget_usd_per_item
        if budget is not None and estimate > budget:
            cheap_estimate = len(targets) * self.tiers[default].per_call(images)
            if default != capable and cheap_estimate <= budget:
                tiers = dict.fromkeys(targets, default)
                tier, estimate = default, cheap_estimate
                reasons.append(f"capable tier over the {budget:g} USD budget: {default} tier for all")
            else:
                over = f"estimated {estimate:.4f} USD is over the {budget:g} USD per-item budget"
                return RouteDecision("none", targets, [*reasons, over], estimate, True)
        reasons.insert(0, f"{len(targets)} judgment(s) needed")
        return RouteDecision(tier, targets, reasons, estimate, tiers=tiers)
