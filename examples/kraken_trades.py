"""Kraken v2 trades: acks per symbol, batched trades as ranges, snapshot dedup, req_id pings.

The real venue: ``wss://ws.kraken.com/v2``. A subscribe request may carry several symbols;
Kraken answers it once per symbol, each answer with the request's ``req_id``::

    {"method": "subscribe", "req_id": 7, "success": true,
     "result": {"channel": "trade", "symbol": "BTC/USD", "snapshot": true}}

Trades come one or two per message (``"data": [trade, trade]``), so the subscription's
sequence is the ``(first, last)`` range of their ``trade_id``s: no false gaps. Every
(re)subscribe sends a snapshot of the recent trades: after a reconnect most are trades the
stream already delivered, and ``dedup`` drops them (``trim`` keeps the new ones of a
message that overlaps). The application ping ``{"method": "ping", "req_id": n}`` needs a
new ``req_id`` each time: ``HeartbeatConfig.payload`` is a callable.

This program runs offline against ``jetsocket.testing``'s fake Kraken server::

    python examples/kraken_trades.py
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any, Literal

import msgspec

import jetsocket
from jetsocket.schema import Ack, Client, Message, Stream, Subscription, read_id_ack
from jetsocket.testing import KrakenVenue


class Trade(msgspec.Struct):
    symbol: str
    side: Literal["buy", "sell"]
    price: Decimal
    qty: Decimal
    trade_id: int


class Trades(Message, tag="trade", tag_field="channel"):
    """``{"channel": "trade", "type": "update" | "snapshot", "data": [...]}``."""

    type: str
    data: list[Trade]


class Heartbeat(Message, tag="heartbeat", tag_field="channel"):
    pass


class Status(Message, tag="status", tag_field="channel"):
    data: list[dict[str, Any]]


class KrakenTrades(Subscription[Trades]):
    ack = "id"
    ack_field = "req_id"
    dedup = True
    symbol: str

    @property
    def topic(self) -> str:
        return self.symbol

    def subscribe_message(self, request_id: int) -> object:
        params = {"channel": "trade", "symbol": [self.symbol], "snapshot": True}
        return {"method": "subscribe", "params": params, "req_id": request_id}

    def read_ack(self, msg: Any) -> Ack | None:
        ack = read_id_ack(msg, "req_id")  # success / error, matched by req_id
        if ack is None or msg.get("method") != "subscribe":
            return None
        # One answer per symbol: say which subscription of the request it answers.
        symbol = (msg.get("result") or {}).get("symbol") or msg.get("symbol")
        return Ack(ack.ok, ack.reason, request_id=ack.request_id, topics=(symbol,))

    def matches(self, msg: Trades) -> bool:
        return bool(msg.data) and msg.data[0].symbol == self.symbol

    def sequence(self, msg: Trades) -> tuple[int, int]:
        return msg.data[0].trade_id, msg.data[-1].trade_id

    def trim(self, msg: Trades, seen_through: int) -> Trades | None:
        fresh = [t for t in msg.data if t.trade_id > seen_through]
        return msgspec.structs.replace(msg, data=fresh) if fresh else None


ping_ids = itertools.count(1)


def ping() -> object:
    return {"method": "ping", "req_id": next(ping_ids)}


def is_pong(msg: object) -> bool:
    return isinstance(msg, dict) and msg.get("method") == "pong"


class Kraken(Client[Trades | Heartbeat | Status]):
    uri = "wss://ws.kraken.com/v2"
    heartbeat = jetsocket.HeartbeatConfig(
        interval=20.0, payload=ping, use_ws_ping=False, use_application_ping=True,
        pong_matcher=is_pong,
    )  # fmt: skip
    max_topics_per_message = 20

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        symbols = [s.topic for s in subscriptions]
        params = {"channel": "trade", "symbol": symbols, "snapshot": True}
        return {"method": "subscribe", "params": params, "req_id": request_id}


class OfflineKraken(Kraken):
    heartbeat = jetsocket.HeartbeatConfig(
        interval=0.2, timeout=0.2, payload=ping, use_ws_ping=False,
        use_application_ping=True, pong_matcher=is_pong,
    )  # fmt: skip
    backoff = jetsocket.BackoffConfig(base=0.05, cap=0.2)


async def read_ids(stream: Stream[Trades], until: int) -> list[int]:
    """Trade ids of ``stream`` until ``until`` was delivered."""
    ids: list[int] = []
    async with asyncio.timeout(5):
        while not ids or ids[-1] < until:
            ids.extend(t.trade_id for t in (await stream.recv()).data)
    return ids


async def main() -> None:
    print(f"real venue: {Kraken.uri}")
    symbols = ("BTC/USD", "ETH/USD")
    async with (
        KrakenVenue(symbols, recent=5, heartbeat_interval=0.5, seed=3) as venue,
        OfflineKraken(uri=venue.uri) as kraken,
    ):
        pongs: list[jetsocket.PongEvent] = []
        two_pongs = asyncio.Event()

        @kraken.on("pong")
        def on_pong(event: jetsocket.PongEvent) -> None:
            pongs.append(event)
            if len(pongs) >= 2:
                two_pongs.set()

        gaps: list[jetsocket.GapEvent] = []
        kraken.on("gap")(gaps.append)
        resubscribed = asyncio.Event()
        kraken.on("resubscribed")(lambda event: resubscribed.set())

        # Subscribed together: one request, answered symbol by symbol.
        btc, eth = await asyncio.gather(
            *(kraken.subscribe(KrakenTrades(symbol=s)) for s in symbols)
        )
        try:
            await kraken.subscribe(KrakenTrades(symbol="XYZ/USD"))
        except jetsocket.SubscriptionError as exc:
            print(f"refused as expected: {exc.reason}")

        for symbol in symbols:
            await venue.publish(symbol, 6)
        print(f"BTC/USD trade ids {await read_ids(btc, 6)}")
        print(f"ETH/USD trade ids {await read_ids(eth, 6)}")

        await venue.kill_all()  # every connection dies mid-stream
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(resubscribed.wait(), 5)
        elapsed = asyncio.get_running_loop().time() - started
        print(f"resubscribed after {elapsed:.2f}s; the snapshot replay was dropped")

        venue.skip("ETH/USD", 2)  # two trades the venue never sends
        for symbol in symbols:
            await venue.publish(symbol, 3)
        print(f"BTC/USD after the reconnect {await read_ids(btc, 9)}")
        print(f"ETH/USD after the reconnect {await read_ids(eth, 11)}")
        for gap in gaps:
            print(f"gap on {gap.subscription}: {gap.first_missing}..{gap.last_missing}")
        print(f"duplicates dropped: BTC {btc.duplicates}, ETH {eth.duplicates}")
        await asyncio.wait_for(two_pongs.wait(), 5)
        latency = pongs[-1].latency_ms or 0.0
        print(f"{len(pongs)} pongs to req_id pings, last round trip {latency:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
