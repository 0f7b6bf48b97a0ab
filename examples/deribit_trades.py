"""Deribit trades: JSON-RPC 2.0 subscriptions and the venue's own heartbeat.

The real venue: ``wss://www.deribit.com/ws/api/v2`` (test: ``wss://test.deribit.com/...``).
Every request is JSON-RPC 2.0 with an ``id``; ``public/subscribe`` answers with the list of
channels now subscribed, and simply leaves out a channel it refuses::

    {"jsonrpc": "2.0", "id": 7, "result": ["trades.BTC-PERPETUAL.100ms"]}

so ``read_ack`` returns ``Ack(..., topics=result, complete=True)``: what the result leaves
out was refused. Notifications carry one or two trades, each with the instrument's
consecutive ``trade_seq``: the sequence is their range. After ``public/set_heartbeat`` the
venue sends ``{"method": "heartbeat", "params": {"type": "test_request"}}`` and drops the
connection unless the client answers with ``public/test``: a typed handler does it, and
``on_connect`` turns the heartbeat on again on every connection.

This program runs offline against ``jetsocket.testing``'s fake Deribit server::

    python examples/deribit_trades.py
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

import msgspec

import jetsocket
from jetsocket.schema import Ack, Client, Message, Stream, Subscription, read_id_ack
from jetsocket.testing import DeribitVenue


class Trade(msgspec.Struct):
    trade_seq: int
    instrument_name: str
    price: Decimal
    amount: Decimal
    direction: str


class Params(msgspec.Struct):
    channel: str
    data: list[Trade]


class Notification(Message, tag="subscription", tag_field="method"):
    params: Params


class HeartbeatParams(msgspec.Struct):
    type: str


class Heartbeat(Message, tag="heartbeat", tag_field="method"):
    params: HeartbeatParams


class Trades(Subscription[Notification]):
    ack = "id"
    instrument: str

    @property
    def topic(self) -> str:
        return f"trades.{self.instrument}.100ms"

    def subscribe_message(self, request_id: int) -> object:
        params = {"channels": [self.topic]}
        return {"jsonrpc": "2.0", "id": request_id, "method": "public/subscribe", "params": params}

    def read_ack(self, msg: Any) -> Ack | None:
        ack = read_id_ack(msg, "id")  # {"id": 7, "result": ...} or {"id": 7, "error": {...}}
        if ack is None or not ack.ok or not isinstance(msg.get("result"), list):
            return ack
        return Ack(True, request_id=ack.request_id, topics=tuple(msg["result"]), complete=True)

    def matches(self, msg: Notification) -> bool:
        return msg.params.channel == self.topic

    def sequence(self, msg: Notification) -> tuple[int, int]:
        return msg.params.data[0].trade_seq, msg.params.data[-1].trade_seq


rpc_ids = itertools.count(1_000_000)  # our own requests: apart from the subscription ids


def rpc(method: str, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": next(rpc_ids), "method": method, "params": params}


class Deribit(Client[Notification | Heartbeat]):
    uri = "wss://www.deribit.com/ws/api/v2"
    heartbeat = None  # the venue's own heartbeat (below) proves the connection alive
    unknown_messages = "ignore"  # answers to public/test
    heartbeat_interval = 10

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.test_requests = 0

        @self.on(Heartbeat)
        async def answer(msg: Heartbeat) -> None:
            if msg.params.type == "test_request":
                self.test_requests += 1
                await self.send(rpc("public/test"))

    async def on_connect(self, ws: jetsocket.WebSocket[Any]) -> None:
        request = rpc("public/set_heartbeat", interval=type(self).heartbeat_interval)
        answer = await self.request(
            request, lambda m: isinstance(m, dict) and m.get("id") == request["id"]
        )
        if answer.get("result") != "ok":
            raise jetsocket.ConnectionError(f"set_heartbeat refused: {answer.get('error')}")


class OfflineDeribit(Deribit):
    heartbeat_interval = 1
    backoff = jetsocket.BackoffConfig(base=0.05, cap=0.2)


async def read_seqs(stream: Stream[Notification], until: int) -> list[int]:
    seqs: list[int] = []
    async with asyncio.timeout(5):
        while not seqs or seqs[-1] < until:
            seqs.extend(t.trade_seq for t in (await stream.recv()).params.data)
    return seqs


async def main() -> None:
    print(f"real venue: {Deribit.uri}")
    instruments = ("BTC-PERPETUAL", "ETH-PERPETUAL")
    async with (
        DeribitVenue(instruments, min_heartbeat_interval=1, seed=4) as venue,
        OfflineDeribit(uri=venue.uri) as deribit,
    ):
        gaps: list[jetsocket.GapEvent] = []
        deribit.on("gap")(gaps.append)
        resubscribed = asyncio.Event()
        deribit.on("resubscribed")(lambda event: resubscribed.set())
        btc = await deribit.subscribe(Trades(instrument="BTC-PERPETUAL"))
        eth = await deribit.subscribe(Trades(instrument="ETH-PERPETUAL"))
        try:
            await deribit.subscribe(Trades(instrument="DOGE-PERPETUAL"))
        except jetsocket.SubscriptionError as exc:
            print(f"refused as expected: {exc.reason}")

        for instrument in instruments:
            await venue.publish(instrument, 5)
        print(f"BTC {await read_seqs(btc, 5)}, ETH {await read_seqs(eth, 5)}")

        await venue.kill_all()
        await asyncio.wait_for(resubscribed.wait(), 5)
        venue.skip("BTC-PERPETUAL", 1)
        for instrument in instruments:
            await venue.publish(instrument, 3)
        print(f"after the reconnect: BTC {await read_seqs(btc, 9)}, ETH {await read_seqs(eth, 8)}")
        for gap in gaps:
            print(f"gap on {gap.subscription}: trade_seq {gap.first_missing}..{gap.last_missing}")
        await venue.wait_for(lambda: deribit.test_requests >= 1, timeout=5)
        print(f"{deribit.test_requests} test_request(s) answered with public/test")


if __name__ == "__main__":
    asyncio.run(main())
