"""Reconnecting and rotating the connection.

This is the only engine work done in a task: a supervisor task exists only while
reconnecting or rotating; an established connection costs no task at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from jetsocket._engine._config import ReplayConfig, ReplayMode
from jetsocket._engine._events import (
    ConnectingEvent,
    ErrorEvent,
    EventRegistry,
    ReconnectedEvent,
    ReconnectingEvent,
    ReplayCompletedEvent,
    ReplayStartedEvent,
)
from jetsocket._engine._ratelimit import TokenBucket
from jetsocket._engine._retry import Backoff, is_fatal
from jetsocket._engine._sequence import SequenceTracker
from jetsocket._engine._state import ConnectionState
from jetsocket._exceptions import ConnectionClosedError
from jetsocket._protocol._connection import WireConnection, redact_uri

__all__ = ["Supervisor"]

logger = logging.getLogger("jetsocket")

_S = ConnectionState


class Supervisor:
    """Reconnect and rotation (a base of ``WebSocket``; attributes set by its ``__init__``)."""

    _uri: str
    _state: ConnectionState
    _conn: WireConnection | None
    _events: EventRegistry
    _backoff: Backoff
    _classifier: Callable[[BaseException], bool | None] | None
    _supervisor: asyncio.Task[None] | None
    _timers: list[asyncio.TimerHandle]
    _connected: asyncio.Event | None
    _replay: ReplayConfig | None
    _pending_sends: deque[tuple[bytes, bool]]
    _bucket: TokenBucket | None
    _seq: SequenceTracker | None
    _errors: int
    _n_out: int
    _reconnects: int
    _last_reconnect: float | None

    def _set_state(self, new: ConnectionState) -> None:
        raise NotImplementedError

    async def _open(self) -> WireConnection:
        raise NotImplementedError

    def _after_connected(self) -> None:
        raise NotImplementedError

    def _finish(self, end: BaseException) -> None:
        raise NotImplementedError

    def _describe_conn(self) -> str:
        raise NotImplementedError

    # -- reconnect and rotation -----------------------------------------------------------

    async def _reconnect_loop(self, cause: BaseException) -> None:
        started = time.monotonic()
        error: BaseException | None = (
            cause if not isinstance(cause, ConnectionClosedError) else None
        )
        last_seq = self._seq.last if self._seq is not None else None
        try:
            while True:
                delay = self._backoff.next_delay(error)
                attempt = self._backoff.attempts
                self._events.emit(
                    "reconnecting", ReconnectingEvent(attempt=attempt, delay=delay, error=error)
                )
                logger.info(
                    "jetsocket: %s: reconnecting in %.2fs (attempt %d)",
                    redact_uri(self._uri),
                    delay,
                    attempt,
                )
                await asyncio.sleep(delay)
                self._set_state(_S.CONNECTING)
                self._events.emit(
                    "connecting", ConnectingEvent(uri=redact_uri(self._uri), attempt=attempt)
                )
                try:
                    conn = await self._open()
                except Exception as exc:
                    # Any failure of an attempt (network, handshake, or an on_open hook
                    # such as a refused login) is classified, never left to kill this task.
                    error = exc
                    self._errors += 1
                    self._backoff.failed()
                    fatal = is_fatal(exc, self._classifier)
                    if fatal or self._backoff.exhausted():
                        self._give_up(exc)
                        return
                    logger.warning(
                        "jetsocket: %s: reconnect attempt %d failed: %s",
                        redact_uri(self._uri),
                        attempt,
                        exc,
                    )
                    self._events.emit("error", ErrorEvent(error=exc, context="reconnect"))
                    self._set_state(_S.RECONNECTING)
                    continue
                break
            if self._state is not _S.CONNECTING:
                conn.abort()  # closed while the attempt completed
                return
            self._set_state(_S.CONNECTED)
            self._backoff.succeeded()
            self._reconnects += 1
            self._last_reconnect = time.time()
            self._after_connected()
            downtime = time.monotonic() - started
            logger.info(
                "jetsocket: %s: reconnected after %.2fs (%d attempts)%s",
                redact_uri(self._uri),
                downtime,
                attempt,
                self._describe_conn(),
            )
            self._events.emit("reconnected", ReconnectedEvent(attempts=attempt, downtime=downtime))
            await self._replay_after_reconnect(last_seq)
        except asyncio.CancelledError:
            pass  # close() cancelled us
        finally:
            if self._supervisor is asyncio.current_task():
                self._supervisor = None

    def _give_up(self, exc: BaseException) -> None:
        logger.error("jetsocket: %s: giving up: %s", redact_uri(self._uri), exc)
        self._events.emit("error", ErrorEvent(error=exc, fatal=True, context="reconnect"))
        self._set_state(_S.FAILED)
        self._finish(exc)
        if self._connected is not None:
            self._connected.set()

    async def _replay_after_reconnect(self, last_seq: int | None) -> None:
        replay = self._replay
        if replay is None or replay.mode is ReplayMode.NONE:
            return
        mode = ReplayMode(replay.mode)
        pending = len(self._pending_sends)
        self._events.emit(
            "replay_started",
            ReplayStartedEvent(mode=mode.value, last_sequence=last_seq, pending_sends=pending),
        )
        replayed = 0
        if mode is ReplayMode.SEQUENCE_ID and replay.on_replay is not None:
            result = replay.on_replay(last_seq)
            if result is not None:
                await result
        elif mode is ReplayMode.FULL_BUFFER:
            conn = self._conn
            while self._pending_sends and conn is not None and conn.is_open:
                if self._bucket is not None:
                    await self._bucket.acquire()
                payload, text = self._pending_sends.popleft()
                conn.send_message(payload, text)
                self._n_out += 1
                replayed += 1
                if conn.write_paused:
                    await conn.drain()
        self._events.emit(
            "replay_completed", ReplayCompletedEvent(mode=mode.value, replayed=replayed)
        )

    def _start_rotation(self) -> None:
        if self._state is _S.CONNECTED and self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._rotate())

    async def _rotate(self) -> None:
        """Make-before-break: open the new connection, then close the old one."""
        old = self._conn
        started = time.monotonic()
        try:
            await self._open()  # becomes current; the old one keeps delivering meanwhile
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Keep the old connection; try again after a backoff delay.
            logger.warning(
                "jetsocket: %s: rotation failed, keeping the current connection: %s",
                redact_uri(self._uri),
                exc,
            )
            self._events.emit("error", ErrorEvent(error=exc, context="rotation"))
            self._supervisor = None
            delay = self._backoff.next_delay(exc)
            self._timers.append(asyncio.get_running_loop().call_later(delay, self._start_rotation))
            return
        finally:
            if self._supervisor is asyncio.current_task():
                self._supervisor = None
        self._reconnects += 1
        self._last_reconnect = time.time()
        self._after_connected()
        logger.info("jetsocket: %s: connection rotated (max_connection_age)", redact_uri(self._uri))
        self._events.emit(
            "reconnected",
            ReconnectedEvent(attempts=1, downtime=time.monotonic() - started, rotation=True),
        )
        if old is not None:
            await old.close(1000, "rotating connection")
