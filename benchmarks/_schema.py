"""Schema layer throughput: typed unions routed to Streams, and pydantic models.

Two comparisons, each against the same separate-process server as the feed section:

* **routing**: a ``jetsocket.schema.Client[Trade | Kline | BookTicker]`` on the *mixed*
  feed (``/mixed``: trade, kline, bookTicker in turn, tagged on ``"e"``), one
  ``Subscription`` per kind, the three ``Stream`` s consumed concurrently by three tasks;
  every message counts. The server starts pushing once it has received the three subscribe
  requests (``/mixed?wait=3``), so no message arrives before its Stream exists.
  Compared with plain ``jetsocket.WebSocket(message_type=Trade)`` on the all-trade feed
  (the fastest typed path), and, for information, with a plain ``WebSocket`` decoding the
  same union on the mixed feed without routing.
* **pydantic**: ``jetsocket.WebSocket(message_type=TradeModel)`` (a pydantic ``BaseModel``)
  versus the websockets client + ``TradeModel.model_validate_json`` per message, both on
  the all-trade feed.

This module imports jetsocket.schema and pydantic at import time: the CLI imports it only
when the section runs, and reports the section skipped when that fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pydantic

from benchmarks._common import expected_trade_id, expected_update_id, mixed_counts
from benchmarks._feed import FeedRun, RunClock, run_feed_client
from jetsocket import WebSocket
from jetsocket._engine._config import OverflowChoice
from jetsocket.schema import Client, Message, Stream, Subscription, field

__all__ = ["SCHEMA_CLIENTS", "SchemaClient", "run_schema_client"]

_TIMEOUT = 120.0


# -- messages -----------------------------------------------------------------------------
class Trade(Message, tag="trade", tag_field="e"):
    """A trade tick (same fields as ``benchmarks._common.Trade``, tag ``e`` = trade)."""

    event_time: int = field(name="E")
    symbol: str = field(name="s")
    trade_id: int = field(name="t")
    price: str = field(name="p")
    qty: str = field(name="q")
    buyer_order_id: int = field(name="b")
    seller_order_id: int = field(name="a")
    trade_time: int = field(name="T")
    buyer_is_maker: bool = field(name="m")
    best_match: bool = field(name="M")


class Kline(Message, tag="kline", tag_field="e"):
    """A flat 1-minute kline."""

    event_time: int = field(name="E")
    symbol: str = field(name="s")
    start: int = field(name="t")
    end: int = field(name="T")
    interval: str = field(name="i")
    open: str = field(name="o")
    close: str = field(name="c")
    high: str = field(name="h")
    low: str = field(name="l")
    volume: str = field(name="v")
    trades: int = field(name="n")
    closed: bool = field(name="x")


class BookTicker(Message, tag="bookTicker", tag_field="e"):
    """Best bid/ask update."""

    update_id: int = field(name="u")
    event_time: int = field(name="E")
    transaction_time: int = field(name="T")
    symbol: str = field(name="s")
    bid: str = field(name="b")
    bid_qty: str = field(name="B")
    ask: str = field(name="a")
    ask_qty: str = field(name="A")


Tick = Trade | Kline | BookTicker


class MixedClient(Client[Tick]):
    """The venue: every message decodes into the union, dispatched on ``"e"``."""

    reconnect = False


class _Sub:
    """Subscription options shared by the three kinds."""

    # The plain WebSocket's default too: a full queue pauses reading (no drops, fair).
    overflow_policy: ClassVar[OverflowChoice] = "block"

    def subscribe_message(self, request_id: int) -> object:
        """Binance-style request; the benchmark server ignores it (no ack is awaited)."""
        return {"method": "SUBSCRIBE", "params": ["x"], "id": request_id}


class Trades(_Sub, Subscription[Trade]):
    """Every trade."""


class Klines(_Sub, Subscription[Kline]):
    """Every kline."""


class BookTickers(_Sub, Subscription[BookTicker]):
    """Every bookTicker."""


class TradeModel(pydantic.BaseModel):
    """The trade tick as a pydantic model (same fields and aliases as the Struct)."""

    event: str = pydantic.Field(alias="e")
    event_time: int = pydantic.Field(alias="E")
    symbol: str = pydantic.Field(alias="s")
    trade_id: int = pydantic.Field(alias="t")
    price: str = pydantic.Field(alias="p")
    qty: str = pydantic.Field(alias="q")
    buyer_order_id: int = pydantic.Field(alias="b")
    seller_order_id: int = pydantic.Field(alias="a")
    trade_time: int = pydantic.Field(alias="T")
    buyer_is_maker: bool = pydantic.Field(alias="m")
    best_match: bool = pydantic.Field(alias="M")


# -- clients ------------------------------------------------------------------------------
async def _schema_routed(uri: str, n: int) -> FeedRun:
    clock = RunClock(n)
    expected = mixed_counts(n)

    async def drain(stream: Stream[Any], want: int) -> Any:
        # The clock is shared: it starts before connecting and stops at the n-th message
        # overall.
        got = 0
        async for msg in stream:
            clock.count += 1
            if clock.count == n:
                clock.stop()
            got += 1
            if got == want:
                return msg
        raise RuntimeError(f"{stream!r} ended after {got} of {want} messages")

    async with MixedClient(uri=uri, compress=False) as client:
        streams: list[Stream[Any]] = [
            await client.subscribe(Trades()),
            await client.subscribe(Klines()),
            await client.subscribe(BookTickers()),
        ]
        last = await asyncio.gather(*(drain(s, w) for s, w in zip(streams, expected, strict=True)))
        dropped = sum(s.dropped for s in streams)
    if dropped:
        raise RuntimeError(f"streams dropped {dropped} messages")
    trade, kline, book = last
    if not (
        isinstance(trade, Trade)
        and trade.trade_id == expected_trade_id(expected[0])
        and isinstance(kline, Kline)
        and isinstance(book, BookTicker)
        and book.update_id == expected_update_id(expected[2])
    ):
        raise RuntimeError(f"unexpected last messages: {last!r:.300}")
    return clock.result()


async def _schema_trades(uri: str, n: int) -> FeedRun:
    clock = RunClock(n)
    async with MixedClient(uri=uri, compress=False) as client:
        stream = await client.subscribe(Trades())
        last = await clock.atake(stream)
        dropped = stream.dropped
    if dropped:
        raise RuntimeError(f"stream dropped {dropped} messages")
    if not isinstance(last, Trade) or last.trade_id != expected_trade_id(n):
        raise RuntimeError(f"unexpected last message: {last!r:.200}")
    return clock.result()


async def _plain_typed(uri: str, n: int) -> FeedRun:
    return await run_feed_client("jetsocket-typed", uri, n)


async def _plain_union(uri: str, n: int) -> FeedRun:
    clock = RunClock(n)
    kinds = [0, 0, 0]
    index: dict[type, int] = {Trade: 0, Kline: 1, BookTicker: 2}
    async with WebSocket(uri, message_type=Tick, reconnect=False, compress=False) as ws:
        count = 0
        async for msg in ws:
            count += 1
            kinds[index[type(msg)]] += 1
            if count == n:
                clock.stop()
                break
        clock.count = count
    if tuple(kinds) != mixed_counts(n):
        raise RuntimeError(f"unexpected kinds {kinds}")
    return clock.result()


def _check_model(msg: object, n: int) -> None:
    if not isinstance(msg, TradeModel) or msg.trade_id != expected_trade_id(n):
        raise RuntimeError(f"unexpected last pydantic message: {msg!r:.200}")


async def _jetsocket_pydantic(uri: str, n: int) -> FeedRun:
    clock = RunClock(n)
    async with WebSocket(uri, message_type=TradeModel, reconnect=False, compress=False) as ws:
        last = await clock.atake(ws)
    _check_model(last, n)
    return clock.result()


async def _websockets_pydantic(uri: str, n: int) -> FeedRun:
    from websockets.asyncio.client import connect  # noqa: PLC0415 - peers imported when measured

    validate = TradeModel.model_validate_json
    clock = RunClock(n)
    async with connect(uri, compression=None, proxy=None, max_size=None) as ws:
        last = await clock.atake(ws, validate)
    _check_model(last, n)
    return clock.result()


SchemaClient = Callable[[str, int], Awaitable[FeedRun]]

# name -> (client, feed path, what it is compared with, label). Order = table order.
SCHEMA_CLIENTS: dict[str, tuple[SchemaClient, str, str, str]] = {
    "schema-trades": (
        _schema_trades,
        "/feed?wait=1",
        "schema-trades",
        "jetsocket Client[Trade|Kline|BookTicker] -> Trade Stream (all-trade)",
    ),
    "plain-typed": (
        _plain_typed,
        "/feed",
        "schema-trades",
        "jetsocket WebSocket message_type=Trade (all-trade)",
    ),
    "schema-routed": (
        _schema_routed,
        "/mixed?wait=3",
        "schema-routed",
        "jetsocket Client[Trade|Kline|BookTicker] -> 3 Streams (mixed)",
    ),
    "plain-union": (
        _plain_union,
        "/mixed",
        "schema-routed",
        "jetsocket WebSocket message_type=Trade|Kline|BookTicker (mixed)",
    ),
    "jetsocket-pydantic": (
        _jetsocket_pydantic,
        "/feed",
        "jetsocket-pydantic",
        "jetsocket WebSocket message_type=TradeModel (pydantic)",
    ),
    "websockets-pydantic": (
        _websockets_pydantic,
        "/feed",
        "jetsocket-pydantic",
        "websockets + TradeModel.model_validate_json",
    ),
}


async def run_schema_client(name: str, uri: str, n: int) -> FeedRun:
    """Run client ``name`` once against the feed at ``uri`` and return its figures."""
    client = SCHEMA_CLIENTS[name][0]
    return await asyncio.wait_for(client(uri, n), _TIMEOUT)
