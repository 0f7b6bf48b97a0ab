"""Binance-style market data: typed trades and klines, acks, rate limit, sharding, reconnect.

The real venue: ``wss://stream.binance.com:9443/ws`` (raw streams, subscribed with
``{"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}``, acknowledged with
``{"result": null, "id": 1}``). Its documented limits are declared on the client class:
5 incoming messages per second per connection (``send_rate``), 1024 streams per connection
(``max_streams_per_connection``: jetsocket opens more connections beyond that) and a
24-hour connection lifetime (``max_connection_age``: rotated before Binance cuts it).

``Binance()`` connects to the real venue. This program runs offline: it starts jetsocket's
embedded exchange simulator (which speaks the same protocol) and caps it at 2 streams per
connection so that the sharding is visible with 3 subscriptions, then resets every
connection to show that the streams continue after the reconnect::

    python examples/binance_trades.py
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import jetsocket
from jetsocket.schema import Client, Message, Subscription, field
from jetsocket.testing import ExchangeSimulator

# -- messages: a tagged union on Binance's "e" field --------------------------------------


class Trade(Message, tag="trade", tag_field="e"):
    event_time: int = field(name="E")  # ms since the epoch
    symbol: str = field(name="s")
    trade_id: int = field(name="t")
    price: Decimal = field(name="p")
    qty: Decimal = field(name="q")
    buyer_is_maker: bool = field(name="m")


class Bar(Message):
    interval: str = field(name="i")
    open: Decimal = field(name="o")
    close: Decimal = field(name="c")
    closed: bool = field(name="x")


class Kline(Message, tag="kline", tag_field="e"):
    symbol: str = field(name="s")
    bar: Bar = field(name="k")


# -- subscriptions: what to send, which messages come back, how to read the ack --------------


class Trades(Subscription[Trade]):
    # Acked by request id: {"result": null, "id": N}, or {"error": {"code": 1, "msg": ...},
    # "id": N} when refused (the error's "msg" becomes SubscriptionError.reason).
    ack = "id"
    symbol: str

    @property
    def topic(self) -> str:
        return f"{self.symbol.lower()}@trade"

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [self.topic], "id": request_id}

    def unsubscribe_message(self, request_id: int) -> object:
        return {"method": "UNSUBSCRIBE", "params": [self.topic], "id": request_id}

    def matches(self, msg: Trade) -> bool:
        return msg.symbol == self.symbol.upper()


class Klines(Subscription[Kline]):
    ack = "id"
    symbol: str
    interval: str = "1m"

    @property
    def topic(self) -> str:
        return f"{self.symbol.lower()}@kline_{self.interval}"

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [self.topic], "id": request_id}

    def unsubscribe_message(self, request_id: int) -> object:
        return {"method": "UNSUBSCRIBE", "params": [self.topic], "id": request_id}

    def matches(self, msg: Kline) -> bool:
        return msg.symbol == self.symbol.upper() and msg.bar.interval == self.interval


# -- the venue -------------------------------------------------------------------------------


class Binance(Client[Trade | Kline]):
    uri = "wss://stream.binance.com:9443/ws"
    heartbeat = 30.0
    max_connection_age = 23.5 * 3600
    send_rate = 5.0  # Binance: 5 incoming messages per second per connection
    max_topics_per_message = 200  # re-subscribe after a reconnect in batches
    max_streams_per_connection = 1024
    unknown_messages = "ignore"  # Binance adds event types; unknown ones are skipped

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        topics = [s.topic for s in subscriptions]
        return {"method": "SUBSCRIBE", "params": topics, "id": request_id}


class OfflineBinance(Binance):
    """The same client with the simulator's small stream cap (to show the sharding)."""

    max_streams_per_connection = 2
    backoff = jetsocket.BackoffConfig(base=0.05, cap=0.2)


async def main() -> None:
    async with (
        ExchangeSimulator(
            symbols=("BTCUSDT", "ETHUSDT"), rate=20, seed=7, max_streams_per_connection=2
        ) as sim,
        OfflineBinance(uri=sim.uri) as bn,
    ):
        print(f"connected to {sim.uri} (real venue: {Binance.uri})")
        klines_seen: list[Kline] = []
        resubscribed: list[int] = []

        @bn.on(Kline)  # mypy checks that the handler takes a Kline
        def on_kline(kline: Kline) -> None:
            klines_seen.append(kline)

        @bn.on("subscribed")
        def on_subscribed(event: jetsocket.SubscribedEvent) -> None:
            print(f"subscribed {event.subscription.topic} (request id {event.request_id})")

        @bn.on("resubscribed")
        def on_resubscribed(event: jetsocket.ResubscribedEvent) -> None:
            resubscribed.append(event.count)
            print(f"re-subscribed {event.count} subscription(s) after the reconnect")

        btc = await bn.subscribe(Trades(symbol="btcusdt"))
        eth = await bn.subscribe(Trades(symbol="ethusdt"))
        candles = await bn.subscribe(Klines(symbol="btcusdt", interval="1s"))
        print(
            f"{len(bn.subscriptions)} subscriptions over {sim.connection_count} connections"
            f" (simulator: {sim.subscriptions()})"
        )

        for _ in range(3):
            trade = await btc.recv(timeout=5)
            print(f"trade {trade.symbol} #{trade.trade_id}: {trade.qty} @ {trade.price}")
        eth_trade = await eth.recv(timeout=5)
        print(f"trade {eth_trade.symbol} #{eth_trade.trade_id}: {eth_trade.price}")
        kline = await candles.recv(timeout=5)
        print(f"kline {kline.symbol} {kline.bar.interval}: close {kline.bar.close}")

        print("network failure: the simulator resets every connection")
        dropped_at = time.time_ns() // 1_000_000
        await sim.drop_all()
        # The same stream objects continue by themselves once every shard re-subscribed;
        # skip what was already buffered before the failure.
        async with asyncio.timeout(5):
            while sum(resubscribed) < len(bn.subscriptions) or trade.event_time <= dropped_at:
                trade = await btc.recv()
        # (the simulator restarts its market on every new connection: same ids again)
        print(f"after the reconnect: trade {trade.symbol} #{trade.trade_id} @ {trade.price}")
        print(
            f"done: {btc.received} BTC trades, {eth.received} ETH trades,"
            f" {len(klines_seen)} klines seen by the handler,"
            f" {bn.stats().reconnect_count} reconnect(s) of the primary connection"
        )


if __name__ == "__main__":
    asyncio.run(main())
