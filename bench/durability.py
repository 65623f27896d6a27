"""Kill -9 a model-path run at random points, resume it each time, compare with an uninterrupted run.

The run uses the simulated models (with latency, so there is time to kill it mid-flight). It
is started, SIGKILLed after a random delay, resumed with ``labelgate resume``, killed again,
and so on; finally resumed to the end. Compared with an uninterrupted run of the same dataset
and configuration (in its own database, so nothing is shared): every item is scored exactly
once, the paid model attempts are as many, and every score and decision is identical.

Both runs go side by side, each on a core of its own (the uninterrupted one started again as
ballast when it finishes first, so the loads stay alike to the end): these machines drift by
tens of percent within minutes (the same uninterrupted run took 179 s, then 138 s, ten minutes
apart), which would swamp an overhead of a few percent measured one run after the other. A run
is bound by one thread (the GIL) and ran as fast on one core as on two (42.8 and 44.5 s against
45.4 and 41.2 s, 300 images); unpinned side by side, the uninterrupted run's threads took more
than their share of the cores from a resumed process starting up.

    python -m bench.durability [--images 2000] [--kills 5] [--seed 1]

The defaults are the documented configuration (a kill about every minute of a ~5-minute run);
a kill costs seconds whatever the run's length, so a shorter run shows a larger ratio: the
per-kill seconds printed let any run length be judged.

Prints whether every item was scored once, the paid attempts of both runs, whether scores,
decisions and findings are identical, the resume overhead (total time of the killed and
resumed run / time of the uninterrupted one; target <= 1.10) and what each kill cost.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
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


def start_up_seconds(env: dict[str, str], cpu: int | None = None) -> float:
    """How long a resume takes to import what it needs on this machine now."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import app.cli, app.cli_score, engine.run, engine.model_run"], cwd=REPO, env=env
    )
    _pin(proc.pid, cpu)
    if proc.wait() != 0:
        raise RuntimeError("the start-up probe failed")
    return time.perf_counter() - started


def _pin(pid: int, cpu: int | None) -> None:
    """Keep a process (and the threads it starts) on one core."""
    if cpu is not None:
        with contextlib.suppress(ProcessLookupError):  # it may be gone already
            os.sched_setaffinity(pid, {cpu})


@dataclass
class Outcome:
    seconds: float
    kills: int
    processes: int
    startup_s: float = 0.0


