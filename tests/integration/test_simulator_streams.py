"""ExchangeSimulator with ``sequence="stream"``: per-stream sequences, resume, books, gaps.

Checked with `websockets`' own client over loopback, like test_simulator.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect

from jetsocket.testing import (
    BookDelta,
    BookSnapshot,
    ExchangeSimulator,
    FeedMessage,
    Response,
    Trade,
    decode_message,
)

TIMEOUT = 5.0


@asynccontextmanager
async def client(sim: ExchangeSimulator) -> AsyncIterator[ClientConnection]:
    async with connect(sim.uri, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        yield ws


async def recv(ws: ClientConnection) -> FeedMessage | Response:
    async with asyncio.timeout(TIMEOUT):
        raw = await ws.recv()
    assert isinstance(raw, str)
    return decode_message(raw)


async def recv_feed(ws: ClientConnection) -> FeedMessage:
    msg = await recv(ws)
    assert not isinstance(msg, Response), msg
    return msg


async def subscribe(
    ws: ClientConnection,
    streams: Sequence[str],
    request_id: int = 1,
    resume: dict[str, int] | None = None,
) -> Response:
    body: dict[str, Any] = {"method": "SUBSCRIBE", "params": list(streams), "id": request_id}
    if resume is not None:
        body["resume"] = resume
    await ws.send(msgspec.json.encode(body).decode())
    reply = await recv(ws)
    assert isinstance(reply, Response), reply
    assert reply.id == request_id
    return reply


class Book:
    """The minimal client-side book of the tests: snapshot, then deltas by version."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.version: int | None = None

    def apply(self, msg: BookSnapshot | BookDelta) -> None:
        if isinstance(msg, BookSnapshot):
            self.bids = dict(msg.bids)
            self.asks = dict(msg.asks)
        else:
            assert self.version is not None
            assert msg.version == self.version + 1, (msg.version, self.version)
            for side, changes in ((self.bids, msg.bids), (self.asks, msg.asks)):
                for price, qty in changes:
                    if qty == 0:
                        side.pop(price, None)
                    else:
                        side[price] = qty
        self.version = msg.version

    def levels(self) -> tuple[tuple[tuple[Decimal, Decimal], ...], ...]:
        bids = tuple(sorted(self.bids.items(), reverse=True))
        return bids, tuple(sorted(self.asks.items()))


# -- one sequence per stream --------------------------------------------------------------


async def test_each_stream_has_its_own_sequence() -> None:
    async with (
        ExchangeSimulator(rate=200, seed=1, sequence="stream") as sim,
        client(sim) as ws,
    ):
        reply = await subscribe(ws, ["btcusdt@trade", "ethusdt@trade", "btcusdt@bookTicker"])
        assert reply == Response(id=1)  # no resume asked: the reply is unchanged
        seen: dict[str, list[int]] = {}
        for _ in range(60):
            msg = await recv_feed(ws)
            seen.setdefault(f"{msg.symbol}/{type(msg).__name__}", []).append(msg.seq)
        assert len(seen) == 3
        for seqs in seen.values():
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


async def test_sequence_goes_on_across_connections_and_the_market_keeps_producing() -> None:
    async with ExchangeSimulator(rate=100, seed=1, sequence="stream") as sim:
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
            first = [(await recv_feed(ws)).seq for _ in range(5)]
        assert first == [1, 2, 3, 4, 5]
        # Nobody subscribed: the stream still produces (on its own schedule).
        head = sim.sequence_of("btcusdt@trade")
        await sim.wait_for(lambda: sim.sequence_of("btcusdt@trade") >= head + 5)
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
            msg = await recv_feed(ws)
            assert msg.seq > head + 5  # a fresh subscription starts with the next message
        assert sim.sequence_of("nope@trade") == 0


async def test_two_connections_share_one_stream() -> None:
    async with (
        ExchangeSimulator(rate=0, seed=3, sequence="stream") as sim,
        client(sim) as a,
        client(sim) as b,
    ):
        await subscribe(a, ["btcusdt@trade"])
        await subscribe(b, ["btcusdt@trade"])
        assert sim.burst(20) == 1  # one stream, however many connections
        ta = [await recv_feed(a) for _ in range(20)]
        tb = [await recv_feed(b) for _ in range(20)]
        assert ta == tb  # the same messages: produced once, sent to both
        assert [t.seq for t in ta] == list(range(1, 21))
        stats = sim.stats()
        assert stats.messages_produced == 20
        assert stats.messages_sent == 40


async def test_resume_replays_from_the_last_sequence_seen() -> None:
    async with ExchangeSimulator(rate=0, seed=1, sequence="stream") as sim:
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
            sim.burst(10)
            got = [await recv_feed(ws) for _ in range(4)]
        # The connection is cut after message 4: 5..10 were in flight, 11..30 follow.
        assert [m.seq for m in got] == [1, 2, 3, 4]
        sim.burst(20)
        await sim.wait_for(lambda: sim.sequence_of("btcusdt@trade") == 30)
        async with client(sim) as ws:
            reply = await subscribe(ws, ["btcusdt@trade"], resume={"btcusdt@trade": 4})
            assert reply.result == {"recovered": {"btcusdt@trade": True}}
            rest = [await recv_feed(ws) for _ in range(26)]
            assert [m.seq for m in rest] == list(range(5, 31))
            sim.burst(1)
            assert (await recv_feed(ws)).seq == 31  # then live, no duplicate
        assert sim.stats().messages_replayed == 26


