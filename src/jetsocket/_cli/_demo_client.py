"""The demo's typed client: one declared subscription per simulator stream.

Each subscription remembers where its stream is (:class:`Resume`), so the SUBSCRIBE that the
client re-sends after a reconnect asks the simulator to go on after the last message
received (``"resume"``, see :class:`~jetsocket.testing.ExchangeSimulator`).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from jetsocket._engine._config import BackoffConfig, HeartbeatConfig, OverflowChoice
from jetsocket.book import BookUpdate
from jetsocket.schema import Ack, Client, Stream, Subscription
from jetsocket.testing import BookDelta, BookSnapshot, BookTicker, Kline, Trade

__all__ = [
    "HEARTBEAT",
    "BookTickers",
    "Books",
    "DemoClient",
    "Klines",
    "Resume",
    "SimFeed",
    "Trades",
    "parse_book",
]

M = TypeVar("M", bound=Trade | Kline | BookTicker | BookSnapshot | BookDelta)

# Short heartbeat: a half-open connection is declared dead within interval + timeout.
HEARTBEAT = HeartbeatConfig(interval=0.5, timeout=0.5)


class Resume:
    """Where a subscription's stream is: the last ``seq`` the client received.

    A subscription is re-sent after every reconnect; with the position of its stream the
    re-sent SUBSCRIBE asks the simulator to go on after that message (``"resume"``).
    The position is the stream's :attr:`~jetsocket.schema.Stream.last_sequence`, updated
    when a message is received (not when it is consumed: queued messages are not lost).
    """

    __slots__ = ("stream",)

    def __init__(self) -> None:
        self.stream: Stream[Any] | None = None

    def last(self) -> int | None:
        """The last ``seq`` received, or None (subscribe from the live feed)."""
        return None if self.stream is None else self.stream.last_sequence


class SimFeed(Subscription[M], Generic[M]):
    """One stream of the simulator, e.g. ``btcusdt@trade`` (a declared subscription).

    The simulator answers ``{"result": null, "id": N}``, which :meth:`parse_ack`
    recognises, so subscribing (and re-subscribing after a reconnect) waits for the ack.

    Attributes:
        symbol: The symbol, e.g. ``BTCUSDT``.
        resume: The stream's position, sent with every re-subscription (not part of the
            subscription's identity).
    """

    symbol: str
    resume: Resume = dataclasses.field(default_factory=Resume, compare=False, repr=False)
    kind: ClassVar[str] = ""
    # Backpressure instead of dropping: a slow consumer pauses reading, loses nothing.
    overflow_policy: ClassVar[OverflowChoice] = "block"

    @property
    def topic(self) -> str:
        """The stream name, e.g. ``btcusdt@trade``."""
        return f"{self.symbol.lower()}@{self.kind}"

    def subscribe_message(self, request_id: int) -> object:
        """``{"method": "SUBSCRIBE", "params": [topic], "id": request_id}``.

        After a reconnect, with ``"resume": {topic: last seq received}``: the simulator
        replays what came after it from its history, then goes on live.
        """
        message: dict[str, object] = {
            "method": "SUBSCRIBE",
            "params": [self.topic],
            "id": request_id,
        }
        last = self.resume.last()
        if last is not None:
            message["resume"] = {self.topic: last}
        return message

    def unsubscribe_message(self, request_id: int) -> object | None:
        """``{"method": "UNSUBSCRIBE", "params": [topic], "id": request_id}``."""
        return {"method": "UNSUBSCRIBE", "params": [self.topic], "id": request_id}

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        """The simulator's reply to request ``request_id``, if ``msg`` is it."""
        if not isinstance(msg, dict) or msg.get("id") != request_id:
            return None
        error = msg.get("error")
        if error is not None:
            reason = error.get("msg", "") if isinstance(error, dict) else str(error)
            return Ack(ok=False, reason=str(reason))
        return Ack(ok=True)

    def matches(self, msg: M) -> bool:
        """Messages of this subscription's symbol (the message type is already checked)."""
        return msg.symbol == self.symbol.upper()

    def sequence(self, msg: M) -> int | None:
        """The stream's ``seq`` (one sequence per stream, over every connection)."""
        return msg.seq


class Trades(SimFeed[Trade]):
    """``<symbol>@trade``: one :class:`~jetsocket.testing.Trade` per message."""

    kind = "trade"


class Klines(SimFeed[Kline]):
    """``<symbol>@kline_1m``: updates of the current one-minute candle."""

    kind = "kline_1m"


class BookTickers(SimFeed[BookTicker]):
    """``<symbol>@bookTicker``: best bid and ask."""

    kind = "bookTicker"


class Books(SimFeed[BookSnapshot | BookDelta]):
    """``<symbol>@book``: an order book snapshot, then deltas (update id ``version``)."""

    kind = "book"


def parse_book(msg: Any) -> BookUpdate[Decimal] | None:
    """The simulator's book messages as :class:`~jetsocket.book.BookUpdate` (others: None).

    A delta's ``version`` is the previous one's + 1: ``last=version`` lets the
    :class:`~jetsocket.book.BookSync` see a missing delta; ``checksum`` is OKX's, checked
    with :func:`~jetsocket.book.okx_checksum`.
    """
    if isinstance(msg, BookDelta):
        return BookUpdate(bids=msg.bids, asks=msg.asks, last=msg.version, checksum=msg.checksum)
    if isinstance(msg, BookSnapshot):
        return BookUpdate(
            bids=msg.bids, asks=msg.asks, snapshot=True, last=msg.version, checksum=msg.checksum
        )
    return None


class DemoClient(Client[Trade | Kline | BookTicker | BookSnapshot | BookDelta]):
    """The demo's typed client definition (the URI, the proxy's, is given at run time).

    One connection per subscription, a short heartbeat and a quick backoff, so that each
    fault is detected and repaired within a second or so.
    """

    heartbeat = HEARTBEAT
    backoff = BackoffConfig(base=0.05, cap=0.5, reset_after=1.0)
    max_streams_per_connection = 1
    ack_timeout = 5.0
