"""The Coinbase Exchange fake: id-less subscriptions ack, per-product sequence, channels."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from _wire import T, recv
from websockets.asyncio.client import connect

from jetsocket.testing import CoinbaseVenue


def sub(channels: list[Any], products: list[str] | None = None, kind: str = "subscribe") -> str:
    body: dict[str, Any] = {"type": kind, "channels": channels}
    if products is not None:
        body["product_ids"] = products
    return json.dumps(body)


async def test_every_subscriptions_message_lists_all_current_channels() -> None:
    async with CoinbaseVenue(heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        await ws.send(sub(["matches"], ["BTC-USD"]))
        first = await recv(ws)
        assert first == {
            "type": "subscriptions",
            "channels": [{"name": "matches", "product_ids": ["BTC-USD"]}],
        }
        await ws.send(sub(["matches", {"name": "ticker", "product_ids": ["ETH-USD"]}], ["ETH-USD"]))
        second = await recv(ws)
        assert "id" not in second
        assert second["channels"] == [
            {"name": "matches", "product_ids": ["BTC-USD", "ETH-USD"]},
            {"name": "ticker", "product_ids": ["ETH-USD"]},
        ]
        await ws.send(sub(["ticker"], kind="unsubscribe"))
        third = await recv(ws)
        assert third["channels"] == [{"name": "matches", "product_ids": ["BTC-USD", "ETH-USD"]}]


async def test_an_invalid_product_refuses_the_whole_request() -> None:
    async with CoinbaseVenue(heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        await ws.send(sub(["matches"], ["BTC-USD", "XYZ-USD"]))
        assert await recv(ws) == {
            "type": "error",
            "message": "Failed to subscribe",
            "reason": "XYZ-USD is not a valid product",
        }
        await ws.send(sub(["heartbeat"]))
        assert "at least one product" in (await recv(ws))["reason"]
        venue.reject("ETH-USD", reason="ETH-USD is delisted")
        await ws.send(sub(["matches"], ["ETH-USD"]))
        assert (await recv(ws))["reason"] == "ETH-USD is delisted"
        assert venue.subscriptions() == [[]]


async def test_matches_and_ticker_carry_the_product_sequence() -> None:
    async with CoinbaseVenue(heartbeat_interval=60) as venue, connect(venue.uri) as ws:
        await venue.publish("BTC-USD", 2)  # before anyone subscribed
        await ws.send(sub(["matches", "ticker"], ["BTC-USD", "ETH-USD"]))
        assert (await recv(ws))["type"] == "subscriptions"
        last_match, ticker = await recv(ws), await recv(ws)
        assert (last_match["type"], last_match["sequence"]) == ("last_match", 2)
        assert (ticker["type"], ticker["sequence"], ticker["product_id"]) == (
            "ticker",
            2,
            "BTC-USD",
        )
        venue.skip("BTC-USD")
        await venue.publish("BTC-USD")
        await venue.publish("ETH-USD")
        match, tick = await recv(ws), await recv(ws)
        assert (match["type"], match["sequence"], match["trade_id"]) == ("match", 4, 4)
        assert tick["sequence"] == 4
        eth = await recv(ws)
        assert (eth["type"], eth["product_id"], eth["sequence"]) == ("match", "ETH-USD", 1)
        assert set(match) >= {"maker_order_id", "taker_order_id", "time", "size", "price", "side"}
    # last_match and the opening ticker both replay trade 2; live: 4 once (match + ticker).
    assert venue.sent_seqs("BTC-USD", replay=True) == [2, 2]
    assert venue.sent_seqs("BTC-USD", replay=False) == [4]


async def test_level2_snapshot_then_updates_and_heartbeats() -> None:
    async with CoinbaseVenue(heartbeat_interval=0.05) as venue, connect(venue.uri) as ws:
        await ws.send(sub(["level2_batch", "heartbeat"], ["BTC-USD"]))
        assert (await recv(ws))["type"] == "subscriptions"
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot"
        assert len(snapshot["bids"]) == len(snapshot["asks"])
        await venue.publish("BTC-USD")
        while (msg := await recv(ws))["type"] == "heartbeat":
            pass
        assert msg["type"] == "l2update"
        assert msg["changes"][0][0] in ("buy", "sell")
        while (msg := await recv(ws))["type"] != "heartbeat":
            pass
        assert (msg["product_id"], msg["sequence"], msg["last_trade_id"]) == ("BTC-USD", 1, 1)


async def test_resubscribe_after_a_kill_sends_last_match_again() -> None:
    async with CoinbaseVenue(heartbeat_interval=60) as venue:
        async with connect(venue.uri) as ws:
            await ws.send(sub(["matches"], ["BTC-USD"]))
            await recv(ws)
            await venue.publish("BTC-USD", 2)
            assert [(await recv(ws))["sequence"] for _ in range(2)] == [1, 2]
            await venue.kill_all()
        await venue.publish("BTC-USD")  # sequence 3, missed
        async with connect(venue.uri) as ws:
            await ws.send(sub(["matches"], ["BTC-USD"]))
            await recv(ws)
            last = await recv(ws)
            assert (last["type"], last["sequence"]) == ("last_match", 3)
    assert venue.sent_seqs("BTC-USD") == [1, 2, 3]
    assert venue.sent_seqs("BTC-USD", replay=True) == [3]


async def test_a_connection_that_never_subscribes_is_closed() -> None:
    async with CoinbaseVenue(subscribe_timeout=0.05) as venue, connect(venue.uri) as ws:
        await asyncio.wait_for(ws.wait_closed(), T)
        assert ws.close_code == 1000
        await venue.wait_for(lambda: venue.connection_count == 0)
