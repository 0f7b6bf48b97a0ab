"""Reconnecting and rotating the connection.

This is the only engine work done in a task: a task exists only while reconnecting or
rotating; an established connection costs none. The :class:`Reconnector` decides *when*
(backoff, fatal failures, rotation age); the engine it is given as a few callables does
the opening and declaring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from jetsocket._engine._config import BackoffConfig, ReplayConfig
from jetsocket._engine._events import (
    ConnectingEvent,
    ErrorEvent,
    EventRegistry,
    ReconnectedEvent,
    ReconnectingEvent,
    ReplayCompletedEvent,
    ReplayStartedEvent,
)
from jetsocket._engine._outbox import Outbox
from jetsocket._engine._retry import Backoff, Classifier, is_fatal
from jetsocket._engine._state import ConnectionState
from jetsocket._exceptions import ConnectionClosedError
from jetsocket._protocol._connection import WireConnection

__all__ = [
    "EngineHooks",
    "OverlapWatch",
    "Reconnector",
    "abort_connection",
    "replay_after_reconnect",
    "retire_connection",
]

logger = logging.getLogger("jetsocket")

_S = ConnectionState

#: Called as a rotation starts: a future resolved once both connections delivered common
#: messages (the new one carries the stream), or None when nothing can tell (the old
#: connection then closes at once).
OverlapWatch = Callable[[], "asyncio.Future[None] | None"]


@dataclass(frozen=True, slots=True)
class EngineHooks:
    """What the reconnector asks of its engine (bound methods of the engine).

    Attributes:
        state: The engine's current state.
        set_state: Move the engine to a state (checked transitions).
        open: Open a connection, run the ``on_open`` hooks, make it current.
        declare_connected: The new current connection is live.
        give_up: Reconnecting failed for good with this error.
        after_reconnect: Replay after a reconnect (called with the last sequence id).
        current: The current connection (None when there is none).
        abandon: Abort a connection just opened (the engine was closed meanwhile).
        watch_overlap: Before a rotation: a future resolved once the new connection's
            stream met the old one's (it then carries everything), None without ids.
        retire: Hand a rotated-out connection over and close it gracefully (given the
            overlap future).
        describe: A short text naming the URI (redacted) for logs.
        redact: Hides credentials and declared secrets in a text (exceptions in logs).
    """

    state: Callable[[], ConnectionState]
    set_state: Callable[[ConnectionState], None]
    open: Callable[[], Awaitable[object]]
    declare_connected: Callable[[], None]
    give_up: Callable[[BaseException], None]
    after_reconnect: Callable[[], Awaitable[None]]
    current: Callable[[], object]
    abandon: Callable[[object], None]
    watch_overlap: OverlapWatch
    retire: Callable[[object, asyncio.Future[None] | None], Awaitable[None]]
    describe: Callable[[], str]
    redact: Callable[[str], str]


class Reconnector:
    """Runs the reconnect loop and make-before-break rotations of one engine."""

    __slots__ = (
        "_backoff",
        "_classifier",
        "_config",
        "_events",
        "_hooks",
        "_retry_timer",
        "errors",
        "last_reconnect",
        "reconnects",
        "task",
    )

    def __init__(
        self,
        config: BackoffConfig,
        classifier: Classifier | None,
        events: EventRegistry,
        hooks: EngineHooks,
    ) -> None:
        self._config = config
        self._backoff = Backoff(config)
        self._classifier = classifier
        self._events = events
        self._hooks = hooks
        self._retry_timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.last_reconnect: float | None = None
        self.errors = 0

    def use_events(self, events: EventRegistry) -> None:
        """Report to ``events`` from now on (the shards of one client share one registry)."""
        self._events = events

    @property
    def backoff(self) -> Backoff:
        """The backoff state (attempt counter, delays)."""
        return self._backoff

    def is_fatal(self, exc: BaseException) -> bool:
        """Whether ``exc`` must not be retried (the classifier hook, then the rules)."""
        return is_fatal(exc, self._classifier)

    def connection_lasted(self, seconds: float) -> None:
        """A connection ended after ``seconds``: a long life resets the attempt counter."""
        if seconds >= self._config.reset_after:
            self._backoff.reset()

    def start(self, cause: BaseException) -> None:
        """Reconnect in a task (replacing a rotation in progress)."""
        self.cancel()
        self.task = asyncio.get_running_loop().create_task(self._reconnect_loop(cause))

    def cancel(self) -> None:
        """Stop reconnecting or rotating (close)."""
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
        task = self.task
        self.task = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _reconnect_loop(self, cause: BaseException) -> None:
        hooks = self._hooks
        started = time.monotonic()
        # A close is not passed to the backoff (only e.g. a refused handshake's Retry-After).
        error: BaseException | None = None if isinstance(cause, ConnectionClosedError) else cause
        try:
            while True:
                delay = self._backoff.next_delay(error)
                attempt = self._backoff.attempts
                self._events.emit(
                    "reconnecting", ReconnectingEvent(attempt=attempt, delay=delay, error=error)
                )
                logger.info(
                    "jetsocket: %s: reconnecting in %.2fs (attempt %d)",
                    hooks.describe(),
                    delay,
                    attempt,
                )
                await asyncio.sleep(delay)
                if hooks.state() is not _S.RECONNECTING:
                    return  # closed meanwhile
                hooks.set_state(_S.CONNECTING)
                self._events.emit(
                    "connecting", ConnectingEvent(uri=hooks.describe(), attempt=attempt)
                )
                try:
                    conn = await hooks.open()
                except Exception as exc:
                    # Any failure of an attempt (network, handshake, or an on_open hook
                    # such as a refused login) is classified, never left to kill this task.
                    if hooks.state() is not _S.CONNECTING:
                        return  # closed meanwhile
                    error = exc
                    self.errors += 1
                    self._backoff.failed()
                    if self.is_fatal(exc) or self._backoff.exhausted():
                        hooks.give_up(exc)
                        return
                    logger.warning(
                        "jetsocket: %s: reconnect attempt %d failed: %s",
                        hooks.describe(),
                        attempt,
                        hooks.redact(str(exc)),
                    )
                    self._events.emit("error", ErrorEvent(error=exc, context="reconnect"))
                    hooks.set_state(_S.RECONNECTING)
                    continue
                break
            if hooks.state() is not _S.CONNECTING:
                hooks.abandon(conn)  # closed while the attempt completed
                return
            hooks.set_state(_S.CONNECTED)
            self._backoff.succeeded()
            self.reconnects += 1
            self.last_reconnect = time.time()
            hooks.declare_connected()
            downtime = time.monotonic() - started
            logger.info(
                "jetsocket: %s: reconnected after %.2fs (%d attempts)",
                hooks.describe(),
                downtime,
                attempt,
            )
            self._events.emit("reconnected", ReconnectedEvent(attempts=attempt, downtime=downtime))
            await hooks.after_reconnect()
        except asyncio.CancelledError:
            pass  # close() cancelled us
        finally:
            if self.task is asyncio.current_task():
                self.task = None

    # -- rotation ------------------------------------------------------------------------

    def start_rotation(self) -> None:
        """Open a new connection, then close the old one (``max_connection_age``)."""
        self._retry_timer = None
        if self._hooks.state() is _S.CONNECTED and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._rotate())

    async def _rotate(self) -> None:
        hooks = self._hooks
        started = time.monotonic()
        old = hooks.current()
        # Watched from before the new connection opens: what it delivers while its
        # on_open hooks run counts towards the overlap too.
        overlap = hooks.watch_overlap()
        try:
            try:
                await hooks.open()  # becomes current; the old one delivers meanwhile
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Keep the old connection; try again after a backoff delay.
                logger.warning(
                    "jetsocket: %s: rotation failed, keeping the current connection: %s",
                    hooks.describe(),
                    hooks.redact(str(exc)),
                )
                self._events.emit("error", ErrorEvent(error=exc, context="rotation"))
                delay = self._backoff.next_delay(exc)
                self._retry_timer = asyncio.get_running_loop().call_later(
                    delay, self.start_rotation
                )
                return
            self.reconnects += 1
            self.last_reconnect = time.time()
            hooks.declare_connected()
            logger.info("jetsocket: %s: connection rotated (max_connection_age)", hooks.describe())
            self._events.emit(
                "reconnected",
                ReconnectedEvent(attempts=1, downtime=time.monotonic() - started, rotation=True),
            )
            if old is not None:
                # Still this task's work: close() cancels it, and no second rotation starts
                # while the old connection hands over.
                await hooks.retire(old, overlap)
        finally:
            if overlap is not None:
                overlap.cancel()
            if self.task is asyncio.current_task():
                self.task = None


async def replay_after_reconnect(
    replay: ReplayConfig | None, last_seq: int | None, outbox: Outbox, events: EventRegistry
) -> None:
    """After a reconnect: ask the user to replay from ``last_seq``, or send held messages."""
    if replay is None or replay.mode == "none":
        return
    mode = replay.mode
    events.emit(
        "replay_started",
        ReplayStartedEvent(mode=mode, last_sequence=last_seq, pending_sends=len(outbox.held)),
    )
    replayed = 0
    if mode == "sequence_id" and replay.on_replay is not None:
        result = replay.on_replay(last_seq)
        if result is not None:
            await result
    elif mode == "full_buffer":
        replayed = await outbox.replay_held()
    events.emit("replay_completed", ReplayCompletedEvent(mode=mode, replayed=replayed))


def abort_connection(conn: object) -> None:
    """Drop a connection at once (one opened while the engine was closed)."""
    if isinstance(conn, WireConnection):
        conn.abort()


async def retire_connection(
    conn: object, overlap: asyncio.Future[None] | None, *, overlap_timeout: float
) -> None:
    """Close a rotated-out connection once the new one took the stream over.

    With sequence ids, the old connection keeps delivering until both connections
    delivered a common id (the new one may start its stream later than its handshake: a
    venue subscribing it, a broadcaster adding it), so no message falls between them;
    bounded by ``overlap_timeout`` and by the old connection ending first. Without ids
    there is nothing to compare: it closes at once (the fewest duplicates).
    """
    if not isinstance(conn, WireConnection):
        return
    try:
        if overlap is not None and not overlap.done():
            closed = asyncio.ensure_future(conn.wait_closed())
            try:
                done, _ = await asyncio.wait(
                    (overlap, closed),
                    timeout=overlap_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                closed.cancel()
            if not done:
                logger.warning(
                    "jetsocket: rotation: no sequence id common to both connections within "
                    "%.3gs; closing the old one (a gap event reports anything missed)",
                    overlap_timeout,
                )
        await conn.close(1000, "rotating connection")
    except asyncio.CancelledError:
        conn.abort()  # close() during the hand-over: the old connection must not linger
        raise
