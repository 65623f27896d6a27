"""Run orchestration for the deterministic path: ingest → measure → rules → score → store.

The dataset is streamed in chunks (about ``LABELGATE_CHUNK_ANNOTATIONS`` annotations each);
every chunk is scored in one batch through the rule engine and committed in one
transaction. A dataset or rulebook that cannot be read fails before anything is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.background import BackgroundWriter, DatabaseThread
from engine.dataset_pass import prepare_measurements
from engine.model_run import JudgeSetup, run_model_path
from engine.scoring import ChunkScorer
from engine.store import Store
from engine.writer import ChunkCounts, to_json, utcnow
from ingest.base import DatasetReader, Record, open_dataset
from ingest.model import Item, Quarantined
from labelgate.errors import DatasetError, RulebookError, RunError
from labelgate.settings import CHUNK_ANNOTATIONS
from labelgate.version import __version__
from rulebook.compiler import Backend, CompiledRulebook, compile_rulebook
from rulebook.loader import load_file
from scorers.measure import fields_for

Progress = Callable[[ChunkCounts], None]


def new_run_id() -> str:
    """Sortable and short: ``20261125-004512-3fa9``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def compile_for(path: str | Path, backend: Backend = "durable") -> CompiledRulebook:
    """Load and compile a rulebook file with the built-in measurements' vocabulary."""
    loaded = load_file(path)
    return compile_rulebook(loaded, fields_for(loaded.rulebook.applies_to), backend)


