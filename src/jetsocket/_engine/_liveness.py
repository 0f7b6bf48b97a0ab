"""Event-loop lag: tells a blocked event loop from a dead peer.

A WebSocket client cannot read while its event loop is blocked (a slow handler, CPU work
in the consumer, a synchronous call): a pong may sit unread in the socket. Counting that
time against the peer is how "keepalive ping timeout" disconnects healthy connections.

:class:`LoopMonitor` measures how late the loop runs a timer: one ``call_later`` handle
per *event loop*, shared by every connection on it (no task, no per-connection cost),
re-armed every ``period``. Each firing records its lateness (``last``, ``max``), adds it
to :attr:`LoopMonitor.stolen` (the running total of time the loop could not run timers),
and tells listeners whose threshold it exceeds. The heartbeat extends a ping's deadline
by the ``stolen`` time that elapsed since the ping (see ``_heartbeat.py``).

Precision: a block of ``B`` seconds is seen as a lateness between ``B - period`` and
``B``; the period is a quarter of the smallest threshold asked for (5 to 50 ms).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from typing import ClassVar, Protocol

__all__ = ["LagListener", "Liveness", "LoopMonitor"]

#: Probe period without thresholds, and its bounds with them.
MAX_PERIOD = 0.05
MIN_PERIOD = 0.005
#: A probe this late has not run yet since the loop came out of a block.
OVERDUE = 0.005
#: Recent lags longer than this are kept (with when they ended) to answer ``lag_since``.
_NOTABLE = 0.001
_RECENT = 256

_now = time.monotonic


class LagListener(Protocol):
    """Told when the loop ran a probe later than the listener's threshold."""

    def on_loop_lag(self, lag: float, since: float) -> None:
        """``lag`` seconds late; the loop could not run from about ``since`` (monotonic)."""


class LoopMonitor:
    """The lag probe of one event loop (get it with :meth:`acquire`)."""

    __slots__ = (
        "__weakref__",
        "_due",
        "_handle",
        "_listeners",
        "_loop",
        "_recent",
        "_users",
        "last",
        "max",
        "period",
        "stolen",
        "ticks",
    )

    # Several loops may run in several threads (sync facades): the registry is shared.
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _by_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopMonitor]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._users = 0
        # listener -> (threshold in seconds, how many times it was added)
        self._listeners: dict[LagListener, tuple[float, int]] = {}
        # (when it ended, how long) of the recent notable lags.
        self._recent: deque[tuple[float, float]] = deque(maxlen=_RECENT)
        self.period = MAX_PERIOD
        self.last = 0.0
        self.max = 0.0
        self.stolen = 0.0
        self.ticks = 0

    @classmethod
    def acquire(cls, loop: asyncio.AbstractEventLoop | None = None) -> LoopMonitor:
        """The started monitor of ``loop`` (default: the running loop).

        Call :meth:`release` once done with it.
        """
        if loop is None:
            loop = asyncio.get_running_loop()
        with cls._lock:
            monitor = cls._by_loop.get(loop)
            if monitor is None:
                monitor = cls._by_loop[loop] = cls(loop)
        monitor._users += 1  # the rest happens on the loop's own thread
        if monitor._handle is None:
            monitor._arm()
        return monitor

    def release(self) -> None:
        """Give the monitor back; the probe stops with its last user."""
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            with self._lock:
                if self._by_loop.get(self._loop) is self:
                    del self._by_loop[self._loop]

    @property
    def running(self) -> bool:
        """True while the probe is armed."""
        return self._handle is not None

    def overdue(self, now: float) -> bool:
        """True when the probe is late: the loop is coming out of a block not yet measured."""
        return self._handle is not None and now - self._due > OVERDUE

    def lag_since(self, since: float) -> float:
        """Seconds the loop could not run between ``since`` (monotonic) and now."""
        total = 0.0
        for end, lag in reversed(self._recent):
            if end <= since:
                break
            total += min(lag, end - since)
        return total

    def listen(self, listener: LagListener, threshold: float) -> None:
        """Call ``listener.on_loop_lag`` when the loop is late by over ``threshold`` s.

        A listener added twice must be removed twice.
        """
        known = self._listeners.get(listener)
        count = known[1] if known is not None else 0
        self._listeners[listener] = (threshold, count + 1)
        self._set_period()

    def unlisten(self, listener: LagListener) -> None:
        """Undo one :meth:`listen`."""
        known = self._listeners.get(listener)
        if known is None:
            return
        if known[1] > 1:
            self._listeners[listener] = (known[0], known[1] - 1)
        else:
            del self._listeners[listener]
        self._set_period()

    def _set_period(self) -> None:
        # A block of B is seen as at least B - period: a quarter of the smallest threshold.
        thresholds = [threshold for threshold, _ in self._listeners.values()]
        period = min(thresholds) / 4 if thresholds else MAX_PERIOD
        period = min(MAX_PERIOD, max(MIN_PERIOD, period))
        shorter = period < self.period
        self.period = period
        if shorter and self._handle is not None:
            # Runs on the loop, so nothing is late now: re-arm with the finer period.
            self._handle.cancel()
            self._arm()

    def _arm(self) -> None:
        self._due = _now() + self.period
        self._handle = self._loop.call_later(self.period, self._tick)

    def _tick(self) -> None:
        now = _now()
        due = self._due
        # Timers fire a little late even on an idle loop (clock granularity); uvloop's
        # millisecond timers may also fire a fraction early: never negative.
        lag = now - due if now > due else 0.0
        self.last = lag
        self.max = max(self.max, lag)
        self.stolen += lag
        self.ticks += 1
        if lag > _NOTABLE:
            self._recent.append((now, lag))
        self._arm()
        if self._listeners:
            for listener, (threshold, _) in tuple(self._listeners.items()):
                if lag > threshold:
                    listener.on_loop_lag(lag, due)


