"""The fault-injection kit itself: FaultProxy and ScriptedServer (jetsocket.testing)."""

from __future__ import annotations

import asyncio
import time

import pytest
from _recorder import Recorder, seqs

import jetsocket
from jetsocket import BackoffConfig
from jetsocket.testing import Echo, FaultProxy, Reject, ScriptedServer, Send, SendMany, Step

FAST = BackoffConfig(base=0.02, cap=0.05, seed=7)


async def test_fault_proxy_drop_refuse_and_restore() -> None:
    async with ScriptedServer([Echo()]) as server, FaultProxy(server) as proxy:
        ws = jetsocket.WebSocket(proxy.uri, backoff=FAST)
        rec = Recorder(ws, "disconnected", "reconnected", "error")
        async with asyncio.timeout(10), ws:
            assert proxy.active == 1
            assert proxy.drop() == 1  # a reset on both sides
            assert (await rec.wait("disconnected")).code == 1006
            await rec.wait("reconnected")
            proxy.refuse()  # the "server" is down: every attempt is reset
            proxy.drop()
            await rec.wait("error", 3)
            assert all(not e.fatal for e in rec.events["error"])
            proxy.restore()
            await rec.wait("reconnected", 2)
            await ws.send({"still": "here"})
            assert await ws.recv(timeout=5) == {"still": "here"}
        assert proxy.connections >= 5
        assert server.connections == 3  # refused attempts never reached the server
        assert proxy.bytes_forwarded > 0


async def test_fault_proxy_delay_and_throttle() -> None:
    async with ScriptedServer([Echo()]) as server, FaultProxy(server) as proxy:
        ws = jetsocket.WebSocket(proxy.uri, raw=True, compress=False)
        async with asyncio.timeout(10), ws:

            async def round_trip(payload: bytes) -> float:
                started = time.monotonic()
                await ws.send_raw(payload)
                assert await ws.recv(timeout=5) == payload
                return time.monotonic() - started

            baseline = await round_trip(b"x")
            proxy.delay(0.1)  # each direction
            delayed = await round_trip(b"x")
            proxy.restore()
            proxy.throttle(200_000)  # bytes per second, each direction
            size = 20_000
            throttled = await round_trip(bytes(range(256)) * (size // 256))
            proxy.restore()
            restored = await round_trip(b"x")
        # Loop timers may fire a little early (uvloop rounds them to the millisecond): the
        # bounds say "delayed once per direction", not a timing benchmark.
        assert 0.2 - 0.01 <= delayed < 0.4  # applied in each direction, once
        assert 2 * size / 200_000 * 0.85 <= throttled < 2.0
        assert restored < 0.1
    print(
        f"\n[proxy] echo rtt {baseline * 1000:.2f} ms, with delay(0.1) {delayed * 1000:.1f} ms, "
        f"{size} B each way at 200 kB/s {throttled * 1000:.0f} ms, restored "
        f"{restored * 1000:.2f} ms"
    )


async def test_scripted_server_records_and_rejects() -> None:
    scripts: list[list[Step]] = [
        [Reject(429, headers={"Retry-After": "3", "X-Why": "busy"}, body=b"later")],
        [Send("hello"), Echo()],
    ]
    async with ScriptedServer(scripts) as server:
        refused = jetsocket.WebSocket(server.uri + "feed?x=1", raw=True)
        with pytest.raises(jetsocket.HandshakeError) as info:
            await refused.connect()
        assert info.value.status_code == 429
        assert info.value.retry_after == 3.0
        assert info.value.headers["X-Why"] == "busy"
        assert info.value.body == b"later"
        ws = jetsocket.WebSocket(server.uri, raw=True, extra_headers={"X-Key": "k"})
        rec = Recorder(ws, "disconnected")
        async with asyncio.timeout(5), ws:
            assert await ws.recv(timeout=5) == "hello"
            await ws.send_raw("ping?")
            await ws.send_raw(b"\x00\x01")
            assert await ws.recv(timeout=5) == "ping?"
            assert await ws.recv(timeout=5) == b"\x00\x01"
            await server.wait_for_received(2)
            assert await server.close_all(4000, "maintenance") == 1
            disconnected = await rec.wait("disconnected")
            assert (disconnected.code, disconnected.reason) == (4000, "maintenance")
        assert server.rejected == 1
        assert server.requests[0].path == "/feed?x=1"
        assert server.requests[1].headers["X-Key"] == "k"
        assert server.received == ["ping?", b"\x00\x01"]
        assert server.received_by_connection[1] == ["ping?", b"\x00\x01"]
        assert server.errors == []


async def test_scripted_server_send_many_is_paced() -> None:
    script: list[Step] = [SendMany(lambda i: {"n": i}, count=50, rate=500)]
    async with ScriptedServer(script) as server:
        async with asyncio.timeout(5), jetsocket.WebSocket(server.uri) as ws:
            started = time.monotonic()
            got = [await ws.recv(timeout=5) for _ in range(50)]
            elapsed = time.monotonic() - started
    assert seqs(got) == list(range(50))
    assert 49 / 500 * 0.8 <= elapsed < 49 / 500 + 1.0  # paced, not instant (bound for CI)
