"""The schema layer end to end: typed client, subscriptions, acks, streams, reconnect."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tests._binance import Kline, SeqTrades, Trade
from tests.conftest import sync_ws_server, ws_server
from websockets.asyncio.server import ServerConnection

import jetsocket
from jetsocket.schema import Client


class Venue:
    """A tiny Binance-like server: acks subscriptions, pushes trades per topic."""

    def __init__(self) -> None:
        self.connections = 0
        self.subscribe_requests: list[list[str]] = []
        self.refuse: set[str] = set()
        self.conns: list[ServerConnection] = []

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.conns.append(ws)
        topics: list[str] = []
        async for raw in ws:
            req = json.loads(raw)
            params = req["params"]
            if req["method"] == "UNSUBSCRIBE":
                await ws.send(json.dumps({"result": None, "id": req["id"]}))
            if req["method"] == "SUBSCRIBE":
                self.subscribe_requests.append(params)
                bad = [p for p in params if p in self.refuse]
                if bad:
                    await ws.send(json.dumps({"id": req["id"], "error": f"bad {bad}"}))
                    continue
                topics.extend(params)
                await ws.send(json.dumps({"result": None, "id": req["id"]}))
                for t in params:
                    sym = t.split("@")[0].upper()
                    for i in range(3):
                        await ws.send(json.dumps({"e": "trade", "s": sym, "p": 1.0 + i, "seq": i}))
                await ws.send(json.dumps({"e": "kline", "s": "BTC", "c": 9.5}))


class Binance(Client[Trade | Kline]):
    heartbeat = None
    backoff = jetsocket.BackoffConfig(base=0.01, cap=0.05, seed=1)


async def test_subscribe_stream_and_handlers() -> None:
    venue = Venue()
    async with ws_server(venue.handler) as uri, Binance(uri=uri) as bn:
        seen: list[Kline] = []

        @bn.on(Kline)
        def on_kline(k: Kline) -> None:
            seen.append(k)

        btc = await bn.subscribe(SeqTrades(symbol="btc"))
        eth = await bn.subscribe(SeqTrades(symbol="eth"))
        assert [(await btc.recv(timeout=5)).price for _ in range(3)] == [1.0, 2.0, 3.0]
        assert [(await eth.recv(timeout=5)).symbol for _ in range(3)] == ["ETH"] * 3
        # klines are claimed by no stream: they reach the client-level iterator
        k = await bn.recv(timeout=5)
        assert isinstance(k, Kline)
        assert seen
        assert seen[0].close == 9.5
        assert await bn.subscribe(SeqTrades(symbol="btc")) is btc  # idempotent


async def test_refused_subscription_raises() -> None:
    venue = Venue()
    venue.refuse.add("doge@trade")
    async with ws_server(venue.handler) as uri, Binance(uri=uri) as bn:
        with pytest.raises(jetsocket.SubscriptionError, match="bad"):
            await bn.subscribe(SeqTrades(symbol="doge"))
        assert bn.subscriptions == ()


async def test_resubscribe_after_reconnect_keeps_stream() -> None:
    venue = Venue()
    async with ws_server(venue.handler) as uri, Binance(uri=uri) as bn:
        resubscribed = asyncio.Event()
        bn.on("resubscribed")(lambda e: resubscribed.set())
        btc = await bn.subscribe(SeqTrades(symbol="btc"))
        for _ in range(3):
            await btc.recv(timeout=5)
        await venue.conns[-1].close(1012, "restart")
        async with asyncio.timeout(10):
            await resubscribed.wait()
        # the same stream object continues after the reconnect
        assert (await btc.recv(timeout=5)).seq == 0
        assert venue.connections == 2
        assert venue.subscribe_requests == [["btc@trade"], ["btc@trade"]]


async def test_unsubscribe_ends_stream() -> None:
    venue = Venue()
    async with ws_server(venue.handler) as uri, Binance(uri=uri) as bn:
        btc = await bn.subscribe(SeqTrades(symbol="btc"))
        await btc.unsubscribe()
        got = [t async for t in btc]
        assert len(got) <= 3
        assert bn.subscriptions == ()


def test_sync_client() -> None:
    def handler(ws: Any) -> None:
        for raw in ws:
            req = json.loads(raw)
            ws.send(json.dumps({"result": None, "id": req["id"]}))
            for i in range(5):
                ws.send(json.dumps({"e": "trade", "s": "BTC", "p": float(i), "seq": i}))

    with sync_ws_server(handler) as uri, Binance.sync(uri=uri) as bn:
        stream = bn.subscribe(SeqTrades(symbol="btc"))
        prices = [stream.recv(timeout=5).price for _ in range(5)]
        assert prices == [0.0, 1.0, 2.0, 3.0, 4.0]


class StaleTrades(SeqTrades):
    stale_after = 0.3


async def test_stale_subscription_is_resent() -> None:
    venue = Venue()  # sends three trades after each SUBSCRIBE, then nothing
    async with ws_server(venue.handler) as uri, Binance(uri=uri) as bn:
        stale = asyncio.Event()
        bn.on("error")(lambda e: stale.set() if e.context == "stale" else None)
        stream = await bn.subscribe(StaleTrades(symbol="btc"))
        seqs = [(await stream.recv(timeout=5)).seq for _ in range(6)]
        assert seqs == [0, 1, 2, 0, 1, 2]
        assert stale.is_set()
        assert venue.subscribe_requests[:2] == [["btc@trade"], ["btc@trade"]]
