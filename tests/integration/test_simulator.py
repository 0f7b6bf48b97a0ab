"""Integration tests of jetsocket.testing.ExchangeSimulator over real loopback sockets.

The simulator is checked with `websockets`' own client, so these tests do not depend on
the jetsocket client; one test at the end runs the jetsocket client against it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from jetsocket.testing import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    ExchangeSimulator,
    FeedMessage,
    Kline,
    Response,
    Trade,
    decode_message,
)

TIMEOUT = 5.0


@asynccontextmanager
async def client(sim: ExchangeSimulator) -> AsyncIterator[ClientConnection]:
    async with connect(sim.uri, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        yield ws


async def request(
    ws: ClientConnection, method: str, params: Sequence[Any] | None = None, request_id: int = 1
) -> None:
    body: dict[str, Any] = {"method": method, "id": request_id}
    if params is not None:
        body["params"] = list(params)
    await ws.send(msgspec.json.encode(body).decode())


async def recv(ws: ClientConnection) -> FeedMessage | Response:
    async with asyncio.timeout(TIMEOUT):
        raw = await ws.recv()
    assert isinstance(raw, str), "the simulator sends text frames"
    return decode_message(raw)


async def recv_feed(ws: ClientConnection) -> FeedMessage:
    msg = await recv(ws)
    assert not isinstance(msg, Response), msg
    return msg


async def subscribe(ws: ClientConnection, streams: Sequence[str], request_id: int = 1) -> None:
    await request(ws, "SUBSCRIBE", streams, request_id)
    assert await recv(ws) == Response(id=request_id)


async def drain(ws: ClientConnection) -> None:
    """Read until the connection closes (raises ConnectionClosed)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            await ws.recv()


def stream_of(msg: FeedMessage) -> str:
    s = msg.symbol.lower()
    if isinstance(msg, Trade):
        return f"{s}@trade"
    if isinstance(msg, Kline):
        return f"{s}@kline_{msg.bar.interval}"
    if isinstance(msg, BookSnapshot | BookDelta):
        return f"{s}@book"
    return f"{s}@bookTicker"


def fingerprint(msg: FeedMessage) -> tuple[object, ...]:
    """Everything but wall-clock times."""
    if isinstance(msg, Trade):
        return ("trade", msg.symbol, msg.trade_id, msg.price, msg.qty, msg.buyer_is_maker, msg.seq)
    if isinstance(msg, BookTicker):
        return ("book", msg.symbol, msg.bid, msg.bid_qty, msg.ask, msg.ask_qty, msg.seq)
    if isinstance(msg, BookSnapshot | BookDelta):
        return ("depth", msg.symbol, msg.version, msg.bids, msg.asks, msg.checksum, msg.seq)
    k = msg.bar
    return ("kline", msg.symbol, k.open, k.high, k.low, k.close, k.volume, k.trades, msg.seq)


# -- protocol ---------------------------------------------------------------------------


async def test_listens_on_loopback_free_port() -> None:
    async with ExchangeSimulator() as sim:
        assert sim.is_running
        assert sim.port > 0
        assert sim.uri == f"ws://127.0.0.1:{sim.port}/ws"
        assert sim.symbols == ("BTCUSDT", "ETHUSDT")
    assert not sim.is_running


async def test_subscribe_ack_then_messages_with_contiguous_seq() -> None:
    async with ExchangeSimulator(rate=200, seed=1) as sim, client(sim) as ws:
        streams = sim.stream_names()
        assert streams == [
            "btcusdt@trade",
            "btcusdt@kline_1m",
            "btcusdt@bookTicker",
            "ethusdt@trade",
            "ethusdt@kline_1m",
            "ethusdt@bookTicker",
        ]
        # The reply is the first message: no feed message precedes it.
        await subscribe(ws, streams, request_id=42)
        msgs = [await recv_feed(ws) for _ in range(60)]
        assert [m.seq for m in msgs] == list(range(1, 61))
        assert {stream_of(m) for m in msgs} == set(streams)
        assert {type(m) for m in msgs} == {Trade, Kline, BookTicker}
        # Same rate, one request: the streams interleave in request order.
        assert [stream_of(m) for m in msgs[:6]] == streams


