"""Liveness units: the loop-lag probe, the heartbeat's use of it, timed handlers.

Blocking the loop with ``time.sleep`` is the scenario under test, never a way to wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from jetsocket import HeartbeatConfig, LoopBlockedEvent
from jetsocket._engine._events import EventRegistry, MessageEvent
from jetsocket._engine._heartbeat import _RECHECK, Heartbeat
from jetsocket._engine._liveness import MAX_PERIOD, MIN_PERIOD, Liveness, LoopMonitor
from jetsocket._engine._options import resolve


class Lags:
    """A LagListener recording what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []
        self.told = asyncio.Event()

    def on_loop_lag(self, lag: float, since: float) -> None:
        self.calls.append((lag, since))
        self.told.set()


# -- LoopMonitor ------------------------------------------------------------------------


async def test_one_monitor_per_loop_started_by_its_first_user_stopped_by_its_last() -> None:
    loop = asyncio.get_running_loop()
    first = LoopMonitor.acquire()
    second = LoopMonitor.acquire(loop)
    assert first is second
    assert first.running
    first.release()
    assert second.running
    second.release()
    assert not second.running
    third = LoopMonitor.acquire()
    assert third is not first  # a fresh one
    third.release()


async def test_a_blocked_loop_is_measured_and_reported_to_listeners_over_their_threshold() -> None:
    monitor = LoopMonitor.acquire()
    sensitive, tolerant = Lags(), Lags()
    monitor.listen(sensitive, 0.05)
    monitor.listen(tolerant, 10.0)
    try:
        assert monitor.period == 0.05 / 4
        before = time.monotonic()
        time.sleep(0.2)  # noqa: ASYNC251 - the scenario: something blocks the loop
        async with asyncio.timeout(5):
            await sensitive.told.wait()
        lag, since = sensitive.calls[0]
        assert 0.2 - monitor.period <= lag <= 1.0
        assert before <= since <= before + monitor.period + 0.01
        assert monitor.max >= lag
        assert monitor.stolen >= lag
        assert tolerant.calls == []
    finally:
        monitor.unlisten(sensitive)
        monitor.unlisten(tolerant)
        monitor.release()


async def test_period_follows_the_smallest_threshold_within_bounds() -> None:
    monitor = LoopMonitor.acquire()
    a, b = Lags(), Lags()
    try:
        assert monitor.period == MAX_PERIOD
        monitor.listen(a, 1.0)
        assert monitor.period == MAX_PERIOD
        monitor.listen(b, 0.001)
        assert monitor.period == MIN_PERIOD
        monitor.listen(b, 0.001)  # twice: removed twice
        monitor.unlisten(b)
        assert monitor.period == MIN_PERIOD
        monitor.unlisten(b)
        assert monitor.period == MAX_PERIOD
        monitor.unlisten(b)  # unknown: ignored
    finally:
        monitor.unlisten(a)
        monitor.release()


async def test_liveness_keeps_its_last_figures_after_stop() -> None:
    liveness = Liveness(threshold=None)
    assert liveness.lag_ms() == (None, None)
    liveness.start(Lags())
    monitor = liveness.monitor
    assert monitor is not None
    time.sleep(0.06)  # noqa: ASYNC251 - the scenario: one late probe
    async with asyncio.timeout(5):
        while not monitor.ticks:
            await asyncio.sleep(0)
    last, largest = liveness.lag_ms()
    assert last is not None
    assert largest is not None
    assert largest >= last
    liveness.stop()
    assert liveness.monitor is None
    assert liveness.lag_ms() == (last, largest)


