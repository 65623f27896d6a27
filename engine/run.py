"""Runs: start one, resume one, and the execution both share.

The dataset is streamed in chunks (about ``LABELGATE_CHUNK_ANNOTATIONS`` annotations each);
each chunk is measured and evaluated in one batch and committed in one transaction. A dataset
or rulebook that cannot be read fails before anything is written.

Durability: an item is written (with its findings, score and review reasons) exactly once,
in the transaction that commits it; model answers and attempts are written before any item
that uses them. A killed run therefore resumes by reading the dataset again in the same
order and skipping the items already committed; the answers it had already paid for are
replayed from the store. Resuming refuses when the rulebook, the judgment schema, the model
configuration, the prompts or the dataset changed, unless told otherwise (and then says so in
the audit log).
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
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from engine import audit
from engine.background import BackgroundWriter, DatabaseThread
from engine.dataset_pass import prepare_measurements
from engine.events import default_actor
from engine.ownership import Owner, still_owner, take_over
from engine.scoring import ChunkScorer
from engine.store import SMALL_BATCH_ROWS, Store, first_row, warm_up_arrow
from engine.writer import ChunkCounts, to_json, utcnow
from ingest.base import DatasetReader, Record, open_dataset
from ingest.model import Item, Quarantined
from labelgate.errors import DatasetError, RulebookError, RunError, RunInterrupted
from labelgate.settings import CHUNK_ANNOTATIONS
from labelgate.version import __version__
from rulebook.compiler import Backend, CompiledRulebook, compile_rulebook
from rulebook.diff import diff_rulebooks
from rulebook.loader import load_file, load_stored
from scorers.measure import fields_for

if TYPE_CHECKING:  # the model stack (openai, instructor) is imported only by runs that use it
    from engine.model_run import JudgeSetup

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
    rules_on_every_item: list[str] = field(default_factory=list)  # a sign of a dataset-wide cause
    stage_seconds: dict[str, float] = field(default_factory=dict)
    models: str | None = None
    simulated: bool = False
    cost_usd: float = 0.0
    model_attempts: int = 0
    cached_attempts: int = 0
    """Of ``model_attempts``, those answered from the store (a rerun or resume: not paid again)."""
    resumed: bool = False

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


@dataclass
class Chunk:
    """Items to score (with their position in the dataset) and records to quarantine.

    ``order`` lists, in dataset order, every item of the chunk: an index into ``items``, or
    the labels of an item committed before a resume (the model path still counts them, so it
    routes the rest exactly as the uninterrupted run did; only labels are kept, so a resume
    near the end of a large run holds no more than a chunk).
    """

    items: list[Item]
    seqs: list[int]
    quarantined: list[Quarantined]
    order: list[int | tuple[str, ...]] = field(default_factory=list)


def _chunks(
    records: Iterator[Record],
    budget: int,
    done_items: set[str] | None = None,
    done_quarantine: set[tuple[str, str]] | None = None,
) -> Iterator[Chunk]:
    """Group records into chunks; items and quarantined records already committed are skipped."""
    chunk = Chunk([], [], [])
    size = 0
    seq = 0
    for record in records:
        if isinstance(record, Quarantined):
            if not done_quarantine or (record.source, record.locator) not in done_quarantine:
                chunk.quarantined.append(record)
            continue
        position, seq = seq, seq + 1
        if done_items and record.id in done_items:
            chunk.order.append(tuple(a.label for a in record.annotations))
        else:
            chunk.order.append(len(chunk.items))
            chunk.items.append(record)
            chunk.seqs.append(position)
        size += max(len(record.annotations), 1)
        if size >= budget:
            yield chunk
            chunk, size = Chunk([], [], []), 0
    if chunk.items or chunk.quarantined or chunk.order:
        yield chunk


@dataclass
class _Plan:
    run_id: str
    store: Store
    compiled: CompiledRulebook
    reader: DatasetReader
    records: Iterator[Record]
    judge: JudgeSetup | None
    chunk_annotations: int
    progress: Progress | None
    actor: str
    owner_token: str
    done_items: set[str] = field(default_factory=set)
    done_quarantine: set[tuple[str, str]] = field(default_factory=set)
    first_chunk: int = 0
    resumed: bool = False


def _open(dataset: str | Path, compiled: CompiledRulebook, format: str) -> tuple[DatasetReader, Iterator[Record]]:
    reader = open_dataset(dataset, format)
    _check_kind(reader, compiled)
    records = reader.records()
    first = _first(records)  # surfaces unreadable datasets before anything is written
    if first is _END:  # e.g. a YOLO folder whose images are elsewhere: a finished run of 0 items proves nothing
        raise DatasetError(
            f"{reader.path}: no items found in this {reader.format} dataset: check that it is the dataset's "
            "folder or annotation file (or pass --format to read it another way)"
        )
    return reader, _prepend(first, records)


def _fingerprints(compiled: CompiledRulebook, judge: JudgeSetup | None, dataset: str) -> dict[str, str | None]:
    uses_models = judge is not None and compiled.judgment_model is not None
    if uses_models:
        from scorers.judge.prompt import prompt_fingerprint
    return {
        "rulebook": compiled.fingerprint,
        "judgment schema": compiled.judgment_fingerprint,
        "model configuration": judge.fingerprint() if uses_models and judge is not None else None,
        "prompts": prompt_fingerprint(compiled.rulebook) if uses_models else None,
        "dataset": dataset,
    }


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
    actor: str | None = None,
) -> RunSummary:
    """Score a dataset against a rulebook into ``db``; returns the finished run's summary.

    With ``judge``, judgment-based rules get their judgments from the configured models;
    without it they send their items to review (a rule never passes silently).
    """
    compiled = rulebook if isinstance(rulebook, CompiledRulebook) else compile_for(rulebook, rule_engine)
    reader, records = _open(dataset, compiled, format)
    store = Store(db)
    run_id = new_run_id()
    uses_models = judge is not None and compiled.judgment_model is not None
    setup = judge if uses_models else None
    fingerprints = _fingerprints(compiled, setup, reader.fingerprint())
    chunk = chunk_annotations or CHUNK_ANNOTATIONS.get()
    config: dict[str, Any] = {
        "format": reader.format,
        "chunk_annotations": chunk,
        "rule_engine": compiled.backend,
        "judge": setup.describe() if setup is not None else None,
        "judge_setup": setup.to_config() if setup is not None else None,
        "fingerprints": fingerprints,
    }
    models = ", ".join(setup.describe()["models"].values()) if setup is not None else None
    who = actor or default_actor()
    owner = Owner.me()
    with store.write() as con:
        con.execute(
            """INSERT INTO runs (run_id, created_at, status, dataset_path, dataset_format,
                dataset_fingerprint, rulebook_name, rulebook_version, rulebook_fingerprint,
                rulebook_path, rulebook_yaml, judgment_fingerprint, rule_engine,
                labelgate_version, config, models, simulated, owner)
               VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                run_id,
                utcnow(),
                str(Path(dataset).resolve()),
                reader.format,
                fingerprints["dataset"],
                compiled.name,
                compiled.version,
                compiled.fingerprint,
                str(Path(compiled.path).resolve()),
                compiled.source,
                compiled.judgment_fingerprint,
                compiled.backend,
                __version__,
                to_json(config),
                models,
                bool(setup is not None and setup.simulated),
                owner.to_json(),
            ],
        )
        events = [
            audit.Event(
                "run_started",
                who,
                {
                    "dataset": str(Path(dataset).resolve()),
                    "format": reader.format,
                    "rulebook": compiled.name,
                    "rulebook_version": compiled.version,
                    "fingerprints": fingerprints,
                    "models": models,
                    "simulated": bool(setup is not None and setup.simulated),
                },
                run_id,
            )
        ]
        changed = _rulebook_change(con, compiled, run_id, who)
        audit.record(con, events + ([changed] if changed else []))
    plan = _Plan(run_id, store, compiled, reader, records, setup, chunk, progress, who, owner.token)
    return _execute(plan)


