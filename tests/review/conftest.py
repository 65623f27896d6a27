"""Scored runs with items in review, built once per session and copied per test."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.model_run import JudgeSetup
from engine.run import score_dataset
from engine.store import Store
from ingest.synthetic import SyntheticSpec, generate
from scorers.providers.spec import parse_model
from tests.helpers import REPO


@dataclass(frozen=True)
class ReviewSource:
    db: Path
    run_id: str
    dataset: Path


def _judge() -> JudgeSetup:
    return JudgeSetup(models={"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")})


@pytest.fixture(scope="session")
def image_source(tmp_path_factory: pytest.TempPathFactory) -> ReviewSource:
    folder = tmp_path_factory.mktemp("review-images")
    dataset = generate(folder / "dataset", SyntheticSpec(images=40, seed=7))
    db = folder / "source.duckdb"
    summary = score_dataset(dataset.coco, REPO / "examples" / "nuimages-boxes.yaml", db, format="coco", judge=_judge())
    assert summary.needs_review >= 5
    return ReviewSource(db, summary.run_id, dataset.coco)


@pytest.fixture(scope="session")
def text_source(tmp_path_factory: pytest.TempPathFactory) -> ReviewSource:
    folder = tmp_path_factory.mktemp("review-text")
    db = folder / "source.duckdb"
    dataset = REPO / "examples" / "news-ner.conll"
    summary = score_dataset(dataset, REPO / "examples" / "conll-entities.yaml", db, judge=_judge())
    assert summary.needs_review >= 1
    return ReviewSource(db, summary.run_id, dataset)


def _copy(source: ReviewSource, tmp_path: Path, name: str) -> ReviewSource:
    target = tmp_path / name
    shutil.copyfile(source.db, target)
    wal = source.db.with_name(source.db.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return ReviewSource(target, source.run_id, source.dataset)


@pytest.fixture
def image_run(image_source: ReviewSource, tmp_path: Path) -> ReviewSource:
    """A private copy of the image run's database (the dataset folder is shared, read-only)."""
    return _copy(image_source, tmp_path, "runs.duckdb")


@pytest.fixture
def text_run(text_source: ReviewSource, tmp_path: Path) -> ReviewSource:
    return _copy(text_source, tmp_path, "text.duckdb")


def review_items(db: Path, run_id: str) -> list[str]:
    with Store(db).read() as con:
        rows = con.execute(
            "SELECT item_id FROM scores WHERE run_id = ? AND decision = 'review' ORDER BY item_id", [run_id]
        ).fetchall()
    return [str(r[0]) for r in rows]