async def test_lag_since_and_the_idle_discount() -> None:
    liveness = Liveness(threshold=None)
    liveness.start(Lags())
    monitor = liveness.monitor
    assert monitor is not None
    try:
        now = time.monotonic()
        # Two blocks were measured: 0.3 s ending 1 s ago, 0.2 s ending 0.1 s ago.
        monitor._recent.extend([(now - 1.0, 0.3), (now - 0.1, 0.2)])
        assert monitor.lag_since(now - 5) == pytest.approx(0.5)
        assert monitor.lag_since(now - 1.1) == pytest.approx(0.3)  # the overlap only
        assert monitor.lag_since(now - 0.5) == pytest.approx(0.2)
        assert monitor.lag_since(now) == 0.0
        # 2 s of silence, 0.5 s of which the loop could not read: 1.5 s.
        assert liveness.discount(2.0, timeout=1.0) == pytest.approx(1.5, abs=0.01)
        # The probe is overdue: the loop is just coming out of a block; look again soon.
        monitor._due = time.monotonic() - 0.1
        assert liveness.discount(2.0, timeout=1.0, recheck=0.01) == pytest.approx(0.99)
    finally:
        liveness.stop()
    assert liveness.discount(2.0, timeout=1.0) == 2.0  # stopped: nothing to give back


def test_loop_block_threshold_option() -> None:
    assert resolve({}).loop_block_threshold == 0.1
    assert resolve({"loop_block_threshold": None}).loop_block_threshold is None
    assert resolve({"loop_block_threshold": 0.5, "time_handlers": True}).time_handlers
    with pytest.raises(ValueError, match="loop_block_threshold"):
        resolve({"loop_block_threshold": 0})
    with pytest.raises(TypeError, match="loop_block_threshold"):
        resolve({"loop_block_threshold": "1s"})
    with pytest.raises(TypeError, match="conflate_key"):
        resolve({"conflate_key": "symbol"})


# -- the heartbeat never counts a blocked loop against the peer ----------------------------


class FakeConn:
    def __init__(self) -> None:
        self.is_open = True
        self.last_received = 0.0
        self.reading_paused = False
        self.pings: list[bytes] = []

    def ping(self, payload: bytes) -> None:
        self.pings.append(payload)


class FakeMonitor:
    stolen = 0.0


def heartbeat(dead: list[Any], timeout: float = 0.2) -> Heartbeat:
    config = HeartbeatConfig(interval=0.3, timeout=timeout, any_message_is_alive=False)
    return Heartbeat(config, dead.append)


async def test_lag_since_the_ping_extends_the_deadline_by_as_much() -> None:
    dead: list[Any] = []
    hb = heartbeat(dead)
    conn, monitor = FakeConn(), FakeMonitor()
    hb.start(conn, monitor)  # type: ignore[arg-type]
    try:
        hb._tick()  # ping sent, check scheduled
        assert len(conn.pings) == 1
        # The timeout elapsed, but the loop was blocked for 0.5 s of it.
        hb._sent_at -= 0.2
        monitor.stolen += 0.5
        hb._check()
        assert dead == []
        assert hb.extensions == 1
        assert 0.45 <= hb._due - time.monotonic() <= 0.5
        # Time passes with the loop running, still no pong: dead.
        hb._sent_at -= 0.5
        hb._due = time.monotonic()
        hb._check()
        assert dead == [conn]
    finally:
        hb.stop()


async def test_a_check_that_ran_late_looks_again_once_the_loop_could_read() -> None:
    dead: list[Any] = []
    hb = heartbeat(dead)
    conn = FakeConn()
    hb.start(conn)  # type: ignore[arg-type]  # no monitor: only the check's own lateness
    try:
        hb._tick()
        hb._sent_at -= 1.0
        hb._due = time.monotonic() - 0.3  # this check runs 300 ms late
        hb._check()
        assert dead == []
        assert hb._due - time.monotonic() <= _RECHECK
        hb._due = time.monotonic() - 0.3  # late again, but it already looked once
        hb._check()
        assert dead == [conn]
    finally:
        hb.stop()


async def test_a_pong_after_an_extension_keeps_the_ping_schedule() -> None:
    dead: list[Any] = []
    hb = heartbeat(dead)
    conn, monitor = FakeConn(), FakeMonitor()
    hb.start(conn, monitor)  # type: ignore[arg-type]
    try:
        hb._tick()
        assert hb.pong(conn.pings[0])
        hb._check()
        # The next ping is one interval after the previous one, not after the check.
        assert hb._due - hb._sent_at == pytest.approx(0.3, abs=0.02)
        assert dead == []
    finally:
        hb.stop()