def _rulebook_change(con: Any, compiled: CompiledRulebook, run_id: str, actor: str) -> audit.Event | None:
    """An audit event when this rulebook's content differs from its last use in this database."""
    row = first_row(
        con.execute(
            """SELECT rulebook_fingerprint, rulebook_version, rulebook_yaml, rulebook_path FROM runs
           WHERE rulebook_name = ? AND run_id <> ? ORDER BY created_at DESC LIMIT 1""",
            [compiled.name, run_id],
        )
    )
    if row is None or row[0] == compiled.fingerprint:
        return None
    payload: dict[str, Any] = {
        "rulebook": compiled.name,
        "from_version": row[1],
        "to_version": compiled.version,
        "from_fingerprint": row[0],
        "to_fingerprint": compiled.fingerprint,
    }
    previous = load_stored(row[2])
    if previous is not None:
        diff = diff_rulebooks(previous, compiled.rulebook)
        payload |= {
            "added": diff.added,
            "removed": diff.removed,
            "changed": [c.rule_id for c in diff.changed],
            "sections": diff.sections,
        }
    return audit.Event("rulebook_changed", actor, payload, run_id)


def resume_run(
    db: str | Path,
    run: str,
    *,
    allow_changed: bool = False,
    rulebook: str | Path | None = None,
    dataset: str | Path | None = None,
    judge: JudgeSetup | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
) -> RunSummary:
    """Continue a killed or interrupted run where it stopped; see the module docstring.

    ``rulebook`` and ``dataset`` name new locations of the run's files; their content must
    still match the fingerprints the run started with (unless ``allow_changed``).
    """
    from engine.queries import resolve_run

    store = Store(db)
    with store.read() as con:
        run_id = resolve_run(con, run)
        row = first_row(
            con.execute(
                """SELECT status, dataset_path, dataset_format, rulebook_path, rule_engine, config, rulebook_yaml
               FROM runs WHERE run_id = ?""",
                [run_id],
            )
        )
    assert row is not None
    status, dataset_path, dataset_format, rulebook_path, backend, config_text, rulebook_yaml = row
    if status == "finished":
        raise RunError(f"run {run_id} already finished: nothing to resume (`labelgate runs` shows its counts)")
    config = orjson.loads(config_text)
    if rulebook is not None and not Path(rulebook).exists():
        raise RunError(f"--rulebook {rulebook} does not exist: check the path")
    if dataset is not None and not Path(dataset).exists():
        raise RunError(f"--dataset {dataset} does not exist: check the path")
    source = str(Path(rulebook).resolve()) if rulebook is not None else rulebook_path
    if not Path(source).exists():
        raise RunError(f"run {run_id} was scored with {source}, which no longer exists: pass --rulebook")
    compiled = compile_for(source, backend)
    data_source = str(Path(dataset).resolve()) if dataset is not None else dataset_path
    if not Path(data_source).exists():
        raise RunError(f"run {run_id} scored {data_source}, which no longer exists: pass --dataset with its new place")
    setup = judge
    if setup is None and config.get("judge_setup"):
        from engine.model_run import JudgeSetup

        setup = JudgeSetup.from_config(config["judge_setup"])
    reader, records = _open(data_source, compiled, dataset_format)
    now = _fingerprints(compiled, setup if compiled.judgment_model is not None else None, reader.fingerprint())
    before: dict[str, str | None] = config.get("fingerprints", {})
    changes = sorted(name for name, value in now.items() if before.get(name) != value)
    if changes and not allow_changed:
        what, hint = ", ".join(changes), ""
        if "rulebook" in changes:
            stored = load_stored(rulebook_yaml)
            detail = diff_rulebooks(stored, compiled.rulebook).summary() if stored else "its stored copy cannot be read"
            what += f" ({detail})"
            hint = "pass --rulebook with the run's rulebook, "
        if "dataset" in changes:
            hint += "pass --dataset with the run's dataset, "
        raise RunError(
            f"run {run_id} cannot resume: the {what} changed since it started; start a new run, {hint}"
            "or resume with --allow-changed (recorded in the audit log)"
        )
    who = actor or default_actor()
    with store.write() as con:
        done_items = {r[0] for r in con.execute("SELECT item_id FROM items WHERE run_id = ?", [run_id]).fetchall()}
        done_quarantine = {
            (r[0], r[1])
            for r in con.execute("SELECT source, locator FROM quarantine WHERE run_id = ?", [run_id]).fetchall()
        }
        me = take_over(con, run_id, status)  # refuses while another process drives the run
        last_chunk = first_row(con.execute("SELECT max(chunk_no) FROM chunks WHERE run_id = ?", [run_id]))
        con.execute(  # moved files: later resumes and the review screen (images) find them in the new place
            "UPDATE runs SET status = 'running', error = NULL, dataset_path = ?, rulebook_path = ? WHERE run_id = ?",
            [data_source, source, run_id],
        )
        moved = {
            f"{name}_moved": {"from": before, "to": after}
            for name, before, after in (("dataset", dataset_path, data_source), ("rulebook", rulebook_path, source))
            if before != after
        }
        audit.record_one(
            con,
            "run_resumed",
            who,
            {
                "items_already_scored": len(done_items),
                "changed": changes,
                "allowed_changes": bool(changes),
            }
            | moved,
            run_id,
        )
    first_chunk = int(last_chunk[0]) + 1 if last_chunk and last_chunk[0] is not None else 0
    plan = _Plan(
        run_id,
        store,
        compiled,
        reader,
        records,
        setup if compiled.judgment_model is not None else None,
        int(config.get("chunk_annotations") or CHUNK_ANNOTATIONS.get()),
        progress,
        who,
        me.token,
        done_items,
        done_quarantine,
        first_chunk,
        resumed=True,
    )
    return _execute(plan)


