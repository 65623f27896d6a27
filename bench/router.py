"""Router benchmark: cost and decision agreement of always-capable, always-cheap and the router.

One generated dataset (with images and ground truth), scored three times in one run with the
simulated tiers: only the capable model, only the cheap model, and both behind the router
(cheap first; capable for hard items, low confidence, invalid or inconsistent answers).
Agreement is the share of items whose pass/fail decision equals always-capable's.
Targets: router cost <= 50 % of always-capable, agreement >= 95 %.

    python -m bench.router [--images 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb

from engine.model_run import JudgeSetup
from engine.run import RunSummary, score_dataset
from ingest.synthetic import SyntheticSpec, generate
from scorers.judge.judge import JudgeSettings
from scorers.providers.sim import TIERS
from scorers.providers.spec import parse_model

REPO = Path(__file__).resolve().parents[1]
RULEBOOK = REPO / "examples" / "nuimages-boxes.yaml"


def decisions(db: Path, run_id: str) -> dict[str, bool]:
    with duckdb.connect(str(db)) as con:
        return {
            str(i): bool(p)
            for i, p in con.execute("SELECT item_id, passed FROM scores WHERE run_id = ?", [run_id]).fetchall()
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    tiers = {name: replace(tier, latency_s=0.005) for name, tier in TIERS.items()}
    settings = JudgeSettings(concurrency=32, cache=False)
    configs = {
        "always-capable": {"capable": parse_model("sim:capable")},
        "always-cheap": {"cheap": parse_model("sim:cheap")},
        "router": {"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")},
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = generate(root / "data", SyntheticSpec(images=args.images, seed=args.seed, malformed=False))
        print(f"dataset: {data.images} images, {data.annotations} boxes, defects {data.defects}")
        db = root / "runs.duckdb"
        results: dict[str, tuple[RunSummary, dict[str, bool], float]] = {}
        for name, models in configs.items():
            started = time.perf_counter()
            summary = score_dataset(
                data.coco, RULEBOOK, db, judge=JudgeSetup(models=models, settings=settings, sim_tiers=tiers)
            )
            results[name] = (summary, decisions(db, summary.run_id), time.perf_counter() - started)
        reference_cost = results["always-capable"][0].cost_usd
        reference = results["always-capable"][1]
        print(
            f"{'configuration':<16} {'cost USD':>10} {'vs capable':>11} {'calls':>7} {'agreement':>10} "
            f"{'passed':>7} {'failed':>7} {'review':>7} {'time s':>7}"
        )
        for name, (summary, decided, seconds) in results.items():
            agree = sum(decided[item] == reference[item] for item in reference) / len(reference)
            print(
                f"{name:<16} {summary.cost_usd:>10.4f} {summary.cost_usd / reference_cost:>10.1%} "
                f"{summary.model_attempts:>7} {agree:>10.1%} {summary.passed:>7} {summary.failed:>7} "
                f"{summary.needs_review:>7} {seconds:>7.1f}"
            )
        router, decided, _ = results["router"]
        agree = sum(decided[item] == reference[item] for item in reference) / len(reference)
        cost_ok = router.cost_usd <= 0.5 * reference_cost
        print(
            f"targets: router cost <= 50% of always-capable: {'met' if cost_ok else 'NOT met'}; "
            f"agreement >= 95%: {'met' if agree >= 0.95 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
