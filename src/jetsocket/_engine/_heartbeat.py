"""Heartbeat: periodic pings, dead-peer detection and latency measurement.

Timers are ``loop.call_later`` handles, not a task per ping: a connection that is idle costs
one timer handle. A ping is sent every ``interval``; if neither its pong nor (when
``any_message_is_alive``) any other frame arrives within ``timeout``, the peer is declared
dead, so a half-open connection is detected within ``interval + timeout``.

Time the event loop could not run is never counted against the peer (a blocked loop cannot
read the pong that may already sit in the socket): the deadline of a ping moves by the
loop lag the :class:`~jetsocket._engine._liveness.LoopMonitor` measured since the ping, and
a check that itself ran late (the loop was blocked up to now) looks again once the loop
had a chance to read. So the peer always gets ``timeout`` seconds of a *running* loop.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable

from jetsocket._engine._config import HeartbeatConfig
from jetsocket._engine._liveness import LoopMonitor
from jetsocket._protocol._connection import WireConnection

__all__ = ["Heartbeat"]

_PING = struct.Struct("!Q")
#: A check that runs this late was held up by a blocked loop: look again before deciding.
_LATE = 0.005
#: The second look comes this much later: enough for the loop to poll the socket first
#: (uvloop runs due timers *before* polling, and its timers have millisecond steps).
_RECHECK = 0.01


class Heartbeat:
    """Drives pings on one connection and measures round trips."""

    __slots__ = (
        "_config",
        "_conn",
        "_counter",
        "_due",
        "_handle",
        "_lag_at_ping",
        "_monitor",
        "_on_dead",
        "_outstanding",
        "_rechecked",
        "_send_app_ping",
        "_sent_at",
        "extensions",
        "last_ms",
        "samples",
        "total_ms",
    )

    def __init__(
        self,
        config: HeartbeatConfig,
        on_dead: Callable[[WireConnection], None],
        send_app_ping: Callable[[], None] | None = None,
    ) -> None:
        self._config = config
        self._on_dead = on_dead
        self._send_app_ping = send_app_ping
        self._conn: WireConnection | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._counter = 0
        self._outstanding: bytes | None = None
        self._sent_at = 0.0
        self._due = 0.0
        self._monitor: LoopMonitor | None = None
        self._lag_at_ping = 0.0
        self._rechecked = False
        # Checks postponed because the loop had been blocked (tests and logs read it).
        self.extensions = 0
        self.last_ms: float | None = None
        self.total_ms = 0.0
        self.samples = 0

    @property
    def avg_ms(self) -> float | None:
        """Average round trip in milliseconds, or None before the first pong."""
        return self.total_ms / self.samples if self.samples else None

    def start(self, conn: WireConnection, monitor: LoopMonitor | None = None) -> None:
        """Start pinging ``conn`` (replacing any previous connection).

        Args:
            conn: The connection.
            monitor: The loop's lag probe: lag it measures extends the pong deadline.
        """
        self.stop()
        self._conn = conn
        self._monitor = monitor
        self._schedule(self._config.interval, self._tick)

    def stop(self) -> None:
        """Cancel the timers."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._conn = None
        self._outstanding = None

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        self._due = time.monotonic() + delay
        self._handle = asyncio.get_running_loop().call_later(delay, callback)

    def _tick(self) -> None:
        conn = self._conn
        if conn is None or not conn.is_open:
            return
        self._counter += 1
        self._sent_at = time.monotonic()
        monitor = self._monitor
        self._lag_at_ping = monitor.stolen if monitor is not None else 0.0
        self._rechecked = False
        if self._config.use_ws_ping:
            payload = _PING.pack(self._counter)
            self._outstanding = payload
            conn.ping(payload)
        else:
            self._outstanding = b"app"
        if self._config.use_application_ping and self._send_app_ping is not None:
            self._send_app_ping()
        self._schedule(self._config.timeout, self._check)

    def _check(self) -> None:
        conn = self._conn
        if conn is None:
            return
        alive = (
            self._outstanding is None
            or (self._config.any_message_is_alive and conn.last_received >= self._sent_at)
            # While our consumer is behind we stopped reading (backpressure): the pong may
            # sit unread in the socket. A slow consumer is not a dead peer.
            or conn.reading_paused
        )
        if not alive:
            wait = self._postpone()
            if wait > 0.0:
                self.extensions += 1
                self._schedule(wait, self._check)
                return
            self.stop()
            self._on_dead(conn)
            return
        # Next ping one interval after the previous one.
        remaining = max(0.0, self._sent_at + self._config.interval - time.monotonic())
        self._schedule(remaining, self._tick)

    def _postpone(self) -> float:
        """Seconds to wait before declaring the peer dead (0: it is dead now)."""
        now = time.monotonic()
        monitor = self._monitor
        stolen = monitor.stolen - self._lag_at_ping if monitor is not None else 0.0
        deadline = self._sent_at + self._config.timeout + stolen
        if deadline - now > 0.001:
            # The loop lagged since the ping: the peer gets that time back.
            self._rechecked = False
            return deadline - now
        if now - self._due > _LATE and not self._rechecked:
            # This check itself ran late: the loop was blocked until now and may not have
            # read the socket since (the probe may not have run yet either). Look again
            # once it could; a dead peer costs this one extra step at most.
            self._rechecked = True
            return _RECHECK
        return 0.0

    def pong(self, payload: bytes) -> bool:
        """Record a WebSocket pong; return True if it answered our ping."""
        if self._outstanding is None or payload != self._outstanding:
            return False
        self._record()
        return True

    def app_pong(self) -> None:
        """Record an application-level pong (matched by ``pong_matcher``)."""
        if self._outstanding is not None:
            self._record()

    def _record(self) -> None:
        rtt = (time.monotonic() - self._sent_at) * 1000.0
        self._outstanding = None
        self.last_ms = rtt
        self.total_ms += rtt
        self.samples += 1
