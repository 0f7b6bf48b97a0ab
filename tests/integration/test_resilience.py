"""Resilience of WebSocket[T] against scripted servers and a TCP fault proxy on loopback.

Every test runs real sockets on 127.0.0.1, bounded by timeouts, synchronised on events
(never on sleeps), with seeded jitter. Measured figures are printed: run with ``-s``.
Tests marked ``xfail(strict=True)`` expose engine bugs (see their reasons).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import statistics
import time
from typing import TYPE_CHECKING, Any, Literal

import pytest
from websockets.asyncio.server import ServerConnection

import jetsocket
from jetsocket import (
    BackoffConfig,
    BufferConfig,
    ConnectionState,
    HeartbeatConfig,
    ReplayConfig,
)
from jetsocket._engine._retry import Backoff
from jetsocket.testing import (
    Call,
    CloseWith,
    Drop,
    Echo,
    Reject,
    ScriptedServer,
    Send,
    SendMany,
    Step,
    StopPongs,
    WaitForClientMessage,
)

if TYPE_CHECKING:
    from jetsocket.testing._fixtures import FaultProxyFactory, ScriptedServerFactory

from _feeds import SequenceFeed
from _recorder import Recorder, seqs, state_of

pytest_plugins = ["jetsocket.testing._fixtures"]

S = ConnectionState
FAST = BackoffConfig(base=0.02, cap=0.05, seed=7)


# -- (a) server killed mid-stream ---------------------------------------------------------


async def test_server_killed_mid_stream_iteration_continues_after_reconnect() -> None:
    server = ScriptedServer(
        [
            [SendMany(lambda i: {"c": 1, "n": i}, rate=2000)],  # streams until killed
            [SendMany(lambda i: {"c": 2, "n": i}, count=20)],
        ]
    )
    async with server:
        ws = jetsocket.WebSocket(server.uri, backoff=FAST)
        rec = Recorder(ws, "disconnected", "reconnected", "error")
        got: list[Any] = []
        async with asyncio.timeout(10), ws:
            async for msg in ws:
                got.append(msg)
                if len(got) == 100:
                    killed_at = time.monotonic()
                    await server.kill()  # abort every connection, stop listening
                    await server.start()  # back on the same port
                if msg["c"] == 2 and msg["n"] == 19:
                    break
            reconnected = await rec.wait("reconnected")
        first = [m["n"] for m in got if m["c"] == 1]
        second = [m["n"] for m in got if m["c"] == 2]
        assert first == list(range(len(first)))  # in order, nothing twice
        assert len(first) >= 100
        assert second == list(range(20))
        assert server.connections == 2
        assert ws.stats().reconnect_count == 1
        disconnected = rec.events["disconnected"][0]
        assert disconnected.code == 1006
        assert disconnected.will_reconnect
        print(
            f"\n[killed] {len(first)} msgs before the kill, reconnect after "
            f"{rec.times['reconnected'][0] - killed_at:.3f}s "
            f"(downtime {reconnected.downtime:.3f}s, failed attempts "
            f"{len(rec.events['error'])})"
        )


# -- (b) half-open peers ------------------------------------------------------------------


async def test_half_open_via_proxy_blackhole_is_detected_within_interval_plus_timeout(
    scripted_server: ScriptedServerFactory, fault_proxy: FaultProxyFactory
) -> None:
    interval, timeout, slack = 0.2, 0.2, 0.15
    server = await scripted_server([Echo()])
    proxy = await fault_proxy(server)
    ws = jetsocket.WebSocket(
        proxy.uri_for("/feed"),
        heartbeat=HeartbeatConfig(interval=interval, timeout=timeout),
        backoff=FAST,
        connect_timeout=0.5,
    )
    rec = Recorder(ws, "pong", "disconnected", "reconnected")
    async with asyncio.timeout(10), ws:
        await rec.wait("pong")  # the heartbeat works through the proxy
        assert server.requests[0].path == "/feed"
        t0 = time.monotonic()
        proxy.blackhole()  # both sockets stay open, nothing flows: half-open
        disconnected = await rec.wait("disconnected")
        detection = rec.times["disconnected"][0] - t0
        # Issue 11 item 10: said as a heartbeat timeout (websockets: 1011), not a bare 1006.
        assert (disconnected.code, disconnected.reason) == (1011, "heartbeat timeout")
        assert disconnected.will_reconnect
        assert detection <= interval + timeout + slack
        assert server.active == 1  # the server still believes the connection is up
        proxy.restore()
        await rec.wait("reconnected", timeout=5)
        await ws.send({"after": "restore"})
        assert await ws.recv(timeout=5) == {"after": "restore"}
    print(
        f"\n[half-open/proxy] detected after {detection:.3f}s "
        f"(bound interval+timeout = {interval + timeout:.1f}s), "
        f"back after {rec.times['reconnected'][0] - t0:.3f}s"
    )


async def test_peer_that_stops_answering_pings_is_detected() -> None:
    interval, timeout, slack = 0.2, 0.2, 0.15
    scripts: list[list[Step]] = [[StopPongs()], [Echo()]]
    async with ScriptedServer(scripts) as server:
        ws = jetsocket.WebSocket(
            server.uri,
            heartbeat=HeartbeatConfig(interval=interval, timeout=timeout),
            backoff=FAST,
        )
        rec = Recorder(ws, "disconnected", "reconnected", "pong")
        async with asyncio.timeout(10), ws:
            t0 = time.monotonic()
            await rec.wait("disconnected")
            detection = rec.times["disconnected"][0] - t0
            # the first ping goes out after `interval`, its pong is due `timeout` later
            assert interval + timeout - 0.05 <= detection <= interval + timeout + slack
            await rec.wait("reconnected")
            await rec.wait("pong")  # the new connection answers
    print(f"\n[half-open/no pongs] detected after {detection:.3f}s after connect")


# -- (c) rotation under a sequenced stream ------------------------------------------------


async def _rotate_under_feed(
    feed: SequenceFeed, rotations_wanted: int = 3
) -> tuple[list[int], list[Any], jetsocket.ConnectionStats, int]:
    """Read ``feed`` through rotations every 0.5 s; stop once enough rotations happened."""
    async with ScriptedServer([Call(feed.join)]) as server:
        ws = jetsocket.WebSocket(
            server.uri,
            max_connection_age=0.5,
            replay=ReplayConfig(sequence_extractor=lambda m: m["seq"]),
            buffer=BufferConfig(enable_dedup=True),
            backoff=FAST,
        )
        rec = Recorder(ws, "reconnected", "disconnected")
        got: list[int] = []
        feeder = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(15), ws:
                while True:
                    got.append((await ws.recv(timeout=5))["seq"])
                    rotations = len(rec.events["reconnected"])
                    if rotations >= rotations_wanted and not feed.stopped.is_set():
                        feed.stopped.set()
                        await feeder
                    if feed.stopped.is_set() and got[-1] >= feed.last:
                        break
                stats = ws.stats()
        finally:
            await feed.stop()
            await feeder
    assert all(e.rotation for e in rec.events["reconnected"])
    assert rec.events["disconnected"] == []  # rotations are not disconnects
    assert len(got) == len(set(got)), "duplicate sequence numbers delivered"
    assert got == sorted(got), "sequence numbers delivered out of order"
    expected = set(range(got[0], feed.last + 1))
    lost = expected - set(got)
    assert not lost, f"{len(lost)} sequence numbers lost"
    return got, rec.events["reconnected"], stats, server.connections


async def test_rotation_under_5000_msgs_per_second_loses_and_duplicates_nothing() -> None:
    feed = SequenceFeed()
    got, reconnected, stats, connections = await _rotate_under_feed(feed)
    # Order across the overlap is reported, not asserted: both connections carry the same
    # stream in order, but the engine merges two sockets and does not reorder (a late id
    # is delivered late, after a gap event). Observed: 0 in every run so far.
    out_of_order = sum(1 for a, b in itertools.pairwise(got) if b < a)
    print(
        f"\n[rotation] {len(reconnected)} rotations, {len(got)} msgs delivered "
        f"(seq {got[0]}..{feed.last}), lost 0, duplicates delivered 0, "
        f"duplicates removed {stats.duplicates}, out of order {out_of_order}, "
        f"gap events {stats.gaps}, connections {connections}"
    )


async def test_rotation_keeps_the_old_connection_until_the_new_one_carries_the_stream() -> None:
    # The new connection's stream starts 200 messages (40 ms) after its handshake: the old
    # connection must deliver those, so it stays until both delivered a common id.
    # (Before this hand-over, CI lost 33 messages once when a publication raced the
    # handshake; with a late start every rotation lost ~200.)
    feed = SequenceFeed(late_by=200)
    _, reconnected, stats, _ = await _rotate_under_feed(feed)
    assert feed.late_joins >= len(reconnected) >= 3
    assert stats.duplicates > 0  # the overlap was seen, and removed
    assert stats.gaps == 0


def _silent_successor() -> ScriptedServer:
    """First connection: a sequenced stream; the next ones never deliver anything."""

    async def silent(conn: ServerConnection) -> None:
        await conn.wait_closed()

    scripts: list[list[Step]] = [[SendMany(lambda i: {"seq": i}, rate=1000)], [Call(silent)]]
    return ScriptedServer(scripts)


def _rotating(uri: str, age: float, overlap: float) -> jetsocket.WebSocket[Any]:
    return jetsocket.WebSocket(
        uri,
        max_connection_age=age,
        rotation_overlap=overlap,
        replay=ReplayConfig(sequence_extractor=lambda m: m["seq"]),
        backoff=FAST,
    )


async def test_rotation_without_a_common_id_closes_the_old_connection_after_the_overlap_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with _silent_successor() as server:
        ws = _rotating(server.uri, age=0.3, overlap=0.2)
        rec = Recorder(ws, "reconnected")
        async with asyncio.timeout(10), ws:
            await rec.wait("reconnected")
            t0 = time.monotonic()
            await server.wait_for(lambda: server.active == 1)  # the bound closed the old one
            waited = time.monotonic() - t0
        assert 0.1 <= waited <= 1.5
        assert "no sequence id common to both connections" in caplog.text


async def test_close_during_a_rotation_hand_over_leaves_no_connection_behind() -> None:
    async with _silent_successor() as server:
        ws = _rotating(server.uri, age=0.2, overlap=30)  # close() must end the long wait
        rec = Recorder(ws, "reconnected")
        async with asyncio.timeout(10):
            async with ws:
                await rec.wait("reconnected")
                assert server.active == 2  # handing over: both connections open
            await server.wait_for(lambda: server.active == 0)
    assert ws.state is S.CLOSED


# -- (d) slow consumer and the overflow policies ------------------------------------------


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
async def test_slow_consumer_drop_policies_bound_the_buffer_and_count_drops(
    policy: Literal["drop_oldest", "drop_newest"],
) -> None:
    total, capacity = 1000, 100
    script: list[Step] = [SendMany(lambda i: {"n": i}, count=total), CloseWith(1000, "done")]
    async with ScriptedServer(script) as server:
        ws = jetsocket.WebSocket(
            server.uri,
            buffer=BufferConfig(capacity=capacity, overflow_policy=policy),
            reconnect=False,
        )
        rec = Recorder(ws, "buffer_overflow", "closed")
        async with asyncio.timeout(10), ws:
            await rec.wait("closed")  # everything arrived; the consumer read nothing
            stats = ws.stats()
            remaining = seqs([m async for m in ws])
    assert stats.messages_received == total
    assert stats.buffer_size == capacity
    assert stats.messages_dropped == total - capacity
    assert sum(e.dropped for e in rec.events["buffer_overflow"]) == total - capacity
    assert all(e.policy == policy for e in rec.events["buffer_overflow"])
    if policy == "drop_oldest":
        assert remaining == list(range(total - capacity, total))
    else:
        assert remaining == list(range(capacity))
    print(
        f"\n[{policy}] {total} sent, buffer {stats.buffer_size}/{capacity}, dropped "
        f"{stats.messages_dropped} in {len(rec.events['buffer_overflow'])} overflow events"
    )


async def test_slow_consumer_error_policy_raises_buffer_overflow_error() -> None:
    total, capacity = 1000, 100
    script: list[Step] = [SendMany(lambda i: {"n": i}, count=total), CloseWith(1000, "done")]
    async with ScriptedServer(script) as server:
        ws = jetsocket.WebSocket(
            server.uri,
            buffer=BufferConfig(capacity=capacity, overflow_policy="error"),
            reconnect=False,
        )
        rec = Recorder(ws, "buffer_overflow", "closed")
        async with asyncio.timeout(10), ws:
            await rec.wait("closed")
            stats = ws.stats()
            kept: list[Any] = []

            async def consume() -> None:
                async for msg in ws:
                    kept.append(msg)

            with pytest.raises(jetsocket.BufferOverflowError, match="buffer full"):
                await consume()
            assert [m async for m in ws] == []  # then the iteration ends
    assert seqs(kept) == list(range(capacity))  # the oldest are kept, in order
    assert stats.buffer_size <= capacity + 1  # the messages + the pending error
    assert stats.messages_dropped >= total - capacity
    assert rec.events["buffer_overflow"]
    print(
        f"\n[error] {total} sent, {len(kept)} delivered then BufferOverflowError, "
        f"dropped counted {stats.messages_dropped} (exact: {total - capacity})"
    )


async def test_error_policy_counts_drops_exactly() -> None:
    capacity = 20
    script: list[Step] = [
        SendMany(lambda i: {"n": i}, count=capacity + 5),
        WaitForClientMessage(),
        SendMany(lambda i: {"n": 100 + i}, count=5),
        CloseWith(1000),
    ]
    async with ScriptedServer(script) as server:
        ws = jetsocket.WebSocket(
            server.uri,
            buffer=BufferConfig(capacity=capacity, overflow_policy="error"),
            reconnect=False,
        )
        rec = Recorder(ws, "buffer_overflow", "closed")
        async with asyncio.timeout(10), ws:
            await rec.wait("buffer_overflow")
            await ws.send("more")
            await rec.wait("closed")
            assert sum(e.dropped for e in rec.events["buffer_overflow"]) == 10
            assert ws.stats().messages_dropped == 10


async def test_slow_consumer_block_policy_applies_backpressure_and_loses_nothing() -> None:
    total, capacity = 3000, 100
    pad = "x" * 10_000  # 30 MB: more than the kernel's socket buffers can hide
    sent_all = asyncio.Event()

    async def mark(conn: ServerConnection) -> None:
        sent_all.set()

    script: list[Step] = [SendMany(lambda i: f"{i} {pad}", count=total), Call(mark)]
    async with ScriptedServer(script) as server:
        ws = jetsocket.WebSocket(
            server.uri,
            raw=True,
            compress=False,
            buffer=BufferConfig(capacity=capacity, overflow_policy="block"),
        )
        async with asyncio.timeout(20), ws:
            # The consumer reads nothing: the server must end up blocked on a full pipe.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(sent_all.wait(), 0.5)
            stats = ws.stats()
            assert stats.paused_reading >= 1
            # Overshoot: asyncio stops after the read that filled the buffer (256 KiB, ~26
            # messages); libuv (uvloop) may finish its batch of up to 32 reads first.
            uv = type(asyncio.get_running_loop()).__module__.startswith("uvloop")
            assert stats.buffer_size <= capacity + (32 if uv else 1) * 27
            n = 0
            async for msg in ws:
                assert isinstance(msg, str)
                assert msg.split(" ", 1)[0] == str(n)
                n += 1
                if n == total:
                    break
            await asyncio.wait_for(sent_all.wait(), 5)
            assert ws.stats().messages_dropped == 0
    print(
        f"\n[block] server stalled with the client buffer at "
        f"{stats.buffer_size}/{capacity}, paused {stats.paused_reading}x, "
        f"{total} msgs delivered in order, 0 dropped"
    )


@pytest.mark.parametrize("watchdog", ["heartbeat", "idle_timeout"])
async def test_backpressure_is_not_mistaken_for_a_dead_peer(watchdog: str) -> None:
    total, capacity = 3000, 100
    pad = "x" * 10_000
    script: list[Step] = [SendMany(lambda i: f"{i} {pad}", count=total)]
    async with ScriptedServer(script) as server:
        ws = jetsocket.WebSocket(
            server.uri,
            raw=True,
            compress=False,
            buffer=BufferConfig(capacity=capacity, overflow_policy="block"),
            backoff=FAST,
            heartbeat=HeartbeatConfig(interval=0.1, timeout=0.1)
            if watchdog == "heartbeat"
            else None,
            idle_timeout=0.2 if watchdog == "idle_timeout" else None,
        )
        rec = Recorder(ws, "disconnected")
        async with asyncio.timeout(10), ws:
            # A consumer busy for 0.6 s: the connection itself is healthy.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(rec.wait("disconnected", timeout=1.0), 0.6)
            n = 0
            async for msg in ws:
                assert isinstance(msg, str)
                assert msg.split(" ", 1)[0] == str(n)
                n += 1
                if n == total:
                    break
        assert server.connections == 1


# -- (e) fatal errors ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_fatal_status_on_reconnect_is_not_retried(status: int) -> None:
    scripts: list[list[Step]] = [
        [Send({"n": 1}), WaitForClientMessage(), Drop()],
        [Reject(status, body=b"no")],
    ]
    async with ScriptedServer(scripts) as server:
        ws = jetsocket.WebSocket(server.uri, backoff=FAST)
        rec = Recorder(ws, "error", "reconnecting")
        async with asyncio.timeout(10):
            await ws.connect()
            assert await ws.recv(timeout=5) == {"n": 1}
            await ws.send("drop me")
            with pytest.raises(jetsocket.HandshakeError) as info:
                async for _ in ws:
                    pass
        assert info.value.status_code == status
        assert ws.state is S.FAILED
        assert server.connections == 2  # exactly one reconnect attempt
        assert len(rec.events["reconnecting"]) == 1
        fatal = [e for e in rec.events["error"] if e.fatal]
        assert len(fatal) == 1
        assert fatal[0].error is info.value
        with pytest.raises(jetsocket.HandshakeError):
            await ws.recv()


async def test_close_1008_is_fatal() -> None:
    async with ScriptedServer([Send({"n": 1}), WaitForClientMessage(), CloseWith(1008, "bad")]) as (
        server
    ):
        ws = jetsocket.WebSocket(server.uri, backoff=FAST)
        rec = Recorder(ws, "error", "disconnected")
        async with asyncio.timeout(10):
            await ws.connect()
            assert await ws.recv(timeout=5) == {"n": 1}
            await ws.send("anything")
            with pytest.raises(jetsocket.ConnectionClosedError) as info:
                async for _ in ws:
                    pass
        assert (info.value.code, info.value.reason, info.value.by_server) == (1008, "bad", True)
        assert ws.state is S.FAILED
        assert server.connections == 1
        assert not rec.events["disconnected"][0].will_reconnect
        assert [e.fatal for e in rec.events["error"]] == [True]


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retried(status: int) -> None:
    scripts: list[list[Step]] = [
        [WaitForClientMessage(), Drop()],
        [Reject(status)],
        [Reject(status)],
        [Send({"back": True})],
    ]
    async with ScriptedServer(scripts) as server:
        ws = jetsocket.WebSocket(server.uri, backoff=FAST)
        rec = Recorder(ws, "error", "reconnected")
        async with asyncio.timeout(10), ws:
            await ws.send("drop me")
            assert await ws.recv(timeout=5) == {"back": True}
            await rec.wait("reconnected")
        assert server.connections == 4
        assert [e.fatal for e in rec.events["error"]] == [False, False]


async def test_is_retriable_hook_overrides_the_default() -> None:
    scripts: list[list[Step]] = [[WaitForClientMessage(), Drop()], [Reject(401)], [Send({"ok": 1})]]
    async with ScriptedServer(scripts) as server:
        ws = jetsocket.WebSocket(server.uri, backoff=FAST, is_retriable=lambda exc: True)
        async with asyncio.timeout(10), ws:
            await ws.send("drop me")
            assert await ws.recv(timeout=5) == {"ok": 1}
        assert server.connections == 3


async def test_close_after_failed_is_allowed() -> None:
    async with ScriptedServer([WaitForClientMessage(), CloseWith(1008, "bad")]) as server:
        ws = jetsocket.WebSocket(server.uri, backoff=FAST)
        rec = Recorder(ws, "disconnected")
        async with asyncio.timeout(5):
            await ws.connect()
            await ws.send("x")
            await rec.wait("disconnected")
            assert ws.state is S.FAILED
            await ws.close()  # must not raise
        assert state_of(ws) is S.CLOSED


# -- (f) Retry-After ----------------------------------------------------------------------


async def test_retry_after_is_honoured() -> None:
    scripts: list[list[Step]] = [
        [WaitForClientMessage(), Drop()],
        [Reject(429, headers={"Retry-After": "1"}, body=b"slow down")],
        [Send({"back": True})],
    ]
    async with ScriptedServer(scripts) as server:
        # Retry-After is honoured up to max_retry_after (default: the cap, issue 11).
        backoff = BackoffConfig(base=0.01, cap=0.02, seed=3, max_retry_after=5.0)
        ws = jetsocket.WebSocket(server.uri, backoff=backoff)
        rec = Recorder(ws, "reconnecting", "reconnected")
        async with asyncio.timeout(10), ws:
            await ws.send("drop me")
            assert await ws.recv(timeout=5) == {"back": True}
        assert server.connections == 3
        t = server.connection_times
        waited = t[2] - t[1]
        assert [round(e.delay, 3) for e in rec.events["reconnecting"]][1] == 1.0
        assert 1.0 - 0.02 <= waited <= 1.4
    print(
        f"\n[Retry-After: 1] attempt after the 429 came {waited:.3f}s later "
        f"(backoff alone would be <= 0.02s); first retry after {t[1] - t[0]:.3f}s"
    )


# -- (g) thundering herd ------------------------------------------------------------------


async def test_200_clients_reconnecting_at_once_are_spread_by_jitter() -> None:
    n, base = 200, 0.5
    async with ScriptedServer([], backlog=512) as server:
        clients: list[jetsocket.WebSocket[Any]] = []
        first_delay: dict[int, float] = {}
        attempt_at: dict[int, float] = {}  # when each client's reconnect attempt began
        back = asyncio.Event()

        def on_reconnecting(i: int, event: Any) -> None:
            first_delay.setdefault(i, event.delay)

        def on_connecting(i: int, event: Any) -> None:
            if i in first_delay:
                attempt_at.setdefault(i, time.monotonic())

        def on_reconnected(event: Any) -> None:
            if sum(c.stats().reconnect_count for c in clients) == n:
                back.set()

        for i in range(n):
            ws = jetsocket.WebSocket(
                server.uri, backoff=BackoffConfig(base=base, cap=1.0, seed=i), compress=False
            )
            ws.add_handler("reconnecting", functools.partial(on_reconnecting, i))
            ws.add_handler("connecting", functools.partial(on_connecting, i))
            ws.add_handler("reconnected", on_reconnected)
            clients.append(ws)
        try:
            async with asyncio.timeout(20):
                await asyncio.gather(*(c.connect() for c in clients))
                await server.wait_for(lambda: server.active == n)
                dropped_at = time.monotonic()
                assert server.drop_all() == n
                await back.wait()
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    delays = sorted(first_delay.values())
    arrivals = sorted(t - dropped_at for t in server.connection_times[n:])
    attempts = sorted(t - dropped_at for t in attempt_at.values())
    assert len(delays) == n
    assert all(0.0 <= d <= base for d in delays)
    # The same seeds give the same schedule: reproducible tests.
    expected = sorted(
        Backoff(BackoffConfig(base=base, cap=1.0, seed=i)).next_delay() for i in range(n)
    )
    assert delays == pytest.approx(expected)
    assert delays[-1] - delays[0] > 0.8 * base  # spread over (almost) the whole window
    bins = [0] * 10  # 50 ms bins: uniform would put ~20 clients in each
    for d in delays:
        bins[min(9, int(d / base * 10))] += 1
    assert max(bins) <= 0.2 * n, f"clustered: {bins}"
    print(
        f"\n[herd] {n} clients, first retry delay min/median/max = {delays[0]:.3f}/"
        f"{statistics.median(delays):.3f}/{delays[-1]:.3f}s, per 50 ms: {bins}; "
        f"attempts began +{attempts[0]:.3f}/+{statistics.median(attempts):.3f}/"
        f"+{attempts[-1]:.3f}s after the drop; the server got the handshakes "
        f"+{arrivals[0]:.3f}/+{statistics.median(arrivals):.3f}/+{arrivals[-1]:.3f}s "
        f"(min/median/max; one event loop runs all 200 clients and the server)"
    )
