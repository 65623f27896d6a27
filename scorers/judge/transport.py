"""The HTTP layer under the model client: records every attempt and replays stored answers.

Every request the openai client sends passes through :class:`RecordingTransport`, which
- answers it from the response store when an identical request (same model, prompt, images:
  the hash of the request body) was answered before: a rerun or a resumed run pays nothing;
- applies the provider's rate limit, circuit breaker and a hard time limit;
- records the attempt (tokens, cost, latency, status, raw answer) on the current call.
Headers, and with them API keys, are never recorded or hashed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx2
import orjson

from scorers.judge.limits import CircuitBreaker, RateLimiter
from scorers.providers.sim import ATTEMPT_HEADER


@dataclass
class AttemptRecord:
    item_id: str
    annotation_id: str | None
    call_no: int
    attempt_no: int
    strategy: str
    tier: str
    model: str
    simulated: bool
    request_hash: str
    outcome: str
    error: str | None = None
    response: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_ms: float = 0.0
    cached: bool = False
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def paid(self) -> bool:
        """A provider answered and billed tokens (replays from the store are free)."""
        return (
            self.outcome not in ("timeout", "connection_error")
            and not self.outcome.startswith("http_")
            and not self.cached
        )


@dataclass
class CallContext:
    """The model call in progress in this task (set by the judge, read by the transport)."""

    item_id: str
    annotation_id: str | None
    call_no: int
    strategy: str
    tier: str
    model: str
    simulated: bool
    attempts: list[AttemptRecord] = field(default_factory=list)
    transport_attempt: int = 0
    answers: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    """Answers received (key, model, body, tokens in, tokens out), stored with their attempts."""
    saved_attempts: int = 0
    saved_answers: int = 0
    """How many of each the store already has (saved when final, before the call ends)."""


CURRENT_CALL: ContextVar[CallContext | None] = ContextVar("labelgate_current_call", default=None)


class ResponseStore(Protocol):
    """Stored answers by request hash, and the attempt log (the engine implements it on DuckDB).

    ``save`` takes a call's final attempts and answers together (those not saved yet), so a
    stored answer always has its attempt row: a resumed run never replays an answer nobody
    paid for. The transport saves what is final each time a call sends another request (a
    re-ask or a retry), and the judge the rest when the call ends: a call that re-asks and
    backs off for minutes still has its paid answers stored as they come.
    """

    async def get(self, key: str) -> str | None: ...

    def put(self, key: str, model: str, response: str, input_tokens: int, output_tokens: int) -> None: ...

    def save(self, context: CallContext) -> None: ...


def request_key(model: str, request: httpx2.Request) -> str:
    """What identifies an answer: the model, the endpoint and the body with its keys sorted.

    Sorted, because the order of keys carries no meaning and differs between client versions
    (and ways of calling one client): a stored answer must not be paid for again over it.
    (orjson reads integers beyond 64 bits as floats; the bodies labelgate sends hold none.)
    """
    digest = hashlib.sha256()
    digest.update(model.encode())
    digest.update(b"\0")
    digest.update(request.url.path.encode())
    digest.update(b"\0")
    digest.update(_canonical(request.content))
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return body  # not JSON: the bytes themselves


def _usage(body: dict[str, Any]) -> tuple[int, int]:
    usage = body.get("usage") or {}
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _answer_text(body: dict[str, Any]) -> str:
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return json.dumps(body)[:2000]
    calls = message.get("tool_calls") or []
    if calls:
        return str(calls[0].get("function", {}).get("arguments", ""))
    return str(message.get("content") or "")


class RecordingTransport(httpx2.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        model: str,
        *,
        price: Callable[[int, int], float | None],
        store: ResponseStore | None,
        limiter: RateLimiter,
        breaker: CircuitBreaker,
        timeout_s: float,
        simulated: bool,
    ) -> None:
        self.inner = inner
        self.model = model
        self.price = price
        self.store = store
        self.limiter = limiter
        self.breaker = breaker
        self.timeout_s = timeout_s
        self.simulated = simulated

    def _attempt(self, call: CallContext | None, key: str, outcome: str) -> AttemptRecord:
        record = AttemptRecord(
            item_id=call.item_id if call else "?",
            annotation_id=call.annotation_id if call else None,
            call_no=call.call_no if call else 0,
            attempt_no=(len(call.attempts) + 1) if call else 1,
            strategy=call.strategy if call else "?",
            tier=call.tier if call else "?",
            model=self.model,
            simulated=self.simulated,
            request_hash=key,
            outcome=outcome,
        )
        if call is not None:
            call.attempts.append(record)
        return record

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        call = CURRENT_CALL.get()
        if call is not None and self.store is not None and len(call.attempts) > call.saved_attempts:
            self.store.save(call)  # a new request: the call's earlier attempts are final
        await request.aread()
        key = request_key(self.model, request)
        if self.store is not None:
            stored = await self.store.get(key)
            if stored is not None:
                record = self._attempt(call, key, "ok")
                record.cached = True
                record.response = _answer_text(json.loads(stored))
                record.input_tokens, record.output_tokens = _usage(json.loads(stored))
                record.cost_usd = 0.0
                return httpx2.Response(200, headers={"content-type": "application/json"}, content=stored.encode())
        await self.breaker.before()
        await self.limiter.acquire(len(request.content) // 4)
        if self.simulated and call is not None:
            request.headers[ATTEMPT_HEADER] = str(call.transport_attempt)
        record = self._attempt(call, key, "pending")
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(self.inner.handle_async_request(request), self.timeout_s)
            body = await response.aread()
        except (TimeoutError, httpx2.TimeoutException) as exc:
            record.outcome, record.error = "timeout", f"no answer within {self.timeout_s:g} s"
            record.latency_ms = (time.perf_counter() - started) * 1000
            self.breaker.failure()
            raise httpx2.ReadTimeout(record.error, request=request) from exc
        except httpx2.TransportError as exc:
            record.outcome, record.error = "connection_error", exc.__class__.__name__
            record.latency_ms = (time.perf_counter() - started) * 1000
            self.breaker.failure()
            raise
        record.latency_ms = (time.perf_counter() - started) * 1000
        text = body.decode("utf-8", errors="replace")
        if response.status_code != 200:
            record.outcome = f"http_{response.status_code}"
            record.error = text[:300]
            if response.status_code == 429 or response.status_code >= 500:
                self.breaker.failure()
        else:
            self.breaker.success()
            record.outcome = "ok"
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = {}
            record.input_tokens, record.output_tokens = _usage(parsed)
            record.cost_usd = self.price(record.input_tokens, record.output_tokens)
            record.response = _answer_text(parsed)
            if call is not None:
                call.answers.append((key, self.model, text, record.input_tokens, record.output_tokens))
            elif self.store is not None:
                self.store.put(key, self.model, text, record.input_tokens, record.output_tokens)
        return httpx2.Response(response.status_code, headers=response.headers, content=body)