def _execute(plan: _Plan) -> RunSummary:
    store, run_id, compiled = plan.store, plan.run_id, plan.compiled
    started = time.perf_counter()
    prepared: dict[str, float] = {}  # the dataset pre-pass, when a rule reads a dataset-level field
    measurements = prepare_measurements(plan.reader, compiled, prepared)
    summary = RunSummary(run_id, store.path, "running", resumed=plan.resumed)
    scorer = ChunkScorer(compiled, measurements)
    status, error = "finished", None
    stages: dict[str, float] = {"ingest": 0.0}

    def committed(counts: ChunkCounts) -> None:
        summary.add(counts)
        if plan.progress is not None:
            counts.expected_items = plan.reader.expected_items
            plan.progress(counts)

    interrupted = False
    if plan.judge is None and plan.chunk_annotations > SMALL_BATCH_ROWS:
        warm_up_arrow()  # its chunks go in as Arrow batches; a model run's small commits do not
    db_thread = DatabaseThread(store)
    writer = BackgroundWriter(
        db_thread,
        run_id,
        committed,
        item_fields=scorer.stored_item_fields,
        annotation_fields=scorer.stored_annotation_fields,
        actor=plan.actor,
        owner_token=plan.owner_token,
    )
    chunks = _chunks(plan.records, plan.chunk_annotations, plan.done_items, plan.done_quarantine)
    try:
        if plan.judge is not None:
            from engine.model_run import run_model_path

            asyncio.run(
                run_model_path(
                    compiled=compiled,
                    reader=plan.reader,
                    chunks=chunks,
                    db=db_thread,
                    writer=writer,
                    run_id=run_id,
                    setup=plan.judge,
                    scorer=scorer,
                    stages=stages,
                    first_chunk=plan.first_chunk,
                    actor=plan.actor,
                )
            )
        else:
            clock = time.perf_counter()
            for number, chunk in enumerate(chunks, start=plan.first_chunk):
                stages["ingest"] += time.perf_counter() - clock
                if chunk.items or chunk.quarantined:
                    writer.submit(number, 0, scorer.score(chunk.items), chunk.quarantined, seqs=chunk.seqs)
                clock = time.perf_counter()
        db_thread.close()
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user: resume it to finish"
        _close_quietly(db_thread)
        interrupted = True
    except Exception as exc:
        status, error = "failed", f"{exc.__class__.__name__}: {exc}"
        _close_quietly(db_thread)
        raise
    finally:
        summary.status = status
        summary.duration_s = time.perf_counter() - started
        summary.stage_seconds = {**prepared, **stages, **scorer.seconds, "store (background)": db_thread.seconds}
        _finish(summary, plan, error)
    if interrupted:
        raise RunInterrupted(run_id, str(store.path))
    return summary


