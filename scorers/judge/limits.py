"""Per-provider limits: a requests/tokens-per-minute token bucket and a circuit breaker."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Waits until a request of ``tokens`` fits in both the RPM and the TPM budget."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._requests = float(rpm or 0)
        self._tokens = float(tpm or 0)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed, self._stamp = now - self._stamp, now
        if self.rpm:
            self._requests = min(float(self.rpm), self._requests + elapsed * self.rpm / 60)
        if self.tpm:
            self._tokens = min(float(self.tpm), self._tokens + elapsed * self.tpm / 60)

    async def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        tokens = min(tokens, self.tpm) if self.tpm else tokens
        async with self._lock:
            while True:
                self._refill()
                short_requests = (1 - self._requests) * 60 / self.rpm if self.rpm and self._requests < 1 else 0.0
                short_tokens = (tokens - self._tokens) * 60 / self.tpm if self.tpm and self._tokens < tokens else 0.0
                wait = max(short_requests, short_tokens)
                if wait <= 0:
                    if self.rpm:
                        self._requests -= 1
                    if self.tpm:
                        self._tokens -= tokens
                    return
                await asyncio.sleep(wait)


class ProviderDown(Exception):
    """The circuit breaker stayed open too many times: stop calling this provider."""


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; calls wait out the cooldown meanwhile.

    After ``max_open`` openings without a success in between, the provider is considered down
    and calls fail fast with :class:`ProviderDown` (their items go to review; the run goes on).
    """

    def __init__(self, threshold: int = 8, cooldown_s: float = 5.0, max_open: int = 4) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.max_open = max_open
        self.failures = 0
        self.openings = 0
        self.open_until = 0.0

    @property
    def down(self) -> bool:
        return self.openings >= self.max_open

    async def before(self) -> None:
        if self.down:
            raise ProviderDown(f"provider failed {self.openings} times in a row (circuit open)")
        delay = self.open_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
            if self.down:
                raise ProviderDown(f"provider failed {self.openings} times in a row (circuit open)")

    def success(self) -> None:
        self.failures = 0
        self.openings = 0

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold and time.monotonic() >= self.open_until:
            self.openings += 1
            self.failures = 0
            self.open_until = time.monotonic() + self.cooldown_s