async def test_resume_older_than_the_history_shows_the_gap() -> None:
    async with ExchangeSimulator(rate=0, seed=1, sequence="stream", history=10) as sim:
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
            sim.burst(50)
            await sim.wait_for(lambda: sim.sequence_of("btcusdt@trade") == 50)
        async with client(sim) as ws:
            reply = await subscribe(ws, ["btcusdt@trade"], resume={"btcusdt@trade": 3})
            assert reply.result == {"recovered": {"btcusdt@trade": False}}
            first = await recv_feed(ws)
            assert 4 < first.seq <= 41  # the oldest kept: between history and 2 x history
            assert first.seq >= 50 - 2 * 10 + 1


async def test_resume_at_the_head_replays_nothing() -> None:
    async with ExchangeSimulator(rate=0, seed=1, sequence="stream") as sim:
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
            sim.burst(3)
            assert [(await recv_feed(ws)).seq for _ in range(3)] == [1, 2, 3]
        async with client(sim) as ws:
            reply = await subscribe(ws, ["btcusdt@trade"], resume={"btcusdt@trade": 3})
            assert reply.result == {"recovered": {"btcusdt@trade": True}}
            sim.burst(1)
            assert (await recv_feed(ws)).seq == 4


@pytest.mark.parametrize(
    ("resume", "code"),
    [
        ([1], 2),
        ({"btcusdt@trade": -1}, 2),
        ({"btcusdt@trade": True}, 2),
        ({"btcusdt@trade": "7"}, 2),
        ({"ethusdt@trade": 7}, 1),  # not in params
    ],
)
async def test_bad_resume_is_refused(resume: object, code: int) -> None:
    async with (
        ExchangeSimulator(rate=0, seed=1, sequence="stream") as sim,
        client(sim) as ws,
    ):
        body = {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1, "resume": resume}
        await ws.send(msgspec.json.encode(body).decode())
        reply = await recv(ws)
        assert isinstance(reply, Response)
        assert reply.error is not None
        assert reply.error.code == code
        assert sim.subscriptions() == [[]]


async def test_resume_needs_stream_sequences() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim, client(sim) as ws:
        reply = await subscribe(ws, ["btcusdt@trade"], resume={"btcusdt@trade": 1})
        assert reply.error is not None
        assert "sequence='stream'" in reply.error.msg
        with pytest.raises(RuntimeError, match="sequence='stream'"):
            sim.sequence_of("btcusdt@trade")
        with pytest.raises(RuntimeError, match="sequence='stream'"):
            sim.book("BTCUSDT")


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="sequence"):
        ExchangeSimulator(sequence="session")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="history"):
        ExchangeSimulator(sequence="stream", history=0)


# -- order book stream ----------------------------------------------------------------------


async def test_book_snapshot_then_deltas_match_the_simulators_book() -> None:
    async with (
        ExchangeSimulator(rate=0, seed=4, sequence="stream") as sim,
        client(sim) as ws,
    ):
        await subscribe(ws, ["btcusdt@book"])
        sim.burst(120)
        snapshot = await recv_feed(ws)
        assert isinstance(snapshot, BookSnapshot)
        assert snapshot.seq == snapshot.version  # the stream numbers its deltas
        assert len(snapshot.bids) == len(snapshot.asks) == 20
        assert snapshot.bids[0][0] < snapshot.asks[0][0]
        book = Book()
        book.apply(snapshot)
        for _ in range(100):
            delta = await recv_feed(ws)
            assert isinstance(delta, BookDelta)
            assert delta.seq == delta.version
            book.apply(delta)
            best_bid, best_ask = max(book.bids), min(book.asks)
            assert best_bid < best_ask
        # Stop the feed where the client is, then compare with the simulator's own book.
        await _unsubscribe_and_settle(ws, "btcusdt@book", book)
        truth = sim.book("btcusdt")
        assert truth.version == book.version
        assert (truth.bids, truth.asks) == book.levels()


