"""The judge: structured judgments from models, validated twice, escalated on failure.

For each annotation (or item) that needs a judgment, strategies are tried in order, each one
different from the last (a cheap model, then the capable model told why the earlier answer
was rejected, or a tighter crop): never the same call twice.

1. **Strict output**: instructor parses the answer into the pydantic model generated from the
   rulebook; an answer that does not parse goes back to the model with the validation error
   (``validation_retries`` times), then the next strategy takes over.
2. **Outcome validation**: a parsed judgment that contradicts the measurements (the
   rulebook's ``judgments.consistency`` checks) is rejected with the check's reason.
3. **Confidence**: an answer below ``escalate_below`` goes to the next strategy; the last
   strategy's answer is kept (oversight rules decide whether a person looks at it).

Transport failures (429, 5xx, timeouts, refused connections) are retried with exponential
backoff, honouring the per-provider rate limit and circuit breaker. A judgment that no
strategy produced is *unavailable*, with every reason: its item goes to review.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx2
import instructor
import openai
from instructor.core import InstructorRetryException
from pydantic import BaseModel, ValidationError

from ingest.model import Item
from rulebook.compiler import CompiledRulebook
from rulebook.evaluation import Facts
from rulebook.fingerprint import sha256_of
from scorers.cost import Price, PriceBook
from scorers.judge.journal import JOURNAL_FORMAT, JudgmentJournal, Record, keys_for
from scorers.judge.limits import CircuitBreaker, ProviderDown, RateLimiter
from scorers.judge.media import MediaSource, MediaUnavailable, box_crop, full_view
from scorers.judge.prompt import Strategy, messages, prompt_fingerprint
from scorers.judge.transport import CURRENT_CALL, AttemptRecord, CallContext, RecordingTransport, ResponseStore
from scorers.providers.client import build_client
from scorers.providers.sim import SimulatedServer
from scorers.providers.spec import ModelSpec

TRANSIENT = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
    httpx2.TimeoutException,
    httpx2.TransportError,
)

NOT_SHAPING = ("concurrency", "rpm", "tpm", "cache")
"""Judge settings that change how fast or how often models are asked, not what they answer."""


@dataclass
class JudgeSettings:
    concurrency: int = 16
    timeout_s: float = 60.0
    validation_retries: int = 1
    transport_retries: int = 4
    backoff_s: float = 0.5
    escalate_below: float = 0.7
    rpm: int | None = None
    tpm: int | None = None
    cache: bool = True
    breaker_threshold: int = 8
    breaker_cooldown_s: float = 5.0


@dataclass
class JudgmentOutcome:
    """The judgment for one annotation (``annotation_index``) or the whole item (None)."""

    annotation_index: int | None
    status: str
    values: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)
    strategy: str | None = None
    tier: str | None = None
    model: str | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    recalled: Record | None = None
    """Set when taken from the journal of a killed run: its attempts are stored already."""
    transient: bool = False
    """A provider failed (down, timing out, refusing): asked again later, the answer may differ."""

    @property
    def confidence(self) -> float | None:
        value = (self.values or {}).get("judgment.confidence")
        return float(value) if isinstance(value, int | float) else None

    @property
    def cost_usd(self) -> float:
        if self.recalled is not None:
            return float(self.recalled["cost_usd"])
        return sum(a.cost_usd or 0.0 for a in self.attempts)

    @property
    def request_hash(self) -> str | None:
        """The request whose answer was accepted (None when none was)."""
        if self.recalled is not None:
            return self.recalled["request_hash"]  # type: ignore[no-any-return]
        accepted = [a for a in self.attempts if a.outcome == "ok"]
        return accepted[-1].request_hash if accepted else None

    def to_record(self) -> Record:
        """What the journal keeps: all a resumed run needs to score and store the judgment."""
        return {
            "status": self.status,
            "values": self.values,
            "reasons": self.reasons,
            "strategy": self.strategy,
            "tier": self.tier,
            "model": self.model,
            "cost_usd": self.cost_usd,
            "request_hash": self.request_hash,
        }

    @classmethod
    def from_record(cls, annotation_index: int | None, record: Record) -> JudgmentOutcome:
        fields = ("status", "values", "reasons", "strategy", "tier", "model")
        return cls(annotation_index, **{name: record[name] for name in fields}, recalled=record)


@dataclass
class _CallResult:
    parsed: BaseModel | None = None
    failure: str | None = None
    transient: bool = False  # the provider failed, not the answer


class Judge:
    """Asks models for judgments; stores nothing itself (attempts are returned)."""

    def __init__(
        self,
        compiled: CompiledRulebook,
        models: Mapping[str, ModelSpec],
        settings: JudgeSettings,
        *,
        media: MediaSource | None,
        store: ResponseStore | None = None,
        prices: PriceBook | None = None,
        simulator: SimulatedServer | None = None,
        journal: JudgmentJournal | None = None,
    ) -> None:
        if compiled.judgment_model is None or compiled.rulebook.judgments is None:
            raise ValueError("this rulebook asks no judgments")
        self.compiled = compiled
        self.schema: type[BaseModel] = _prepared_schema(compiled.judgment_model)
        self.per_annotation = compiled.rulebook.judgments.per == "annotation"
        self.models = dict(models)
        self.settings = settings
        self.media = media
        self.store = store
        self.prices = prices or PriceBook()
        self.simulator = simulator
        self.journal = journal
        self.journal_salt = self._journal_salt()
        self.semaphore = asyncio.Semaphore(settings.concurrency)
        self.clients: dict[str, instructor.AsyncInstructor] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        for tier, spec in self.models.items():
            breaker = CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown_s)
            limiter = RateLimiter(settings.rpm, settings.tpm)
            self.breakers[tier] = breaker
            self.clients[tier] = build_client(
                spec,
                timeout_s=settings.timeout_s,
                simulator=simulator,
                wrap=self._wrapper(spec, breaker, limiter, store if settings.cache else None),
            )
            self.clients[tier].on("parse:error", _mark_invalid)

    def _wrapper(
        self, spec: ModelSpec, breaker: CircuitBreaker, limiter: RateLimiter, store: ResponseStore | None
    ) -> Any:
        sim_price = None
        if spec.simulated and self.simulator is not None:
            tier = self.simulator.tier(spec.model)
            sim_price = Price(tier.input_usd_per_mtok, tier.output_usd_per_mtok)

        def price(input_tokens: int, output_tokens: int) -> float | None:
            return self.prices.cost(spec, input_tokens, output_tokens, sim_price)

        def wrap(inner: httpx2.AsyncBaseTransport) -> httpx2.AsyncBaseTransport:
            return RecordingTransport(
                inner,
                spec.name,
                price=price,
                store=store,
                limiter=limiter,
                breaker=breaker,
                timeout_s=self.settings.timeout_s,
                simulated=spec.simulated,
            )

        return wrap

    def _journal_salt(self) -> str:
        """Everything of this judge that shapes a judgment (journal keys include it)."""
        sim = self.simulator
        return sha256_of(
            {
                "rulebook": self.compiled.fingerprint,
                "judgment_schema": self.compiled.judgment_fingerprint,
                "prompts": prompt_fingerprint(self.compiled.rulebook),
                "models": {tier: asdict(spec) for tier, spec in self.models.items()},
                "settings": {k: v for k, v in asdict(self.settings).items() if k not in NOT_SHAPING},
                "max_image_pixels": self.media.max_pixels if self.media is not None else None,
                "journal_format": JOURNAL_FORMAT,
                "simulator": {
                    "seed": sim.seed,
                    "tiers": [asdict(sim.tier(s.model)) for s in self.models.values() if s.simulated],
                }
                if sim is not None
                else None,
            }
        )

    # --- strategies -------------------------------------------------------------------
    def strategies(self, tier: str) -> list[Strategy]:
        if tier == "cheap" and "capable" in self.models:
            return [Strategy("cheap", "cheap"), Strategy("capable", "capable", feedback=True)]
        name = tier if tier in self.models else next(iter(self.models))
        return [Strategy(name, name), Strategy(f"{name}-zoom", name, padding=0.08, feedback=True)]

    # --- one item -----------------------------------------------------------------------
    async def judge_item(
        self,
        item: Item,
        item_row: Mapping[str, Any],
        rows: Sequence[Mapping[str, Any]],
        targets: Sequence[int | None],
        tier: str | Mapping[int | None, str],
    ) -> list[JudgmentOutcome]:
        """Judgments for ``targets`` (annotation indexes, or None for the item), concurrently.

        Judgments in the journal with the same key are taken as they are (see
        :mod:`scorers.judge.journal`); the image is decoded only when something is left to ask.
        """
        if not targets:
            return []
        tiers = tier if isinstance(tier, Mapping) else dict.fromkeys(targets, tier)
        journaled = self.journal.recall(item.id) if self.journal is not None else {}
        uses_image = self.media is not None and item.kind == "image"
        image: Any = None
        try:
            data = await asyncio.to_thread(self.media.read, item) if self.media is not None and uses_image else b""
            keys = keys_for(
                self.journal_salt,
                item,
                hashlib.sha256(data).hexdigest() if uses_image else "",
                {t: (tiers[t], _facts(item_row, rows, t)) for t in targets},
            )
            done = {
                t: JudgmentOutcome.from_record(t, journaled[t][1])
                for t in targets
                if t in journaled and journaled[t][0] == keys[t]
            }
            if len(done) < len(targets) and self.media is not None and uses_image:
                image = await asyncio.to_thread(self.media.decode, item, data)
        except MediaUnavailable as exc:
            return [JudgmentOutcome(t, "unavailable", reasons=[str(exc)]) for t in targets]
        del data  # the decoded image is what the calls need

        async def judge_and_journal(target: int | None) -> JudgmentOutcome:
            outcome = await self._judge_target(item, item_row, rows, target, tiers[target], image)
            if self.journal is not None and not outcome.transient:
                # its attempts went to the store first (in the same flush or an earlier one)
                self.journal.remember(item.id, target, keys[target], outcome.to_record())
            return outcome

        asked = [t for t in targets if t not in done]
        done.update(zip(asked, await asyncio.gather(*(judge_and_journal(t) for t in asked)), strict=True))
        return [done[t] for t in targets]

    async def _judge_target(
        self,
        item: Item,
        item_row: Mapping[str, Any],
        rows: Sequence[Mapping[str, Any]],
        target: int | None,
        tier: str,
        image: Any,
    ) -> JudgmentOutcome:
        outcome = JudgmentOutcome(target, "unavailable")
        feedback: list[str] = []
        fallback: tuple[dict[str, Any], Strategy] | None = None
        plan = self.strategies(tier)
        for call_no, strategy in enumerate(plan, start=1):
            spec = self.models[strategy.tier]
            context = CallContext(
                item.id,
                item.annotations[target].id if target is not None else None,
                call_no,
                strategy.name,
                strategy.tier,
                spec.name,
                spec.simulated,
            )
            result = await self._call(context, strategy, item, target, feedback, image)
            outcome.attempts += context.attempts
            accepted = False
            if result.parsed is None:
                reason = f"{strategy.name}: {result.failure}"
                outcome.reasons.append(reason)
                outcome.transient = outcome.transient or result.transient
                feedback.append(str(result.failure))
            else:
                values = {f"judgment.{k}": v for k, v in result.parsed.model_dump().items()}
                problems = self._inconsistencies(item_row, rows, target, values)
                confidence = values.get("judgment.confidence")
                last = call_no == len(plan)
                if problems:
                    _mark_last(context, "inconsistent", "; ".join(problems))
                    outcome.reasons.append(f"{strategy.name}: answer contradicts measurements: {'; '.join(problems)}")
                    feedback += problems
                elif isinstance(confidence, int | float) and confidence < self.settings.escalate_below and not last:
                    _mark_last(
                        context, "low_confidence", f"confidence {confidence:g} < {self.settings.escalate_below:g}"
                    )
                    outcome.reasons.append(f"{strategy.name}: low confidence ({confidence:g})")
                    feedback.append(f"the answer had low confidence ({confidence:g})")
                    fallback = (values, strategy)
                else:
                    accepted = True
            if self.store is not None:
                self.store.save(context)  # attempts and answers are stored as soon as they are final
            if accepted:
                return self._accept(outcome, values, strategy)
        if fallback is not None:
            return self._accept(outcome, *fallback)
        return outcome

    def _accept(self, outcome: JudgmentOutcome, values: dict[str, Any], strategy: Strategy) -> JudgmentOutcome:
        outcome.status = "ok"
        outcome.values = values
        outcome.strategy = strategy.name
        outcome.tier = strategy.tier
        outcome.model = self.models[strategy.tier].name
        return outcome

    def _inconsistencies(
        self, item_row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], target: int | None, values: dict[str, Any]
    ) -> list[str]:
        checks = self.compiled.consistency
        if not checks:
            return []
        if target is not None:
            facts = Facts(item_row, [{**rows[target], **values}])
        else:
            facts = Facts({**item_row, **values}, list(rows))
        matches = self.compiled.consistency_set.evaluator.evaluate([facts])
        return [checks[m.condition].reason for m in matches]

    async def _call(
        self, context: CallContext, strategy: Strategy, item: Item, target: int | None, feedback: list[str], image: Any
    ) -> _CallResult:
        images = await asyncio.to_thread(_views, image, item, target, strategy.padding) if image is not None else []
        prompt = messages(self.compiled.rulebook, item, target, strategy, feedback, images)
        client = self.clients[strategy.tier]
        spec = self.models[strategy.tier]
        last_error = "no attempt made"
        token = CURRENT_CALL.set(context)
        try:
            for transport_try in range(self.settings.transport_retries + 1):
                context.transport_attempt = transport_try
                try:
                    async with self.semaphore:
                        parsed = await client.chat.completions.create(
                            model=spec.model,
                            response_model=self.schema,
                            messages=prompt,  # type: ignore[arg-type]
                            max_retries=self.settings.validation_retries,
                        )
                    return _CallResult(parsed=parsed)
                except ProviderDown as exc:
                    return _CallResult(failure=f"provider unavailable: {exc}", transient=True)
                except InstructorRetryException as exc:
                    cause = exc.__cause__
                    down = _provider_down(exc)
                    if down is not None:
                        return _CallResult(failure=f"provider unavailable: {down}", transient=True)
                    if not isinstance(cause, TRANSIENT):
                        return _CallResult(
                            failure=f"invalid output after {exc.n_attempts} attempt(s): {_validation_summary(exc)}"
                        )
                    last_error = _describe(cause)
                    retry_after = _retry_after(cause)
                except TRANSIENT as exc:
                    down = _provider_down(exc)
                    if down is not None:
                        return _CallResult(failure=f"provider unavailable: {down}", transient=True)
                    last_error = _describe(exc)
                    retry_after = _retry_after(exc)
                if transport_try < self.settings.transport_retries:
                    delay = (
                        retry_after
                        if retry_after is not None
                        else (self.settings.backoff_s * (2**transport_try) * (0.5 + random.random()))
                    )
                    await asyncio.sleep(delay)
            return _CallResult(failure=f"provider kept failing ({last_error})", transient=True)
        finally:
            CURRENT_CALL.reset(token)


def _views(image: Any, item: Item, target: int | None, padding: float) -> list[Any]:
    """Whole image and box crop, encoded (Pillow releases the GIL: runs on a worker thread)."""
    annotation = item.annotations[target] if target is not None else None
    views = [full_view(image, annotation)]
    if annotation is not None and annotation.bbox is not None:
        views.append(box_crop(image, annotation, padding))
    return views


def _prepared_schema(model: type[BaseModel]) -> type[BaseModel]:
    """The judgment model as instructor wants it, built once instead of on every call.

    instructor wraps a plain pydantic model in a new class and regenerates its JSON Schema on
    each request; on two cores that was a fifth of the CPU of a model call (see benchmarks).
    """
    wrapped: type[BaseModel] = instructor.openai_schema(model)
    cache: dict[Any, dict[str, Any]] = {}

    def model_json_schema(cls: type[BaseModel], *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items(), key=repr)))
        if key not in cache:
            cache[key] = BaseModel.model_json_schema.__func__(cls, *args, **kwargs)  # type: ignore[attr-defined]
        return copy.deepcopy(cache[key])

    namespace = {
        "model_json_schema": classmethod(model_json_schema),
        "__doc__": model.__doc__,
        "__module__": model.__module__,
    }
    return type(model.__name__, (wrapped,), namespace)


def _provider_down(exc: BaseException) -> ProviderDown | None:
    """The circuit breaker's verdict, wherever the client wrapped it."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, ProviderDown):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _mark_invalid(error: Any, *args: Any, **kwargs: Any) -> None:
    """instructor hook: the answer of the latest attempt failed validation."""
    _mark_last(CURRENT_CALL.get(), "invalid", _one_line(error))


def _mark_last(context: CallContext | None, outcome: str, error: str) -> None:
    if context is None:
        return
    for attempt in reversed(context.attempts):
        if attempt.outcome == "ok":
            attempt.outcome, attempt.error = outcome, error
            return


def _one_line(error: Any) -> str:
    if isinstance(error, ValidationError):
        parts = [f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in error.errors()[:3]]
        return "; ".join(parts)
    return " ".join(str(error).split())[:300]


def _validation_summary(exc: InstructorRetryException) -> str:
    attempts = exc.failed_attempts or []
    return _one_line(attempts[-1].exception) if attempts else _one_line(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return exc.__class__.__name__


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, openai.APIStatusError):
        value = exc.response.headers.get("retry-after")
        try:
            return min(float(value), 60.0) if value is not None else None
        except ValueError:
            return None
    return None


def _facts(item_row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], target: int | None) -> Any:
    """The measured facts a judgment of ``target`` is checked against (``_inconsistencies``)."""
    return [item_row, rows[target] if target is not None else list(rows)]
