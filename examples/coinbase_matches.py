"""Coinbase Exchange matches: one id-less ack for all, per-product sequences, last_match dedup.

The real venue: ``wss://ws-feed.exchange.coinbase.com``. A subscribe carries no request
id; the answer is one ``subscriptions`` message listing *every* product the connection is
subscribed to now::

    {"type": "subscriptions",
     "channels": [{"name": "matches", "product_ids": ["BTC-USD", "ETH-USD"]}]}

so the subscriptions declare ``ack = "all"``: each such message confirms every waiting
subscription it lists. After a reconnect both subscriptions are re-sent at once and the
client is connected again as soon as the answers arrive. Every (re)subscribe also replays
the product's latest trade (``last_match``): ``dedup`` drops it by its ``sequence``. A jump
in ``sequence`` is a gap of that product's stream, seen at the consumer's position
(``stream.gap``).

This program runs offline against ``jetsocket.testing``'s fake Coinbase server::

    python examples/coinbase_matches.py
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Literal

import jetsocket
from jetsocket.schema import Ack, Client, Message, Stream, Subscription
from jetsocket.testing import CoinbaseVenue


class Match(Message, tag="match", tag_field="type"):
    product_id: str
    sequence: int
    price: Decimal
    size: Decimal
    side: Literal["buy", "sell"]


class LastMatch(Match, tag="last_match"):
    """The latest trade, replayed on every (re)subscribe."""


class Matches(Subscription[Match]):
    ack = "all"
    dedup = True
    product: str

    @property
    def topic(self) -> str:
        return self.product

    def subscribe_message(self, request_id: int) -> object:
        return {"type": "subscribe", "product_ids": [self.product], "channels": ["matches"]}

    def read_ack(self, msg: Any) -> Ack | None:
        if not isinstance(msg, dict):
            return None
        if msg.get("type") == "subscriptions":
            channels = msg.get("channels", [])
            listed = [p for c in channels if c["name"] == "matches" for p in c["product_ids"]]
            return Ack(ok=True, topics=tuple(listed))
        if msg.get("type") == "error":  # names no product: answers the oldest request
            return Ack(ok=False, reason=f"{msg.get('message')}: {msg.get('reason')}")
        return None

    def matches(self, msg: Match) -> bool:
        return msg.product_id == self.product

    def sequence(self, msg: Match) -> int:
        return msg.sequence


class Coinbase(Client[Match | LastMatch]):
    uri = "wss://ws-feed.exchange.coinbase.com"
    heartbeat = 20.0
    unknown_messages = "ignore"  # heartbeats and tickers of other subscriptions


class OfflineCoinbase(Coinbase):
    backoff = jetsocket.BackoffConfig(base=0.05, cap=0.2)


async def take(stream: Stream[Match], count: int) -> list[str]:
    """``count`` matches as "sequence" texts, "(gap)" marking where data is missing."""
    out: list[str] = []
    async with asyncio.timeout(5):
        for _ in range(count):
            match = await stream.recv()
            if stream.gap is not None:
                out.append(f"(gap of {stream.gap.size})")
            out.append(str(match.sequence))
    return out


async def main() -> None:
    print(f"real venue: {Coinbase.uri}")
    products = ("BTC-USD", "ETH-USD")
    async with (
        CoinbaseVenue(products, heartbeat_interval=0.5, seed=2) as venue,
        OfflineCoinbase(uri=venue.uri) as coinbase,
    ):
        resubscribed: asyncio.Queue[jetsocket.ResubscribedEvent] = asyncio.Queue()
        coinbase.on("resubscribed")(resubscribed.put_nowait)
        btc = await coinbase.subscribe(Matches(product="BTC-USD"))
        eth = await coinbase.subscribe(Matches(product="ETH-USD"))
        try:
            await coinbase.subscribe(Matches(product="DOGE-USD"))
        except jetsocket.SubscriptionError as exc:
            print(f"refused as expected: {exc.reason}")

        for product in products:
            await venue.publish(product, 4)
        print(f"BTC-USD {await take(btc, 4)}, ETH-USD {await take(eth, 4)}")

        await venue.kill_all()
        started = asyncio.get_running_loop().time()
        event = await asyncio.wait_for(resubscribed.get(), 5)
        elapsed = asyncio.get_running_loop().time() - started
        print(f"re-subscribed {event.count} after {elapsed:.2f}s, failed: {event.failed}")

        venue.skip("ETH-USD", 3)
        for product in products:
            await venue.publish(product, 2)
        print(f"after the reconnect: BTC-USD {await take(btc, 2)}, ETH-USD {await take(eth, 2)}")
        print(f"replayed last_match dropped: BTC {btc.duplicates}, ETH {eth.duplicates}")
        print(f"gaps at the consumer: BTC {btc.gaps}, ETH {eth.gaps}")


if __name__ == "__main__":
    asyncio.run(main())
