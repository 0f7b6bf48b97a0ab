"""Binance-style messages and subscription, shared by the unit and integration tests.

``Trades`` is Binance's ``<symbol>@trade`` stream: subscribed with
``{"method": "SUBSCRIBE", "params": [...], "id": N}`` and acknowledged by request id
(``{"result": null, "id": N}``, or ``{"error": ..., "id": N}`` when refused), which the
schema layer's ``ack = "id"`` reads.
``SeqTrades`` is the same stream numbered by the messages' ``seq`` (gap detection).
"""

from __future__ import annotations

from jetsocket.schema import Message, Subscription, field

__all__ = ["Kline", "SeqTrades", "Trade", "Trades"]


class Trade(Message, tag="trade", tag_field="e"):
    symbol: str = field(name="s")
    price: float = field(name="p")
    seq: int = 0


class Kline(Message, tag="kline", tag_field="e"):
    symbol: str = field(name="s")
    close: float = field(name="c")


class Trades(Subscription[Trade]):
    """Binance's ``<symbol>@trade`` stream, acknowledged by request id."""

    ack = "id"
    symbol: str

    @property
    def topic(self) -> str:
        return f"{self.symbol}@trade"

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [self.topic], "id": request_id}

    def unsubscribe_message(self, request_id: int) -> object:
        return {"method": "UNSUBSCRIBE", "params": [self.topic], "id": request_id}

    def matches(self, msg: Trade) -> bool:
        return msg.symbol == self.symbol.upper()


class SeqTrades(Trades):
    """The same stream, numbered by each trade's ``seq``."""

    def sequence(self, msg: Trade) -> int | None:
        return msg.seq
