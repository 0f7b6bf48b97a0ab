"""Bybit-style client: application-level ping, acks with a success flag, partial failures.

The real venue: ``wss://stream.bybit.com/v5/public/spot`` (v5 public spot stream). Bybit
asks clients to send ``{"op": "ping"}`` every 20 seconds (WebSocket ping frames do not
count) and drops silent connections; it acknowledges ``{"op": "subscribe", "args":
[topics], "req_id": "..."}`` with ``{"success": true|false, "ret_msg": ..., "op":
"subscribe", "req_id": ...}`` and accepts up to 10 topics per request.

``Bybit()`` connects to the real venue. This program runs offline against
``jetsocket.testing``'s fake Bybit server, which closes connections that stay silent for
1 s: the application pings keep it open. Then the venue "delists" ETHUSDT and resets the
connection: the batched re-subscription is partially refused, the BTC stream continues and
the refusal is reported as an ``error`` event::

    python examples/bybit_client.py
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any, Literal

import jetsocket
from jetsocket.schema import Ack, Client, Message, Subscription, Unmatched, field
from jetsocket.testing import BybitVenue

# -- messages ----------------------------------------------------------------------------


class PublicTrade(Message):
    time_ms: int = field(name="T")
    symbol: str = field(name="s")
    side: Literal["Buy", "Sell"] = field(name="S")
    size: Decimal = field(name="v")
    price: Decimal = field(name="p")
    trade_id: str = field(name="i")


class TradePush(Message):
    """``{"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ..., "data": [...]}``."""

    topic: str
    ts: int
    data: list[PublicTrade]


# -- subscriptions -----------------------------------------------------------------------------


def bybit_ack(msg: Any, request_id: int, op: str = "subscribe") -> Ack | None:
    """Read Bybit's ack; ``data.failTopics`` lists the topics refused in a batch."""
    if not isinstance(msg, dict) or msg.get("op") != op or msg.get("req_id") != str(request_id):
        return None
    data = msg.get("data") or {}
    failed = tuple(data.get("failTopics") or ())
    accepted = bool(msg.get("success")) or bool(data.get("successTopics"))
    return Ack(ok=accepted, reason=str(msg.get("ret_msg", "")), failed_topics=failed)


class PublicTrades(Subscription[TradePush]):
    symbol: str

    @property
    def topic(self) -> str:
        return f"publicTrade.{self.symbol}"

    def subscribe_message(self, request_id: int) -> object:
        return {"op": "subscribe", "args": [self.topic], "req_id": str(request_id)}

    def unsubscribe_message(self, request_id: int) -> object:
        return {"op": "unsubscribe", "args": [self.topic], "req_id": str(request_id)}

    def matches(self, msg: TradePush) -> bool:
        return msg.topic == self.topic

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        return bybit_ack(msg, request_id)


# -- the venue ---------------------------------------------------------------------------------


def is_pong(msg: object) -> bool:
    """Bybit's pong: ``{"op": "pong", "ret_msg": "pong", ...}``.

    It matches none of the client's message types, so the client hands it over as
    :class:`Unmatched` (its decoded JSON in ``.data``).
    """
    data = msg.data if isinstance(msg, Unmatched) else msg
    return isinstance(data, dict) and data.get("op") == "pong"


def bybit_heartbeat(interval: float) -> jetsocket.HeartbeatConfig:
    return jetsocket.HeartbeatConfig(
        interval=interval,
        timeout=interval,
        payload={"op": "ping"},
        use_ws_ping=False,
        use_application_ping=True,
        pong_matcher=is_pong,
    )


class Bybit(Client[TradePush]):
    uri = "wss://stream.bybit.com/v5/public/spot"
    heartbeat = bybit_heartbeat(20.0)
    max_topics_per_message = 10  # Bybit spot: at most 10 topics per subscribe request

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        topics = [s.topic for s in subscriptions]
        return {"op": "subscribe", "args": topics, "req_id": str(request_id)}


class OfflineBybit(Bybit):
    """The same client with a fast heartbeat and reconnect, for a short offline run."""

    heartbeat = bybit_heartbeat(0.2)
    backoff = jetsocket.BackoffConfig(base=0.05, cap=0.2)


async def main() -> None:
    async with (
        BybitVenue(symbols=("BTCUSDT", "ETHUSDT"), rate=20, seed=3, idle_timeout=1.0) as venue,
        OfflineBybit(uri=venue.uri) as bybit,
    ):
        print(f"connected to {venue.uri} (real venue: {Bybit.uri})")
        resubscribed = asyncio.Event()

        @bybit.on("error")
        def on_error(event: jetsocket.ErrorEvent) -> None:
            print(f"error event ({event.context}): {event.error}")

        @bybit.on("resubscribed")
        def on_resubscribed(event: jetsocket.ResubscribedEvent) -> None:
            refused = [s.topic for s in event.failed]
            print(f"re-subscribed {event.count} subscription(s), refused: {refused}")
            resubscribed.set()

        btc = await bybit.subscribe(PublicTrades(symbol="BTCUSDT"))
        eth = await bybit.subscribe(PublicTrades(symbol="ETHUSDT"))
        try:
            await bybit.subscribe(PublicTrades(symbol="DOGEUSDT"))
        except jetsocket.SubscriptionError as exc:
            print(f"refused as expected: {exc.reason} (failed topics {list(exc.failed_topics)})")

        # Read for longer than the venue's 1 s idle limit: the pings keep the connection.
        async with asyncio.timeout(5):
            while venue.pings < 6:
                push = await btc.recv()
        trade = push.data[0]
        print(f"trade {trade.symbol} {trade.side} {trade.size} @ {trade.price}")
        push = await eth.recv(timeout=5)
        print(f"trade {push.data[0].symbol} @ {push.data[0].price}")
        latency = bybit.websocket.latency_ms
        print(
            f"heartbeat: {venue.pings} pings answered, {venue.connections_accepted} connection,"
            f" latency {'n/a' if latency is None else f'{latency:.2f} ms'}"
        )

        print("the venue delists ETHUSDT and resets the connection")
        venue.refuse.add("publicTrade.ETHUSDT")
        dropped_at = time.time_ns() // 1_000_000
        await venue.drop_all()
        async with asyncio.timeout(5):
            await resubscribed.wait()
            while push.ts <= dropped_at:  # skip what was buffered before the failure
                push = await btc.recv()
        print(f"BTC stream continues: {push.data[0].symbol} @ {push.data[0].price}")
        last = [m for m in venue.received if isinstance(m, dict) and m.get("op") == "subscribe"]
        print(f"last subscribe request: {last[-1]}")
        print(f"done: {btc.received} BTC pushes, {eth.received} ETH pushes")


if __name__ == "__main__":
    asyncio.run(main())
