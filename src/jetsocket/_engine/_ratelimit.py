"""Token bucket limiting the rate of outgoing messages (venue limits, e.g. 5 msg/s)."""

from __future__ import annotations

import asyncio
import time

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per message.

    Waiters are served in order (one lock), so a burst of sends keeps its order.
    """

    __slots__ = ("_burst", "_lock", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError(f"send_rate must be > 0, got {rate!r}")
        if burst < 1:
            raise ValueError(f"send_burst must be >= 1, got {burst!r}")
        self._rate = float(rate)
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock: asyncio.Lock | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is available now."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    async def acquire(self) -> None:
        """Wait for a token (sleeping exactly as long as the rate requires)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while not self.try_acquire():  # noqa: ASYNC110 - waiting for time, not an event
                await asyncio.sleep((1.0 - self._tokens) / self._rate)
