"""Report generation for a run of 100,000 items: target < 10 s.

Builds the run quickly: a generated COCO file (no image files, except real PNGs for the first
few hundred items so example thumbnails decode real pictures) scored through the deterministic
path with the example rulebook's deterministic rules; then model-path rows a run with models
would have (routes for every item, 1-4 attempts with a mix of outcomes for 30% of them, simulated
prices) and 10,000 human reviews (with their audit events) are added as Arrow batches, since
this bench measures the report, not the judge. Then it times:

- ``reports.html.report`` in this process (first call: includes importing altair and warming up
  vl-convert's engine, as a fresh ``labelgate report`` does), and again (warm);
- ``labelgate report RUN --db D --out F`` as a subprocess: the whole command, interpreter start
  included;
- ``labelgate report --compare A A`` (a run against itself: 100,000 items joined).

    python -m bench.report [--items 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.deterministic import deterministic_rulebook
from engine.events import ReviewDecision, add_reviews
from engine.run import compile_for, score_dataset
from engine.store import Store, append
from ingest.synthetic import SyntheticSpec, generate

REAL_IMAGES = 300
OUTCOMES = ["ok"] * 8 + ["invalid", "low_confidence", "inconsistent", "error"]


def build_run(root: Path, items: int) -> tuple[Path, str]:
    started = time.perf_counter()
    data = generate(
        root / "data",
        SyntheticSpec(images=items, draw_images=False, boxes_per_image=(1, 3), malformed=False, seed=21),
    )
    pictures = generate(root / "pictures", SyntheticSpec(images=4, seed=21))
    sources = sorted((pictures.root / "images").glob("*.png"))
    for index in range(min(REAL_IMAGES, items)):
        shutil.copy(sources[index % len(sources)], data.root / "images" / f"scene_{index:05d}.png")
    print(f"generated {data.images:,} items, {data.annotations:,} boxes in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    db = root / "runs.duckdb"
    rulebook = compile_for(deterministic_rulebook(root / "rules.yaml"))
    summary = score_dataset(data.coco, rulebook, db, format="coco")
    took = time.perf_counter() - started
    print(f"scored {summary.items_scored:,} items ({summary.findings:,} findings) in {took:.1f} s")
    started = time.perf_counter()
    add_model_and_review_rows(db, summary.run_id)
    print(f"added routes, attempts and reviews in {time.perf_counter() - started:.1f} s")
    return db, summary.run_id


def add_model_and_review_rows(db: Path, run_id: str) -> None:
    rng = random.Random(5)
    with Store(db).read() as con:
        rows = con.execute("SELECT item_id FROM items WHERE run_id = ? ORDER BY seq", [run_id]).fetchall()
        first = con.execute(
            """SELECT item_id, min(annotation_id), arg_min(label, annotation_id) FROM annotations
               WHERE run_id = ? GROUP BY item_id""",
            [run_id],
        ).fetchall()
    item_ids = [str(r[0]) for r in rows]
    first_annotation = {str(r[0]): (str(r[1]), str(r[2])) for r in first}
    now = datetime(2026, 1, 5, 9, 0, 0)
    routes: dict[str, list[object]] = {
        k: [] for k in ("run_id", "item_id", "tier", "reasons", "judged_annotations", "cost_usd")
    }
    columns = (
        "run_id annotation_id item_id call_no attempt_no strategy tier model simulated request_hash outcome "
        "input_tokens output_tokens cost_usd latency_ms cached started_at"
    )
    attempts: dict[str, list[object]] = {k: [] for k in columns.split()}
    for n, item_id in enumerate(item_ids):
        judged = rng.random() < 0.3
        tier = rng.choice(["cheap", "cheap", "cheap", "capable", "mixed"]) if judged else "none"
        total = 0.0
        if judged:
            for attempt in range(1, rng.randint(1, 4) + 1):
                used = "capable" if tier == "capable" or attempt > 2 else "cheap"
                price = 0.0028 if used == "capable" else 0.00017
                cached = rng.random() < 0.05
                cost = 0.0 if cached else price * rng.uniform(0.8, 1.2)
                total += cost
                row = {
                    "run_id": run_id, "item_id": item_id, "annotation_id": "1", "call_no": min(attempt, 2),
                    "attempt_no": attempt, "strategy": used, "tier": used, "model": f"sim:{used}",
                    "simulated": True, "request_hash": f"{n:08x}{attempt}", "outcome": rng.choice(OUTCOMES),
                    "input_tokens": 990, "output_tokens": 33, "cost_usd": cost,
                    "latency_ms": rng.uniform(20, 80), "cached": cached, "started_at": now,
                }  # fmt: skip
                for key, value in row.items():
                    attempts[key].append(value)
        for key, value in (
            ("run_id", run_id),
            ("item_id", item_id),
            ("tier", tier),
            ("reasons", '["bench"]'),
            ("judged_annotations", 1 if judged else 0),
        ):
            routes[key].append(value)
        routes["cost_usd"].append(total)
    reviewed = rng.sample(item_ids, min(10_000, len(item_ids)))
    reviews = []
    for k, item_id in enumerate(reviewed):
        decision = rng.choice(["accept", "accept", "reject", "fix_label"])
        annotation, label = first_annotation.get(item_id, (None, None))
        if annotation is None:
            decision = "reject" if decision == "fix_label" else decision
        fix = decision == "fix_label"
        reviews.append(
            ReviewDecision(
                run_id,
                item_id,
                decision,
                reviewer=f"reviewer{k % 7}",
                annotation_id=annotation if fix else None,
                corrected_label=("truck" if label == "car" else "car") if fix else None,
                decided_at=now + timedelta(seconds=k),
            )
        )
    with Store(db).write() as con:
        append(con, "routes", routes)
        append(con, "attempts", attempts)
        con.execute(
            """UPDATE runs SET models = 'sim:cheap, sim:capable', simulated = true, model_attempts = ?,
                   cost_usd = (SELECT sum(cost_usd) FROM attempts WHERE run_id = ?) WHERE run_id = ?""",
            [len(attempts["run_id"]), run_id, run_id],
        )
        add_reviews(con, reviews)
    print(f"  {len(attempts['run_id']):,} attempts, {len(reviews):,} reviews (and as many audit entries)")


def profile(db: Path, run_id: str, out: Path) -> None:
    """Where a warm report's time goes: the ten most expensive functions, cumulative."""
    import cProfile
    import pstats

    from reports.html import report

    profiler = cProfile.Profile()
    profiler.enable()
    report(db, run_id, out)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    wanted = ("reports/", "vl_convert", "jinja2/environment", "engine/audit")
    rows = [(k, v) for k, v in stats.stats.items() if any(w in k[0] for w in wanted)]  # type: ignore[attr-defined]
    rows.sort(key=lambda kv: -kv[1][3])
    for (file, _, name), (_, _, _, cumulative, _) in rows[:12]:
        print(f"  {cumulative:6.2f} s  {Path(file).name}:{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Build in this (new) folder and keep it, to look at the report.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.keep is not None:
            args.keep.mkdir(parents=True)
            root = args.keep
        db, run_id = build_run(root, args.items)
        started = time.perf_counter()
        from reports.html import report

        report(db, run_id, root / "report.html")
        first = time.perf_counter() - started
        started = time.perf_counter()
        report(db, run_id, root / "report2.html")
        warm = time.perf_counter() - started
        size = (root / "report.html").stat().st_size
        print(f"report in-process: first {first:.2f} s (imports and chart engine warm-up included), warm {warm:.2f} s")
        print(f"report file: {size / 1e6:.2f} MB")
        profile(db, run_id, root / "report4.html")

        started = time.perf_counter()
        command = [sys.executable, "-m", "app.cli", "report", run_id, "--db", str(db), "--out", str(root / "r3.html")]
        subprocess.run(command, check=True, capture_output=True)
        cli = time.perf_counter() - started
        started = time.perf_counter()
        compare = [sys.executable, "-m", "app.cli", "report", "--compare", run_id, run_id, "--db", str(db), "--json"]
        subprocess.run(compare, check=True, capture_output=True)
        compared = time.perf_counter() - started
        print(f"labelgate report (whole command, fresh process): {cli:.2f} s; --compare: {compared:.2f} s")
        verdict = "met" if max(first, cli) < 10 else "MISSED"
        print(f"target < 10 s for {args.items:,} items: {verdict}")


if __name__ == "__main__":
    main()
