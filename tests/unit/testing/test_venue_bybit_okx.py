"""The Bybit v5 and OKX v5 fakes: topic sequences, per-topic acks, rejections, reconnects."""

from __future__ import annotations

import json
import time

from _wire import recv
from websockets.asyncio.client import connect

from jetsocket.testing import BybitVenue, OkxVenue, okx_sign


async def test_bybit_trades_carry_a_topic_sequence_that_survives_reconnects() -> None:
    async with BybitVenue(rate=0) as venue:
        async with connect(venue.uri) as ws:
            topics = ["publicTrade.BTCUSDT", "tickers.BTCUSDT"]
            await ws.send(json.dumps({"op": "subscribe", "args": topics, "req_id": "1"}))
            ack = await recv(ws)
            assert (ack["success"], ack["req_id"], ack["op"]) == (True, "1", "subscribe")
            await venue.publish("publicTrade.BTCUSDT", 3)
            push = await recv(ws)
            assert push["topic"] == "publicTrade.BTCUSDT"
            assert push["type"] == "snapshot"
            assert [t["seq"] for t in push["data"]] == [1, 2, 3]  # one message, three trades
            assert [t["i"] for t in push["data"]] == ["1", "2", "3"]
            await venue.publish("tickers.BTCUSDT")
            assert (await recv(ws))["cs"] == 1
            await venue.kill_all()
        venue.skip("publicTrade.BTCUSDT")
        venue.reject("tickers.BTCUSDT")
        async with connect(venue.uri) as ws:
            topics = ["publicTrade.BTCUSDT", "tickers.BTCUSDT"]
            await ws.send(json.dumps({"op": "subscribe", "args": topics, "req_id": "2"}))
            ack = await recv(ws)
            assert ack["success"] is False
            assert ack["data"] == {
                "successTopics": ["publicTrade.BTCUSDT"],
                "failTopics": ["tickers.BTCUSDT"],
            }
            await venue.publish("publicTrade.BTCUSDT")
            assert [t["seq"] for t in (await recv(ws))["data"]] == [5]  # no replay; 4 skipped
            assert await venue.send_unknown() == 1
            assert (await recv(ws))["topic"] == "system.notice"


async def test_okx_acks_each_topic_of_a_batch_and_reject_names_the_arg() -> None:
    async with OkxVenue(rate=0) as venue, connect(venue.uri) as ws:
        ts = str(int(time.time()))
        login = {"apiKey": "demo-key", "passphrase": "demo-passphrase", "timestamp": ts}
        await ws.send(
            json.dumps({"op": "login", "args": [{**login, "sign": okx_sign("demo-secret", ts)}]})
        )
        assert (await recv(ws))["code"] == "0"
        venue.reject("tickers:ETH-USDT")
        args = [
            {"channel": "trades", "instId": "BTC-USDT"},
            {"channel": "tickers", "instId": "ETH-USDT"},
            {"channel": "trades", "instId": "ETH-USDT"},
        ]
        await ws.send(json.dumps({"op": "subscribe", "args": args, "id": "9"}))
        answers = [await recv(ws) for _ in range(3)]
        assert [a["event"] for a in answers] == ["subscribe", "error", "subscribe"]
        assert [a["arg"] for a in answers] == args
        assert {a["id"] for a in answers} == {"9"}
        assert answers[1]["code"] == "60018"
        await venue.publish("trades:BTC-USDT", 2)
        pushes = [await recv(ws) for _ in range(2)]
        assert [p["data"][0]["tradeId"] for p in pushes] == ["1", "2"]
        assert pushes[0]["arg"] == {"channel": "trades", "instId": "BTC-USDT"}
        assert sorted(venue.subscriptions()[0]) == ["trades:BTC-USDT", "trades:ETH-USDT"]
        assert "demo-secret" not in repr(venue)


async def test_okx_books_start_with_a_snapshot_and_chain_seq_ids() -> None:
    async with OkxVenue(rate=0) as venue, connect(venue.uri) as ws:
        ts = str(int(time.time()))
        login = {"apiKey": "demo-key", "passphrase": "demo-passphrase", "timestamp": ts}
        await ws.send(
            json.dumps({"op": "login", "args": [{**login, "sign": okx_sign("demo-secret", ts)}]})
        )
        await recv(ws)
        await venue.publish("books:BTC-USDT", 2)  # before the subscription
        arg = {"channel": "books", "instId": "BTC-USDT"}
        await ws.send(json.dumps({"op": "subscribe", "args": [arg]}))
        assert (await recv(ws))["event"] == "subscribe"
        snap = await recv(ws)
        assert snap["action"] == "snapshot"
        assert (snap["data"][0]["prevSeqId"], snap["data"][0]["seqId"]) == (-1, 2)
        await venue.publish("books:BTC-USDT")
        venue.skip("books:BTC-USDT")
        await venue.publish("books:BTC-USDT")
        up1, up2 = (await recv(ws))["data"][0], (await recv(ws))["data"][0]
        assert (up1["prevSeqId"], up1["seqId"]) == (2, 3)  # chained on the snapshot
        assert (up2["prevSeqId"], up2["seqId"]) == (4, 5)  # 4 never came: a gap
