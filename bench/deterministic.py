"""Deterministic path throughput: ingest → measure → rules → DuckDB, no model.

Generates a COCO file with >= 100,000 boxes (no image files), scores it with the example
rulebook twice in one process, once with the durable_rules backend and once with the
reference (plain Python closures) backend, and prints annotations/s, the share of time in
rule evaluation and the durable/reference ratio. Target: >= 20,000 annotations/s.

    python -m bench.deterministic [--boxes 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

from engine.run import RunSummary, compile_for, score_dataset
from ingest.synthetic import SyntheticSpec, generate

REPO = Path(__file__).resolve().parents[1]
yaml = YAML(typ="safe", pure=True)
RULEBOOK = REPO / "examples" / "nuimages-boxes.yaml"


def deterministic_rulebook(target: Path) -> Path:
    """The example rulebook without its judgment-based rules: this bench measures no model."""
    return rulebook_without(target, "judgment.", drop_judgments=True)


def rulebook_without(target: Path, field_prefix: str, *, drop_judgments: bool = False) -> Path:
    """The example rulebook without the rules and oversight checks that read ``field_prefix`` fields."""
    data = yaml.load(RULEBOOK.read_text(encoding="utf-8"))
    if drop_judgments:
        data.pop("judgments", None)
    data["rules"] = [r for r in data["rules"] if field_prefix not in r["when"]]
    data["oversight"] = [c for c in data.get("oversight", []) if field_prefix not in c["when"]]
    data["examples"] = []
    with target.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    return target


def run_once(dataset: Path, rulebook: Path, db: Path, backend: str) -> RunSummary:
    compiled = compile_for(rulebook, backend)  # type: ignore[arg-type]
    return score_dataset(dataset, compiled, db, format="coco")


def report(label: str, summary: RunSummary) -> float:
    rate = summary.annotations_scored / summary.duration_s
    stages = summary.stage_seconds
    share = stages.get("rules", 0.0) / summary.duration_s
    parts = ", ".join(f"{k} {v:.2f}s" for k, v in stages.items())
    print(
        f"{label:<10} {summary.annotations_scored:>9,} annotations in {summary.duration_s:6.2f} s "
        f"= {rate:>9,.0f} annotations/s; rule evaluation {share:5.1%} of the time ({parts})"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=100_000)
    args = parser.parse_args()
    per_image = 8
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        data = generate(
            root / "data",
            SyntheticSpec(
                images=args.boxes // per_image + 1,
                draw_images=False,
                boxes_per_image=(per_image - 2, per_image + 2),
                malformed=True,
                seed=11,
            ),
        )
        print(
            f"generated {data.annotations:,} boxes on {data.images:,} images in {time.perf_counter() - started:.1f} s"
        )
        rulebook = deterministic_rulebook(root / "rules.yaml")
        rules = len(compile_for(rulebook).rules)
        print(f"rulebook: {rules} deterministic rules of {RULEBOOK.name}")
        durable = run_once(data.coco, rulebook, root / "durable.duckdb", "durable")
        reference = run_once(data.coco, rulebook, root / "reference.duckdb", "reference")
        durable_rate = report("durable", durable)
        reference_rate = report("reference", reference)
        assert durable.findings == reference.findings, "backends disagree"
        print(f"durable / reference throughput: {durable_rate / reference_rate:.2f}")
        print(f"target >= 20,000 annotations/s: {'met' if durable_rate >= 20_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
