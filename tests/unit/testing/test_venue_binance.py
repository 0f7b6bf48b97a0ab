"""The Binance fake: raw and combined streams, id acks, errors, limits, server pings."""

from __future__ import annotations

import json
from typing import Any

from _wire import drain, recv
from websockets.asyncio.client import connect

from jetsocket.testing import BinanceVenue


def request(method: str, params: list[Any] | None = None, req_id: int = 1) -> str:
    body: dict[str, Any] = {"method": method, "id": req_id}
    if params is not None:
        body["params"] = params
    return json.dumps(body)


async def test_subscribe_acks_by_id_and_trade_shape() -> None:
    async with BinanceVenue(ping_interval=None) as venue, connect(venue.uri) as ws:
        await ws.send(request("SUBSCRIBE", ["btcusdt@trade", "ethusdt@bookTicker"], 1))
        assert await recv(ws) == {"result": None, "id": 1}
        await venue.publish("btcusdt@trade", 2)
        await venue.publish("ethusdt@bookTicker")
        t1, t2, book = await recv(ws), await recv(ws), await recv(ws)
        assert (t1["e"], t1["s"], t1["t"], t2["t"]) == ("trade", "BTCUSDT", 1, 2)
        assert set(t1) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"}
        assert (book["u"], book["s"]) == (1, "ETHUSDT")
        await ws.send(request("LIST_SUBSCRIPTIONS", req_id=2))
        assert await recv(ws) == {"result": ["btcusdt@trade", "ethusdt@bookTicker"], "id": 2}
        await ws.send(request("UNSUBSCRIBE", ["ethusdt@bookTicker"], 3))
        assert await recv(ws) == {"result": None, "id": 3}
        assert venue.subscriptions() == [["btcusdt@trade"]]


async def test_errors_refuse_the_whole_request() -> None:
    async with BinanceVenue(ping_interval=None) as venue, connect(venue.uri) as ws:
        await ws.send(request("SUBSCRIBE", ["btcusdt@trade", "nope@trade"], 4))
        assert await recv(ws) == {
            "error": {"code": 2, "msg": "Invalid request: invalid stream"},
            "id": 4,
        }
        venue.reject("ethusdt@trade")
        await ws.send(request("SUBSCRIBE", ["ethusdt@trade"], 5))
        assert (await recv(ws))["error"]["code"] == 2
        await ws.send(request("FOO", [], 6))
        assert (await recv(ws))["id"] == 6
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": "x", "id": 7}))
        assert (await recv(ws))["error"]["code"] == 1
        await ws.send("not json")
        assert (await recv(ws))["error"]["code"] == 3
        assert venue.subscriptions() == [[]]


async def test_combined_and_raw_stream_urls() -> None:
    async with BinanceVenue(ping_interval=None) as venue:
        uri = venue.combined_uri("btcusdt@trade", "ethusdt@trade")
        assert uri.endswith("/stream?streams=btcusdt@trade/ethusdt@trade")
        async with connect(uri) as ws:
            await venue.wait_subscribed("ethusdt@trade")
            await venue.publish("ethusdt@trade")
            msg = await recv(ws)
            assert msg["stream"] == "ethusdt@trade"
            assert msg["data"]["t"] == 1
            await ws.send(request("SUBSCRIBE", ["btcusdt@bookTicker"], 1))
            assert await recv(ws) == {"result": None, "id": 1}
            await venue.publish("btcusdt@bookTicker")
            assert (await recv(ws))["stream"] == "btcusdt@bookTicker"
        async with connect(venue.raw_uri("btcusdt@trade")) as ws:
            await venue.wait_subscribed("btcusdt@trade")
            await venue.publish("btcusdt@trade")
            assert (await recv(ws))["e"] == "trade"  # bare payload on /ws/<stream>


async def test_more_than_five_messages_a_second_disconnects() -> None:
    async with BinanceVenue(ping_interval=None) as venue, connect(venue.uri) as ws:
        for i in range(6):
            await ws.send(request("LIST_SUBSCRIPTIONS", req_id=i))
        _, closed = await drain(ws)
        assert closed.rcvd is not None
        assert closed.rcvd.code == 1008
        assert venue.sessions[0].received[-1]["id"] == 5


async def test_streams_per_connection_are_capped() -> None:
    async with BinanceVenue(ping_interval=None, max_streams=2) as venue, connect(venue.uri) as ws:
        await ws.send(request("SUBSCRIBE", ["btcusdt@trade", "ethusdt@trade"], 1))
        assert (await recv(ws))["result"] is None
        await ws.send(request("SUBSCRIBE", ["btcusdt@bookTicker"], 2))
        error = await recv(ws)
        assert error["id"] == 2
        assert "2 streams" in error["error"]["msg"]


async def test_server_pings_and_gap_after_a_reconnect() -> None:
    async with BinanceVenue(ping_interval=0.05, ping_timeout=5) as venue:
        async with connect(venue.uri) as ws:
            await ws.send(request("SUBSCRIBE", ["btcusdt@trade"], 1))
            await recv(ws)
            # The client's automatic pongs are counted per connection.
            await venue.wait_for(lambda: venue.sessions[0].pongs >= 2)
            await venue.publish("btcusdt@trade")
            assert (await recv(ws))["t"] == 1
            await venue.kill_all()
        await venue.publish("btcusdt@trade", 2)
        async with connect(venue.uri) as ws:
            await ws.send(request("SUBSCRIBE", ["btcusdt@trade"], 1))
            assert await recv(ws) == {"result": None, "id": 1}  # nothing replayed
            await venue.publish("btcusdt@trade")
            assert (await recv(ws))["t"] == 4  # 2 and 3 were missed: a gap


async def test_depth_diffs_cover_ranges_of_update_ids() -> None:
    async with BinanceVenue(ping_interval=None) as venue, connect(venue.uri) as ws:
        await ws.send(request("SUBSCRIBE", ["btcusdt@depth@100ms"], 1))
        await recv(ws)
        await venue.publish("btcusdt@depth@100ms", 3)
        venue.skip("btcusdt@depth@100ms", 2)
        await venue.publish("btcusdt@depth@100ms", 2)
        first, second = await recv(ws), await recv(ws)
        assert first["e"] == "depthUpdate"
        assert (first["U"], first["u"]) == (1, 3)
        assert len(first["b"]) + len(first["a"]) == 3
        assert (second["U"], second["u"]) == (6, 7)  # 4 and 5 skipped: U != previous u + 1
