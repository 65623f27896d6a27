"""YOLO ingestion at scale: 1,000,000 boxes read, measured, scored and stored in bounded memory.

Generates a YOLO dataset (Ultralytics layout, ``data.yaml``) of ``--boxes`` boxes on
images of ``--per-image`` boxes each. Every image is a real 1280×720 PNG (the same ~1 KB
of bytes written once per file): the YOLO reader needs each image's size to turn
normalized coordinates into pixels and reads it from the file header, as on real data.
About 1% of boxes carry defects (tiny, out of bounds, duplicated, degenerate) and a few rows
and files are malformed, so findings and quarantine are exercised. The dataset is scored
with ``bench/yolo-boxes.yaml`` through ``engine.run.score_dataset``; the bench prints
annotations/s, the stages, peak RSS (``resource.getrusage``) and a digest of every finding
and quarantined record. ``--repeat 2`` scores twice and checks the digests are equal.

    python -m bench.ingest_yolo [--boxes 1000000] [--per-image 20] [--repeat 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from engine.run import RunSummary, score_dataset

REPO = Path(__file__).resolve().parents[1]
RULEBOOK = REPO / "bench" / "yolo-boxes.yaml"
NAMES = ["car", "truck", "bus", "pedestrian", "bicycle", "motorcycle", "traffic_cone", "barrier"]
WIDTH, HEIGHT = 1280, 720


def _png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (WIDTH, HEIGHT), 90).save(buffer, format="PNG")
    return buffer.getvalue()


def _row(rng: random.Random) -> str:
    w, h = rng.uniform(0.02, 0.2), rng.uniform(0.03, 0.3)
    cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
    roll = rng.random()
    if roll < 0.004:
        h = 6 / HEIGHT  # under 10 px tall
    elif roll < 0.007:
        cx = 1.0  # half outside the image
    elif roll < 0.008:
        w = 0.0  # degenerate
    return f"{rng.randrange(len(NAMES))} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n"


def generate(root: Path, boxes: int, per_image: int, seed: int = 3) -> tuple[int, int]:
    """Write the dataset; returns (images, rows written)."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "data.yaml").write_text("names:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(NAMES)))
    png = _png_bytes()
    images = -(-boxes // per_image)
    written = 0
    for index in range(images):
        name = f"frame_{index:07d}"
        (root / "images" / f"{name}.png").write_bytes(png)
        count = min(per_image, boxes - written)
        rows = [_row(rng) for _ in range(count)]
        if count and rng.random() < 0.01:
            rows[-1] = rows[0]  # an exact duplicate box
        if index % 10_000 == 1:
            rows.append("3 0.5 0.5 0.1\n")  # malformed: 4 values
        written += count
        (root / "labels" / f"{name}.txt").write_text("".join(rows))
    (root / "labels" / "orphan_without_image.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    return images, written


def digest(db: Path, run_id: str) -> str:
    """SHA-256 over every finding and quarantined record of the run, in a fixed order."""
    sha = hashlib.sha256()
    with duckdb.connect(str(db), read_only=True) as con:
        for table, columns in (
            ("findings", "item_id, annotation_id, rule_id, message"),
            ("quarantine", "source, locator, reason"),
            ("scores", "item_id, score, decision"),
        ):
            cursor = con.execute(f"SELECT {columns} FROM {table} WHERE run_id = ? ORDER BY ALL", [run_id])
            while batch := cursor.fetchmany(100_000):
                for row in batch:
                    sha.update(repr(row).encode())
    return sha.hexdigest()[:16]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def report(summary: RunSummary) -> None:
    rate = summary.annotations_in / summary.duration_s
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in summary.stage_seconds.items())
    print(
        f"scored {summary.items_in:,} items ({summary.items_quarantined:,} quarantined) and "
        f"{summary.annotations_in:,} annotations ({summary.annotations_quarantined:,} quarantined) in "
        f"{summary.duration_s:.1f} s = {rate:,.0f} annotations/s; {summary.findings:,} findings"
    )
    print(f"stages: {stages}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument("--per-image", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="score this many times and compare digests")
    parser.add_argument("--keep", type=Path, help="write the dataset and database here and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="labelgate-yolo-bench-"))
    try:
        started = time.perf_counter()
        images, rows = generate(work / "dataset", args.boxes, args.per_image)
        print(f"generated {rows:,} boxes on {images:,} images in {time.perf_counter() - started:.1f} s")
        print(f"peak RSS after generating: {peak_rss_mib():,.0f} MiB")
        digests = []
        for attempt in range(args.repeat):
            db = work / f"run{attempt}.duckdb"
            summary = score_dataset(work / "dataset", RULEBOOK, db, format="yolo")
            report(summary)
            digests.append(digest(db, summary.run_id))
            print(f"results digest: {digests[-1]}; peak RSS so far: {peak_rss_mib():,.0f} MiB")
        if args.repeat > 1:
            print(f"deterministic across {args.repeat} runs: {'yes' if len(set(digests)) == 1 else 'NO'}")
        peak = peak_rss_mib()
        print(f"peak RSS: {peak:,.0f} MiB ({'under' if peak < 1024 else 'OVER'} the 1 GiB budget)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