def _finish(summary: RunSummary, plan: _Plan, error: str | None) -> None:
    """Record the outcome and read the run's totals back (a resumed run reports the whole run).

    A process whose run was taken over by another (``engine.ownership``) records nothing.
    """
    with plan.store.write() as con:
        if not still_owner(con, plan.run_id, plan.owner_token):
            return
        con.execute(
            "UPDATE runs SET status = ?, finished_at = ?, duration_s = coalesce(duration_s, 0) + ?, error = ? "
            "WHERE run_id = ?",
            [summary.status, utcnow(), summary.duration_s, error, plan.run_id],
        )
        if summary.status == "finished":  # nothing is left to resume: e.g. a taken-over process's late entries
            con.execute("DELETE FROM judgment_journal WHERE run_id = ?", [plan.run_id])
        read_totals(con, summary)
        event = {"finished": "run_finished", "interrupted": "run_interrupted"}.get(summary.status, "run_failed")
        audit.record_one(
            con,
            event,
            plan.actor,
            {
                "items_in": summary.items_in,
                "items_scored": summary.items_scored,
                "items_quarantined": summary.items_quarantined,
                "passed": summary.passed,
                "failed": summary.failed,
                "needs_review": summary.needs_review,
                "findings": summary.findings,
                "cost_usd": summary.cost_usd,
                "model_attempts": summary.model_attempts,
                "seconds": round(summary.duration_s, 3),
                "error": error,
            },
            plan.run_id,
        )


