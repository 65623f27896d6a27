"""One small scored run with simulated models and human reviews, shared by the report tests.

It is built once per session (about 2 s); each test gets a private copy of the database,
because reports and exports append audit events.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.events import ReviewDecision, add_reviews
from engine.model_run import JudgeSetup
from engine.run import score_dataset
from engine.store import Store
from ingest.synthetic import SyntheticDataset, SyntheticSpec, generate
from scorers.providers.spec import parse_model
from tests.helpers import EXAMPLE_RULEBOOK

T0 = datetime(2026, 1, 5, 9, 0, 0)


@dataclass(frozen=True)
class DemoRun:
    db: Path
    run_id: str
    dataset: SyntheticDataset
    reviews: tuple[ReviewDecision, ...]


def sim_judge() -> JudgeSetup:
    return JudgeSetup(models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")})


def review_mix(db: Path, run_id: str) -> tuple[ReviewDecision, ...]:
    """Reviews of the first 12 items (dataset order): a fixed mix of accept / reject / fix_label,
    and an earlier, superseded review of the first item (the latest review wins)."""
    with Store(db).read() as con:
        rows = con.execute(
            """SELECT s.item_id, min(a.annotation_id), arg_min(a.label, a.annotation_id)
               FROM scores s JOIN items i USING (run_id, item_id)
               LEFT JOIN annotations a USING (run_id, item_id)
               WHERE s.run_id = ? GROUP BY s.item_id, i.seq ORDER BY i.seq LIMIT 12""",
            [run_id],
        ).fetchall()
    decisions = ["accept", "reject", "fix_label", "accept"]
    reviews = [
        ReviewDecision(run_id, str(rows[0][0]), "reject", "early", decided_at=T0 - timedelta(days=1), review_id="rv-0")
    ]
    for k, (item_id, annotation_id, label) in enumerate(rows):
        decision = decisions[k % 4]
        reviews.append(
            ReviewDecision(
                run_id,
                str(item_id),
                decision,
                reviewer=f"rev{k % 3}",
                role="lead" if k % 5 == 0 else "reviewer",
                annotation_id=annotation_id,
                corrected_label=("truck" if label == "car" else "car") if decision == "fix_label" else None,
                decided_at=T0 + timedelta(minutes=k),
                review_id=f"rv-{k + 1:02d}",
            )
        )
    with Store(db).write() as con:
        add_reviews(con, reviews)
    return tuple(reviews)


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    root = tmp_path_factory.mktemp("report-demo")
    dataset = generate(root / "dataset", SyntheticSpec(images=16, seed=5))
    db = root / "runs.duckdb"
    summary = score_dataset(dataset.coco, EXAMPLE_RULEBOOK, db, format="coco", judge=sim_judge())
    return DemoRun(db, summary.run_id, dataset, review_mix(db, summary.run_id))


@pytest.fixture
def demo(demo_source: DemoRun, tmp_path: Path) -> DemoRun:
    """A private copy of the demo database (the dataset folder is shared, read-only)."""
    target = tmp_path / "runs.duckdb"
    shutil.copy(demo_source.db, target)
    wal = demo_source.db.with_name(demo_source.db.name + ".wal")
    if wal.exists():
        shutil.copy(wal, target.with_name(target.name + ".wal"))
    return replace(demo_source, db=target)