async def test_book_resumes_with_deltas_and_resyncs_with_a_snapshot() -> None:
    async with ExchangeSimulator(rate=0, seed=4, sequence="stream") as sim:
        book = Book()
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@book"])
            book.apply(_book_msg(await recv_feed(ws)))
            sim.burst(5)
            for _ in range(5):
                book.apply(_book_msg(await recv_feed(ws)))
        sim.burst(7)  # while the client is away
        await sim.wait_for(lambda: sim.sequence_of("btcusdt@book") == 12)
        async with client(sim) as ws:
            reply = await subscribe(ws, ["btcusdt@book"], resume={"btcusdt@book": 5})
            assert reply.result == {"recovered": {"btcusdt@book": True}}
            for _ in range(7):
                msg = await recv_feed(ws)
                assert isinstance(msg, BookDelta)  # the deltas, no snapshot
                book.apply(msg)
            assert book.version == 12
            # An injected gap: deltas 13 and 14 never arrive.
            assert sim.inject_gap("btcusdt@book", 2) == 1
            sim.burst(3)
            delta = await recv_feed(ws)
            assert isinstance(delta, BookDelta)
            assert delta.version == 15  # the client sees the gap ...
            # ... and resyncs: a subscription without resume starts with a snapshot.
            await ws.send('{"method": "UNSUBSCRIBE", "params": ["btcusdt@book"], "id": 5}')
            assert await recv(ws) == Response(id=5)
            await subscribe(ws, ["btcusdt@book"], request_id=6)
            snapshot = await recv_feed(ws)
            assert isinstance(snapshot, BookSnapshot)
            assert snapshot.version == 15
            book.apply(snapshot)
            truth = sim.book("BTCUSDT")
            assert (truth.version, truth.bids, truth.asks) == (15, *book.levels())
        assert sim.stats().messages_withheld == 2


async def test_book_resume_too_old_sends_a_snapshot() -> None:
    async with ExchangeSimulator(rate=0, seed=4, sequence="stream", history=5) as sim:
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@book"])
            sim.burst(30)
            await sim.wait_for(lambda: sim.sequence_of("btcusdt@book") == 30)
        async with client(sim) as ws:
            reply = await subscribe(ws, ["btcusdt@book"], resume={"btcusdt@book": 2})
            assert reply.result == {"recovered": {"btcusdt@book": False}}
            snapshot = await recv_feed(ws)
            assert isinstance(snapshot, BookSnapshot)
            assert snapshot.version == 30


async def test_book_and_gap_per_connection() -> None:
    """The default mode: a book per connection, seq per connection, gaps by version."""
    async with ExchangeSimulator(rate=0, seed=2) as sim, client(sim) as ws:
        await subscribe(ws, ["btcusdt@trade", "btcusdt@book"])
        sim.burst(3)
        msgs = [await recv_feed(ws) for _ in range(7)]
        assert [m.seq for m in msgs] == list(range(1, 8))
        assert isinstance(msgs[0], BookSnapshot)  # a book stream starts with its snapshot
        assert msgs[0].version == 0
        deltas = [m for m in msgs if isinstance(m, BookDelta)]
        assert [d.version for d in deltas] == [1, 2, 3]
        assert sim.inject_gap("btcusdt@book", 2) == 1
        assert sim.inject_gap("btcusdt@kline_1m") == 0  # nobody subscribed
        sim.burst(3, streams=["btcusdt@book"])
        last = await recv_feed(ws)
        assert isinstance(last, BookDelta)
        assert (last.version, last.seq) == (6, 10)  # 4 and 5 (seq 8 and 9) withheld
        stats = sim.stats()
        assert stats.messages_withheld == 2
        assert stats.messages_produced == stats.messages_sent + 2
        with pytest.raises(ValueError, match="count"):
            sim.inject_gap("btcusdt@book", 0)


async def test_trades_gap_in_stream_mode() -> None:
    async with (
        ExchangeSimulator(rate=0, seed=2, sequence="stream") as sim,
        client(sim) as ws,
    ):
        await subscribe(ws, ["btcusdt@trade"])
        assert sim.inject_gap("btcusdt@trade", 3) == 1
        assert sim.inject_gap("btcusdt@bookTicker") == 0
        sim.burst(5)
        msgs = [await recv_feed(ws) for _ in range(2)]
        assert [m.seq for m in msgs] == [4, 5]
        assert all(isinstance(m, Trade) for m in msgs)


# -- helpers ----------------------------------------------------------------------------------


def _book_msg(msg: FeedMessage) -> BookSnapshot | BookDelta:
    assert isinstance(msg, BookSnapshot | BookDelta), msg
    return msg


async def _unsubscribe_and_settle(ws: ClientConnection, stream: str, book: Book) -> None:
    """Unsubscribe, applying the deltas that precede the reply (none follows it)."""
    body = {"method": "UNSUBSCRIBE", "params": [stream], "id": 99}
    await ws.send(msgspec.json.encode(body).decode())
    while True:
        msg = await recv(ws)
        if isinstance(msg, Response):
            assert msg.id == 99
            return
        book.apply(_book_msg(msg))


async def test_restart_keeps_the_streams_and_their_history() -> None:
    sim = ExchangeSimulator(rate=0, seed=1, sequence="stream")
    await sim.start()
    try:
        async with client(sim) as ws:
            await subscribe(ws, ["btcusdt@trade"])
            sim.burst(5)
            assert [(await recv_feed(ws)).seq for _ in range(2)] == [1, 2]
            await sim.stop()  # closes with 1001: 3, 4 and 5 were never read
        await sim.start()
        async with client(sim) as ws:
            reply = await subscribe(ws, ["btcusdt@trade"], resume={"btcusdt@trade": 2})
            assert reply.result == {"recovered": {"btcusdt@trade": True}}
            assert [(await recv_feed(ws)).seq for _ in range(3)] == [3, 4, 5]
            sim.burst(1)
            assert (await recv_feed(ws)).seq == 6
    finally:
        await sim.stop()
