"""Shared by the schema unit tests: a fake sender (and the Binance-style kit of tests/).

The client's subscribe path (``Client._send_subscriptions``) sends through
:class:`FakeSender`, which answers like the venue on a later loop iteration; the answers
go through the client's decoder and router as received messages would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import msgspec
from tests._binance import Kline, SeqTrades, Trade, Trades

import jetsocket
from jetsocket.schema import Client, Stream, Subscription

__all__ = [
    "URI",
    "Answer",
    "FakeSender",
    "Kline",
    "SeqTrades",
    "Trade",
    "Trades",
    "attach",
    "payload",
    "send_subscriptions",
]

URI = "ws://127.0.0.1:9/ws"  # never connected

#: What the fake venue answers to one sent message (several replies: one batch).
Answer = Callable[[Any], list[object]]


def payload(obj: object) -> bytes:
    return msgspec.json.encode(obj)


class FakeSender:
    """Stands in for an engine: records what is sent, answers on a later loop iteration."""

    def __init__(self, client: Client[Any], answer: Answer) -> None:
        self.client = client
        self.answer = answer
        self.sent: list[Any] = []
        self.leftover: list[Any] = []

    async def send(self, message: Any) -> None:
        self.sent.append(message)
        replies = self.answer(message)
        if replies:
            batch = [payload(r) for r in replies]
            asyncio.get_running_loop().call_soon(self.deliver, batch)

    def deliver(self, batch: list[bytes]) -> None:
        decoded = [self.client._decode(b) for b in batch]
        self.leftover.extend(self.client._route(decoded))


async def send_subscriptions(
    client: Client[Any], sender: FakeSender, subs: list[Subscription[Any]]
) -> list[jetsocket.SubscriptionError]:
    return await client._send_subscriptions(cast(Any, sender), subs)


def attach(client: Client[Any], sub: Subscription[Any]) -> Stream[Any]:
    """Register ``sub`` on the primary shard as ``subscribe()`` does, without sending."""
    stream: Stream[Any] = Stream(sub, client.unsubscribe, client._block)
    client._streams[sub] = stream
    client._shards[0].subs.append(sub)
    client._changed()
    return stream
