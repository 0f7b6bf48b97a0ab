"""Configuration objects accepted by :class:`jetsocket.WebSocket`.

All are frozen dataclasses validated on construction: a bad value raises ``ValueError`` or
``TypeError`` at the call site, never later on the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, TypeAlias, get_args

__all__ = [
    "BackoffConfig",
    "BufferConfig",
    "HeartbeatConfig",
    "OverflowChoice",
    "OverflowPolicy",
    "ReplayChoice",
    "ReplayConfig",
    "ReplayMode",
    "check_choice",
]

# Choices are plain strings, as every other option's (``send_while_reconnecting``,
# ``Subscription.on_gap``, ...).
OverflowChoice: TypeAlias = Literal["block", "drop_oldest", "drop_newest", "error"]
ReplayChoice: TypeAlias = Literal["none", "sequence_id", "full_buffer"]


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def check_choice(name: str, value: object, choices: Any) -> None:
    """Raise ValueError unless ``value`` is one of the ``Literal`` alias ``choices``."""
    allowed = get_args(choices)
    if value not in allowed:
        raise ValueError(f"{value!r} is not a valid {name}; expected one of {allowed}")


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    """Exponential backoff with full jitter between reconnect attempts.

    The delay before attempt ``n`` (from 0) is drawn uniformly from
    ``[0, min(cap, base * multiplier**n)]`` when ``jitter`` is true (AWS "full jitter"),
    or is exactly that bound otherwise.

    Attributes:
        base: First delay bound in seconds.
        multiplier: Growth factor per attempt.
        cap: Largest delay bound in seconds.
        jitter: Draw the delay uniformly below the bound.
        max_attempts: Give up after this many consecutive failed attempts (0: never).
        reset_after: Seconds a connection must stay up before the attempt counter resets.
        seed: Seed of the jitter's random generator (for reproducible tests).
        max_retry_after: Longest wait a server's ``Retry-After`` (HTTP 429/503) may
            impose, in seconds; None: ``cap``.
    """

    base: float = 0.5
    multiplier: float = 2.0
    cap: float = 30.0
    jitter: bool = True
    max_attempts: int = 0
    reset_after: float = 60.0
    seed: int | None = None
    max_retry_after: float | None = None

    def __post_init__(self) -> None:
        _positive("base", self.base, allow_zero=True)
        if self.max_retry_after is not None:
            _positive("max_retry_after", self.max_retry_after, allow_zero=True)
            if not math.isfinite(self.max_retry_after):
                raise ValueError("max_retry_after must be finite")
        _positive("cap", self.cap, allow_zero=True)
        _positive("reset_after", self.reset_after, allow_zero=True)
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 0:
            raise ValueError(f"max_attempts must be an int >= 0, got {self.max_attempts!r}")

    def bound(self, attempt: int) -> float:
        """Return the upper bound of the delay before ``attempt`` (0-based)."""
        return float(min(self.cap, self.base * self.multiplier ** min(attempt, 64)))


@dataclass(frozen=True, slots=True)
class HeartbeatConfig:
    """Keep-alive pings and dead-peer detection.

    Attributes:
        interval: Seconds between pings.
        timeout: Seconds to wait for the pong before the peer is declared dead.
        payload: Application-level ping message (sent with the serializer) or raw
            ``str``/``bytes``, or a callable returning a new one for each ping (e.g.
            Kraken's ``{"method": "ping", "req_id": n}`` with an incrementing ``n``);
            None sends none.
        use_ws_ping: Send RFC 6455 ping frames.
        use_application_ping: Send ``payload`` as an application message.
        pong_matcher: Recognises application pongs (these are not delivered; each emits
            a ``pong`` event with its round trip).
        any_message_is_alive: Any inbound frame counts as proof of life.
    """

    interval: float = 20.0
    timeout: float = 10.0
    payload: Any | Callable[[], Any] = None
    use_ws_ping: bool = True
    use_application_ping: bool = False
    pong_matcher: Callable[[Any], bool] | None = None
    any_message_is_alive: bool = True

    def __post_init__(self) -> None:
        _positive("interval", self.interval)
        _positive("timeout", self.timeout)
        if self.use_application_ping and self.payload is None:
            raise ValueError("use_application_ping=True needs a payload")
        if not (self.use_ws_ping or self.use_application_ping):
            raise ValueError("enable use_ws_ping or use_application_ping")
        if not self.use_ws_ping and self.pong_matcher is None and not self.any_message_is_alive:
            # Nothing could ever prove the peer alive: every connection would be dropped.
            raise ValueError(
                "an application-only heartbeat needs a pong_matcher or any_message_is_alive"
            )


@dataclass(frozen=True, slots=True)
class BufferConfig:
    """The queue of received messages not yet consumed.

    Attributes:
        capacity: Maximum number of undelivered messages.
        overflow_policy: What happens when it is full: ``"block"`` stops reading the
            socket until the consumer catches up (TCP backpressure), ``"drop_oldest"``
            discards the oldest undelivered message, ``"drop_newest"`` the incoming one,
            ``"error"`` raises :class:`jetsocket.BufferOverflowError` in the consumer.
        enable_dedup: Drop messages whose sequence id was already seen
            (needs ``ReplayConfig.sequence_extractor``).
        dedup_window: How many recent sequence ids are remembered.
    """

    capacity: int = 10_000
    overflow_policy: OverflowChoice = "block"
    enable_dedup: bool = False
    dedup_window: int = 10_000

    def __post_init__(self) -> None:
        if isinstance(self.capacity, bool) or not isinstance(self.capacity, int):
            raise TypeError("capacity must be an int")
        if self.capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {self.capacity}")
        if self.dedup_window < 1:
            raise ValueError(f"dedup_window must be >= 1, got {self.dedup_window}")
        check_choice("overflow_policy", self.overflow_policy, OverflowChoice)


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Sequence tracking and replay after a reconnect.

    Attributes:
        mode: ``none``, ``sequence_id`` (call ``on_replay(last_seq)`` after a reconnect) or
            ``full_buffer`` (messages sent while disconnected are held and sent after it).
        sequence_extractor: Returns a message's sequence id (or None).
        on_replay: Called with the last sequence id seen, after each reconnect.
        max_pending_sends: Bound on messages held while disconnected (``full_buffer``).
    """

    mode: ReplayChoice = "none"
    sequence_extractor: Callable[[Any], int | None] | None = None
    on_replay: Callable[[int | None], Awaitable[None] | None] | None = None
    max_pending_sends: int = 1000

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, ReplayChoice)
        # A compatibility constant (``ReplayMode.FULL_BUFFER``) is stored as its string.
        object.__setattr__(self, "mode", str(self.mode))
        if isinstance(self.max_pending_sends, bool) or not isinstance(self.max_pending_sends, int):
            raise TypeError("max_pending_sends must be an int")
        if self.max_pending_sends < 0:
            raise ValueError(f"max_pending_sends must be >= 0, got {self.max_pending_sends}")
        if self.mode == "sequence_id" and self.sequence_extractor is None:
            raise ValueError("mode 'sequence_id' needs a sequence_extractor")


# -- compatibility ---------------------------------------------------------------------
# The choices as constants, as earlier releases declared them. Each member equals its
# string; options take and report the strings.


class OverflowPolicy(StrEnum):
    """The ``overflow_policy`` strings as constants (kept for compatibility)."""

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    ERROR = "error"


class ReplayMode(StrEnum):
    """The replay ``mode`` strings as constants (kept for compatibility)."""

    NONE = "none"
    SEQUENCE_ID = "sequence_id"
    FULL_BUFFER = "full_buffer"
