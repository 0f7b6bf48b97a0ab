"""Venue protocols the schema layer must get right across reconnects (issue 10's reports).

Two small servers written here, after the venues' public documentation:

* Coinbase-Exchange style: a subscribe is answered by one ``subscriptions`` message listing
  *every* product now subscribed (no request id); ``match`` messages carry a per-product
  ``sequence``; each (re)subscribe first replays the product's last match.
* Kraken-v2 style: ``req_id`` acks with ``success``/``error`` (one per symbol of a batched
  request); ``trade`` messages carry one or more trades; every (re)subscribe sends a
  snapshot of the last trades; application ping/pong with ``req_id``.

Against the old schema layer, the reconnect tests waited ``ack_timeout`` after every
reconnect and reported a failed resubscribe (Coinbase), and reported false gaps or lost the
messages of batched trades (Kraken).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Hashable
from typing import Any

import msgspec
import pytest
from tests.conftest import ws_server
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

import jetsocket
from jetsocket.schema import Ack, Client, Message, Stream, Subscription, read_id_ack

FAST = jetsocket.BackoffConfig(base=0.01, cap=0.05, seed=7)


class Recorder:
    """Events of a client, with a way to wait for one."""

    def __init__(self, client: Client[Any]) -> None:
        self.errors: list[jetsocket.ErrorEvent] = []
        self.gaps: list[jetsocket.GapEvent] = []
        self.resubscribed: list[jetsocket.ResubscribedEvent] = []
        self.pongs: list[jetsocket.PongEvent] = []
        self.changed = asyncio.Event()
        client.on("error")(self._add(self.errors))
        client.on("gap")(self._add(self.gaps))
        client.on("resubscribed")(self._add(self.resubscribed))
        client.on("pong")(self._add(self.pongs))

    def _add(self, target: list[Any]) -> Any:
        def handler(event: Any) -> None:
            target.append(event)
            self.changed.set()

        return handler

    async def wait(self, condition: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def take(stream: Stream[Any], count: int, timeout: float = 5.0) -> list[Any]:
    async with asyncio.timeout(timeout):
        return [await stream.recv() for _ in range(count)]


# -- Coinbase Exchange style ---------------------------------------------------------------


class CoinbaseServer:
    """``subscriptions`` acks listing every product; per-product sequences; last match replay."""

    def __init__(self, burst: int = 5) -> None:
        self.burst = burst
        self.sequence: dict[str, int] = {}
        self.conns: list[ServerConnection] = []
        self.skip_once: set[str] = set()

    def match(self, product: str, sequence: int) -> str:
        return json.dumps(
            {"type": "match", "product_id": product, "sequence": sequence, "price": "1.5"}
        )

    async def handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        products: list[str] = []
        try:
            async for raw in ws:
                req = json.loads(raw)
                if req.get("type") != "subscribe":
                    continue
                new = [p for p in req["product_ids"] if p not in products]
                products.extend(new)
                channels = [{"name": "matches", "product_ids": list(products)}]
                await ws.send(json.dumps({"type": "subscriptions", "channels": channels}))
                for product in new:
                    last = self.sequence.get(product)
                    if last is not None:
                        await ws.send(self.match(product, last))  # the replayed last match
                    start = last or 0
                    if product in self.skip_once:
                        self.skip_once.discard(product)
                        start += 1  # one match lost by the venue
                    for seq in range(start + 1, start + 1 + self.burst):
                        await ws.send(self.match(product, seq))
                    self.sequence[product] = start + self.burst
        except ConnectionClosed:
            pass


class CbMatch(Message, tag="match", tag_field="type"):
    product_id: str
    sequence: int
    price: str


class LegacyMatches(Subscription[CbMatch]):
    """The natural per-request ``parse_ack``: any ``subscriptions`` message is the answer."""

    product: str

    def subscribe_message(self, request_id: int) -> object:
        return {"type": "subscribe", "product_ids": [self.product], "channels": ["matches"]}

    def matches(self, msg: CbMatch) -> bool:
        return msg.product_id == self.product

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        if isinstance(msg, dict) and msg.get("type") == "subscriptions":
            return Ack(ok=True)
        return None

    def sequence(self, msg: CbMatch) -> int:
        return msg.sequence


class Matches(Subscription[CbMatch]):
    """The declarative form: one ``subscriptions`` message confirms several subscriptions."""

    ack = "all"
    dedup = True  # the last match replayed on every (re)subscribe
    product: str

    @property
    def topic(self) -> str:
        return f"matches:{self.product}"

    def subscribe_message(self, request_id: int) -> object:
        return {"type": "subscribe", "product_ids": [self.product], "channels": ["matches"]}

    def matches(self, msg: CbMatch) -> bool:
        return msg.product_id == self.product

    def read_ack(self, msg: Any) -> Ack | None:
        if isinstance(msg, dict) and msg.get("type") == "subscriptions":
            topics = [f"{c['name']}:{p}" for c in msg["channels"] for p in c["product_ids"]]
            return Ack(ok=True, topics=tuple(topics))
        if isinstance(msg, dict) and msg.get("type") == "error":
            return Ack(ok=False, reason=str(msg.get("reason") or msg.get("message")))
        return None

    def sequence(self, msg: CbMatch) -> int:
        return msg.sequence


class Coinbase(Client[CbMatch]):
    heartbeat = None
    backoff = FAST
    # ack_timeout stays at its default (10 s): a resubscribe must never wait for it.


@pytest.mark.parametrize("kind", [LegacyMatches, Matches])
async def test_coinbase_id_less_acks_after_reconnect(kind: type[Subscription[CbMatch]]) -> None:
    venue = CoinbaseServer()
    async with ws_server(venue.handler) as uri, Coinbase(uri=uri) as cb:
        events = Recorder(cb)
        loop = asyncio.get_running_loop()
        btc = await cb.subscribe(kind(product="BTC-USD"))  # type: ignore[call-arg]
        eth = await cb.subscribe(kind(product="ETH-USD"))  # type: ignore[call-arg]
        first = await take(btc, 5) + await take(eth, 5)
        assert [m.sequence for m in first] == [1, 2, 3, 4, 5] * 2
        killed_at = loop.time()
        venue.conns[-1].transport.abort()  # a server kill mid-stream
        await events.wait(lambda: events.resubscribed)
        back_after = loop.time() - killed_at
        assert back_after < 1.0, f"resubscribed only after {back_after:.2f}s"
        (resubscribed,) = events.resubscribed
        assert (resubscribed.count, resubscribed.failed) == (2, ())
        assert [e for e in events.errors if e.context == "resubscribe"] == []
        if kind is Matches:
            # The replayed last match is dropped: nothing delivered twice.
            assert [m.sequence for m in await take(btc, 5)] == [6, 7, 8, 9, 10]
            assert btc.duplicates == 1
        else:
            assert [m.sequence for m in await take(btc, 6)] == [5, 6, 7, 8, 9, 10]
        assert cb.state is jetsocket.ConnectionState.CONNECTED


async def test_coinbase_gap_is_attributed_to_its_product() -> None:
    venue = CoinbaseServer()
    async with ws_server(venue.handler) as uri, Coinbase(uri=uri) as cb:
        events = Recorder(cb)
        btc = await cb.subscribe(Matches(product="BTC-USD"))
        eth = await cb.subscribe(Matches(product="ETH-USD"))
        await take(btc, 5)
        await take(eth, 5)
        venue.skip_once.add("ETH-USD")
        venue.conns[-1].transport.abort()
        assert [m.sequence for m in await take(eth, 5)] == [7, 8, 9, 10, 11]
        assert [m.sequence for m in await take(btc, 5)] == [6, 7, 8, 9, 10]
        (gap,) = events.gaps
        assert (gap.subscription, gap.first_missing, gap.last_missing) == (
            Matches(product="ETH-USD"),
            6,
            6,
        )
        assert (eth.gaps, btc.gaps) == (1, 0)  # at the consumers' positions


async def test_concurrent_subscribes_share_one_wait() -> None:
    venue = CoinbaseServer()
    async with ws_server(venue.handler) as uri, Coinbase(uri=uri) as cb:
        streams = await asyncio.wait_for(
            asyncio.gather(*(cb.subscribe(Matches(product=p)) for p in ("A", "B", "C"))), 2
        )
        assert [len(await take(s, 5)) for s in streams] == [5, 5, 5]


# -- Kraken v2 style ---------------------------------------------------------------------------


class KrakenServer:
    """req_id acks per symbol, batched trades, snapshot on every subscribe, app ping."""

    def __init__(self) -> None:
        self.trade_id: dict[str, int] = {}
        self.conns: list[ServerConnection] = []
        self.pings: list[int] = []
        self.skip_once: set[str] = set()
        self.away: dict[str, int] = {}  # trades made while the client is disconnected
        self.requests: list[dict[str, Any]] = []

    def trades(self, symbol: str, ids: list[int], kind: str) -> str:
        data = [{"symbol": symbol, "price": 100.0, "qty": 0.5, "trade_id": i} for i in ids]
        return json.dumps({"channel": "trade", "type": kind, "data": data})

    def advance(self, symbol: str, count: int) -> list[int]:
        start = self.trade_id.get(symbol, 0)
        ids = list(range(start + 1, start + 1 + count))
        self.trade_id[symbol] = start + count
        return ids

    async def handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        try:
            async for raw in ws:
                req = json.loads(raw)
                self.requests.append(req)
                method, req_id = req.get("method"), req.get("req_id")
                if method == "ping":
                    self.pings.append(req_id)
                    await ws.send(json.dumps({"method": "pong", "req_id": req_id}))
                    continue
                if method != "subscribe":
                    continue
                await ws.send(json.dumps({"channel": "heartbeat"}))
                for symbol in req["params"]["symbol"]:
                    await self.subscribed(ws, req_id, symbol)
        except ConnectionClosed:
            pass

    async def subscribed(self, ws: ServerConnection, req_id: int, symbol: str) -> None:
        if symbol == "XYZ/USD":
            error = {"method": "subscribe", "req_id": req_id, "success": False}
            error.update(error="Currency pair not supported XYZ/USD", symbol=symbol)
            await ws.send(json.dumps(error))
            return
        result = {"channel": "trade", "symbol": symbol, "snapshot": True}
        await ws.send(
            json.dumps({"method": "subscribe", "req_id": req_id, "success": True, "result": result})
        )
        # Trades that happened while the client was away, then the snapshot of the last 5.
        if symbol in self.trade_id:
            self.advance(symbol, self.away.get(symbol, 0))
        last = self.trade_id.get(symbol, 0)
        snapshot = list(range(max(1, last - 4), last + 1))
        if snapshot:
            await ws.send(self.trades(symbol, snapshot, "snapshot"))
        if symbol in self.skip_once:
            self.skip_once.discard(symbol)
            self.advance(symbol, 1)  # lost by the venue
        for size in (1, 2, 2, 1, 2):  # one or two trades per message
            await ws.send(self.trades(symbol, self.advance(symbol, size), "update"))


class KTrade(msgspec.Struct):
    symbol: str
    price: float
    qty: float
    trade_id: int


class KTrades(Message, tag="trade", tag_field="channel"):
    type: str
    data: list[KTrade]


class KHeartbeat(Message, tag="heartbeat", tag_field="channel"):
    pass


class KrakenTrades(Subscription[KTrades]):
    ack = "id"
    ack_field = "req_id"
    dedup = True  # the snapshot replayed on every (re)subscribe
    symbol: str

    @property
    def topic(self) -> str:
        return f"trade:{self.symbol}"

    def subscribe_message(self, request_id: int) -> object:
        params = {"channel": "trade", "symbol": [self.symbol], "snapshot": True}
        return {"method": "subscribe", "params": params, "req_id": request_id}

    def read_ack(self, msg: Any) -> Ack | None:
        ack = read_id_ack(msg, "req_id")
        if ack is None or msg.get("method") != "subscribe":
            return None
        symbol = (msg.get("result") or {}).get("symbol") or msg.get("symbol")
        topics = (f"trade:{symbol}",) if symbol else ()
        return Ack(ack.ok, ack.reason, request_id=ack.request_id, topics=topics)

    def matches(self, msg: KTrades) -> bool:
        return msg.data[0].symbol == self.symbol

    def sequence(self, msg: KTrades) -> tuple[int, int]:
        return msg.data[0].trade_id, msg.data[-1].trade_id

    def trim(self, msg: KTrades, seen_through: int) -> KTrades | None:
        fresh = [t for t in msg.data if t.trade_id > seen_through]
        return msgspec.structs.replace(msg, data=fresh) if fresh else None


ping_ids = itertools.count(1)


def kraken_ping() -> object:
    return {"method": "ping", "req_id": next(ping_ids)}


def is_pong(msg: Any) -> bool:
    return isinstance(msg, dict) and msg.get("method") == "pong"


class Kraken(Client[KTrades | KHeartbeat]):
    heartbeat = jetsocket.HeartbeatConfig(
        interval=0.05,
        timeout=0.5,  # a ping every max(interval, timeout)
        payload=kraken_ping,
        use_ws_ping=False,
        use_application_ping=True,
        pong_matcher=is_pong,
    )
    backoff = FAST
    max_topics_per_message = 10

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        symbols = [s.symbol for s in subscriptions if isinstance(s, KrakenTrades)]
        params = {"channel": "trade", "symbol": symbols, "snapshot": True}
        return {"method": "subscribe", "params": params, "req_id": request_id}


def trade_ids(messages: list[KTrades]) -> list[int]:
    return [t.trade_id for m in messages for t in m.data]


async def collect(stream: Stream[KTrades], count: int, timeout: float = 5.0) -> list[int]:
    ids: list[int] = []
    async with asyncio.timeout(timeout):
        while len(ids) < count:
            ids.extend(trade_ids([await stream.recv()]))
    return ids


async def test_kraken_batched_trades_reconnect_snapshot_and_gap() -> None:
    venue = KrakenServer()
    async with ws_server(venue.handler) as uri, Kraken(uri=uri) as kr:
        events = Recorder(kr)
        loop = asyncio.get_running_loop()
        # Subscribed together: one batched request, as the resubscribe below.
        btc, eth = await asyncio.gather(
            kr.subscribe(KrakenTrades(symbol="BTC/USD")),
            kr.subscribe(KrakenTrades(symbol="ETH/USD")),
        )
        first = [r for r in venue.requests if r.get("method") == "subscribe"]
        assert [sorted(r["params"]["symbol"]) for r in first] == [["BTC/USD", "ETH/USD"]]
        with pytest.raises(jetsocket.SubscriptionError, match="not supported"):
            await kr.subscribe(KrakenTrades(symbol="XYZ/USD"))
        assert await collect(btc, 8) == list(range(1, 9))
        assert await collect(eth, 8) == list(range(1, 9))
        assert events.gaps == []  # 1-2 trades per message: ranges, no false gaps

        venue.skip_once.add("ETH/USD")
        venue.away["BTC/USD"] = 3
        killed_at = loop.time()
        venue.conns[-1].transport.abort()
        await events.wait(lambda: events.resubscribed)
        assert loop.time() - killed_at < 1.0
        assert events.resubscribed[0].failed == ()
        # One batched resubscribe request carried both symbols.
        resub = venue.requests[-1]
        assert resub["method"] == "subscribe"
        assert sorted(resub["params"]["symbol"]) == ["BTC/USD", "ETH/USD"]

        # BTC: the 3 trades made while away come from the snapshot, its overlap is trimmed.
        assert await collect(btc, 11) == list(range(9, 20))
        # ETH: the snapshot is a pure replay (dropped), then one trade the venue lost: a
        # gap, attributed to ETH only.
        assert await collect(eth, 8) == list(range(10, 18))
        (gap,) = events.gaps
        assert (gap.subscription, gap.first_missing, gap.last_missing) == (
            KrakenTrades(symbol="ETH/USD"),
            9,
            9,
        )
        assert (btc.gaps, eth.gaps) == (0, 1)
        assert (btc.duplicates, eth.duplicates) == (0, 1)
        assert kr.stats().duplicates == 1

        # Application heartbeat: incrementing req_id pings, each pong an event with latency.
        await events.wait(lambda: len(events.pongs) >= 2)
        assert venue.pings == sorted(set(venue.pings))
        assert venue.pings[1] == venue.pings[0] + 1
        assert events.pongs[0].latency_ms is not None
        assert kr.stats().latency_ms is not None
        assert [e for e in events.errors if e.context == "decode"] == []


async def test_kraken_unknown_and_malformed_messages_reach_the_error_event() -> None:
    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            req = json.loads(raw)
            if req.get("method") != "subscribe":
                continue
            result = {"channel": "trade", "symbol": "BTC/USD"}
            ack = {"method": "subscribe", "req_id": req["req_id"], "success": True}
            await ws.send(json.dumps({**ack, "result": result}))
            good = {"symbol": "BTC/USD", "price": 1.0, "qty": 1.0}
            await ws.send(
                json.dumps(
                    {"channel": "trade", "type": "update", "data": [{**good, "trade_id": 1}]}
                )
            )
            await ws.send('{"channel": "trade", "type": "upd')  # malformed
            await ws.send(json.dumps({"channel": "book", "data": []}))  # unknown type
            await ws.send(json.dumps({"channel": "trade", "type": "update", "data": "x"}))
            await ws.send(json.dumps({"error": "EGeneral:Internal error", "method": "x"}))
            await ws.send(
                json.dumps(
                    {"channel": "trade", "type": "update", "data": [{**good, "trade_id": 2}]}
                )
            )

    async with ws_server(handler) as uri, Kraken(uri=uri, heartbeat=None) as kr:
        events = Recorder(kr)
        btc = await kr.subscribe(KrakenTrades(symbol="BTC/USD"))
        assert await collect(btc, 2) == [1, 2]  # the stream keeps flowing
        await events.wait(lambda: len(events.errors) >= 4)
        assert [e.context for e in events.errors] == ["decode"] * 4
        assert kr.stats().validation_errors == 4


async def test_subscription_key_and_channel_routing_types() -> None:
    # The declarations type-check as hooks of the right shape (see stubs/ for mypy).
    key: Hashable = KrakenTrades(symbol="A").sequence_key(KTrades(type="update", data=[]))
    assert key is None
