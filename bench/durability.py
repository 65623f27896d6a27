"""Kill -9 a model-path run at random points, resume it each time, compare with an uninterrupted run.

The run uses the simulated models (with latency, so there is time to kill it mid-flight). It
is started, SIGKILLed after a random delay, resumed with ``labelgate resume``, killed again,
and so on; finally resumed to the end. Compared with an uninterrupted run of the same dataset
and configuration (in its own database, so nothing is shared): every item is scored exactly
once, the paid model attempts are as many, and every score and decision is identical.

    python -m bench.durability [--images 120] [--kills 6] [--seed 1]

Prints whether every item was scored once, the paid attempts of both runs, whether scores,
decisions and findings are identical, and the resume overhead (total time of the killed and
resumed run / time of the uninterrupted one; target <= 1.10).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
RULEBOOK = REPO / "examples" / "nuimages-boxes.yaml"
PAID = "NOT cached AND outcome NOT LIKE 'http_%' AND outcome NOT IN ('timeout', 'connection_error')"


def worker(db: str, dataset: str, latency: float) -> None:
    """Start a new run (the resumes use the CLI; the setup is stored in the run)."""
    from engine.model_run import JudgeSetup
    from engine.run import score_dataset
    from scorers.judge.judge import JudgeSettings
    from scorers.providers.sim import TIERS
    from scorers.providers.spec import parse_model

    tiers = {name: replace(tier, latency_s=latency) for name, tier in TIERS.items()}
    setup = JudgeSetup(
        models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")},
        settings=JudgeSettings(concurrency=4),
        sim_tiers=tiers,
        sim_seed=11,
    )
    score_dataset(dataset, RULEBOOK, db, judge=setup, chunk_annotations=300)


def _score_cmd(db: Path, dataset: Path, latency: float) -> list[str]:
    return [sys.executable, "-m", "bench.durability", "--worker", str(db), str(dataset), str(latency)]


def _resume_cmd(db: Path) -> list[str]:
    return [sys.executable, "-m", "app.cli", "resume", "latest", "--db", str(db), "--quiet"]


def _has_run(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with duckdb.connect(str(db)) as con:
            return bool(con.execute("SELECT count(*) FROM runs").fetchall()[0][0])
    except duckdb.Error:
        return False


def start_up_seconds(env: dict[str, str]) -> float:
    """How long a resume takes to import what it needs on this machine now."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import app.cli, app.cli_score, engine.run, engine.model_run"],
        cwd=REPO,
        env=env,
        check=True,
    )
    return time.perf_counter() - started


@dataclass
class Outcome:
    seconds: float
    kills: int
    processes: int


def run_with_kills(
    db: Path,
    dataset: Path,
    latency: float,
    kills: int,
    rng: random.Random,
    startup_s: float | None = None,
    spread_s: float = 1.5,
) -> Outcome:
    """Start, kill -9 ``kills`` times at random points, resume until it finishes.

    The first process is killed a uniform random 0.2..``spread_s`` seconds after it creates the
    database, each resume ``startup_s`` (default: measured now, as load varies) plus that after it
    starts (give ``spread_s`` about twice the run's length divided by the number of kills to spread
    the kills over the whole run).
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if startup_s is None:
        startup_s = start_up_seconds(env)
    started = time.perf_counter()
    done_kills = processes = 0
    created = False  # once the run is in the database, every later process resumes it
    while True:
        created = created or _has_run(db)
        cmd = _resume_cmd(db) if created else _score_cmd(db, dataset, latency)
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        processes += 1
        if done_kills < kills:
            delay = startup_s + rng.uniform(0.2, spread_s)
            if processes == 1:
                # Interpreter start-up time varies with machine load; count from the run's creation.
                while not db.exists() and proc.poll() is None:
                    time.sleep(0.02)
                delay -= startup_s
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                done_kills += 1
                continue
        _, stderr = proc.communicate(timeout=600)
        if proc.returncode == 0:
            return Outcome(time.perf_counter() - started, done_kills, processes)
        text = stderr.decode(errors="replace")
        if "already finished" in text:
            return Outcome(time.perf_counter() - started, done_kills, processes)
        raise RuntimeError(f"{' '.join(cmd)} failed: {text[-2000:]}")


def facts(db: Path) -> dict[str, object]:
    with duckdb.connect(str(db)) as con:
        run_id, status = con.execute("SELECT run_id, status FROM runs").fetchall()[0]
        return {
            "status": status,
            "items": con.execute(
                "SELECT item_id, count(*) FROM items WHERE run_id = ? GROUP BY 1", [run_id]
            ).fetchall(),
            "scores": sorted(
                con.execute("SELECT item_id, score, decision FROM scores WHERE run_id = ?", [run_id]).fetchall()
            ),
            "findings": sorted(
                con.execute(
                    "SELECT item_id, annotation_id, rule_id FROM findings WHERE run_id = ?", [run_id]
                ).fetchall(),
                key=str,
            ),
            "paid": con.execute(f"SELECT count(*) FROM attempts WHERE run_id = ? AND {PAID}", [run_id]).fetchall()[0][
                0
            ],
            "counts": con.execute(
                "SELECT items_in, items_scored, items_quarantined, annotations_in, "
                "annotations_scored, annotations_quarantined FROM runs"
            ).fetchall()[0],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", nargs=3, metavar=("DB", "DATASET", "LATENCY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], float(args.worker[2]))
        return
    from ingest.synthetic import SyntheticSpec, generate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = generate(root / "data", SyntheticSpec(images=args.images, seed=4))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        clock = time.perf_counter()
        subprocess.run(_score_cmd(root / "ref.duckdb", data.coco, args.latency), cwd=REPO, env=env, check=True)
        reference_s = time.perf_counter() - clock
        # kills spread over the whole run: on average one every ~0.8 / kills of its length
        spread = max(1.5, 1.6 * reference_s / args.kills)
        outcome = run_with_kills(
            root / "killed.duckdb", data.coco, args.latency, args.kills, random.Random(args.seed), spread_s=spread
        )
        ref, got = facts(root / "ref.duckdb"), facts(root / "killed.duckdb")
        duplicates = [row for row in got["items"] if row[1] != 1]  # type: ignore[union-attr]
        print(
            f"uninterrupted: {reference_s:.1f} s; killed {outcome.kills} times, {outcome.processes} processes, "
            f"{outcome.seconds:.1f} s in all"
        )
        print(f"items scored exactly once: {not duplicates} ({len(got['items'])} items)")  # type: ignore[arg-type]
        print(f"paid attempts: uninterrupted {ref['paid']}, killed and resumed {got['paid']}")
        print(
            f"identical scores and decisions: {ref['scores'] == got['scores']}; identical findings: "
            f"{ref['findings'] == got['findings']}; counts {got['counts']} vs {ref['counts']}"
        )
        print(
            f"resume overhead (total time / uninterrupted time): {outcome.seconds / reference_s:.2f} "
            f"(includes {outcome.processes - 1} extra interpreter start-ups)"
        )


if __name__ == "__main__":
    main()
