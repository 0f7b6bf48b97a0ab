"""Reconnect policy: which failures are fatal, and how long to wait before retrying."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from jetsocket._engine._config import BackoffConfig
from jetsocket._exceptions import ConnectionClosedError, HandshakeError, ProxyError
from jetsocket._protocol._closecodes import FATAL_CLOSE_CODES

__all__ = ["FATAL_CLOSE_CODES", "FATAL_STATUS", "Backoff", "is_fatal"]

# The server told us who we are is not welcome: retrying cannot help (and may get an API
# key banned). 401 unauthorized, 403 forbidden, 404 no such endpoint.
FATAL_STATUS = frozenset({401, 403, 404})

_SHARED = random.Random()

Classifier = Callable[[BaseException], bool | None]


def is_fatal(exc: BaseException, classifier: Classifier | None = None) -> bool:
    """Return True if ``exc`` must not be retried.

    Args:
        exc: The failure (handshake refusal, close, network error, timeout...).
        classifier: User hook returning True (retriable), False (fatal) or None
            (use the default rules).
    """
    if classifier is not None:
        verdict = classifier(exc)
        if verdict is not None:
            return not verdict
    if isinstance(exc, ProxyError):
        # Credentials refused (407), destination forbidden (403, SOCKS "not allowed").
        return exc.fatal
    if isinstance(exc, HandshakeError):
        return exc.status_code in FATAL_STATUS
    if isinstance(exc, ConnectionClosedError):
        return exc.code in FATAL_CLOSE_CODES
    return False


class Backoff:
    """Exponential backoff with full jitter and an attempt counter."""

    __slots__ = ("_config", "_random", "attempts", "failures")

    def __init__(self, config: BackoffConfig) -> None:
        self._config = config
        # Unseeded clients share one generator: a Random costs ~3 KiB per connection.
        self._random = _SHARED if config.seed is None else random.Random(config.seed)
        # ``attempts`` drives the delay and resets after a connection that lived
        # ``reset_after``; ``failures`` counts consecutive failed attempts for
        # ``max_attempts`` and resets on every successful connect.
        self.attempts = 0
        self.failures = 0

    def next_delay(self, error: BaseException | None = None) -> float:
        """Return the delay before the next attempt and count the attempt.

        A ``Retry-After`` header (HTTP 429/503, RFC 9110 section 10.2.3) can lengthen the
        computed delay, up to ``max_retry_after`` (default: ``cap``), never shorten it: a
        server asking us to slow down must not get a retry storm (``Retry-After: 0``), nor
        put the client to sleep for ever (``3600``, ``1e12``). Values that are not a
        positive finite number of seconds (``0``, negative, ``nan``, ``inf``, a date in
        the past) are ignored.
        """
        config = self._config
        bound = config.bound(self.attempts)
        self.attempts += 1
        delay = self._random.uniform(0.0, bound) if config.jitter else bound
        if isinstance(error, HandshakeError) and error.status_code in (429, 503):
            retry_after = error.retry_after
            if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
                limit = config.cap if config.max_retry_after is None else config.max_retry_after
                delay = max(delay, min(retry_after, limit))
        return delay

    def failed(self) -> None:
        """Count a failed attempt."""
        self.failures += 1

    def succeeded(self) -> None:
        """A connection was established: the run of failures ends."""
        self.failures = 0

    def exhausted(self) -> bool:
        """True when ``max_attempts`` consecutive attempts failed."""
        limit = self._config.max_attempts
        return limit > 0 and self.failures >= limit

    def reset(self) -> None:
        """Start counting from zero again (after a stable connection)."""
        self.attempts = 0
