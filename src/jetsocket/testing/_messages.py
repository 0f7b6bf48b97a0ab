"""Typed messages of the :class:`~jetsocket.testing.ExchangeSimulator` feed.

The simulator speaks a Binance-like JSON protocol. Feed messages carry their type in the
``"e"`` field, so they decode as one msgspec tagged union (:data:`FeedMessage`); replies to
requests (``{"result": null, "id": 1}``) carry no tag and decode as :class:`Response`.
:func:`decode_message` decodes both, which is what a client of the simulator needs::

    jetsocket.WebSocket(sim.uri, deserializer=decode_message)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeAlias

import msgspec

__all__ = [
    "BookDelta",
    "BookSnapshot",
    "BookTicker",
    "FeedMessage",
    "Kline",
    "KlineBar",
    "Response",
    "ResponseError",
    "Trade",
    "decode_message",
]


class Trade(msgspec.Struct, frozen=True, tag="trade", tag_field="e"):
    """One trade (``"e": "trade"``), sent on the ``<symbol>@trade`` stream.

    Attributes:
        event_time: Time the message was sent, in ms since the epoch (``"E"``).
        symbol: Upper-case symbol, e.g. ``"BTCUSDT"`` (``"s"``).
        trade_id: Trade id, increasing per symbol but not contiguous (``"t"``).
        price: Trade price (``"p"``, a decimal string on the wire).
        qty: Traded quantity (``"q"``).
        trade_time: Trade time in ms since the epoch (``"T"``).
        buyer_is_maker: Whether the buyer was the maker (``"m"``).
        seq: Per-connection sequence number of the message, starting at 1 (``"seq"``).
    """

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: Decimal = msgspec.field(name="p")
    qty: Decimal = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    seq: int


class KlineBar(msgspec.Struct, frozen=True):
    """The candle inside a :class:`Kline` message (``"k"``).

    Attributes:
        start_time: Candle open time in ms since the epoch (``"t"``).
        close_time: Candle close time in ms, ``start_time + interval - 1`` (``"T"``).
        symbol: Upper-case symbol (``"s"``).
        interval: Interval, e.g. ``"1m"`` (``"i"``).
        first_trade_id: First trade id in the candle (``"f"``).
        last_trade_id: Last trade id in the candle (``"L"``).
        open: Open price (``"o"``).
        close: Close (latest) price (``"c"``).
        high: High price (``"h"``).
        low: Low price (``"l"``).
        volume: Base asset volume (``"v"``).
        trades: Number of trades (``"n"``).
        closed: Whether this is the final update of the candle (``"x"``).
        quote_volume: Quote asset volume (``"q"``).
    """

    start_time: int = msgspec.field(name="t")
    close_time: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    interval: str = msgspec.field(name="i")
    first_trade_id: int = msgspec.field(name="f")
    last_trade_id: int = msgspec.field(name="L")
    open: Decimal = msgspec.field(name="o")
    close: Decimal = msgspec.field(name="c")
    high: Decimal = msgspec.field(name="h")
    low: Decimal = msgspec.field(name="l")
    volume: Decimal = msgspec.field(name="v")
    trades: int = msgspec.field(name="n")
    closed: bool = msgspec.field(name="x")
    quote_volume: Decimal = msgspec.field(name="q")


class Kline(msgspec.Struct, frozen=True, tag="kline", tag_field="e"):
    """A candle update (``"e": "kline"``), sent on the ``<symbol>@kline_<interval>`` stream.

    Attributes:
        event_time: Time the message was sent, in ms since the epoch (``"E"``).
        symbol: Upper-case symbol (``"s"``).
        bar: The current candle (``"k"``).
        seq: Per-connection sequence number of the message (``"seq"``).
    """

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    bar: KlineBar = msgspec.field(name="k")
    seq: int


class BookTicker(msgspec.Struct, frozen=True, tag="bookTicker", tag_field="e"):
    """Best bid and ask (``"e": "bookTicker"``), sent on the ``<symbol>@bookTicker`` stream.

    Attributes:
        update_id: Update id; equal to ``seq`` (``"u"``).
        event_time: Time the message was sent, in ms since the epoch (``"E"``).
        symbol: Upper-case symbol (``"s"``).
        bid: Best bid price (``"b"``).
        bid_qty: Quantity at the best bid (``"B"``).
        ask: Best ask price (``"a"``).
        ask_qty: Quantity at the best ask (``"A"``).
        seq: Per-connection sequence number of the message (``"seq"``).
    """

    update_id: int = msgspec.field(name="u")
    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    bid: Decimal = msgspec.field(name="b")
    bid_qty: Decimal = msgspec.field(name="B")
    ask: Decimal = msgspec.field(name="a")
    ask_qty: Decimal = msgspec.field(name="A")
    seq: int


class _Book(msgspec.Struct, frozen=True):
    # The fields of both order-book messages (documented on each of them).

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    version: int = msgspec.field(name="u")
    bids: tuple[tuple[Decimal, Decimal], ...] = msgspec.field(name="b")
    asks: tuple[tuple[Decimal, Decimal], ...] = msgspec.field(name="a")
    checksum: int = msgspec.field(name="cs")
    seq: int


class BookSnapshot(_Book, frozen=True, tag="bookSnapshot", tag_field="e"):
    """The whole order book (``"e": "bookSnapshot"``), first on the ``<symbol>@book`` stream.

    A subscription to ``<symbol>@book`` starts with a snapshot, then sends a
    :class:`BookDelta` per update; a resumed subscription (see
    :class:`~jetsocket.testing.ExchangeSimulator`) replays the deltas instead.

    Attributes:
        event_time: Time the message was sent, in ms since the epoch (``"E"``).
        symbol: Upper-case symbol (``"s"``).
        version: The book's update id: the ``version`` of the last delta it contains
            (``"u"``); the next delta has ``version + 1``.
        bids: ``(price, quantity)`` levels, best (highest) first (``"b"``).
        asks: ``(price, quantity)`` levels, best (lowest) first (``"a"``).
        checksum: OKX-style signed CRC32 of the book's best 25 levels a side (``"cs"``).
        seq: Sequence number of the message (``"seq"``): with ``sequence="stream"``, the
            stream's sequence of the last delta included (a snapshot takes no number of its
            own); per connection otherwise.
    """


class BookDelta(_Book, frozen=True, tag="bookDelta", tag_field="e"):
    """Changed order-book levels (``"e": "bookDelta"``), on the ``<symbol>@book`` stream.

    Attributes:
        event_time: Time the message was sent, in ms since the epoch (``"E"``).
        symbol: Upper-case symbol (``"s"``).
        version: The book's update id after this delta (``"u"``): the previous delta's + 1,
            so a client sees a lost delta whatever the sequence scheme.
        bids: ``(price, new quantity)`` of the changed bid levels; quantity 0 removes the
            level (``"b"``).
        asks: Same for the asks (``"a"``).
        checksum: OKX-style signed CRC32 of the best 25 levels a side of the book after
            this delta (``"cs"``; see ``jetsocket.book.okx_checksum``).
        seq: Sequence number of the message (``"seq"``).
    """


class ResponseError(msgspec.Struct, frozen=True):
    """The ``"error"`` object of a rejected request.

    Attributes:
        code: Error code: 1 invalid value (unknown stream, too many streams), 2 invalid
            request (bad JSON, unknown method, malformed params).
        msg: Human readable explanation.
    """

    code: int
    msg: str


class Response(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The reply to a request: ``{"result": null, "id": 1}`` or ``{"error": {...}, "id": 1}``.

    Attributes:
        id: The ``id`` of the request (None if the request had none or was unreadable).
        result: ``None`` for SUBSCRIBE/UNSUBSCRIBE (for a SUBSCRIBE that asked to resume,
            ``{"recovered": {stream: bool}}``), the list of streams for LIST_SUBSCRIPTIONS.
        error: Set when the request was rejected.
    """

    id: int | str | None = None
    result: Any = None
    error: ResponseError | None = None


