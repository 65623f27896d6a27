"""Model-path throughput: items/s with a simulated latency of 200 ms and 32 calls in flight.

Each item has one box that needs one judgment, answered by a simulated model that always
answers validly after 200 ms (± 25 %). The ideal is concurrency / latency = 160 items/s;
target >= 80 % of it. Everything else runs for real: images are read, cropped and encoded,
prompts built, requests sent through the openai client and instructor, answers validated,
attempts and answers stored, rules evaluated, items committed.

    python -m bench.judge_throughput [--items 1500] [--latency 0.2] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb

from engine.model_run import JudgeSetup
from engine.run import score_dataset
from ingest.synthetic import SyntheticSpec, generate
from scorers.judge.judge import JudgeSettings
from scorers.providers.sim import TIERS
from scorers.providers.spec import parse_model
from scorers.router import RouterConfig

REPO = Path(__file__).resolve().parents[1]
RULEBOOK = REPO / "examples" / "nuimages-boxes.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1500)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        data = generate(
            root / "data",
            SyntheticSpec(
                images=args.items,
                boxes_per_image=(1, 1),
                defect_rate=0.0,
                malformed=False,
                seed=5,
                width=320,
                height=240,
            ),
        )
        print(f"generated {data.images} images with one box each in {time.perf_counter() - started:.1f} s")
        tier = replace(TIERS["cheap"], latency_s=args.latency, noise=0.0, malformed_rate=0.0, error_rate=0.0)
        setup = JudgeSetup(
            models={"cheap": parse_model("sim:cheap")},
            settings=JudgeSettings(concurrency=args.concurrency, cache=False),
            router=RouterConfig(small_box_px=0, overlap_iou=2.0, rare_share=0.0),
            sim_tiers={"cheap": tier},
        )
        db = root / "runs.duckdb"
        summary = score_dataset(data.coco, RULEBOOK, db, judge=setup)
        with duckdb.connect(str(db)) as con:
            stamps = sorted(r[0].timestamp() for r in con.execute("SELECT started_at FROM attempts").fetchall())
        rate = summary.items_scored / summary.duration_s
        ideal = args.concurrency / args.latency
        print(
            f"{summary.items_scored} items, {summary.model_attempts} model calls in {summary.duration_s:.2f} s "
            f"= {rate:.1f} items/s; ideal {ideal:.0f} items/s; {rate / ideal:.1%} of ideal"
        )
        low, high = stamps[len(stamps) // 10], stamps[len(stamps) * 9 // 10]
        steady = (len(stamps) * 8 // 10) / (high - low)
        print(f"steady state (middle 80% of calls): {steady:.1f} calls/s = {steady / ideal:.1%} of ideal")
        print(f"stages: {', '.join(f'{k} {v:.2f}s' for k, v in summary.stage_seconds.items())}")
        print(f"target >= 80% of concurrency/latency: {'met' if rate >= 0.8 * ideal else 'NOT met'}")


if __name__ == "__main__":
    main()