@dataclass
class RunSummary:
    run_id: str
    db: Path
    status: str
    items_in: int = 0
    items_scored: int = 0
    items_quarantined: int = 0
    annotations_in: int = 0
    annotations_scored: int = 0
    annotations_quarantined: int = 0
    passed: int = 0
    failed: int = 0
    needs_review: int = 0
    findings: int = 0
    duration_s: float = 0.0
    top_rules: list[tuple[str, int]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    models: str | None = None
    simulated: bool = False
    cost_usd: float = 0.0
    model_attempts: int = 0

    @property
    def cost_per_accepted_item(self) -> float | None:
        """Model cost divided by the items that passed (the price of one accepted item)."""
        return self.cost_usd / self.passed if self.passed else None

    def add(self, counts: ChunkCounts) -> None:
        self.items_in += counts.items + counts.items_quarantined
        self.items_scored += counts.items
        self.items_quarantined += counts.items_quarantined
        self.annotations_in += counts.annotations + counts.annotations_quarantined
        self.annotations_scored += counts.annotations
        self.annotations_quarantined += counts.annotations_quarantined
        self.passed += counts.passed
        self.failed += counts.failed
        self.needs_review += counts.review
        self.findings += counts.findings


def _chunks(records: Iterator[Record], budget: int) -> Iterator[tuple[list[Item], list[Quarantined]]]:
    items: list[Item] = []
    quarantined: list[Quarantined] = []
    size = 0
    for record in records:
        if isinstance(record, Quarantined):
            quarantined.append(record)
            continue
        items.append(record)
        size += max(len(record.annotations), 1)
        if size >= budget:
            yield items, quarantined
            items, quarantined, size = [], [], 0
    if items or quarantined:
        yield items, quarantined


def score_dataset(
    dataset: str | Path,
    rulebook: str | Path | CompiledRulebook,
    db: str | Path,
    *,
    format: str = "auto",
    rule_engine: Backend = "durable",
    chunk_annotations: int | None = None,
    progress: Progress | None = None,
    judge: JudgeSetup | None = None,
) -> RunSummary:
    """Score a dataset against a rulebook into ``db``; returns the finished run's summary.

    With ``judge``, judgment-based rules get their judgments from the configured models;
    without it they send their items to review (a rule never passes silently).
    """
    compiled = rulebook if isinstance(rulebook, CompiledRulebook) else compile_for(rulebook, rule_engine)
    reader = open_dataset(dataset, format)
    _check_kind(reader, compiled)
    records = reader.records()
    first = _first(records)  # surfaces unreadable datasets before anything is written
    fingerprint = reader.fingerprint()
    store = Store(db)
    run_id = new_run_id()
    started = time.perf_counter()
    use_models = judge is not None and compiled.judgment_model is not None
    prepared: dict[str, float] = {}  # the dataset pre-pass, when a rule reads a dataset-level field
    measurements = prepare_measurements(reader, compiled, prepared)
    config: dict[str, Any] = {
        "format": reader.format,
        "chunk_annotations": chunk_annotations or CHUNK_ANNOTATIONS.get(),
        "rule_engine": compiled.backend,
        "judge": judge.describe() if judge is not None and use_models else None,
    }
    models = ", ".join(judge.describe()["models"].values()) if judge is not None and use_models else None
    with store.write() as con:
        con.execute(
            """INSERT INTO runs (run_id, created_at, status, dataset_path, dataset_format,
                dataset_fingerprint, rulebook_name, rulebook_version, rulebook_fingerprint,
                rulebook_path, rulebook_yaml, judgment_fingerprint, rule_engine,
                labelgate_version, config, models, simulated)
               VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                run_id,
                utcnow(),
                str(Path(dataset).resolve()),
                reader.format,
                fingerprint,
                compiled.name,
                compiled.version,
                compiled.fingerprint,
                compiled.path,
                compiled.source,
                compiled.judgment_fingerprint,
                compiled.backend,
                __version__,
                to_json(config),
                models,
                bool(judge is not None and use_models and judge.simulated),
            ],
        )
    summary = RunSummary(
        run_id, Path(db), "running", models=models, simulated=bool(judge is not None and use_models and judge.simulated)
    )
    scorer = ChunkScorer(compiled, measurements)
    status, error = "finished", None
    stages: dict[str, float] = {"ingest": 0.0}

    def committed(counts: ChunkCounts) -> None:
        summary.add(counts)
        if progress is not None:
            progress(counts)

    db_thread = DatabaseThread(store)
    writer = BackgroundWriter(
        db_thread,
        run_id,
        committed,
        item_fields=scorer.stored_item_fields,
        annotation_fields=scorer.stored_annotation_fields,
    )
    chunks = _chunks(_prepend(first, records), int(config["chunk_annotations"]))
    try:
        if use_models:
            assert judge is not None
            asyncio.run(
                run_model_path(
                    compiled=compiled,
                    reader=reader,
                    chunks=chunks,
                    db=db_thread,
                    writer=writer,
                    run_id=run_id,
                    setup=judge,
                    scorer=scorer,
                    stages=stages,
                )
            )
        else:
            seq = 0
            clock = time.perf_counter()
            for chunk_no, (items, quarantined) in enumerate(chunks):
                stages["ingest"] += time.perf_counter() - clock
                writer.submit(chunk_no, seq, scorer.score(items), quarantined)
                seq += len(items)
                clock = time.perf_counter()
        db_thread.close()
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user"
        _close_quietly(db_thread)
        raise
    except Exception as exc:
        status, error = "failed", f"{exc.__class__.__name__}: {exc}"
        _close_quietly(db_thread)
        raise
    finally:
        summary.status = status
        summary.duration_s = time.perf_counter() - started
        summary.stage_seconds = {**prepared, **stages, **scorer.seconds, "store (background)": db_thread.seconds}
        with store.write() as con:
            con.execute(
                "UPDATE runs SET status = ?, finished_at = ?, duration_s = ?, error = ? WHERE run_id = ?",
                [status, utcnow(), summary.duration_s, error, run_id],
            )
            summary.top_rules = [
                (str(r[0]), int(r[1]))
                for r in con.execute(
                    """SELECT rule_id, count(*) AS n FROM findings WHERE run_id = ?
                       GROUP BY rule_id ORDER BY n DESC, rule_id LIMIT 5""",
                    [run_id],
                ).fetchall()
            ]
            costs = con.execute("SELECT cost_usd, model_attempts FROM runs WHERE run_id = ?", [run_id]).fetchone()
            if costs is not None:
                summary.cost_usd, summary.model_attempts = float(costs[0] or 0.0), int(costs[1] or 0)
    return summary


def _close_quietly(db_thread: DatabaseThread) -> None:
    with contextlib.suppress(Exception):  # the first error is the one being reported
        db_thread.close()


def _check_kind(reader: DatasetReader, compiled: CompiledRulebook) -> None:
    applies = compiled.rulebook.applies_to
    wanted = "image" if applies == "image_boxes" else "text"
    if reader.kind != wanted:
        raise RunError(
            f"rulebook {compiled.path} applies to {applies} but {reader.path} is a "
            f"{reader.format} dataset of {reader.kind}s: use a matching rulebook"
        )


_END = object()


def _first(records: Iterator[Record]) -> Any:
    try:
        return next(records)
    except StopIteration:
        return _END
    except (DatasetError, RulebookError):
        raise


def _prepend(first: Any, records: Iterator[Record]) -> Iterator[Record]:
    if first is not _END:
        yield first
    yield from records
