"""The Kraken v2 fake: per-symbol req_id acks, trade batches, snapshots, heartbeat, ping."""

from __future__ import annotations

import json
from typing import Any

from _wire import recv
from websockets.asyncio.client import connect

from jetsocket.testing import KrakenVenue


def sub(*symbols: str, req_id: int = 1, **params: Any) -> str:
    body = {"channel": "trade", "symbol": list(symbols), **params}
    return json.dumps({"method": "subscribe", "params": body, "req_id": req_id})


async def test_status_then_one_ack_per_symbol_with_the_request_id() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        status = await recv(ws)
        assert (status["channel"], status["type"]) == ("status", "update")
        assert status["data"][0]["system"] == "online"
        await ws.send(sub("BTC/USD", "BTC/XYZ", "ETH/USD", req_id=7, snapshot=False))
        acks = [await recv(ws) for _ in range(3)]
        assert [a["req_id"] for a in acks] == [7, 7, 7]
        ok = [a for a in acks if a["success"]]
        assert [a["result"] for a in ok] == [
            {"channel": "trade", "symbol": "BTC/USD", "snapshot": False},
            {"channel": "trade", "symbol": "ETH/USD", "snapshot": False},
        ]
        (nack,) = [a for a in acks if not a["success"]]
        assert nack == {
            "method": "subscribe",
            "req_id": 7,
            "success": False,
            "error": "Currency pair not supported",
            "symbol": "BTC/XYZ",
            "time_in": nack["time_in"],
            "time_out": nack["time_out"],
        }
        await ws.send(sub("BTC/USD", req_id=8))
        dup = await recv(ws)
        assert (dup["success"], dup["error"]) == (False, "Already subscribed")
        unsub = {"channel": "trade", "symbol": ["BTC/USD"]}
        await ws.send(json.dumps({"method": "unsubscribe", "params": unsub, "req_id": 9}))
        done = await recv(ws)
        assert (done["method"], done["success"], done["req_id"]) == ("unsubscribe", True, 9)
        assert venue.subscriptions() == [["ETH/USD"]]


async def test_trades_come_in_batches_of_one_or_two_with_consecutive_ids() -> None:
    async with KrakenVenue(heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        await recv(ws)
        await ws.send(sub("BTC/USD", snapshot=False))
        await recv(ws)
        await venue.publish("BTC/USD", 5)
        msgs = [await recv(ws) for _ in range(3)]
        assert [len(m["data"]) for m in msgs] == [2, 2, 1]
        trades = [t for m in msgs for t in m["data"]]
        assert [t["trade_id"] for t in trades] == [1, 2, 3, 4, 5]
        first = trades[0]
        assert set(first) == {
            "symbol", "side", "price", "qty", "ord_type", "trade_id", "timestamp"
        }  # fmt: skip
        assert isinstance(first["price"], float)
        assert first["timestamp"].endswith("Z")
        assert all(m["type"] == "update" for m in msgs)


async def test_snapshot_on_every_resubscribe_replays_recent_trades() -> None:
    async with KrakenVenue(heartbeat_interval=60, recent=3) as venue:
        async with connect(venue.uri) as ws:
            await recv(ws)
            await ws.send(sub("BTC/USD"))
            assert (await recv(ws))["success"]
            assert await recv(ws) == {"channel": "trade", "type": "snapshot", "data": []}
            await venue.publish("BTC/USD", 4)
            seen = [t["trade_id"] for _ in range(2) for t in (await recv(ws))["data"]]
            assert seen == [1, 2, 3, 4]
            await venue.kill_all()
        await venue.publish("BTC/USD")  # trade 5, while away
        async with connect(venue.uri) as ws:
            await recv(ws)
            await ws.send(sub("BTC/USD"))  # snapshot defaults to true
            assert (await recv(ws))["result"]["snapshot"] is True
            snap = await recv(ws)
            assert snap["type"] == "snapshot"
            assert [t["trade_id"] for t in snap["data"]] == [3, 4, 5]  # 3, 4 twice; 5 missed
    assert venue.sent_seqs("BTC/USD", replay=True) == [3, 4, 5]
    assert venue.sent_seqs("BTC/USD", conn=1) == [1, 2, 3, 4]


async def test_heartbeat_when_idle_and_app_ping() -> None:
    async with KrakenVenue(heartbeat_interval=0.05) as venue, connect(venue.uri) as ws:
        await recv(ws)
        await ws.send(sub("ETH/USD", snapshot=False))
        await recv(ws)
        assert await recv(ws) == {"channel": "heartbeat"}
        await ws.send(json.dumps({"method": "ping", "req_id": 42}))
        while (msg := await recv(ws)) == {"channel": "heartbeat"}:
            pass
        assert (msg["method"], msg["req_id"]) == ("pong", 42)
        assert venue.pings == 1
        await ws.send(json.dumps({"method": "nope", "req_id": 5}))
        while (msg := await recv(ws)) == {"channel": "heartbeat"}:
            pass
        assert (msg["success"], msg["error"], msg["req_id"]) == (False, "Method not found", 5)
