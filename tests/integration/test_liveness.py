"""Liveness: a blocked event loop is not a dead peer, and a dead peer is still detected.

Each test runs on asyncio's loop and on uvloop (see conftest.py). uvloop runs due timers
*before* it polls the sockets, so there a heartbeat check that came due while the loop
was blocked used to run before the pong that sat in the socket was read: the classic
"keepalive ping timeout" of a healthy connection.

Blocking the loop with ``time.sleep`` in a handler is the scenario under test, never a
way to wait for something.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

import jetsocket
from jetsocket import BackoffConfig, HeartbeatConfig, LoopBlockedEvent
from jetsocket._engine._liveness import LoopMonitor
from jetsocket.testing import Echo, FaultProxy, ScriptedServer, SendMany

FAST = BackoffConfig(base=0.02, cap=0.05, seed=7)
INTERVAL, TIMEOUT = 0.3, 0.2


class WorkBeforePong:
    """Answers every ping with a ``"work"`` message at once and the pong ``gap`` later.

    The client's handler for ``"work"`` blocks the loop. With ``in_thread`` the server
    runs its own loop in a thread, so the pong arrives and sits unread in the client's
    socket during the block; without, it shares the client's loop and can only send
    the pong once the block is over (a peer held up by our own block).
    """

    def __init__(self, *, in_thread: bool, gap: float = 0.05) -> None:
        self.gap = gap
        self.in_thread = in_thread
        self.pings = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self.uri = ""

    async def __aenter__(self) -> WorkBeforePong:
        if not self.in_thread:
            await self._start()
            return self
        ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(ready),))
        self._thread.start()
        assert await asyncio.to_thread(ready.wait, 5.0)
        return self

    async def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self._start()
        ready.set()
        await self._stop.wait()
        await self._close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.uri = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/"

    async def __aexit__(self, *exc: object) -> None:
        if self._thread is None:
            await self._close()
            return
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        await asyncio.to_thread(self._thread.join, 5.0)

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        proto = ServerProtocol()
        work = Frame(Opcode.TEXT, b"work").serialize(mask=False, extensions=[])
        try:
            while data := await reader.read(65536):
                proto.receive_data(data)
                pinged = False
                for event in proto.events_received():
                    if isinstance(event, Request):
                        proto.send_response(proto.accept(event))
                    elif isinstance(event, Frame) and event.opcode is Opcode.PING:
                        pinged = True
                        self.pings += 1
                out = b"".join(proto.data_to_send())  # the automatic pong, if pinged
                if pinged:
                    writer.write(work)
                    await writer.drain()
                    # Pacing (not synchronisation): the pong leaves in its own segment,
                    # after the client started working on "work".
                    task = asyncio.create_task(self._send_later(writer, out))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif out:
                    writer.write(out)
                if proto.close_expected():
                    break  # closing handshake done (RFC 6455 7.1.1: the server closes TCP)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _send_later(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        await asyncio.sleep(self.gap)
        if not writer.is_closing():
            writer.write(data)


class Events:
    """Records events by name; waits on conditions over them (no sleeping)."""

    def __init__(self, ws: Any, *names: str) -> None:
        self.seen: dict[str, list[Any]] = {name: [] for name in names}
        self._changed = asyncio.Event()
        for name in names:
            ws.add_handler(name, lambda event, name=name: self._record(name, event))

    def _record(self, name: str, event: Any) -> None:
        self.seen[name].append(event)
        self._changed.set()

    async def wait(self, name: str, count: int = 1, timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while len(self.seen[name]) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.seen[name][count - 1]


@pytest.mark.parametrize("peer", ["own loop", "same loop"])
async def test_handler_blocking_twice_the_heartbeat_timeout_causes_no_reconnect(
    peer: str,
) -> None:
    block = 2 * TIMEOUT
    hb = HeartbeatConfig(interval=INTERVAL, timeout=TIMEOUT, any_message_is_alive=False)
    async with WorkBeforePong(in_thread=peer == "own loop") as server:
        ws = jetsocket.WebSocket(
            server.uri, raw=True, heartbeat=hb, backoff=FAST, time_handlers=True
        )
        blocked: list[float] = []

        @ws.on("message")
        def slow_handler(event: jetsocket.MessageEvent) -> None:
            if event.data == "work":
                started = time.monotonic()
                time.sleep(block)
                blocked.append(time.monotonic() - started)

        events = Events(ws, "pong", "disconnected", "loop_blocked")
        async with asyncio.timeout(15), ws:
            # Three pings, each answered while the handler blocked the loop, then one more
            # round trip: the connection survived all of them.
            await events.wait("pong", count=4)
            assert len(blocked) >= 3
            assert events.seen["disconnected"] == []
            assert server.connections == 1
            assert server.pings >= 4
            stats = ws.stats()
            assert stats.reconnect_count == 0
            assert stats.loop_blocked >= 3
            assert stats.loop_lag_max_ms is not None
            assert stats.loop_lag_max_ms >= (block - 0.05) * 1e3
            first: LoopBlockedEvent = events.seen["loop_blocked"][0]
            assert first.handler is not None
            assert first.handler.endswith("slow_handler")
            assert first.handling == "message"
            assert first.blocked_ms >= block * 1e3
    postponed = ws._heartbeat.extensions if ws._heartbeat is not None else 0
    print(
        f"\n[liveness/{peer}] {len(blocked)} blocks of {block:.1f}s (timeout {TIMEOUT}s), "
        f"0 reconnects, heartbeat checks postponed {postponed}x, "
        f"max loop lag {stats.loop_lag_max_ms:.0f} ms"
    )


async def test_dead_peer_behind_the_fault_proxy_is_detected_within_interval_plus_timeout() -> None:
    interval, timeout, slack = 0.2, 0.2, 0.15
    async with ScriptedServer([Echo()]) as server, FaultProxy(server) as proxy:
        ws = jetsocket.WebSocket(
            proxy.uri_for("/"),
            heartbeat=HeartbeatConfig(interval=interval, timeout=timeout),
            backoff=FAST,
            connect_timeout=0.5,
        )
        events = Events(ws, "pong", "disconnected", "reconnected")
        async with asyncio.timeout(10), ws:
            await events.wait("pong")
            assert ws._liveness.monitor is not None  # the probe runs alongside
            t0 = time.monotonic()
            proxy.blackhole()
            disconnected = await events.wait("disconnected")
            detection = time.monotonic() - t0
            # 1006 (aborted), or 1011 "heartbeat timeout" where the engine reports it so.
            assert disconnected.code in (1006, 1011)
            assert detection <= interval + timeout + slack
            proxy.restore()
            await events.wait("reconnected")
    print(f"\n[liveness] dead peer detected after {detection:.3f}s with the lag probe on")


async def test_dead_peer_is_detected_after_the_loop_was_blocked() -> None:
    # The loop's lag is given back to the peer, never more: a peer that stays silent
    # once the loop runs again is declared dead one timeout (of running loop) later.
    interval, timeout = 0.2, 0.2
    block = 2 * timeout
    async with ScriptedServer([Echo()]) as server, FaultProxy(server) as proxy:
        ws = jetsocket.WebSocket(
            proxy.uri_for("/"),
            raw=True,
            heartbeat=HeartbeatConfig(interval=interval, timeout=timeout),
            backoff=FAST,
            connect_timeout=0.5,
        )

        @ws.on("message")
        def freeze(event: jetsocket.MessageEvent) -> None:
            proxy.blackhole()  # the peer dies while our loop is blocked
            time.sleep(block)

        events = Events(ws, "pong", "disconnected")
        async with asyncio.timeout(10), ws:
            await events.wait("pong")
            t0 = time.monotonic()
            await ws.send("freeze")
            await events.wait("disconnected")
            detection = time.monotonic() - t0
            assert detection <= block + interval + timeout + 0.25
    print(f"\n[liveness] dead peer detected {detection:.3f}s after a {block:.1f}s block")


async def test_one_probe_per_loop_shared_and_released() -> None:
    async with ScriptedServer([Echo()]) as server:
        loop = asyncio.get_running_loop()
        assert LoopMonitor._by_loop.get(loop) is None
        async with (
            jetsocket.WebSocket(server.uri) as a,
            jetsocket.WebSocket(server.uri, loop_block_threshold=None) as b,
        ):
            monitor = LoopMonitor._by_loop[loop]
            assert a._liveness.monitor is monitor is b._liveness.monitor
            assert monitor.running
            assert monitor._users == 2
        assert LoopMonitor._by_loop.get(loop) is None
        assert not monitor.running
        # The figures stay readable after close.
        expected = monitor.last * 1e3 if monitor.ticks else None
        assert a.stats().loop_lag_ms == expected


async def test_a_block_seen_by_the_probe_is_reported_without_a_handler_name() -> None:
    async with ScriptedServer([Echo()]) as server:
        ws = jetsocket.WebSocket(server.uri, loop_block_threshold=0.05)
        events = Events(ws, "loop_blocked")
        async with asyncio.timeout(10), ws:
            time.sleep(0.2)  # noqa: ASYNC251 - the scenario: the consumer blocks the loop
            event = await events.wait("loop_blocked")
            assert event.handler is None
            assert event.blocked_ms >= (0.2 - 0.05 / 4) * 1e3  # the probe's period: 12.5 ms
            assert ws.stats().loop_blocked == 1


@pytest.mark.parametrize("threshold", [None, 0.5])
async def test_no_event_below_the_threshold_or_when_disabled(threshold: float | None) -> None:
    async with ScriptedServer([Echo()]) as server:
        ws = jetsocket.WebSocket(server.uri, loop_block_threshold=threshold)
        events = Events(ws, "loop_blocked")
        async with asyncio.timeout(10), ws:
            time.sleep(0.1)  # noqa: ASYNC251 - the scenario: a short block
            monitor = ws._liveness.monitor
            assert monitor is not None
            ticks = monitor.ticks
            # A round trip takes loop iterations: the probe, due during the block, ran.
            await ws.send({"x": 1})
            assert await ws.recv(timeout=5) == {"x": 1}
            assert monitor.ticks > ticks
            assert monitor.max >= 0.1 - monitor.period
        assert events.seen["loop_blocked"] == []
        assert ws.stats().loop_blocked == 0


def test_sync_facade_handler_blocking_the_loop_thread_causes_no_reconnect() -> None:
    # The facade's handlers run on its loop thread: the same protection applies there.
    block = 2 * TIMEOUT
    hb = HeartbeatConfig(interval=INTERVAL, timeout=TIMEOUT, any_message_is_alive=False)
    server = WorkBeforePong(in_thread=True)
    asyncio.run(server.__aenter__())
    try:
        ws = jetsocket.SyncWebSocket(server.uri, raw=True, heartbeat=hb, time_handlers=True)
        pongs = threading.Semaphore(0)
        blocked: list[str | None] = []
        ws.on("pong")(lambda event: pongs.release())
        ws.on("loop_blocked")(lambda event: blocked.append(event.handler))

        @ws.on("message")
        def slow_sync_handler(event: jetsocket.MessageEvent) -> None:
            if event.data == "work":
                time.sleep(block)  # the scenario: a handler that blocks the loop thread

        with ws:
            for _ in range(3):
                assert pongs.acquire(timeout=10)
            stats = ws.stats()
        assert stats.reconnect_count == 0
        assert server.connections == 1
        assert blocked
        assert all(name is not None and name.endswith("slow_sync_handler") for name in blocked)
    finally:
        asyncio.run(server.__aexit__())


async def test_idle_timeout_does_not_count_a_blocked_loop_as_silence() -> None:
    # The server sends every 50 ms; the handler blocks for twice the idle timeout. The
    # messages sent meanwhile wait in the socket: the peer was not silent.
    idle_timeout = 0.3
    async with ScriptedServer([SendMany(lambda i: {"n": i}, rate=20)]) as server:
        ws = jetsocket.WebSocket(server.uri, idle_timeout=idle_timeout, backoff=FAST)

        @ws.on("message")
        def slow(event: jetsocket.MessageEvent) -> None:
            if event.data["n"] in (5, 12):
                time.sleep(2 * idle_timeout)

        events = Events(ws, "disconnected")
        async with asyncio.timeout(10), ws:
            seen = [(await ws.recv(timeout=5))["n"] for _ in range(20)]
            assert seen == list(range(20))
            assert events.seen["disconnected"] == []
            assert ws.stats().reconnect_count == 0
