"""Type-check cases for the schema layer's venue declarations (acks, sequences, resync)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, assert_type

import jetsocket
from jetsocket.schema import Ack, Client, Message, Stream, Subscription, read_id_ack


class Trade(Message, tag="trade", tag_field="channel"):
    ids: list[int]
    symbol: str


class Trades(Subscription[Trade]):
    ack = "id"
    ack_field = "req_id"
    dedup = True
    on_gap = "resync"
    symbol: str

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "subscribe", "req_id": request_id}

    def read_ack(self, msg: Any) -> Ack | None:
        ack = read_id_ack(msg, "req_id")
        return None if ack is None else Ack(ack.ok, ack.reason, request_id=ack.request_id)

    def sequence(self, msg: Trade) -> tuple[int, int]:
        return msg.ids[0], msg.ids[-1]

    def sequence_key(self, msg: Trade) -> Hashable:
        return msg.symbol

    def trim(self, msg: Trade, seen_through: int) -> Trade | None:
        return msg

    async def resync(self, gap: jetsocket.GapEvent, stream: Stream[Trade]) -> None:
        assert_type(gap.subscription, Any)
        await stream.resubscribe()
        stream.deliver([], sequence=gap.last_missing)


class Venue(Client[Trade]):
    uri = "wss://example.com/ws"


async def main() -> None:
    async with Venue() as venue:
        stream = await venue.subscribe(Trades(symbol="BTC/USD"))
        assert_type(stream, Stream[Trade])
        assert_type(stream.gap, jetsocket.GapEvent | None)
        assert_type(stream.gaps, int)
        assert_type(stream.duplicates, int)
        assert_type(stream.channel, Hashable | None)
        assert_type(venue.unmatched_count, int)


class BadAck(Subscription[Trade]):
    ack = "sometimes"  # E: assignment

    def subscribe_message(self, request_id: int) -> object:
        return {}


class BadSequence(Subscription[Trade]):
    def subscribe_message(self, request_id: int) -> object:
        return {}

    def sequence(self, msg: Trade) -> str:  # E: override
        return ""
