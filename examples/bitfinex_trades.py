"""Bitfinex v2 trades: the ack assigns a channel id that the data carries instead of the symbol.

The real venue: ``wss://api-pub.bitfinex.com/ws/2``. A subscribe is answered with::

    {"event": "subscribed", "channel": "trades", "chanId": 17, "symbol": "tBTCUSD", ...}

and the trades that follow are arrays carrying that ``chanId``, not the symbol::

    [17, [[ID, MTS, AMOUNT, PRICE], ...]]     (a snapshot of recent trades, newest first)
    [17, "te", [ID, MTS, AMOUNT, PRICE]]      (one trade)
    [17, "hb"]                                (a heartbeat)

The chanId changes on every connection. The subscription returns it from ``read_ack`` as
``Ack.channel`` and says where a message carries it (``channel_of``): the client routes by
the id of the latest ack. The ack is a typed message here (declared in the client's union):
``read_ack`` receives it typed. Each (re)subscribe sends the snapshot again: ``dedup`` with
the trade ``ID`` as sequence drops what was delivered already.

This program runs offline against ``jetsocket.testing``'s fake Bitfinex server::

    python examples/bitfinex_trades.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

import jetsocket
from jetsocket.schema import Ack, Client, Message, Stream, Subscription, field
from jetsocket.testing import BitfinexVenue


class Subscribed(Message, tag="subscribed", tag_field="event"):
    channel: str
    chan_id: int = field(name="chanId")
    symbol: str


def trade_ids(msg: list[Any]) -> list[int]:
    """The trade IDs of a channel message, oldest first (none for a heartbeat)."""
    if len(msg) >= 3 and msg[1] == "te":
        return [int(msg[2][0])]
    if len(msg) >= 2 and isinstance(msg[1], list):
        return sorted(int(row[0]) for row in msg[1])
    return []


class Trades(Subscription[list[Any]]):
    ack = "topic"
    dedup = True
    symbol: str

    @property
    def topic(self) -> str:
        return f"trades:{self.symbol}"

    def subscribe_message(self, request_id: int) -> object:
        return {"event": "subscribe", "channel": "trades", "symbol": self.symbol}

    def read_ack(self, msg: Any) -> Ack | None:
        if isinstance(msg, Subscribed):
            return Ack(ok=True, topics=(f"{msg.channel}:{msg.symbol}",), channel=msg.chan_id)
        if isinstance(msg, dict) and msg.get("event") == "error" and "symbol" in msg:
            topic = f"{msg.get('channel')}:{msg['symbol']}"
            return Ack(ok=False, reason=f"{msg.get('code')}: {msg.get('msg')}", topics=(topic,))
        return None

    def channel_of(self, msg: list[Any]) -> Hashable | None:
        return msg[0] if msg and isinstance(msg[0], int) else None

    def matches(self, msg: list[Any]) -> bool:
        return bool(trade_ids(msg))  # heartbeats stay out of the stream

    def sequence(self, msg: list[Any]) -> tuple[int, int]:
        ids = trade_ids(msg)
        return ids[0], ids[-1]

    def trim(self, msg: list[Any], seen_through: int) -> list[Any] | None:
        rows = [row for row in msg[1] if int(row[0]) > seen_through]
        return [msg[0], rows] if rows else None


class Bitfinex(Client[Subscribed | list[Any]]):
    uri = "wss://api-pub.bitfinex.com/ws/2"
    heartbeat = 20.0
    unknown_messages = "ignore"  # info events, heartbeats


class OfflineBitfinex(Bitfinex):
    backoff = jetsocket.BackoffConfig(base=0.05, cap=0.2)


async def read_ids(stream: Stream[list[Any]], until: int) -> list[int]:
    ids: list[int] = []
    async with asyncio.timeout(5):
        while not ids or ids[-1] < until:
            ids.extend(trade_ids(await stream.recv()))
    return ids


async def main() -> None:
    print(f"real venue: {Bitfinex.uri}")
    symbols = ("tBTCUSD", "tETHUSD")
    async with (
        BitfinexVenue(symbols, recent=4, heartbeat_interval=0.5, seed=6) as venue,
        OfflineBitfinex(uri=venue.uri) as bitfinex,
    ):
        resubscribed = asyncio.Event()
        bitfinex.on("resubscribed")(lambda event: resubscribed.set())
        btc, eth = await asyncio.gather(*(bitfinex.subscribe(Trades(symbol=s)) for s in symbols))
        print(f"channel ids: BTC {btc.channel}, ETH {eth.channel}")
        try:
            await bitfinex.subscribe(Trades(symbol="tDOGEUSD"))
        except jetsocket.SubscriptionError as exc:
            print(f"refused as expected: {exc.reason}")

        for symbol in symbols:
            await venue.publish(symbol, 5)
        print(f"BTC {await read_ids(btc, 5)}, ETH {await read_ids(eth, 5)}")

        await venue.kill_all()
        await asyncio.wait_for(resubscribed.wait(), 5)
        print(f"new channel ids after the reconnect: BTC {btc.channel}, ETH {eth.channel}")
        for symbol in symbols:
            await venue.publish(symbol, 2)
        print(f"after the reconnect: BTC {await read_ids(btc, 7)}, ETH {await read_ids(eth, 7)}")
        print(f"snapshot replays dropped: BTC {btc.duplicates}, ETH {eth.duplicates}")


if __name__ == "__main__":
    asyncio.run(main())
