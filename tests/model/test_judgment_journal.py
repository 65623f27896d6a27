"""The judgment journal: a resumed run takes finished judgments as they were, and only those.

Driven through the real judge and the simulated provider (the OpenAI client path runs), with
an in-memory journal standing in for the engine's DuckDB one; the engine's is tested at the
end against a real run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engine.model_run import JudgeSetup
from engine.run import compile_for, score_dataset
from engine.scoring import ChunkScorer
from ingest.base import open_dataset
from ingest.model import Item
from labelgate.settings import MAX_IMAGE_PIXELS
from scorers.judge.journal import Record
from scorers.judge.judge import Judge, JudgeSettings
from scorers.judge.media import MediaSource
from scorers.measure import measurements_for
from scorers.providers.sim import TIERS, SimulatedServer, _all_text, _data_block
from scorers.providers.spec import parse_model
from tests.helpers import write_rulebook
from tests.model.conftest import JUDGED_RULEBOOK, one_box_dataset

FAST = {name: replace(tier, latency_s=0.001, malformed_rate=0.0) for name, tier in TIERS.items()}
MODELS = {"cheap": parse_model("sim:cheap"), "capable": parse_model("sim:capable")}


class MemoryJournal:
    def __init__(self) -> None:
        self.entries: dict[str, dict[int | None, tuple[str, Record]]] = {}

    def recall(self, item_id: str) -> Mapping[int | None, tuple[str, Record]]:
        return self.entries.get(item_id, {})

    def remember(self, item_id: str, target: int | None, key: str, record: Record) -> None:
        self.entries.setdefault(item_id, {})[target] = (key, record)


class CountingMedia(MediaSource):
    decoded = 0

    def decode(self, item: Item, data: bytes) -> Any:
        self.decoded += 1
        return super().decode(item, data)


def _setup(tmp_path: Path, boxes: int = 1) -> tuple[Any, Item, tuple[Any, list[Any]], CountingMedia]:
    dataset = one_box_dataset(tmp_path / "data")
    if boxes > 1:  # the same car boxed again, a little lower
        data = json.loads(dataset.read_text())
        data["annotations"] += [
            {"id": 7 + n, "image_id": 1, "category_id": 1, "bbox": [100, 80 + n, 80, 60]} for n in range(1, boxes)
        ]
        dataset.write_text(json.dumps(data))
    compiled = compile_for(write_rulebook(tmp_path, JUDGED_RULEBOOK))
    reader = open_dataset(dataset)
    item = next(r for r in reader.records() if isinstance(r, Item))
    measured = ChunkScorer(compiled, measurements_for(compiled.rulebook.applies_to)).measure([item])[0]
    return compiled, item, measured, CountingMedia(reader.root, MAX_IMAGE_PIXELS.get())


def _judge(
    compiled: Any, media: MediaSource, journal: MemoryJournal, server: SimulatedServer, **settings: Any
) -> Judge:
    return Judge(
        compiled,
        MODELS,
        JudgeSettings(concurrency=2, **settings),
        media=media,
        simulator=server,
        journal=journal,
    )


def _ask(judge: Judge, item: Item, measured: tuple[Any, list[Any]], targets: Sequence[int] = (0,)) -> list[Any]:
    item_row, rows = measured
    return asyncio.run(judge.judge_item(item, item_row, rows, list(targets), "cheap"))


def test_a_journaled_judgment_is_taken_without_asking_or_decoding(tmp_path: Path) -> None:
    compiled, item, measured, media = _setup(tmp_path)
    journal = MemoryJournal()
    first_server = SimulatedServer(None, FAST, seed=5)
    first = _ask(_judge(compiled, media, journal, first_server), item, measured)
    assert first_server.requests >= 1 and media.decoded == 1
    assert set(journal.entries[item.id]) == {0}

    # a new process (new judge, new server) with the journal the killed one left behind
    again_server = SimulatedServer(None, FAST, seed=5)
    again = _ask(_judge(compiled, media, journal, again_server), item, measured)
    assert again_server.requests == 0, "a journaled judgment must not be asked again"
    assert media.decoded == 1, "nor its image decoded"
    assert [(o.status, o.values, o.strategy, o.tier, o.model, o.reasons) for o in again] == [
        (o.status, o.values, o.strategy, o.tier, o.model, o.reasons) for o in first
    ]
    assert again[0].cost_usd == pytest.approx(first[0].cost_usd) and again[0].cost_usd > 0
    assert again[0].request_hash == first[0].request_hash is not None


@pytest.mark.parametrize("change", ["image bytes", "judge settings", "annotation", "measured facts"])
def test_a_judgment_whose_inputs_changed_is_asked_again(tmp_path: Path, change: str) -> None:
    compiled, item, measured, media = _setup(tmp_path)
    journal = MemoryJournal()
    _ask(_judge(compiled, media, journal, SimulatedServer(None, FAST, seed=5)), item, measured)
    settings: dict[str, Any] = {}
    if change == "image bytes":
        from PIL import Image

        image_path = tmp_path / "data" / "images" / "car.png"
        Image.new("RGB", (320, 240), (10, 10, 10)).save(image_path)
    elif change == "judge settings":
        settings = {"escalate_below": 0.2}
    elif change == "annotation":
        item.annotations[0].label = "pedestrian"
    else:  # e.g. a dataset-level measurement after a resume with --allow-changed
        measured = (measured[0], [{**measured[1][0], "box.outside_fraction": 0.5}])
    server = SimulatedServer(None, FAST, seed=5)
    _ask(_judge(compiled, media, journal, server, **settings), item, measured)
    assert server.requests >= 1, f"after a change of {change} the judgment must be made again"


def test_only_what_is_left_is_asked_and_provider_failures_are_asked_again(tmp_path: Path) -> None:
    compiled, item, measured, media = _setup(tmp_path, boxes=2)
    journal = MemoryJournal()
    _ask(_judge(compiled, media, journal, SimulatedServer(None, FAST, seed=5)), item, measured, targets=[0])
    server = SimulatedServer(None, FAST, seed=5, keep_requests=100)
    both = _ask(_judge(compiled, media, journal, server), item, measured, targets=[0, 1])
    assert [o.recalled is not None for o in both] == [True, False]
    asked = {_data_block(_all_text(body["messages"])).get("annotation_id") for body in server.received}
    assert asked == {"8"}, "only the judgment missing from the journal is asked"

    down = {name: replace(tier, error_rate=1.0) for name, tier in FAST.items()}
    failing = MemoryJournal()
    settings = {"transport_retries": 0, "backoff_s": 0.001, "breaker_threshold": 1000}
    outcome = _ask(_judge(compiled, media, failing, SimulatedServer(None, down, seed=5), **settings), item, measured)
    assert outcome[0].status == "unavailable" and outcome[0].transient
    assert item.id not in failing.entries, "a judgment a provider failure decided must be asked again on resume"


def test_a_finished_run_leaves_no_journal(tmp_path: Path) -> None:
    """The engine's journal: entries live only until their item commits."""
    dataset = one_box_dataset(tmp_path / "data")
    db = tmp_path / "runs.duckdb"
    setup = JudgeSetup(models=MODELS, sim_tiers=FAST, settings=JudgeSettings(concurrency=2))
    summary = score_dataset(dataset, write_rulebook(tmp_path, JUDGED_RULEBOOK), db, judge=setup)
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) FROM judgments").fetchall()[0][0] == 1
        assert con.execute("SELECT count(*) FROM judgment_journal").fetchall()[0][0] == 0
    assert summary.items_scored == 1