async def test_only_subscribed_streams_are_sent() -> None:
    async with ExchangeSimulator(rate=100, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["ETHUSDT@trade"])  # symbols in any case
        msgs = [await recv_feed(ws) for _ in range(20)]
        assert all(isinstance(m, Trade) and m.symbol == "ETHUSDT" for m in msgs)
        assert sim.subscriptions() == [["ETHUSDT@trade"]]


async def test_unsubscribe_stops_stream_after_reply() -> None:
    async with ExchangeSimulator(rate=200, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade", "ethusdt@trade"])
        for _ in range(10):
            await recv_feed(ws)
        await request(ws, "UNSUBSCRIBE", ["btcusdt@trade"], request_id=2)
        # Feed messages may precede the reply; none of btcusdt@trade may follow it.
        while (msg := await recv(ws)) != Response(id=2):
            assert not isinstance(msg, Response)
        last_seq = 10
        for _ in range(20):
            msg = await recv_feed(ws)
            assert msg.symbol == "ETHUSDT"
            assert msg.seq > last_seq
            last_seq = msg.seq
        await request(ws, "LIST_SUBSCRIPTIONS", request_id=3)
        while not isinstance(reply := await recv(ws), Response):
            pass
        assert reply == Response(id=3, result=["ethusdt@trade"])


async def test_seq_stays_contiguous_across_unsubscribe() -> None:
    async with ExchangeSimulator(rate=300, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade", "btcusdt@bookTicker"])
        await request(ws, "UNSUBSCRIBE", ["btcusdt@bookTicker"], request_id=2)
        seqs: list[int] = []
        while len(seqs) < 50:
            msg = await recv(ws)
            if not isinstance(msg, Response):
                seqs.append(msg.seq)
        assert seqs == list(range(1, 51))


async def test_duplicate_subscribe_is_ignored() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade", "btcusdt@trade"])
        await subscribe(ws, ["btcusdt@trade"], request_id=2)
        assert sim.subscriptions() == [["btcusdt@trade"]]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", 2),
        ("[1, 2]", 2),
        ('{"method": "FLY", "id": 1}', 2),
        ('{"method": "SUBSCRIBE", "id": 1}', 2),
        ('{"method": "SUBSCRIBE", "params": "btcusdt@trade", "id": 1}', 2),
        ('{"method": "SUBSCRIBE", "params": ["btcusdt@trade", "nope@trade"], "id": 1}', 1),
        ('{"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 1}', 1),
    ],
)
async def test_bad_requests_get_an_error_and_change_nothing(raw: str, code: int) -> None:
    async with ExchangeSimulator(rate=100, seed=1) as sim, client(sim) as ws:
        await ws.send(raw)
        reply = await recv(ws)
        assert isinstance(reply, Response)
        assert reply.error is not None
        assert reply.error.code == code
        assert reply.error.msg
        assert sim.subscriptions() == [[]]
        # The connection stays usable.
        await subscribe(ws, ["btcusdt@trade"], request_id=9)
        assert (await recv_feed(ws)).seq == 1


async def test_binary_request_is_rejected() -> None:
    async with ExchangeSimulator(seed=1) as sim, client(sim) as ws:
        await ws.send(b'{"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}')
        reply = await recv(ws)
        assert isinstance(reply, Response)
        assert reply.error is not None
        assert sim.subscriptions() == [[]]


async def test_max_streams_per_connection() -> None:
    async with ExchangeSimulator(rate=0, max_streams_per_connection=2) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade", "ethusdt@trade"])
        await request(ws, "SUBSCRIBE", ["btcusdt@bookTicker"], request_id=2)
        reply = await recv(ws)
        assert isinstance(reply, Response)
        assert reply.error is not None
        assert "too many streams" in reply.error.msg
        assert sim.subscriptions() == [["btcusdt@trade", "ethusdt@trade"]]


# -- rate, bursts, determinism ------------------------------------------------------------