class Liveness:
    """One client's use of its loop's monitor: held by the engine while it may connect."""

    __slots__ = ("_last", "_listener", "_max", "_threshold", "monitor")

    def __init__(self, threshold: float | None) -> None:
        self._threshold = threshold
        self._listener: LagListener | None = None
        self.monitor: LoopMonitor | None = None
        self._last: float | None = None
        self._max: float | None = None

    def start(self, listener: LagListener) -> None:
        """Use the running loop's monitor; tell ``listener`` about blocks (idempotent)."""
        if self.monitor is not None:
            return
        self.monitor = monitor = LoopMonitor.acquire()
        if self._threshold is not None:
            self._listener = listener
            monitor.listen(listener, self._threshold)

    def stop(self) -> None:
        """Give the monitor back (its last figures stay readable)."""
        monitor = self.monitor
        if monitor is None:
            return
        if monitor.ticks:
            self._last, self._max = monitor.last, monitor.max
        if self._listener is not None:
            monitor.unlisten(self._listener)
            self._listener = None
        monitor.release()
        self.monitor = None

    def discount(self, idle: float, timeout: float, recheck: float = 0.01) -> float:
        """``idle`` seconds of silence minus the time the loop could not read meanwhile.

        When the probe has not yet measured a block the loop is just coming out of, the
        result makes a check ``timeout - idle`` seconds later happen ``recheck`` from now.
        """
        monitor = self.monitor
        if monitor is None:
            return idle
        now = _now()
        if monitor.overdue(now):
            return min(idle, timeout - recheck)
        return idle - monitor.lag_since(now - idle)

    def lag_ms(self) -> tuple[float | None, float | None]:
        """The loop's last and largest lag in milliseconds (None before any probe)."""
        monitor = self.monitor
        if monitor is not None and monitor.ticks:
            return monitor.last * 1e3, monitor.max * 1e3
        if self._last is None or self._max is None:
            return None, None
        return self._last * 1e3, self._max * 1e3