# -- timed handlers name the culprit -------------------------------------------------------


class Trade:
    pass


def registry(threshold: float | None = 0.02, timed: bool = True) -> EventRegistry:
    events = EventRegistry()
    events.configure_liveness(threshold, timed)
    return events


def blocks(seconds: float) -> Any:
    def slow_handler(event: object) -> None:
        time.sleep(seconds)

    return slow_handler


def test_a_slow_event_handler_is_named() -> None:
    events = registry()
    seen: list[LoopBlockedEvent] = []
    events.add("loop_blocked", seen.append)
    events.add("message", blocks(0.05))
    events.emit("message", MessageEvent(data=1))
    assert len(seen) == 1
    assert seen[0].handler is not None
    assert seen[0].handler.endswith("slow_handler")
    assert seen[0].handling == "message"
    assert seen[0].blocked_ms >= 50
    assert events.loop_blocks == 1


def test_a_slow_message_handler_is_named_with_the_message_class() -> None:
    events = registry()
    seen: list[LoopBlockedEvent] = []
    events.add("loop_blocked", seen.append)
    events.add_type(Trade, blocks(0.05))
    events.dispatch(Trade())
    assert [e.handling for e in seen] == ["message Trade"]


def test_no_timing_unless_asked_and_no_event_under_the_threshold() -> None:
    for events in (registry(timed=False), registry(threshold=None), registry(threshold=1.0)):
        seen: list[LoopBlockedEvent] = []
        events.add("loop_blocked", seen.append)
        events.add("message", blocks(0.03))
        events.emit("message", MessageEvent(data=1))
        assert seen == []
        assert events.loop_blocks == 0


def test_loop_blocked_handlers_are_not_timed() -> None:
    events = registry()
    seen: list[LoopBlockedEvent] = []
    events.add("loop_blocked", blocks(0.05))  # would recurse if timed
    events.add("loop_blocked", seen.append)
    events.add("message", blocks(0.05))
    events.emit("message", MessageEvent(data=1))
    assert len(seen) == 1


def test_the_probe_does_not_report_a_block_a_handler_already_reported() -> None:
    events = registry()
    seen: list[LoopBlockedEvent] = []
    events.add("loop_blocked", seen.append)
    since = time.monotonic()
    events.add("message", blocks(0.05))
    events.emit("message", MessageEvent(data=1))
    events.on_loop_lag(0.05, since)  # the probe saw the same block
    assert len(seen) == 1
    events.on_loop_lag(0.2, time.monotonic())  # a later block: nobody named it
    assert [e.handler is None for e in seen] == [False, True]
    assert events.loop_blocks == 2


def test_a_failing_slow_handler_is_reported_both_ways() -> None:
    failures: list[str] = []
    events = EventRegistry(lambda exc, context: failures.append(context))
    events.configure_liveness(0.02, True)
    seen: list[LoopBlockedEvent] = []
    events.add("loop_blocked", seen.append)

    def slow_and_broken(event: object) -> None:
        time.sleep(0.03)
        raise RuntimeError("boom")

    events.add("message", slow_and_broken)
    events.emit("message", MessageEvent(data=1))
    assert len(seen) == 1
    assert events.handler_errors == 1
    assert failures
    assert "slow_and_broken" in failures[0]


def test_warnings_are_logged_at_most_once_a_second(caplog: pytest.LogCaptureFixture) -> None:
    events = registry()
    with caplog.at_level(logging.WARNING, logger="jetsocket"):
        events.on_loop_lag(0.2, time.monotonic())
        events.on_loop_lag(0.3, time.monotonic())
    lines = [r.getMessage() for r in caplog.records if "blocked" in r.getMessage()]
    assert lines == ["jetsocket: event loop blocked for 200 ms"]
    assert events.loop_blocks == 2