async def test_rate_paces_messages() -> None:
    loop = asyncio.get_running_loop()
    async with ExchangeSimulator(rate=50, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade"])
        start = loop.time()
        for _ in range(26):
            await recv_feed(ws)
        elapsed = loop.time() - start
        # 25 intervals of 20 ms; generous upper bound for loaded CI machines.
        assert 0.4 < elapsed < 3.0


async def test_burst_on_subscribe_sends_exact_count() -> None:
    async with ExchangeSimulator(rate=0, burst=500, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade", "ethusdt@bookTicker"])
        msgs = [await recv_feed(ws) for _ in range(1000)]
        assert [m.seq for m in msgs] == list(range(1, 1001))
        # Round robin in subscription order.
        assert [stream_of(m) for m in msgs[:4]] == [
            "btcusdt@trade",
            "ethusdt@bookTicker",
            "btcusdt@trade",
            "ethusdt@bookTicker",
        ]
        # rate=0: nothing follows the burst, so the next message is the reply.
        await request(ws, "LIST_SUBSCRIPTIONS", request_id=2)
        assert await recv(ws) == Response(id=2, result=["btcusdt@trade", "ethusdt@bookTicker"])
        stats = sim.stats()
        assert stats.messages_sent == 1000
        assert stats.messages_by_stream == {"btcusdt@trade": 500, "ethusdt@bookTicker": 500}


async def test_burst_on_demand() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade", "ethusdt@trade"])
        assert sim.burst(3, streams=["ethusdt@trade"]) == 1
        msgs = [await recv_feed(ws) for _ in range(3)]
        assert [stream_of(m) for m in msgs] == ["ethusdt@trade"] * 3
        assert sim.burst(2) == 2
        msgs = [await recv_feed(ws) for _ in range(4)]
        assert [m.seq for m in msgs] == [4, 5, 6, 7]
        with pytest.raises(ValueError, match="count"):
            sim.burst(0)


async def test_large_burst_keeps_order() -> None:
    n = 20_000
    async with ExchangeSimulator(symbols=("BTCUSDT",), rate=0, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade"])
        sim.burst(n)
        async with asyncio.timeout(60):
            for expected in range(1, n + 1):
                raw = await ws.recv()
                assert isinstance(raw, str)
                msg = decode_message(raw)
                assert isinstance(msg, Trade)
                assert msg.seq == expected


async def test_same_seed_same_messages() -> None:
    streams = ["btcusdt@trade", "btcusdt@kline_1m", "ethusdt@bookTicker", "ethusdt@trade"]

    async def run(seed: int) -> list[tuple[object, ...]]:
        async with ExchangeSimulator(rate=0, burst=50, seed=seed) as sim, client(sim) as ws:
            assert sim.seed == seed
            await subscribe(ws, streams)
            return [fingerprint(await recv_feed(ws)) for _ in range(200)]

    first = await run(123)
    assert first == await run(123)
    assert first != await run(124)


async def test_connections_see_the_same_market() -> None:
    async with ExchangeSimulator(rate=0, burst=100, seed=5) as sim:
        async with client(sim) as a, client(sim) as b:
            await subscribe(a, ["btcusdt@trade"])
            await subscribe(b, ["btcusdt@trade"])
            fa = [fingerprint(await recv_feed(a)) for _ in range(100)]
            fb = [fingerprint(await recv_feed(b)) for _ in range(100)]
            assert fa == fb


async def test_random_seed_is_exposed() -> None:
    a, b = ExchangeSimulator(), ExchangeSimulator()
    assert isinstance(a.seed, int)
    assert a.seed != b.seed  # 1 in 2**32 chance of a false failure


async def test_kline_closes_on_interval_boundary() -> None:
    async with ExchangeSimulator(rate=40, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@kline_1s"])
        async with asyncio.timeout(TIMEOUT):
            while True:
                msg = await recv_feed(ws)
                assert isinstance(msg, Kline)
                if msg.bar.closed:
                    break
        assert msg.bar.close_time - msg.bar.start_time == 999
        nxt = await recv_feed(ws)
        assert isinstance(nxt, Kline)
        assert nxt.bar.start_time == msg.bar.start_time + 1000


# -- faults and lifecycle -------------------------------------------------------------------


async def test_drop_all_aborts_without_close_frame() -> None:
    async with ExchangeSimulator(rate=50, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade"])
        await recv_feed(ws)
        assert sim.connection_count == 1
        assert await sim.drop_all() == 1
        assert sim.connection_count == 0
        with pytest.raises(ConnectionClosed) as info:
            await drain(ws)
        assert info.value.rcvd is None  # no close frame: abnormal closure (1006)


async def test_close_all_sends_close_frame() -> None:
    async with ExchangeSimulator(rate=50, seed=1) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade"])
        task = sim.close_all(1012, "restart")
        with pytest.raises(ConnectionClosed) as info:
            await drain(ws)
        assert await task == 1
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1012
        assert info.value.rcvd.reason == "restart"
        await sim.wait_for(lambda: sim.connection_count == 0)


async def test_stop_closes_1001_and_start_reuses_port() -> None:
    sim = ExchangeSimulator(rate=0, seed=1)
    await sim.start()
    try:
        uri = sim.uri
        async with client(sim) as ws:
            await sim.wait_for_connections(1)
            await sim.stop()
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1001
        await sim.start()
        assert sim.uri == uri
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
        with pytest.raises(RuntimeError, match="already running"):
            await sim.start()
    finally:
        await sim.stop()
    await sim.stop()  # idempotent


async def test_wait_for_subscription_and_connections() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim:
        waiter = asyncio.create_task(sim.wait_for_subscription("btcusdt@trade"))
        async with client(sim) as ws:
            await sim.wait_for_connections(1)
            assert not waiter.done()
            await subscribe(ws, ["btcusdt@trade"])
            await asyncio.wait_for(waiter, TIMEOUT)
        await sim.wait_for(lambda: sim.connection_count == 0)
        with pytest.raises(TimeoutError):
            await sim.wait_for_connections(1, timeout=0.05)


async def test_stats() -> None:
    async with ExchangeSimulator(rate=0, burst=10, seed=1) as sim:
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
            for _ in range(10):
                await recv_feed(ws)
            stats = sim.stats()
            assert stats.connections_accepted == 1
            assert stats.connections_open == 1
            assert stats.requests_received == 1
            assert stats.messages_sent == 10
            assert stats.bytes_sent > 10 * 50
            assert stats.messages_by_stream == {"btcusdt@trade": 10}
            assert stats.feed_errors == 0
        await sim.wait_for(lambda: sim.connection_count == 0)
        assert sim.stats().connections_open == 0


async def test_compression_can_be_enabled() -> None:
    async with ExchangeSimulator(rate=0, burst=20, seed=1, compression="deflate") as sim:
        async with connect(sim.uri, compression="deflate") as ws:
            assert ws.response is not None
            assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
            await subscribe(ws, ["btcusdt@trade"])
            assert [(await recv_feed(ws)).seq for _ in range(20)] == list(range(1, 21))


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="symbol"):
        ExchangeSimulator(symbols=())
    with pytest.raises(ValueError, match="symbols are"):
        ExchangeSimulator(symbols=('BTC"USDT',))
    with pytest.raises(ValueError, match="rate"):
        ExchangeSimulator(rate=-1)
    with pytest.raises(ValueError, match="burst"):
        ExchangeSimulator(burst=-1)
    with pytest.raises(ValueError, match="max_streams"):
        ExchangeSimulator(max_streams_per_connection=0)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = ExchangeSimulator().port


# -- with the jetsocket client ------------------------------------------------------------


async def test_jetsocket_client_receives_typed_feed() -> None:
    jetsocket = pytest.importorskip("jetsocket")
    if not hasattr(jetsocket, "WebSocket"):
        pytest.skip("jetsocket.WebSocket is not available yet")
    async with ExchangeSimulator(rate=0, burst=100, seed=1) as sim:
        async with jetsocket.WebSocket(sim.uri, deserializer=decode_message) as ws:
            await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
            assert await ws.recv(timeout=TIMEOUT) == Response(id=1)
            for seq in range(1, 101):
                msg = await ws.recv(timeout=TIMEOUT)
                assert isinstance(msg, Trade)
                assert msg.seq == seq
