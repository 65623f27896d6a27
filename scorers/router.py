"""The router: which model tier judges an item, and which of its annotations need a judgment.

Cheap by default; the capable tier when the item is hard (crowded, small or overlapping
boxes, a rare class, long text). Annotations where no judgment-based rule could fire, given
everything measured, need no model at all (tier ``none``); so do items that a deterministic
finding already fails, unless told otherwise. A per-item budget caps the estimated cost.
Every decision carries its reasons, which the engine stores.
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
        self.labels: Counter[str] = Counter()
        self.seen = 0

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
        self, item_kind: str, item_row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], severities: Sequence[str]
    ) -> RouteDecision:
        """Decide for one item; ``severities`` are those of its deterministic findings."""
        config = self.config
        labels = [str(r.get("annotation.label")) for r in rows]
        rare = [
            label
            for label in set(labels)
            if self.seen >= config.rare_warmup and self.labels[label] / max(self.seen, 1) < config.rare_share
        ]
        self.labels.update(labels)
        self.seen += len(labels)
        if not self.judged_rules or not self.tiers:
            return RouteDecision("none", reasons=["no rule needs a judgment"])
        blocking = sorted(set(severities) & self.failing)
        if blocking and config.skip_failed_items:
            return RouteDecision(
                "none", reasons=[f"already fails on a {', '.join(blocking)} finding: no judgment can change that"]
            )
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
        reasons: list[str] = []
        hard: list[str] = []
        if len(rows) > config.crowded_annotations:
            hard.append(f"crowded ({len(rows)} annotations)")
        judged = [rows[t] for t in targets if t is not None]
        small = [
            r
            for r in judged
            if isinstance(r.get("box.min_side"), int | float) and 0 < r["box.min_side"] < config.small_box_px
        ]
        if small:
            hard.append(f"{len(small)} small box(es) under {config.small_box_px:g} px")
        overlapping = [r for r in judged if (r.get("box.max_iou_other_class") or 0) >= config.overlap_iou]
        if overlapping:
            hard.append(f"{len(overlapping)} box(es) overlapping another class (IoU >= {config.overlap_iou:g})")
        if rare:
            hard.append(f"rare class {', '.join(sorted(rare))}")
        text = item_row.get("item.text")
        if isinstance(text, str) and len(text) > config.long_text_chars:
            hard.append(f"long text ({len(text)} characters)")
        tier = "capable" if hard and "capable" in self.tiers else config.default_tier
        if tier not in self.tiers:
            tier = next(iter(self.tiers))
        reasons += [f"hard: {h}" for h in hard] if hard else ["routine item"]
        images = 2 if item_kind == "image" else 0
        estimate = len(targets) * self.tiers[tier].per_call(images)
        budget = config.budget_usd_per_item
        if budget is not None and estimate > budget:
            cheaper = [t for t in ("cheap", config.default_tier) if t in self.tiers and t != tier]
            if cheaper and len(targets) * self.tiers[cheaper[0]].per_call(images) <= budget:
                tier = cheaper[0]
                estimate = len(targets) * self.tiers[tier].per_call(images)
                reasons.append(f"capable tier over the {budget:g} USD budget: cheap tier")
            else:
                return RouteDecision(
                    "none",
                    targets,
                    [*reasons, f"estimated {estimate:.4f} USD is over the {budget:g} USD per-item budget"],
                    estimate,
                    True,
                )
        reasons.insert(0, f"{len(targets)} judgment(s) needed")
        return RouteDecision(tier, targets, reasons, estimate)
