"""Review queue speed with 10,000 items in review.

Writes a COCO file of 10,000 images (no image files, 4 boxes each), scores it with
`examples/nuimages-boxes.yaml` (its rules on image files left out: there are none) without
a judge (so every item's judgment-based rules send it to review: 10,000 items in the queue),
records a few decisions, then times:

- the engine's queue query (`load_queue`: the queue built, filter options, counts, one page);
- the Streamlit queue page, rendered by AppTest (cold: first run of the script with imports;
  then with an empty result cache; then cached), and the item page;
- a decision (`record_decision`: hash check, review row and audit entry in one transaction);
- with Chromium present, the queue page in a real browser: navigation to the item count shown.

Target: the queue page renders in under 2 s.

    python -m bench.review_queue [--items 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.deterministic import rulebook_without
from engine.review import load_item, record_decision
from engine.review_queue import QueueFilters, load_queue
from engine.reviewers import Reviewer
from engine.run import score_dataset

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app" / "review_app.py"
LABELS = ["car", "truck", "bus", "pedestrian", "bicycle", "motorcycle", "traffic_cone", "barrier"]


def write_coco(path: Path, images: int, seed: int = 3) -> Path:
    rng = random.Random(seed)
    data: dict[str, list[dict[str, object]]] = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(LABELS)],
    }
    ann = 0
    for image in range(1, images + 1):
        data["images"].append({"id": image, "file_name": f"img_{image:05d}.jpg", "width": 1600, "height": 900})
        for _ in range(4):
            ann += 1
            w, h = rng.uniform(8, 300), rng.uniform(6, 200)
            x, y = rng.uniform(0, 1600 - w), rng.uniform(0, 900 - h)
            data["annotations"].append(
                {
                    "id": ann,
                    "image_id": image,
                    "category_id": rng.randint(1, len(LABELS)),
                    "bbox": [round(x, 1), round(y, 1), round(w, 1), round(h, 1)],
                    "attributes": {"visibility": rng.choice(["v0-40", "v40-60", "v60-80", "v80-100"])},
                }
            )
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def show(label: str, seconds: list[float]) -> None:
    best, median = min(seconds), statistics.median(seconds)
    print(f"{label:<58} median {median * 1000:8.1f} ms   best {best * 1000:8.1f} ms   (n={len(seconds)})")


def apptest_times(db: Path, repeat: int, query: dict[str, str] | None = None) -> tuple[float, list[float], list[float]]:
    """Cold first render, renders with an empty result cache, renders with a warm cache."""
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    logging.disable(logging.WARNING)  # Streamlit's notes about running without a server

    os.environ["LABELGATE_DB"] = str(db)

    def render() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params.update(query or {})
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].value)
        return at

    start = time.perf_counter()
    render()
    cold = time.perf_counter() - start
    uncached = []
    for _ in range(repeat):
        st.cache_data.clear()
        start = time.perf_counter()
        render()
        uncached.append(time.perf_counter() - start)
    warm = timed(render, repeat)
    return cold, uncached, warm


def browser_time(db: Path, expected: str) -> float | None:
    """Seconds from navigation to the queue's item count on screen, in headless Chromium."""
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if chromium is None:
        return None
    import subprocess
    import sys
    import urllib.request

    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "review", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("open ")
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            page = context.new_page()
            page.goto(url)  # a first visit warms the server process (imports)
            page.get_by_text(expected).first.wait_for(timeout=60_000)
            times = []
            for _ in range(3):
                start = time.perf_counter()
                page.goto(url)
                page.get_by_text(expected).first.wait_for(timeout=60_000)
                times.append(time.perf_counter() - start)
            context.close()
        return statistics.median(times)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["LABELGATE_HOME"] = str(folder / "home")
        os.environ.pop("LABELGATE_REVIEWERS", None)
        dataset = write_coco(folder / "annotations.json", args.items)
        db = folder / "runs.duckdb"
        start = time.perf_counter()
        rulebook = rulebook_without(folder / "rules.yaml", "image.")  # no image files to check
        summary = score_dataset(dataset, rulebook, db, format="coco")
        print(
            f"scored {summary.items_scored:,} items ({summary.annotations_scored:,} boxes) in "
            f"{time.perf_counter() - start:.1f} s: {summary.needs_review:,} in review"
        )
        _, view = load_queue(db, QueueFilters())
        reviewer = Reviewer("bench")
        decided = timed(
            lambda: record_decision(
                db,
                summary.run_id,
                (item := view.keys.pop()[1]),
                reviewer=reviewer,
                decision="accept",
                expected_hash=load_item(db, summary.run_id, item).bound_hash,
            ),
            args.repeat,
        )
        show("decision (item load + record_decision)", decided)
        show("engine: load_queue (all runs, first page)", timed(lambda: load_queue(db, QueueFilters()), args.repeat))
        narrow = QueueFilters(severities=("critical",), sort="lowest score")
        show(
            "engine: load_queue (severity filter, sorted by score)", timed(lambda: load_queue(db, narrow), args.repeat)
        )
        _, view = load_queue(db, QueueFilters(status="all"))
        print(f"queue: {len(view.keys):,} items, {view.pending:,} to review, {view.decided:,} decided")
        cold, uncached, warm = apptest_times(db, args.repeat)
        print(f"{'queue page, AppTest, first render (imports, cold caches)':<58} {cold * 1000:8.1f} ms")
        show("queue page, AppTest, empty result cache", uncached)
        show("queue page, AppTest, cached", warm)
        run_id, item_id = view.keys[0]
        _, item_uncached, item_warm = apptest_times(db, args.repeat, {"run": run_id, "item": item_id})
        show("item page, AppTest, empty result cache", item_uncached)
        show("item page, AppTest, cached", item_warm)
        browser = browser_time(db, f"Items ({view.pending:,})")
        if browser is None:
            print("browser: no Chromium, skipped")
        else:
            print(f"{'queue page in headless Chromium, navigation to item count':<58} median {browser * 1000:8.1f} ms")
        worst = max(statistics.median(uncached), browser or 0.0)
        print(f"target: queue page < 2 s: {'met' if worst < 2.0 else 'MISSED'} (worst median {worst:.2f} s)")


if __name__ == "__main__":
    main()