def run_with_kills(
    db: Path,
    dataset: Path,
    latency: float,
    kills: int,
    rng: random.Random,
    startup_s: float | None = None,
    spread_s: float = 1.5,
    cpu: int | None = None,
) -> Outcome:
    """Start, kill -9 ``kills`` times at random points, resume until it finishes.

    The first process is killed a uniform random 0.2..``spread_s`` seconds after it creates the
    database, each resume ``startup_s`` (default: measured now, as load varies) plus that after it
    starts (give ``spread_s`` about twice the run's length divided by the number of kills to spread
    the kills over the whole run). With ``cpu``, every process runs on that core alone.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if startup_s is None:
        startup_s = start_up_seconds(env, cpu)
    started = time.perf_counter()
    done_kills = processes = 0
    created = False  # once the run is in the database, every later process resumes it
    while True:
        created = created or _has_run(db)
        cmd = _resume_cmd(db) if created else _score_cmd(db, dataset, latency)
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _pin(proc.pid, cpu)
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
            return Outcome(time.perf_counter() - started, done_kills, processes, startup_s)
        text = stderr.decode(errors="replace")
        if "already finished" in text:
            return Outcome(time.perf_counter() - started, done_kills, processes, startup_s)
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
            "cached": con.execute("SELECT count(*) FROM attempts WHERE run_id = ? AND cached", [run_id]).fetchall()[0][
                0
            ],
            "counts": con.execute(
                "SELECT items_in, items_scored, items_quarantined, annotations_in, "
                "annotations_scored, annotations_quarantined FROM runs"
            ).fetchall()[0],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", nargs=3, metavar=("DB", "DATASET", "LATENCY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], float(args.worker[2]))
        return
    from ingest.synthetic import SyntheticSpec, generate

    _compile_sources()
    cores = sorted(os.sched_getaffinity(0))
    reference_cpu, killed_cpu = cores[0], cores[-1]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = generate(root / "data", SyntheticSpec(images=args.images, seed=4))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        startup_s = start_up_seconds(env, killed_cpu)
        expected_s = _seconds_per_item(root, args.latency, env, killed_cpu, startup_s) * args.images
        reference = _side_by_side(root, data.coco, args.latency, env, reference_cpu)
        # kills spread over the whole run: on average one every ~0.8 / kills of its length
        spread = max(1.5, 1.6 * expected_s / args.kills)
        try:
            outcome = run_with_kills(
                root / "killed.duckdb",
                data.coco,
                args.latency,
                args.kills,
                random.Random(args.seed),
                startup_s=startup_s,
                spread_s=spread,
                cpu=killed_cpu,
            )
        except BaseException:
            with contextlib.suppress(Exception):  # the killed run's error is the one to report
                reference.finish()
            raise
        reference_s = reference.finish()
        ref, got = facts(root / "ref.duckdb"), facts(root / "killed.duckdb")
        duplicates = [row for row in got["items"] if row[1] != 1]  # type: ignore[union-attr]
        print(
            f"side by side (cores {reference_cpu} and {killed_cpu}): uninterrupted {reference_s:.1f} s; "
            f"killed {outcome.kills} times, {outcome.processes} processes, {outcome.seconds:.1f} s in all"
        )
        print(f"items scored exactly once: {not duplicates} ({len(got['items'])} items)")  # type: ignore[arg-type]
        print(f"paid attempts: uninterrupted {ref['paid']}, killed and resumed {got['paid']}")
        print(
            f"identical scores and decisions: {ref['scores'] == got['scores']}; identical findings: "
            f"{ref['findings'] == got['findings']}; counts {got['counts']} vs {ref['counts']}"
        )
        per_kill = (outcome.seconds - reference_s) / max(outcome.kills, 1)
        print(
            f"resume overhead (total time / uninterrupted time): {outcome.seconds / reference_s:.2f} (target <= 1.10); "
            f"{per_kill:.1f} s a kill, of which {startup_s:.1f} s is a new process's start-up "
            f"(interpreter and imports, measured alone); answers replayed from the store: {got['cached']}"
        )


@dataclass
class Reference:
    """The uninterrupted run going on beside the killed one."""

    seconds: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    failed: str | None = None

    def finish(self) -> float:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.failed or not self.seconds:
            raise RuntimeError(f"the uninterrupted run did not finish: {self.failed}")
        return self.seconds


def _side_by_side(root: Path, dataset: Path, latency: float, env: dict[str, str], cpu: int) -> Reference:
    """Start the uninterrupted run now on its own core; once done, keep that core as busy until stopped.

    The ballast (the same run again) keeps the two cores' loads alike to the end, so the killed
    run does not speed up once it is alone (on a machine whose two cores share caches).
    """
    reference = Reference()

    def run() -> None:
        clock = time.perf_counter()
        proc = subprocess.Popen(
            _score_cmd(root / "ref.duckdb", dataset, latency), cwd=REPO, env=env, stdout=subprocess.DEVNULL
        )
        _pin(proc.pid, cpu)  # within milliseconds of its start, long before it starts a thread
        if proc.wait() != 0:
            reference.failed = f"exit code {proc.returncode}"
            return
        reference.seconds = time.perf_counter() - clock
        for round_no in itertools.count():
            if reference.stop.is_set():
                return
            ballast = subprocess.Popen(
                _score_cmd(root / f"ballast-{round_no}.duckdb", dataset, latency),
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _pin(ballast.pid, cpu)
            while ballast.poll() is None and not reference.stop.is_set():
                time.sleep(0.05)
            if ballast.poll() is None:
                ballast.kill()
                ballast.wait()

    reference.thread = threading.Thread(target=run, daemon=True)
    reference.thread.start()
    return reference


def _seconds_per_item(root: Path, latency: float, env: dict[str, str], cpu: int, startup_s: float) -> float:
    """A short run alone, on the killed run's core, to spread the kills over the whole long run."""
    from ingest.synthetic import SyntheticSpec, generate

    images = 40
    data = generate(root / "calibration", SyntheticSpec(images=images, seed=5))
    clock = time.perf_counter()
    proc = subprocess.Popen(_score_cmd(root / "calibration.duckdb", data.coco, latency), cwd=REPO, env=env)
    _pin(proc.pid, cpu)
    if proc.wait() != 0:
        raise RuntimeError("the calibration run failed")
    return max(time.perf_counter() - clock - startup_s, 0.1) / images


def _compile_sources() -> None:
    """Byte-compile the project, as pip does when it installs a wheel.

    An editable install under PYTHONDONTWRITEBYTECODE=1 (as on these machines) would compile
    every module from source again at every process start, which an installed one never does.
    """
    import compileall

    for package in ("app", "engine", "ingest", "labelgate", "reports", "rulebook", "scorers", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)


if __name__ == "__main__":
    main()
