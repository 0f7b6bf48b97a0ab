"""The Deribit fake: JSON-RPC ids, subscription notifications, set_heartbeat/test_request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _wire import recv
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from jetsocket.testing import DeribitVenue

BTC = "trades.BTC-PERPETUAL.100ms"


def rpc(req_id: int, method: str, **params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})


async def test_subscribe_result_lists_only_the_accepted_channels() -> None:
    async with DeribitVenue() as venue, connect(venue.uri) as ws:
        venue.reject("trades.ETH-PERPETUAL.100ms")
        channels = [
            BTC,
            "trades.NOPE.100ms",
            "trades.BTC-PERPETUAL.raw",
            "trades.ETH-PERPETUAL.100ms",
        ]
        await ws.send(rpc(42, "public/subscribe", channels=channels))
        ack = await recv(ws)
        assert (ack["jsonrpc"], ack["id"], ack["result"]) == ("2.0", 42, [BTC])
        assert {"usIn", "usOut", "usDiff", "testnet"} <= set(ack)
        await ws.send(rpc(43, "public/subscribe", channels="x"))
        err = await recv(ws)
        assert (err["id"], err["error"]["code"]) == (43, -32602)
        await ws.send(rpc(44, "private/buy"))
        assert (await recv(ws))["error"] == {"code": -32601, "message": "Method not found"}
        await ws.send(rpc(45, "public/unsubscribe", channels=[BTC]))
        assert (await recv(ws))["result"] == [BTC]
        assert venue.subscriptions() == [[]]


async def test_notifications_carry_one_or_two_trades_with_trade_seq() -> None:
    async with DeribitVenue() as venue, connect(venue.uri) as ws:
        await ws.send(rpc(1, "public/subscribe", channels=[BTC]))
        await recv(ws)
        venue.skip("BTC-PERPETUAL")
        await venue.publish("BTC-PERPETUAL", 3)
        first, second = await recv(ws), await recv(ws)
        assert first["method"] == "subscription"
        assert "id" not in first
        assert first["params"]["channel"] == BTC
        seqs = [t["trade_seq"] for m in (first, second) for t in m["params"]["data"]]
        assert seqs == [2, 3, 4]  # 1 skipped: a gap
        trade = first["params"]["data"][0]
        assert trade["instrument_name"] == "BTC-PERPETUAL"
        assert trade["direction"] in ("buy", "sell")
        assert {"trade_id", "timestamp", "price", "amount", "tick_direction"} <= set(trade)


async def test_test_requests_must_be_answered_with_public_test() -> None:
    async with DeribitVenue(min_heartbeat_interval=0.05) as venue, connect(venue.uri) as ws:
        await ws.send(rpc(1, "public/set_heartbeat", interval=0.01))
        assert (await recv(ws))["error"]["code"] == -32602  # below the minimum
        await ws.send(rpc(2, "public/set_heartbeat", interval=0.05))
        assert (await recv(ws))["result"] == "ok"
        for i in range(2):
            beat = await recv(ws)
            assert beat == {
                "jsonrpc": "2.0",
                "method": "heartbeat",
                "params": {"type": "test_request"},
            }
            await ws.send(rpc(10 + i, "public/test"))
            assert (await recv(ws))["result"]["version"]
        assert venue.tests_answered == 2
        assert (await recv(ws))["params"]["type"] == "test_request"
        with pytest.raises(ConnectionClosed):  # not answered: dropped without a close frame
            await recv(ws)
        assert venue.heartbeat_kills == 1


async def test_disable_heartbeat_and_parse_error() -> None:
    async with DeribitVenue(min_heartbeat_interval=0.05) as venue, connect(venue.uri) as ws:
        await ws.send(rpc(1, "public/set_heartbeat", interval=0.05))
        await recv(ws)
        await ws.send(rpc(2, "public/disable_heartbeat"))
        while (msg := await recv(ws)).get("id") != 2:
            pass
        assert msg["result"] == "ok"
        await ws.send("{")
        assert (await recv(ws))["error"]["code"] == -32700
        assert venue.connection_count == 1


async def test_book_snapshot_then_changes_chained_by_prev_change_id() -> None:
    async with DeribitVenue() as venue, connect(venue.uri) as ws:
        await venue.publish("book.BTC-PERPETUAL", 3)
        await ws.send(rpc(1, "public/subscribe", channels=["book.BTC-PERPETUAL.100ms"]))
        assert (await recv(ws))["result"] == ["book.BTC-PERPETUAL.100ms"]
        snap = (await recv(ws))["params"]["data"]
        assert (snap["type"], snap["change_id"]) == ("snapshot", 3)
        assert snap["bids"][0][0] == "new"
        venue.skip("book.BTC-PERPETUAL")
        await venue.publish("book.BTC-PERPETUAL")
        change = (await recv(ws))["params"]["data"]
        assert (change["type"], change["prev_change_id"], change["change_id"]) == ("change", 4, 5)
