"""The shared fake-venue machinery: sequences, records, fault injection, lifecycle.

Driven through :class:`KrakenVenue` (the simplest venue with snapshots) and a plain
`websockets` client on loopback.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest
from _wire import T, drain, recv, recv_until
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from jetsocket.testing import (
    BinanceVenue,
    BitfinexVenue,
    BybitVenue,
    KrakenVenue,
    OkxVenue,
    Sent,
    VenueServer,
)


async def subscribe(ws: ClientConnection, *symbols: str, snapshot: bool = False) -> None:
    req = {"channel": "trade", "symbol": list(symbols), "snapshot": snapshot}
    await ws.send(json.dumps({"method": "subscribe", "params": req, "req_id": 1}))
    for _ in symbols:
        await recv_until(ws, lambda m: m.get("method") == "subscribe")


def trade_ids(msg: Any) -> list[int]:
    return [t["trade_id"] for t in msg["data"]]


async def test_sequences_are_per_stream_and_continue_across_reconnects() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue:
        async with connect(venue.uri) as ws:
            await recv(ws)  # status
            await subscribe(ws, "BTC/USD", "ETH/USD")
            await venue.publish("BTC/USD", 2)
            await venue.publish("ETH/USD", 1)
            assert trade_ids(await recv(ws)) == [1, 2]
            assert trade_ids(await recv(ws)) == [1]
        await venue.wait_for(lambda: venue.connection_count == 0)
        await venue.publish("BTC/USD", 3)  # traded while nobody listened
        async with connect(venue.uri) as ws:
            await recv(ws)
            await subscribe(ws, "BTC/USD")
            await venue.publish("BTC/USD")
            assert trade_ids(await recv(ws)) == [6]
    assert venue.published("BTC/USD") == [1, 2, 3, 4, 5, 6]
    assert venue.sent_seqs("BTC/USD") == [1, 2, 6]
    assert venue.sent_seqs("BTC/USD", conn=2) == [6]
    assert venue.sent[0] == Sent(1, "BTC/USD", 1, False)
    assert venue.last_sequence("BTC/USD") == 6
    assert venue.last_sequence("SOL/USD") is None
    assert [s.no for s in venue.sessions] == [1, 2]
    assert venue.sessions[0].received[0]["method"] == "subscribe"


async def test_skip_makes_a_gap_on_one_stream_only() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue:
        async with connect(venue.uri) as ws:
            await recv(ws)
            await subscribe(ws, "BTC/USD", "ETH/USD")
            venue.skip("BTC/USD", 2)
            await venue.publish("BTC/USD")
            await venue.publish("ETH/USD")
            assert trade_ids(await recv(ws)) == [3]
            assert trade_ids(await recv(ws)) == [1]
    assert venue.skipped("BTC/USD") == [1, 2]
    assert venue.skipped("ETH/USD") == []
    with pytest.raises(ValueError, match="count"):
        venue.skip("BTC/USD", 0)


async def test_kill_all_ends_connections_mid_stream_and_the_port_stays_open() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue:
        async with connect(venue.uri) as ws:
            await recv(ws)
            await subscribe(ws, "BTC/USD")
            await venue.publish("BTC/USD", 4)
            assert await venue.kill_all() == 1
            msgs, closed = await drain(ws)
            assert closed.rcvd is None  # no close frame: an abnormal closure (1006)
            got = [i for m in msgs for i in trade_ids(m)]
            assert got == venue.sent_seqs("BTC/USD") == [1, 2, 3, 4]  # flushed, none lost
        # Back at once, same port.
        async with connect(venue.uri) as ws:
            assert (await recv(ws))["channel"] == "status"
        assert venue.connections_accepted == 2


async def test_reset_drop_and_restart_keep_the_port() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue:
        port = venue.port
        async with connect(venue.uri) as ws:
            await recv(ws)
            assert await venue.drop_all() == 1
            with pytest.raises(ConnectionClosed):
                await recv(ws)
        async with connect(venue.uri) as ws:
            await recv(ws)
            await venue.restart()
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
        assert venue.port == port
        async with connect(venue.uri) as ws:
            assert (await recv(ws))["channel"] == "status"


async def test_malformed_unknown_and_raw_frames_reach_every_connection() -> None:
    async with (
        KrakenVenue(heartbeat_interval=60) as venue,
        connect(venue.uri) as a,
        connect(venue.uri) as b,
    ):
        await recv(a)
        await recv(b)
        await venue.wait_for(lambda: venue.connection_count == 2)
        assert await venue.send_malformed() == 2
        for ws in (a, b):
            text = await asyncio.wait_for(ws.recv(), T)
            with pytest.raises(json.JSONDecodeError):
                json.loads(text)
        assert await venue.send_unknown() == 2
        unknown = await recv(a)
        assert unknown["channel"] not in ("trade", "heartbeat", "status")
        assert await recv(b) == unknown
        assert await venue.send_raw('{"x": 1}') == 2
        assert await recv(a) == await recv(b) == {"x": 1}


async def test_reject_and_accept() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        await recv(ws)
        venue.reject("BTC/USD", reason="maintenance")
        req = {"channel": "trade", "symbol": ["BTC/USD"]}
        await ws.send(json.dumps({"method": "subscribe", "params": req, "req_id": 2}))
        nack = await recv(ws)
        assert (nack["success"], nack["error"], nack["req_id"]) == (False, "maintenance", 2)
        venue.accept()
        await ws.send(json.dumps({"method": "subscribe", "params": req, "req_id": 3}))
        assert (await recv(ws))["success"] is True
        assert venue.subscriptions() == [["BTC/USD"]]


async def test_background_ticker_and_constructor_checks() -> None:
    with pytest.raises(ValueError, match="rate"):
        KrakenVenue(rate=-1)
    with pytest.raises(ValueError, match="recent"):
        KrakenVenue(recent=-1)
    assert issubclass(KrakenVenue, VenueServer)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = KrakenVenue().uri
    async with KrakenVenue(rate=200, heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        await recv(ws)
        await subscribe(ws, "BTC/USD")
        seen: list[int] = []
        while len(seen) < 10:
            msg = await recv(ws)
            if msg.get("channel") == "trade":
                assert 1 <= len(msg["data"]) <= 2  # Kraken batches one or two trades
                seen.extend(trade_ids(msg))
        assert seen == list(range(seen[0], seen[0] + len(seen)))
        with pytest.raises(RuntimeError, match="already running"):
            await venue.start()


def test_common_options_are_one_keyword_bundle_with_per_venue_defaults() -> None:
    options: VenueServer.Options = {"rate": 5.0, "seed": 3, "first_sequence": 7, "port": 0}
    venue = BinanceVenue(("BTCUSDT",), ping_interval=None, **options)
    assert (venue._rate, venue._seed, venue._first, venue._recent) == (5.0, 3, 7, 50)
    assert (BybitVenue()._rate, OkxVenue()._rate, KrakenVenue()._rate) == (10.0, 10.0, 0.0)
    assert BybitVenue(rate=0)._rate == 0.0
    assert (BitfinexVenue()._recent, BitfinexVenue(recent=4)._recent) == (30, 4)
    with pytest.raises(
        TypeError, match=r"BinanceVenue\(\) got an unexpected keyword argument 'sed'"
    ):
        BinanceVenue(**cast(Any, {"sed": 1}))


async def test_freeze_goes_silent_and_thaw_resumes_with_a_gap() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        await recv(ws)
        await subscribe(ws, "BTC/USD")
        venue.freeze()
        await venue.publish("BTC/USD", 2)  # produced, never delivered
        await ws.send(json.dumps({"method": "ping", "req_id": 1}))  # not even read
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        assert venue.sent_seqs("BTC/USD") == []
        venue.thaw()
        pong = await recv(ws)  # the ping is read once thawed
        assert (pong["method"], pong["req_id"]) == ("pong", 1)
        await venue.publish("BTC/USD")
        assert trade_ids(await recv(ws)) == [3]