def test_the_engine_journal_keeps_what_is_not_committed(tmp_path: Path) -> None:
    """Flushed with the attempts; a new process reads back only the entries of uncommitted items."""
    from engine.background import DatabaseThread
    from engine.model_store import ModelStore, forget_journaled
    from engine.store import Store

    store = Store(tmp_path / "runs.duckdb")
    record = {"status": "ok", "values": {"judgment.fit": "tight"}, "reasons": [], "cost_usd": 0.5}

    async def write() -> None:
        db = DatabaseThread(store)
        journal = ModelStore(db, "run-1")
        journal.remember("a.png", 0, "key-a0", record)
        journal.remember("a.png", None, "key-a", record)
        journal.remember("b.png", 2, "key-b2", record)
        await journal.flush()
        await asyncio.wrap_future(db.submit(lambda con: forget_journaled(con, "run-1", ["b.png"])))
        db.close()

    async def read() -> dict[str, Any]:
        db = DatabaseThread(store)
        journal = ModelStore(db, "run-1")
        await journal.load_journal()
        got = {item: journal.recall(item) for item in ("a.png", "b.png")}
        db.close()
        return got

    asyncio.run(write())
    got = asyncio.run(read())
    assert got["a.png"] == {0: ("key-a0", record), None: ("key-a", record)}
    assert got["b.png"] == {}