def read_totals(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    """Fill ``summary`` with the run's stored totals (a resumed run's cover the whole run)."""
    row = first_row(
        con.execute(
            """SELECT items_in, items_scored, items_quarantined, annotations_in, annotations_scored,
                  annotations_quarantined, passed, failed, needs_review, findings, cost_usd, model_attempts,
                  models, simulated, status, duration_s
           FROM runs WHERE run_id = ?""",
            [summary.run_id],
        )
    )
    if row is not None:
        (
            summary.items_in,
            summary.items_scored,
            summary.items_quarantined,
            summary.annotations_in,
            summary.annotations_scored,
            summary.annotations_quarantined,
            summary.passed,
            summary.failed,
            summary.needs_review,
            summary.findings,
        ) = (int(v or 0) for v in row[:10])
        summary.cost_usd, summary.model_attempts = float(row[10] or 0.0), int(row[11] or 0)
        summary.models, summary.simulated = row[12], bool(row[13])
        summary.status = str(row[14])
    cached = first_row(con.execute("SELECT count(*) FROM attempts WHERE run_id = ? AND cached", [summary.run_id]))
    summary.cached_attempts = int(cached[0]) if cached else 0
    summary.top_rules = [
        (str(r[0]), int(r[1]))
        for r in con.execute(
            """SELECT rule_id, count(*) AS n FROM findings WHERE run_id = ?
               GROUP BY rule_id ORDER BY n DESC, rule_id LIMIT 5""",
            [summary.run_id],
        ).fetchall()
    ]
    if summary.items_scored >= EVERY_ITEM_MIN:
        summary.rules_on_every_item = [
            str(r[0])
            for r in con.execute(
                """SELECT rule_id FROM findings WHERE run_id = ? GROUP BY rule_id
                   HAVING count(DISTINCT item_id) = ? ORDER BY rule_id""",
                [summary.run_id, summary.items_scored],
            ).fetchall()
        ]


EVERY_ITEM_MIN = 20  # below this, one rule firing on every item is plausible on its own


def stored_summary(con: duckdb.DuckDBPyConnection, run_id: str, db: Path) -> RunSummary:
    """The summary of a stored run, as ``score_dataset`` returned it (stage timings aside)."""
    summary = RunSummary(run_id, db, "unknown")
    read_totals(con, summary)
    row = first_row(con.execute("SELECT duration_s FROM runs WHERE run_id = ?", [run_id]))
    summary.duration_s = float(row[0] or 0.0) if row else 0.0
    return summary


def _close_quietly(db_thread: DatabaseThread) -> None:
    with contextlib.suppress(Exception):  # the first error is the one being reported
        db_thread.close()


# What each text format annotates (Label Studio text exports carry both spans and choices).
TEXT_TASKS = {
    "text-csv": "text_classification",
    "text-jsonl": "text_classification",
    "spans-jsonl": "text_spans",
    "conll": "text_spans",
}


def _check_kind(reader: DatasetReader, compiled: CompiledRulebook) -> None:
    """Refuse a rulebook written for other data: its rules would find nothing and every item pass."""
    applies = compiled.rulebook.applies_to
    wanted = "image" if applies == "image_boxes" else "text"
    if reader.kind != wanted:
        raise RunError(
            f"rulebook {compiled.path} applies to {applies} but {reader.path} is a "
            f"{reader.format} dataset of {reader.kind}s: use a matching rulebook"
        )
    task = TEXT_TASKS.get(reader.format)
    if task is not None and task != applies:
        other = {"text-jsonl": "spans-jsonl", "spans-jsonl": "text-jsonl"}.get(reader.format)
        hint = f", or pass --format {other} if its records hold {applies.split('_')[1]}" if other else ""
        raise RunError(
            f"rulebook {compiled.path} applies to {applies} but {reader.path} was read as {reader.format} "
            f"({task}): use a {task} rulebook{hint}"
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
