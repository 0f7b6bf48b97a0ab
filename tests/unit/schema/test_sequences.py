"""Per-subscription sequences: ranges, keys, gaps at the consumer's position, dedup, resync."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any

import msgspec
import pytest

import jetsocket
from jetsocket._engine._state import ConnectionState
from jetsocket.schema import Client, Message, Stream, Subscription

URI = "ws://127.0.0.1:9/ws"  # never connected


class Item(msgspec.Struct):
    trade_id: int
    symbol: str = "BTC/USD"


class Trades(Message, tag="trade", tag_field="channel"):
    """Kraken v2 style: one message carries one or more trades."""

    data: list[Item]


class Venue(Client[Trades]):
    uri = URI


class KrakenTrades(Subscription[Trades]):
    def subscribe_message(self, request_id: int) -> object:
        return {"method": "subscribe", "req_id": request_id}

    def sequence(self, msg: Trades) -> tuple[int, int]:
        return msg.data[0].trade_id, msg.data[-1].trade_id


class DedupTrades(KrakenTrades):
    dedup = True

    def trim(self, msg: Trades, seen_through: int) -> Trades | None:
        fresh = [t for t in msg.data if t.trade_id > seen_through]
        return Trades(data=fresh) if fresh else None


class PerProduct(KrakenTrades):
    def sequence_key(self, msg: Trades) -> Hashable:
        return msg.data[0].symbol


def trades(*ids: int, symbol: str = "BTC/USD") -> Trades:
    return Trades(data=[Item(trade_id=i, symbol=symbol) for i in ids])


def attach(client: Client[Any], sub: Subscription[Any]) -> Stream[Any]:
    stream: Stream[Any] = Stream(sub, client.unsubscribe, client._block, client._resubscribe_one)
    client._streams[sub] = stream
    client._shards[0].subs.append(sub)
    client._changed()
    return stream


def gap_events(client: Client[Any]) -> list[jetsocket.GapEvent]:
    events: list[jetsocket.GapEvent] = []
    client.on("gap")(events.append)
    return events


def ids(stream: Stream[Any]) -> list[list[int]]:
    return [[t.trade_id for t in m.data] for m in stream.queue.items]


def test_ranges_of_batched_messages_make_no_false_gaps() -> None:
    client = Venue()
    stream = attach(client, KrakenTrades())
    gaps = gap_events(client)
    client._route([trades(1, 2), trades(3), trades(4, 5), trades(6, 7)])
    assert gaps == []
    client._route([trades(10, 11)])
    ((gap),) = gaps
    assert (gap.first_missing, gap.last_missing, gap.size) == (8, 9, 2)
    assert gap.subscription == KrakenTrades()
    assert gap.key is None
    assert stream.last_sequence == 11
    assert stream.gaps_detected == 1
    assert client.stats().gaps == 1


def test_sequences_per_product_within_one_subscription() -> None:
    client = Venue()
    stream = attach(client, PerProduct())
    gaps = gap_events(client)
    client._route(
        [
            trades(1, symbol="BTC"),
            trades(100, symbol="ETH"),
            trades(2, 3, symbol="BTC"),
            trades(101, symbol="ETH"),
            trades(105, symbol="ETH"),
            trades(4, symbol="BTC"),
        ]
    )
    ((gap),) = gaps
    assert (gap.key, gap.first_missing, gap.last_missing) == ("ETH", 102, 104)
    assert stream.sequences == {"BTC": 4, "ETH": 105}


def test_gap_is_seen_at_the_consumers_position() -> None:
    client = Venue()
    stream = attach(client, KrakenTrades())
    gaps = gap_events(client)
    client._route([trades(1), trades(2), trades(5), trades(6)])
    assert len(gaps) == 1
    items = stream.queue.items
    items.popleft()
    assert (stream.gaps, stream.gap) == (0, None)
    items.popleft()
    assert (stream.gaps, stream.gap) == (0, None)
    items.popleft()  # trades(5): the gap was right before it
    assert (stream.gaps, stream.gap) == (1, gaps[0])
    items.popleft()
    assert (stream.gaps, stream.gap) == (1, None)


async def test_gap_while_iterating() -> None:
    client = Venue()
    stream = attach(client, KrakenTrades())
    client._route([trades(1), trades(4), trades(5)])
    seen: list[tuple[int, int | None]] = []
    async with asyncio.timeout(1):
        for _ in range(3):
            msg = await stream.recv()
            gap = stream.gap
            seen.append((msg.data[0].trade_id, gap.first_missing if gap else None))
    assert seen == [(1, None), (4, 2), (5, None)]


def test_dedup_drops_a_replayed_snapshot_and_trims_overlaps() -> None:
    client = Venue()
    stream = attach(client, DedupTrades())
    gaps = gap_events(client)
    client._route([trades(1, 2, 3), trades(4, 5)])
    # A resubscribe replays a snapshot of the last trades, overlapping the new ones.
    client._route([trades(1, 2, 3, 4, 5), trades(3, 4, 5, 6, 7), trades(8)])
    assert ids(stream) == [[1, 2, 3], [4, 5], [6, 7], [8]]
    assert gaps == []
    assert stream.duplicates == 1
    stats = client.stats()
    assert (stats.duplicates, stats.messages_dropped) == (1, 1)


def test_without_dedup_replays_are_delivered_but_change_nothing() -> None:
    client = Venue()
    stream = attach(client, KrakenTrades())
    client._route([trades(1, 2), trades(1, 2), trades(3)])
    assert len(stream.queue.items) == 3
    assert stream.last_sequence == 3
    assert stream.duplicates == 0


class Fill(Message, tag="fill", tag_field="channel"):
    fill_id: str


class FillClient(Client[Fill]):
    uri = URI


class Fills(Subscription[Fill]):
    dedup_window = 2

    def subscribe_message(self, request_id: int) -> object:
        return {}

    def dedup_key(self, msg: Fill) -> Hashable:
        return msg.fill_id


def test_dedup_key_without_sequences() -> None:
    client = FillClient()
    stream = attach(client, Fills())
    client._route([Fill(fill_id=i) for i in ("a", "b", "a", "c", "a")])
    # "a" was forgotten once the window (2) moved past it.
    assert [f.fill_id for f in stream.queue.items] == ["a", "b", "c", "a"]
    assert stream.duplicates == 1


def test_deliver_a_snapshot_resets_the_sequence() -> None:
    client = Venue()
    stream = attach(client, DedupTrades())
    client._route([trades(1)])
    stream.deliver([trades(5, 6, 7)], sequence=7)
    client._route([trades(6, 7), trades(8)])
    assert ids(stream) == [[1], [5, 6, 7], [8]]


RESYNCS: list[tuple[int, int]] = []


class Resyncing(KrakenTrades):
    on_gap = "resync"

    async def resync(self, gap: jetsocket.GapEvent, stream: Stream[Trades]) -> None:
        RESYNCS.append((gap.first_missing, gap.last_missing))
        await asyncio.sleep(0)  # a REST request would be awaited here
        stream.deliver([trades(50)], sequence=50)


async def test_resync_hook_runs_once_per_gap_episode() -> None:
    RESYNCS.clear()
    client = Venue()
    stream = attach(client, Resyncing())
    client._route([trades(1), trades(3)])
    client._route([trades(5)])  # a second gap while the resync runs: no second resync
    async with asyncio.timeout(1):
        while not client._tasks and stream._resyncing:
            await asyncio.sleep(0)
        await asyncio.gather(*client._tasks)
    assert RESYNCS == [(2, 2)]
    assert ids(stream) == [[1], [3], [5], [50]]
    assert stream.last_sequence == 50
    assert not stream._resyncing


class FailingResync(KrakenTrades):
    on_gap = "resync"

    async def resync(self, gap: jetsocket.GapEvent, stream: Stream[Trades]) -> None:
        raise RuntimeError("snapshot endpoint down")


async def test_failing_resync_is_reported() -> None:
    client = Venue()
    errors: list[jetsocket.ErrorEvent] = []
    client.on("error")(errors.append)
    attach(client, FailingResync())
    client._route([trades(1), trades(3)])
    async with asyncio.timeout(1):
        await asyncio.gather(*client._tasks)
    assert [e.context for e in errors] == ["FailingResync resync"]


class ResubscribeOnGap(KrakenTrades):
    on_gap = "resubscribe"

    def unsubscribe_message(self, request_id: int) -> object:
        return {"method": "unsubscribe", "req_id": request_id}


async def test_resubscribe_on_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Venue()
    attach(client, ResubscribeOnGap())
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    monkeypatch.setattr(client.websocket, "send", send)
    monkeypatch.setattr(client.websocket, "_state", ConnectionState.CONNECTED)
    client._route([trades(1), trades(3)])
    async with asyncio.timeout(1):
        await asyncio.gather(*client._tasks)
    assert [m["method"] for m in sent] == ["unsubscribe", "subscribe"]


class ReconnectOnGap(KrakenTrades):
    on_gap = "reconnect"


def test_reconnect_on_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Venue()
    attach(client, ReconnectOnGap())
    dropped: list[bool] = []
    monkeypatch.setattr(client.websocket, "drop_connection", lambda: dropped.append(True))
    client._route([trades(1), trades(3)])
    assert dropped == [True]


async def test_stream_without_client_cannot_resubscribe() -> None:
    stream: Stream[Any] = Stream(KrakenTrades(), Venue().unsubscribe, lambda s, b: None)
    with pytest.raises(jetsocket.InvalidStateError):
        await stream.resubscribe()


def test_gap_event_keeps_its_old_form() -> None:
    gap = jetsocket.GapEvent(first_missing=3, last_missing=4)
    assert (gap.size, gap.subscription, gap.key) == (2, None, None)
