"""Rulebook compilation time and evaluation throughput for a generated 500-rule rulebook.

Compiles the same rulebook with the durable_rules and the reference backend, then evaluates
both on the same generated facts (annotation rows), printing times and ratios side by side.
Target: compile 500 rules in < 2 s.

    python -m bench.rulebook_compile [--rules 500] [--annotations 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import time

from rulebook.compiler import compile_rulebook
from rulebook.evaluation import Facts
from rulebook.loader import load_text
from scorers.measure import fields_for

LABELS = ["car", "truck", "bus", "pedestrian", "bicycle", "motorcycle", "traffic_cone", "barrier"]
SHAPES = [  # thresholds chosen so that each rule fires on a few percent of annotations
    "box.width < {small}",
    "box.height > {large} and box.width < {mid}",
    "annotation.label in {labels} and box.area_ratio > {ratio}",
    "not box.in_bounds and box.outside_fraction > {fraction}",
    "box.max_iou_same_class >= {iou} or box.max_iou_other_class >= {iou}",
    'is_a(annotation.label, "vehicle") and box.aspect_ratio > {aspect}',
    'count(annotation.label == "{label}") > {n}',
    "box.width * box.height < {small} * {small}",
    "missing(annotation.occluded) and box.height > {large}",
    "box.width > item.width / {divisor}",
]


def rulebook_text(rules: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    lines = [
        "rulebook: bench",
        'version: "1"',
        "guideline: bench",
        "applies_to: image_boxes",
        f"taxonomy: {{labels: {LABELS}, parents: {{car: vehicle, truck: vehicle, bus: vehicle}}}}",
        "attributes: {occluded: {type: bool}}",
        "rules:",
    ]
    for i in range(rules):
        shape = SHAPES[i % len(SHAPES)]
        when = shape.format(
            small=rng.randint(2, 12),
            mid=rng.randint(20, 80),
            large=rng.randint(270, 295),
            ratio=round(rng.uniform(0.2, 0.28), 2),
            fraction=round(rng.uniform(0.15, 0.19), 3),
            iou=round(rng.uniform(0.97, 0.995), 3),
            aspect=rng.randint(20, 60),
            n=rng.randint(9, 11),
            label=rng.choice(LABELS),
            labels=json.dumps(rng.sample(LABELS, 3)),
            divisor=round(rng.uniform(2.15, 2.3), 2),
        )
        lines += [
            f"  - id: R{i:04d}",
            f'    clause: "bench {i}"',
            f"    when: {json.dumps(when)}",
            f"    severity: {rng.choice(['critical', 'major', 'minor'])}",
        ]
    return "\n".join(lines) + "\n"


def facts(annotations: int, seed: int = 5) -> list[Facts]:
    rng = random.Random(seed)
    out = []
    while annotations > 0:
        n = min(annotations, rng.randint(3, 12))
        annotations -= n
        rows = []
        for _ in range(n):
            w, h = rng.uniform(0, 300), rng.uniform(0, 300)
            rows.append(
                {
                    "annotation.label": rng.choice(LABELS),
                    "box.width": w,
                    "box.height": h,
                    "box.area": w * h,
                    "box.area_ratio": w * h / 307200,
                    "box.in_bounds": rng.random() < 0.9,
                    "box.outside_fraction": rng.random() * 0.2,
                    "box.max_iou_same_class": rng.random(),
                    "box.max_iou_other_class": rng.random(),
                    "box.aspect_ratio": w / max(h, 1e-3),
                    **({"annotation.occluded": rng.random() < 0.5} if rng.random() < 0.7 else {}),
                }
            )
        out.append(Facts({"item.width": 640, "item.height": 480}, rows))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--annotations", type=int, default=20_000)
    args = parser.parse_args()
    text = rulebook_text(args.rules)
    measured = fields_for("image_boxes")
    batch = facts(args.annotations)
    results = {}
    for backend in ("durable", "reference"):
        started = time.perf_counter()
        compiled = compile_rulebook(load_text(text, "bench.yaml"), measured, backend)  # type: ignore[arg-type]
        compile_s = time.perf_counter() - started
        evaluator = compiled.rule_set.evaluator
        started = time.perf_counter()
        matches = evaluator.evaluate(batch)
        eval_s = time.perf_counter() - started
        shards = len(getattr(evaluator, "_shards", [])) or "-"
        results[backend] = (compile_s, eval_s, len(matches))
        print(
            f"{backend:<10} {args.rules} rules: compile {compile_s:.2f} s (shards: {shards}); "
            f"{args.annotations:,} annotations x {args.rules} rules evaluated in {eval_s:.2f} s = "
            f"{args.annotations / eval_s:,.0f} annotations/s, {len(matches):,} matches "
            f"({len(matches) / args.annotations:.1f} per annotation)"
        )
    durable, reference = results["durable"], results["reference"]
    assert durable[2] == reference[2], "backends disagree"
    print(f"durable / reference evaluation time: {durable[1] / reference[1]:.2f}")
    print(f"target compile < 2 s: {'met' if durable[0] < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