FeedMessage: TypeAlias = Trade | Kline | BookTicker | BookSnapshot | BookDelta
"""Any message pushed on a subscribed stream (a msgspec tagged union on ``"e"``)."""

_feed_decoder: msgspec.json.Decoder[FeedMessage] = msgspec.json.Decoder(FeedMessage)
_response_decoder = msgspec.json.Decoder(Response)


def decode_message(data: bytes | str) -> FeedMessage | Response:
    """Decode one message of the simulator: a feed message or a reply to a request.

    msgspec cannot put an untagged :class:`Response` into the tagged union of feed
    messages, so payloads without an ``"e"`` tag are decoded as a :class:`Response`.

    Args:
        data: The JSON payload of one WebSocket message.

    Returns:
        A :class:`Trade`, :class:`Kline`, :class:`BookTicker`, :class:`BookSnapshot`,
        :class:`BookDelta` or :class:`Response`.

    Raises:
        msgspec.ValidationError: The payload matches none of these types.
        msgspec.DecodeError: The payload is not JSON.
    """
    try:
        return _feed_decoder.decode(data)
    except msgspec.ValidationError as exc:
        # A reply has only id/result/error (unknown fields are forbidden), so a broken
        # feed message does not pass for an empty reply; it keeps the feed error.
        try:
            return _response_decoder.decode(data)
        except msgspec.ValidationError:
            raise exc from None
