"""The model path of a run: measure → route → judge (concurrently) → rules → store.

Items stream in chunks; each chunk is measured and its deterministic findings evaluated in
one batch, then every item is routed and its judgments requested. Items are judged
concurrently across chunk boundaries (the judge bounds concurrency), and as they finish they
are scored in batches and committed: no chunk waits for another chunk's slowest call.
Attempts and answers are persisted continuously by :class:`engine.model_store.ModelStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from engine import audit
from engine.background import BackgroundWriter, DatabaseThread
from engine.model_store import ModelStore, forget_journaled
from engine.scoring import ChunkScorer, ItemJudgments
from engine.store import SMALL_BATCH_ROWS, append, warm_up_arrow
from engine.writer import to_json
from ingest.base import DatasetReader, Record
from ingest.model import Item, Quarantined
from labelgate.settings import MAX_IMAGE_PIXELS
from rulebook.compiler import CompiledRulebook
from rulebook.evaluation import Facts
from rulebook.fingerprint import sha256_of
from scorers.cost import Price, PriceBook
from scorers.judge.judge import Judge, JudgeSettings, JudgmentOutcome
from scorers.judge.media import MediaSource
from scorers.providers.sim import SimulatedServer, Tier, Truth
from scorers.providers.spec import ModelSpec
from scorers.router import RouteDecision, Router, RouterConfig, TierCost

Row = dict[str, Any]
COMMIT_EVERY_S = 0.25
"""Judged items wait at most this long to be committed: what a killed run must judge again
(from stored answers, but with the image work and parsing redone) is what it had not committed."""


@dataclass
class JudgeSetup:
    """Which models judge (by tier) and how; built by the CLI or the Python API."""

    models: dict[str, ModelSpec]
    settings: JudgeSettings = field(default_factory=JudgeSettings)
    router: RouterConfig = field(default_factory=RouterConfig)
    prices: PriceBook = field(default_factory=PriceBook)
    sim_tiers: dict[str, Tier] | None = None
    sim_seed: int = 0
    simulator: SimulatedServer | None = None  # tests inject one to inspect what it received

    @property
    def simulated(self) -> bool:
        return any(spec.simulated for spec in self.models.values())

    def to_config(self) -> dict[str, Any]:
        """Everything needed to rebuild this setup on resume (keys stay in the environment)."""
        return {
            "models": {tier: asdict(spec) for tier, spec in self.models.items()},
            "settings": asdict(self.settings),
            "router": asdict(self.router),
            "prices": {name: asdict(price) for name, price in self.prices.overrides.items()},
            "sim_tiers": {name: asdict(tier) for name, tier in (self.sim_tiers or {}).items()} or None,
            "sim_seed": self.sim_seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> JudgeSetup:
        return cls(
            models={tier: ModelSpec(**spec) for tier, spec in config["models"].items()},
            settings=JudgeSettings(**config["settings"]),
            router=RouterConfig(**config["router"]),
            prices=PriceBook({name: Price(**price) for name, price in config.get("prices", {}).items()}),
            sim_tiers={name: Tier(**tier) for name, tier in config["sim_tiers"].items()}
            if config.get("sim_tiers")
            else None,
            sim_seed=int(config.get("sim_seed", 0)),
        )

    def fingerprint(self) -> str:
        """What can change a judgment or a decision (not concurrency, rate limits or prices)."""
        config = self.to_config()
        settings = {k: v for k, v in config["settings"].items() if k not in ("concurrency", "rpm", "tpm")}
        relevant = {
            "models": config["models"],
            "settings": settings,
            "router": config["router"],
            "sim_tiers": config["sim_tiers"],
            "sim_seed": config["sim_seed"],
        }
        return "sha256:" + sha256_of(relevant)

    def describe(self) -> dict[str, Any]:
        """What the run records about its models (never keys)."""
        return {
            "models": {tier: spec.name for tier, spec in self.models.items()},
            "base_urls": {tier: spec.base_url for tier, spec in self.models.items() if spec.base_url},
            "simulated": self.simulated,
            "concurrency": self.settings.concurrency,
            "timeout_s": self.settings.timeout_s,
            "validation_retries": self.settings.validation_retries,
            "escalate_below": self.settings.escalate_below,
            "cache": self.settings.cache,
            "budget_usd_per_item": self.router.budget_usd_per_item,
        }


@dataclass
class _Pending:
    seq: int
    item: Item
    item_row: Row
    rows: list[Row]
    route: RouteDecision
    task: asyncio.Task[list[JudgmentOutcome]] | None


def _tier_costs(setup: JudgeSetup, judge: Judge, simulator: SimulatedServer | None) -> dict[str, TierCost]:
    costs: dict[str, TierCost] = {}
    for tier, spec in setup.models.items():
        if spec.simulated and simulator is not None:
            profile = simulator.tier(spec.model)
            costs[tier] = TierCost(profile.input_usd_per_mtok, profile.output_usd_per_mtok, profile.image_tokens)
            continue
        price = setup.prices.price(spec)
        costs[tier] = TierCost(price.input_usd_per_mtok, price.output_usd_per_mtok, 850) if price else TierCost(0, 0)
    return costs


def _item_judgments(pending: _Pending, outcomes: Sequence[JudgmentOutcome]) -> ItemJudgments:
    got = ItemJudgments()
    if pending.route.over_budget:
        for target in pending.route.targets:
            got.unavailable[target] = pending.route.reasons[-1]
        return got
    for outcome in outcomes:
        if outcome.status == "ok" and outcome.values is not None:
            if outcome.annotation_index is None:
                got.item.update(outcome.values)
            else:
                got.per_annotation[outcome.annotation_index] = outcome.values
        else:
            got.unavailable[outcome.annotation_index] = "; ".join(outcome.reasons) or "no answer"
    return got


def _extra_rows(
    run_id: str, done: Sequence[tuple[_Pending, list[JudgmentOutcome]]], actor: str
) -> Callable[[duckdb.DuckDBPyConnection], None]:
    judgments: dict[str, list[Any]] = {
        c: []
        for c in (
            "run_id",
            "item_id",
            "annotation_id",
            "tier",
            "model",
            "strategy",
            "status",
            "reason",
            "values",
            "confidence",
            "request_hash",
        )
    }
    routes: dict[str, list[Any]] = {
        c: [] for c in ("run_id", "item_id", "tier", "reasons", "judged_annotations", "estimated_cost_usd", "cost_usd")
    }
    for pending, outcomes in done:
        item = pending.item
        routes["run_id"].append(run_id)
        routes["item_id"].append(item.id)
        routes["tier"].append(pending.route.tier)
        routes["reasons"].append(to_json(pending.route.reasons))
        routes["judged_annotations"].append(len(pending.route.targets) if pending.route.tier != "none" else 0)
        routes["estimated_cost_usd"].append(pending.route.estimated_cost_usd)
        routes["cost_usd"].append(sum(o.cost_usd for o in outcomes))
        for outcome in outcomes:
            index = outcome.annotation_index
            judgments["run_id"].append(run_id)
            judgments["item_id"].append(item.id)
            judgments["annotation_id"].append(item.annotations[index].id if index is not None else None)
            judgments["tier"].append(outcome.tier)
            judgments["model"].append(outcome.model)
            judgments["strategy"].append(outcome.strategy)
            judgments["status"].append(outcome.status)
            judgments["reason"].append("; ".join(outcome.reasons) or None)
            values = {k.removeprefix("judgment."): v for k, v in (outcome.values or {}).items()}
            judgments["values"].append(to_json(values) if outcome.values is not None else None)
            judgments["confidence"].append(outcome.confidence)
            judgments["request_hash"].append(outcome.request_hash)

    events = [
        audit.Event(
            "routed",
            actor,
            {
                "item_id": p.item.id,
                "tier": p.route.tier,
                "reasons": p.route.reasons,
                "judgments": len(p.route.targets) if p.route.tier != "none" else 0,
                "estimated_cost_usd": round(p.route.estimated_cost_usd, 6),
            },
            run_id,
        )
        for p, _ in done
    ]

    def write(con: duckdb.DuckDBPyConnection) -> None:
        append(con, "routes", routes)
        append(con, "judgments", judgments)
        if events:
            audit.record(con, events)
        forget_journaled(con, run_id, routes["item_id"])  # committed: the journal holds only what is not

    return write


async def run_model_path(
    *,
    compiled: CompiledRulebook,
    reader: DatasetReader,
    chunks: Iterator[Any],
    db: DatabaseThread,
    writer: BackgroundWriter,
    run_id: str,
    setup: JudgeSetup,
    scorer: ChunkScorer,
    stages: dict[str, float],
    first_chunk: int = 0,
    actor: str = "labelgate",
) -> ModelStore:
    simulator = setup.simulator
    if setup.simulated and simulator is None:
        simulator = SimulatedServer(Truth.find(reader.path), setup.sim_tiers, setup.sim_seed)
    model_store = ModelStore(db, run_id)
    await model_store.load_journal()  # a resumed run's judgments of the items it had not committed
    media = MediaSource(reader.root, MAX_IMAGE_PIXELS.get())
    judge = Judge(
        compiled,
        setup.models,
        setup.settings,
        media=media,
        store=model_store,
        prices=setup.prices,
        simulator=simulator,
        journal=model_store,
    )
    router = Router(compiled, _tier_costs(setup, judge, simulator), setup.router)
    flusher = asyncio.create_task(model_store.flush_forever())
    # Items are judged concurrently; at most ``max_items`` at once (each holds its decoded image),
    # committed in batches as they finish, whatever order they finish in.
    max_items = setup.settings.concurrency * 2
    batch_target = max(32, setup.settings.concurrency * 2)
    slots = asyncio.Semaphore(max_items)
    finished: list[_Pending] = []
    running: set[asyncio.Task[list[JudgmentOutcome]]] = set()
    quarantine: list[Quarantined] = []
    writes: list[asyncio.Future[Any]] = []
    written = first_chunk
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal written, quarantine, last_commit
        done, finished[:] = list(finished), []
        last_commit = time.monotonic()
        if not done and not quarantine:
            return
        results = [(p, p.task.result() if p.task is not None else []) for p in done]
        if sum(len(p.item.annotations) for p in done) > SMALL_BATCH_ROWS:
            warm_up_arrow()  # a batch this large goes in through Arrow: load it here, not on the database thread
        started = time.perf_counter()
        judgments = {i: _item_judgments(p, outcomes) for i, (p, outcomes) in enumerate(results)}
        scored = scorer.score([p.item for p in done], [(p.item_row, p.rows) for p in done], judgments)
        stages["score"] = stages.get("score", 0.0) + time.perf_counter() - started
        writes.append(model_store.flush())  # attempts are stored before their use
        future = writer.submit(
            written,
            0,
            scored,
            quarantine,
            extra=_extra_rows(run_id, results, actor),
            seqs=[p.seq for p in done],
            cost_usd=sum(o.cost_usd for _, outcomes in results for o in outcomes),
        )
        writes.append(asyncio.wrap_future(future))
        quarantine = []
        written += 1

    def maybe_commit() -> None:
        db.check()  # a failed database write stops the run here, not at the end
        if len(finished) >= batch_target or (finished and time.monotonic() - last_commit > COMMIT_EVERY_S):
            commit()

    async def judge_one(pending: _Pending) -> list[JudgmentOutcome]:
        try:
            return await judge.judge_item(
                pending.item, pending.item_row, pending.rows, pending.route.targets, pending.route.tiers
            )
        finally:
            slots.release()

    def on_done(pending: _Pending) -> Callable[[asyncio.Task[list[JudgmentOutcome]]], None]:
        def done(task: asyncio.Task[list[JudgmentOutcome]]) -> None:
            running.discard(task)
            finished.append(pending)

        return done

    try:
        clock = time.perf_counter()
        for chunk in chunks:
            stages["ingest"] = stages.get("ingest", 0.0) + time.perf_counter() - clock
            quarantine.extend(chunk.quarantined)
            measured = scorer.measure(chunk.items)
            found = _deterministic_findings(compiled, measured)
            for entry in chunk.order:
                if not isinstance(entry, int):  # committed before a resume: only its labels count
                    router.observe(list(entry))
                    continue
                item = chunk.items[entry]
                item_row, rows = measured[entry]
                route = router.route(item.kind, item_row, rows, found[entry])
                pending = _Pending(chunk.seqs[entry], item, item_row, rows, route, None)
                if route.tier != "none" and route.targets:
                    await slots.acquire()
                    pending.task = asyncio.create_task(judge_one(pending))
                    running.add(pending.task)
                    pending.task.add_done_callback(on_done(pending))
                else:
                    finished.append(pending)
                maybe_commit()
            clock = time.perf_counter()
        while running:
            await asyncio.wait(set(running), return_when=asyncio.FIRST_COMPLETED, timeout=1.0)
            maybe_commit()
        commit()
        await asyncio.gather(*writes)
        await model_store.flush()
    except asyncio.CancelledError:
        # Ctrl-C: items already judged are committed; in-flight ones are parked (resume redoes
        # them, replaying the answers they had already received from the store).
        with contextlib.suppress(Exception):
            commit()
        for task in list(running):
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.shield(asyncio.gather(*writes, return_exceptions=True))
            await asyncio.shield(model_store.flush())
        raise
    finally:
        flusher.cancel()
        for task in list(running):
            task.cancel()
        _retrieve([*writes, *(p.task for p in finished if p.task is not None)])
    return model_store


def _retrieve(futures: Sequence[asyncio.Future[Any]]) -> None:
    """Mark failures as seen: the first error is the one reported, not one traceback per future."""
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()


def _deterministic_findings(
    compiled: CompiledRulebook, measured: Sequence[tuple[Row, list[Row]]]
) -> list[list[tuple[str, float]]]:
    """(severity, penalty) of the findings each item has before any judgment (for the router)."""
    facts = [Facts(item_row, rows) for item_row, rows in measured]
    out: list[list[tuple[str, float]]] = [[] for _ in measured]
    for match in compiled.rule_set.evaluator.evaluate(facts):
        rule = compiled.rules[match.condition]
        if not rule.needs_judgment:
            out[match.item].append((rule.rule.severity, rule.penalty))
    return out


__all__ = ["JudgeSetup", "Record", "run_model_path"]
