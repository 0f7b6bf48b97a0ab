"""An L2 order book that stays correct: a lost delta is detected and the book resyncs.

Runs offline in about a second::

    python examples/order_book.py

A fake OKX-style venue (``books`` channel: a snapshot on subscribe, then deltas carrying
``seqId``, ``prevSeqId`` and a CRC32 ``checksum``) runs on 127.0.0.1 and loses one delta
of the first subscription, as a network or a venue sometimes does. The typed client
follows the book with ``BookSync.follow``: it sees ``prevSeqId`` jump, reports the gap,
marks the book ``resyncing``, unsubscribes and subscribes again, and the new snapshot
makes it live. At the end the client's book is compared with the venue's, level by level.

Against the real venue, the same client connects to ``wss://ws.okx.com:8443/ws/v5/public``
and ``jetsocket.book.parse_okx_books`` parses its messages as decoded dicts.
"""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from jetsocket.book import BookEvent, BookSync, BookUpdate, OrderBook, okx_checksum
from jetsocket.schema import Ack, Client, Message, Subscription, field

ARG = {"channel": "books", "instId": "BTC-USDT"}
DELTAS = 200
FINAL_SEQ = 2000 + DELTAS  # the second subscription starts at 2000


# -- the client: typed messages, a subscription, a parse function -------------------------


class Arg(Message):
    channel: str
    inst_id: str = field(name="instId")


class BookData(Message):
    bids: list[list[Decimal]]  # [price, size, "0", orders]: msgspec decodes the strings
    asks: list[list[Decimal]]
    checksum: int
    seq_id: int = field(name="seqId")
    prev_seq_id: int = field(name="prevSeqId")


class BooksPush(Message):
    arg: Arg
    action: str  # "snapshot" or "update"
    data: list[BookData]


class Books(Subscription[BooksPush]):
    inst_id: str

    def _request(self, op: str, request_id: int) -> object:
        arg = {"channel": "books", "instId": self.inst_id}
        return {"id": str(request_id), "op": op, "args": [arg]}

    def subscribe_message(self, request_id: int) -> object:
        return self._request("subscribe", request_id)

    def unsubscribe_message(self, request_id: int) -> object:
        return self._request("unsubscribe", request_id)

    def matches(self, msg: BooksPush) -> bool:
        return msg.arg.channel == "books" and msg.arg.inst_id == self.inst_id

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        if isinstance(msg, dict) and msg.get("id") == str(request_id):
            return Ack(ok=msg.get("event") in ("subscribe", "unsubscribe"))
        return None


class Okx(Client[BooksPush]):
    uri = "wss://ws.okx.com:8443/ws/v5/public"
    unknown_messages = "ignore"


def parse(msg: BooksPush) -> BookUpdate[Decimal]:
    data = msg.data[0]
    snapshot = msg.action == "snapshot"
    return BookUpdate(
        bids=[(row[0], row[1]) for row in data.bids],
        asks=[(row[0], row[1]) for row in data.asks],
        snapshot=snapshot,
        last=data.seq_id,
        prev=None if snapshot else data.prev_seq_id,
        checksum=data.checksum,
    )


# -- the fake venue ------------------------------------------------------------------------


class FakeOkx:
    def __init__(self) -> None:
        self.rng = random.Random(2024)
        self.book: OrderBook[Decimal] = OrderBook("BTC-USDT")
        self.subscriptions = 0
        self.task: asyncio.Task[None] | None = None

    def push(self, action: str, seq: int, prev: int, bids: Any, asks: Any) -> str:
        def rows(levels: Any) -> Any:
            return [[str(p), str(q), "0", "1"] for p, q in levels]

        data = {"bids": rows(bids), "asks": rows(asks), "seqId": seq, "prevSeqId": prev}
        data["checksum"] = okx_checksum(self.book)
        return json.dumps({"arg": ARG, "action": action, "data": [data]})

    async def handler(self, conn: ServerConnection) -> None:
        async for raw in conn:
            request = json.loads(raw)
            await conn.send(json.dumps({"id": request["id"], "event": request["op"], "arg": ARG}))
            if request["op"] == "subscribe":
                self.subscriptions += 1
                self.task = asyncio.create_task(self.stream(conn, self.subscriptions == 1))
            elif self.task is not None:
                self.task.cancel()

    async def stream(self, conn: ServerConnection, lose_one: bool) -> None:
        bids = [(Decimal(30000) - i, Decimal(1 + i % 7)) for i in range(50)]
        asks = [(Decimal(30001) + i, Decimal(1 + i % 5)) for i in range(50)]
        seq = 1000 * self.subscriptions
        self.book.load(bids, asks, sequence=seq)
        await conn.send(self.push("snapshot", seq, -1, bids, asks))
        for n in range(DELTAS):
            price = Decimal(self.rng.randrange(29950, 30051))
            qty = Decimal(self.rng.randrange(0, 9))
            is_bid = price <= 30000
            if is_bid:
                self.book.update(bids=[(price, qty)])
            else:
                self.book.update(asks=[(price, qty)])
            prev, seq = seq, seq + 1
            if lose_one and n == DELTAS // 2:
                continue  # lost on the way
            change = [(price, qty)]
            push = self.push(
                "update", seq, prev, change if is_bid else [], [] if is_bid else change
            )
            await conn.send(push)
            await asyncio.sleep(0)


async def main() -> int:
    venue = FakeOkx()
    book: OrderBook[Decimal] = OrderBook("BTC-USDT")

    def report(event: BookEvent) -> None:
        print(f"book {event.symbol}: {event.kind:<10} state {event.state:<9} {event.reason}")

    caught_up = asyncio.Event()

    def parse_until_caught_up(msg: BooksPush) -> BookUpdate[Decimal]:
        update = parse(msg)
        if update.last == FINAL_SEQ:
            caught_up.set()  # applied as soon as this returns
        return update

    sync = BookSync.stream_snapshot(
        book, parse_until_caught_up, checksum=okx_checksum, on_event=report
    )
    async with serve(venue.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with Okx(uri=f"ws://127.0.0.1:{port}/ws/v5/public") as client:
            follower = asyncio.create_task(sync.follow(client, Books(inst_id="BTC-USDT")))
            await asyncio.wait_for(caught_up.wait(), 10)
        await asyncio.wait_for(follower, 10)  # ends when the client closes
    mine, theirs = book.view(), venue.book.view()
    same = (mine.bids, mine.asks) == (theirs.bids, theirs.asks)
    print(f"best bid {book.best_bid()}, best ask {book.best_ask()}, spread {book.spread()}")
    print(
        f"applied {sync.applied} deltas, {sync.gaps} gap, {sync.resyncs} resync, "
        f"{sync.checksum_failures} checksum failures; {venue.subscriptions} subscriptions"
    )
    print(f"book equal to the venue's, level by level: {same}")
    return 0 if same and sync.gaps == 1 and sync.is_live else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
