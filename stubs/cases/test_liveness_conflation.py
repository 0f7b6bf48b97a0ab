"""Type-check case: conflation keys and liveness events and stats (never executed).

Run by ``stubs/check.py``: ``mypy --strict`` must accept every line except those ending
with ``# E: <code>``, which must produce exactly that error.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import assert_type

import jetsocket
from jetsocket.schema import Client, Message, Subscription, SyncClient, field


class Ticker(Message, tag="ticker", tag_field="e"):
    symbol: str = field(name="s")


class Tickers(Subscription[Ticker]):
    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": ["!ticker@arr"], "id": request_id}

    def conflate_key(self, msg: Ticker) -> Hashable:
        return msg.symbol


class WrongKey(Subscription[Ticker]):
    def subscribe_message(self, request_id: int) -> object:
        return {}

    def conflate_key(self, msg: str) -> Hashable:  # E: override
        return msg


class Venue(Client[Ticker]):
    uri = "wss://stream.example.invalid/ws"


def on_blocked(event: jetsocket.LoopBlockedEvent) -> None:
    assert_type(event.blocked_ms, float)
    assert_type(event.handler, str | None)
    assert_type(event.handling, str | None)


def on_gap(event: jetsocket.GapEvent) -> None:
    pass


async def liveness(ws: jetsocket.WebSocket[Ticker]) -> None:
    registered = ws.on("loop_blocked")(on_blocked)
    assert_type(registered, Callable[[jetsocket.LoopBlockedEvent], None])
    ws.on("loop_blocked")(on_gap)  # E: arg-type
    stats = ws.stats()
    assert_type(stats.loop_lag_ms, float | None)
    assert_type(stats.loop_lag_max_ms, float | None)
    assert_type(stats.loop_blocked, int)
    assert_type(stats.messages_conflated, int)
    jetsocket.WebSocket("wss://x.invalid/", loop_block_threshold=None, time_handlers=True)
    jetsocket.WebSocket("wss://x.invalid/", conflate_key=lambda msg: msg["s"])
    jetsocket.WebSocket("wss://x.invalid/", time_handlers="yes")  # E: call-overload


async def conflation() -> None:
    async with Venue() as venue:
        stream = await venue.subscribe(Tickers())
        assert_type(stream.conflated, int)


def sync_conflation(venue: SyncClient[Ticker]) -> None:
    assert_type(venue.subscribe(Tickers()).conflated, int)
