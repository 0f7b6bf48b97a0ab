"""An order book fed by a typed Client from a fake OKX-style venue that loses a message.

The client side (messages, subscription, parse) is examples/order_book.py's own.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from examples.order_book import Books, BooksPush, parse
from websockets.asyncio.server import ServerConnection

from jetsocket.book import BookEvent, BookSync, BookUpdate, OrderBook, okx_checksum
from jetsocket.schema import Client

TIMEOUT = 10.0
FINAL_SEQ = 2060  # the second subscription: snapshot at 2000, then 60 deltas
ARG = {"channel": "books", "instId": "BTC-USDT"}


class Venue(Client[BooksPush]):
    unknown_messages = "ignore"


class FakeVenue:
    """Streams a random book; the first subscription loses one delta on the way."""

    def __init__(self) -> None:
        self.rng = random.Random(11)
        self.book: OrderBook[Decimal] = OrderBook()
        self.subscriptions = 0
        self.final_seq = 0
        self.task: asyncio.Task[None] | None = None

    def level(self) -> tuple[Decimal, Decimal]:
        return Decimal(self.rng.randrange(9000, 11000)) / 10, Decimal(self.rng.randrange(0, 50))

    def message(self, action: str, seq: int, prev: int, bids: Any, asks: Any) -> str:
        data = {
            "bids": [[str(p), str(q), "0", "1"] for p, q in bids],
            "asks": [[str(p), str(q), "0", "1"] for p, q in asks],
            "seqId": seq,
            "prevSeqId": prev,
            "checksum": okx_checksum(self.book),
        }
        return json.dumps({"arg": ARG, "action": action, "data": [data]})

    async def handler(self, conn: ServerConnection) -> None:
        async for raw in conn:
            request = json.loads(raw)
            await conn.send(json.dumps({"id": request["id"], "event": request["op"], "arg": ARG}))
            if request["op"] == "subscribe":
                self.subscriptions += 1
                self.task = asyncio.create_task(self.stream(conn, lose=self.subscriptions == 1))
            elif self.task is not None:
                self.task.cancel()

    async def stream(self, conn: ServerConnection, *, lose: bool) -> None:
        bids = [(Decimal(900 - i), Decimal(1 + i)) for i in range(30)]
        asks = [(Decimal(1100 + i), Decimal(1 + i)) for i in range(30)]
        seq = 1000 * self.subscriptions
        self.book.load(bids, asks, sequence=seq)
        await conn.send(self.message("snapshot", seq, -1, bids, asks))
        for n in range(40 if lose else 60):
            price, qty = self.level()
            side = "bids" if price < 1000 else "asks"
            change = [(price, qty)]
            if side == "bids":
                self.book.update(bids=change)
            else:
                self.book.update(asks=change)
            prev, seq = seq, seq + 1
            if lose and n == 20:
                continue  # lost on the way: the client sees prevSeqId jump
            bids_out, asks_out = (change, []) if side == "bids" else ([], change)
            await conn.send(self.message("update", seq, prev, bids_out, asks_out))
            await asyncio.sleep(0)
        if not lose:
            self.final_seq = seq


async def test_the_book_resyncs_after_a_lost_delta_and_ends_equal_to_the_venue(
    server: Callable[..., Any],
) -> None:
    venue = FakeVenue()
    events: list[BookEvent] = []
    done = asyncio.Event()
    book: OrderBook[Decimal] = OrderBook("BTC-USDT")

    def parse_until_done(msg: BooksPush) -> BookUpdate[Decimal]:
        update = parse(msg)
        if update.last == FINAL_SEQ:
            done.set()  # applied right after this returns, before the test resumes
        return update

    sync = BookSync.stream_snapshot(
        book, parse_until_done, checksum=okx_checksum, on_event=events.append
    )
    async with server(venue.handler) as uri, Venue(uri=uri) as client:
        follower = asyncio.create_task(sync.follow(client, Books(inst_id="BTC-USDT")))
        async with asyncio.timeout(TIMEOUT):
            await done.wait()
        assert sync.state == "live"
        assert book.sequence == venue.final_seq
        assert book.bids.top() == venue.book.bids.top()
        assert book.asks.top() == venue.book.asks.top()
    await asyncio.wait_for(follower, TIMEOUT)
    kinds = [e.kind for e in events]
    assert kinds == ["live", "gap", "resyncing", "live"], kinds
    assert "previous sequence" in events[1].reason
    assert (sync.gaps, sync.resyncs, sync.checksum_failures) == (1, 1, 0)
    assert venue.subscriptions == 2


@pytest.mark.parametrize("levels", [10, 1000])
def test_view_of_a_large_book_is_sorted(levels: int) -> None:
    book: OrderBook[float] = OrderBook()
    book.load(
        [(float(i), 1.0) for i in range(levels)], [(float(levels + i), 1.0) for i in range(levels)]
    )
    view = book.view(5)
    assert [lv.price for lv in view.bids] == [float(levels - 1 - i) for i in range(5)]
    assert [lv.price for lv in view.asks] == [float(levels + i) for i in range(5)]
