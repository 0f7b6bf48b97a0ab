"""Connection events and their dispatch.

Every event is a frozen dataclass with a ``timestamp`` (``time.time()``). Handlers are
registered by event name (``on("connected")``); they may be plain functions or coroutine
functions. Sync handlers run inline on the event loop; coroutine handlers are scheduled as
tasks, so a slow async handler never stalls reading. A handler that raises is reported (an
``error`` event, the ``handler_errors`` counter, a log line) and never breaks the connection
or the other handlers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, TypeVar, overload

__all__ = [
    "BufferOverflowEvent",
    "ClosedEvent",
    "ConnectedEvent",
    "ConnectingEvent",
    "DisconnectedEvent",
    "ErrorEvent",
    "Event",
    "EventName",
    "EventRegistry",
    "EventSource",
    "GapEvent",
    "Handler",
    "LoopBlockedEvent",
    "MessageEvent",
    "PingEvent",
    "PongEvent",
    "ReconnectedEvent",
    "ReconnectingEvent",
    "ReplayCompletedEvent",
    "ReplayStartedEvent",
    "ResubscribedEvent",
    "SubscribedEvent",
    "UnsubscribedEvent",
    "share_registry",
]

logger = logging.getLogger("jetsocket")

E = TypeVar("E")
M = TypeVar("M")
X = TypeVar("X")
H = TypeVar("H", bound=Callable[..., Any])

EventName: TypeAlias = Literal[
    "connecting",
    "connected",
    "disconnected",
    "reconnecting",
    "reconnected",
    "message",
    "error",
    "closed",
    "ping",
    "pong",
    "buffer_overflow",
    "replay_started",
    "replay_completed",
    "gap",
    "subscribed",
    "unsubscribed",
    "resubscribed",
    "loop_blocked",
]


def _now() -> float:
    return time.time()


_perf_counter = time.perf_counter


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event."""

    timestamp: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectingEvent(Event):
    """A connection attempt starts (``attempt`` counts from 1 since the last success)."""

    uri: str
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectedEvent(Event):
    """The opening handshake succeeded."""

    uri: str
    subprotocol: str | None = None
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DisconnectedEvent(Event):
    """An established connection ended (whether or not a reconnect follows)."""

    code: int
    reason: str
    by_server: bool
    will_reconnect: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectingEvent(Event):
    """A reconnect attempt is scheduled after ``delay`` seconds."""

    attempt: int
    delay: float
    error: BaseException | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectedEvent(Event):
    """A reconnect succeeded after ``attempts`` tries and ``downtime`` seconds."""

    attempts: int
    downtime: float
    rotation: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEvent(Event):
    """A decoded message (emitted only when a ``message`` handler is registered)."""

    data: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEvent(Event):
    """Something failed; ``fatal`` when the client gives up (state ``FAILED``)."""

    error: BaseException
    fatal: bool = False
    context: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedEvent(Event):
    """The client is closed for good."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PingEvent(Event):
    """The server sent a ping (already answered)."""

    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PongEvent(Event):
    """A pong arrived; ``latency_ms`` when it answered a heartbeat ping."""

    payload: bytes
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferOverflowEvent(Event):
    """The receive buffer overflowed and ``dropped`` messages were discarded."""

    dropped: int
    policy: str
    capacity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayStartedEvent(Event):
    """Replay after a reconnect starts (``last_sequence`` seen before the disconnect)."""

    mode: str
    last_sequence: int | None = None
    pending_sends: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayCompletedEvent(Event):
    """Replay after a reconnect finished."""

    mode: str
    replayed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class GapEvent(Event):
    """Sequence ids ``first_missing`` .. ``last_missing`` never arrived.

    Attributes:
        first_missing: The first missing sequence id.
        last_missing: The last missing sequence id.
        subscription: The schema subscription whose sequence jumped (None: the
            connection's own ``ReplayConfig.sequence_extractor``).
        key: The subscription's sequence key (e.g. the product), when it declares one.
    """

    first_missing: int
    last_missing: int
    subscription: Any = None
    key: Any = None

    @property
    def size(self) -> int:
        """Number of missing sequence ids."""
        return self.last_missing - self.first_missing + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscribedEvent(Event):
    """A subscription was sent (and acknowledged, when it declares acks)."""

    subscription: Any
    request_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribedEvent(Event):
    """A subscription was removed."""

    subscription: Any
    request_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResubscribedEvent(Event):
    """Every active subscription was re-sent after a reconnect."""

    count: int
    failed: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopBlockedEvent(Event):
    """The event loop could not run for ``blocked_ms`` (longer than the threshold).

    While the loop is blocked nothing is read, sent or answered on *any* connection of
    that loop; the heartbeat does not count that time against the peer.

    Attributes:
        blocked_ms: How long the loop was blocked (the loop-lag probe sees a block of
            ``B`` as between ``B`` minus its period and ``B``; a timed handler exactly).
        handler: Qualified name of the sync handler that blocked it, when known (the
            ``time_handlers`` option); None when the probe saw it (a handler, the code
            consuming messages, or anything else running on the loop).
        handling: What that handler was called for: an event name, or ``"message X"``.
    """

    blocked_ms: float
    handler: str | None = None
    handling: str | None = None


Handler: TypeAlias = Callable[[Any], "Awaitable[object] | object"]


class Registers(Protocol[X]):
    """What ``on(...)`` returns: a decorator registering a handler of ``X`` (unchanged)."""

    def __call__(self, handler: Callable[[X], E], /) -> Callable[[X], E]: ...


EVENT_NAMES: frozenset[str] = frozenset(EventName.__args__)  # type: ignore[attr-defined]


class EventRegistry:
    """Handlers by event name, and their fault-isolated dispatch."""

    __slots__ = (
        "_block_threshold",
        "_blocked_until",
        "_handlers",
        "_logged_at",
        "_on_failure",
        "_tasks",
        "_timed",
        "_type_cache",
        "_type_handlers",
        "handler_errors",
        "loop_blocks",
        "per_message",
    )

    def __init__(self, on_failure: Callable[[BaseException, str], None] | None = None) -> None:
        self._handlers: dict[str, list[Handler]] = {}
        # Typed message handlers, keyed by message class; the cache maps each concrete
        # class seen to the handlers of it and its bases (resolved once per class).
        self._type_handlers: dict[type, list[Handler]] = {}
        self._type_cache: dict[type, tuple[Handler, ...]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_failure = on_failure
        self.handler_errors = 0
        # True while typed or ``message`` handlers exist: read once per received batch
        # (an attribute, not a call), kept right by every add and remove.
        self.per_message = False
        # Liveness (configure_liveness): loop_blocked events and timed sync handlers.
        self._block_threshold: float | None = None
        self._timed = False
        self._blocked_until = 0.0  # when the last block a timed handler reported ended
        self._logged_at = -1e9
        self.loop_blocks = 0

    def add(self, name: str, handler: Handler) -> None:
        """Register ``handler`` for ``name``.

        Raises:
            ValueError: Unknown event name.
            TypeError: ``handler`` is not callable.
        """
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event {name!r}; expected one of {sorted(EVENT_NAMES)}")
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        self._handlers.setdefault(name, []).append(handler)
        self._changed()

    def remove(self, name: str, handler: Handler) -> bool:
        """Unregister ``handler``; return True if it was registered."""
        handlers = self._handlers.get(name)
        if not handlers or handler not in handlers:
            return False
        handlers.remove(handler)
        if not handlers:
            del self._handlers[name]
        self._changed()
        return True

    def add_type(self, cls: type, handler: Handler) -> None:
        """Register ``handler`` for messages that are instances of ``cls``.

        Raises:
            TypeError: ``handler`` is not callable.
        """
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        self._type_handlers.setdefault(cls, []).append(handler)
        self._type_cache.clear()
        self._changed()

    def remove_type(self, cls: type, handler: Handler) -> bool:
        """Unregister a typed handler; return True if it was registered."""
        handlers = self._type_handlers.get(cls)
        if not handlers or handler not in handlers:
            return False
        handlers.remove(handler)
        if not handlers:
            del self._type_handlers[cls]
        self._type_cache.clear()
        self._changed()
        return True

    def _changed(self) -> None:
        self.per_message = bool(self._type_handlers) or "message" in self._handlers

    @property
    def has_typed(self) -> bool:
        """True if any typed message handler is registered."""
        return bool(self._type_handlers)

    def dispatch(self, msg: object) -> None:
        """Call the typed handlers of ``msg``'s class (dict lookup, MRO resolved once)."""
        cls = msg.__class__
        handlers = self._type_cache.get(cls)
        if handlers is None:
            handlers = tuple(h for base in cls.__mro__ for h in self._type_handlers.get(base, ()))
            self._type_cache[cls] = handlers
        timed = self._timed
        for handler in handlers:
            try:
                result = self._call_timed(handler, msg, cls) if timed else handler(msg)
            except Exception as exc:
                self._failed(exc, cls.__name__, handler)
                continue
            if inspect.isawaitable(result):
                self._schedule(result, cls.__name__, handler)

    def has(self, name: str) -> bool:
        """True if at least one handler is registered for ``name``."""
        return name in self._handlers

    def emit(self, name: str, event: Event) -> None:
        """Call every handler of ``name`` with ``event``, isolating failures."""
        handlers = self._handlers.get(name)
        if not handlers:
            return
        timed = self._timed and name != "loop_blocked"
        for handler in tuple(handlers):
            try:
                result = self._call_timed(handler, event, name) if timed else handler(event)
            except Exception as exc:
                self._failed(exc, name, handler)
                continue
            if inspect.isawaitable(result):
                self._schedule(result, name, handler)

    # -- liveness: a blocked event loop is reported, never silent ------------------------

    def configure_liveness(self, threshold: float | None, time_handlers: bool) -> None:
        """Report blocks of the loop longer than ``threshold`` seconds (None: never).

        With ``time_handlers``, every sync handler call is timed (two
        ``time.perf_counter()`` calls) so that a block names the handler that caused it.
        """
        self._block_threshold = threshold
        self._timed = time_handlers and threshold is not None

    def on_loop_lag(self, lag: float, since: float) -> None:
        """The loop-lag probe ran ``lag`` seconds late (the loop was blocked from ~``since``)."""
        if self._blocked_until >= since:
            return  # a timed handler already reported (and named) this block
        self._loop_blocked(lag, None, None)

    def _call_timed(self, handler: Handler, arg: object, what: str | type) -> object:
        # ``what``: an event name, or the class of the message handled.
        start = _perf_counter()
        try:
            return handler(arg)
        finally:
            elapsed = _perf_counter() - start
            threshold = self._block_threshold
            if threshold is not None and elapsed > threshold:
                self._blocked_until = time.monotonic()
                label = getattr(handler, "__qualname__", None) or repr(handler)
                handling = what if isinstance(what, str) else f"message {what.__name__}"
                self._loop_blocked(elapsed, label, handling)

    def _loop_blocked(self, seconds: float, handler: str | None, handling: str | None) -> None:
        self.loop_blocks += 1
        now = time.monotonic()
        if now - self._logged_at >= 1.0:  # at most one line a second; every event is emitted
            self._logged_at = now
            by = f" by handler {handler} ({handling})" if handler is not None else ""
            logger.warning("jetsocket: event loop blocked for %.0f ms%s", seconds * 1e3, by)
        self.emit(
            "loop_blocked",
            LoopBlockedEvent(blocked_ms=seconds * 1e3, handler=handler, handling=handling),
        )

    def _schedule(self, awaitable: Awaitable[object], name: str, handler: Handler) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception as exc:
                self._failed(exc, name, handler)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _failed(self, exc: BaseException, name: str, handler: Handler) -> None:
        self.handler_errors += 1
        label = getattr(handler, "__qualname__", repr(handler))
        logger.error("jetsocket: %r handler %s raised %r", name, label, exc)
        if name != "error" and self._on_failure is not None:
            self._on_failure(exc, f"{name} handler {label}")

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for scheduled async handlers to finish, then cancel the rest."""
        if self._tasks:
            _, pending = await asyncio.wait(tuple(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)


class EventSource:
    """The ``on`` / ``add_handler`` / ``remove_handler`` API.

    Shared by the async client and the sync facade, which both delegate to one
    :class:`EventRegistry` (the facade's handlers run on its loop thread).
    """

    _events: EventRegistry

    @overload
    def on(self, event: type[M]) -> Registers[M]: ...
    @overload
    def on(self, event: Literal["connecting"]) -> Registers[ConnectingEvent]: ...
    @overload
    def on(self, event: Literal["connected"]) -> Registers[ConnectedEvent]: ...
    @overload
    def on(self, event: Literal["disconnected"]) -> Registers[DisconnectedEvent]: ...
    @overload
    def on(self, event: Literal["reconnecting"]) -> Registers[ReconnectingEvent]: ...
    @overload
    def on(self, event: Literal["reconnected"]) -> Registers[ReconnectedEvent]: ...
    @overload
    def on(self, event: Literal["message"]) -> Registers[MessageEvent]: ...
    @overload
    def on(self, event: Literal["error"]) -> Registers[ErrorEvent]: ...
    @overload
    def on(self, event: Literal["closed"]) -> Registers[ClosedEvent]: ...
    @overload
    def on(self, event: Literal["ping"]) -> Registers[PingEvent]: ...
    @overload
    def on(self, event: Literal["pong"]) -> Registers[PongEvent]: ...
    @overload
    def on(self, event: Literal["buffer_overflow"]) -> Registers[BufferOverflowEvent]: ...
    @overload
    def on(self, event: Literal["replay_started"]) -> Registers[ReplayStartedEvent]: ...
    @overload
    def on(self, event: Literal["replay_completed"]) -> Registers[ReplayCompletedEvent]: ...
    @overload
    def on(self, event: Literal["gap"]) -> Registers[GapEvent]: ...
    @overload
    def on(self, event: Literal["subscribed"]) -> Registers[SubscribedEvent]: ...
    @overload
    def on(self, event: Literal["unsubscribed"]) -> Registers[UnsubscribedEvent]: ...
    @overload
    def on(self, event: Literal["resubscribed"]) -> Registers[ResubscribedEvent]: ...
    @overload
    def on(self, event: Literal["loop_blocked"]) -> Registers[LoopBlockedEvent]: ...
    def on(self, event: EventName | type) -> Callable[[H], H]:
        """Decorator registering a handler for an event name or a message class.

        ``on(Trade)`` registers a handler called with every decoded message that is a
        ``Trade`` (mypy checks the handler takes a ``Trade``); handlers are found by a dict
        lookup on the message's class. ``on("connected")`` registers an event handler.

        Sync handlers run inline on the event loop; async handlers run as tasks. A handler
        that raises is reported as an ``error`` event and counted; it never breaks the
        connection.

        Example:
            >>> @ws.on("reconnected")
            ... def log(event: ReconnectedEvent) -> None:
            ...     print("back after", event.downtime)
        """

        def register(handler: H) -> H:
            if isinstance(event, type):
                self._events.add_type(event, handler)
            else:
                self._events.add(event, handler)
            return handler

        return register

    def add_handler(self, event: EventName | type, handler: Handler) -> None:
        """Register ``handler`` for an event name or a message class (see :meth:`on`).

        Raises:
            ValueError: Unknown event name.
            TypeError: ``handler`` is not callable.
        """
        if isinstance(event, type):
            self._events.add_type(event, handler)
        else:
            self._events.add(event, handler)

    def remove_handler(self, event: EventName | type, handler: Handler) -> bool:
        """Unregister ``handler``; return True if it was registered."""
        if isinstance(event, type):
            return self._events.remove_type(event, handler)
        return self._events.remove(event, handler)


def share_registry(source: EventSource, target: EventSource) -> None:
    """Make ``target`` register its handlers in ``source``'s registry (facades, shards)."""
    target._events = source._events
