"""The order book: sorted sides, reading, checksums from the venues' docs, sync procedures."""

from __future__ import annotations

import asyncio
import functools
import random
import zlib
from decimal import Decimal
from typing import Any

import pytest

from jetsocket.book import (
    BookEvent,
    BookSync,
    BookUpdate,
    Level,
    OrderBook,
    binance_rest_snapshot,
    kraken_checksum,
    okx_checksum,
    parse_binance_depth,
    parse_coinbase_level2,
    parse_kraken_book,
    parse_okx_books,
)

D = Decimal


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(p), D(q)) for p, q in pairs]


# -- the book -------------------------------------------------------------------------------


def test_random_operations_match_a_reference_model() -> None:
    rng = random.Random(7)
    book: OrderBook[float] = OrderBook("X")
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for _ in range(20_000):  # thousands of levels: many chunk splits and merges
        side, ref = (book.bids, bids) if rng.random() < 0.5 else (book.asks, asks)
        price = float(rng.randrange(1, 3000))
        qty = 0.0 if rng.random() < 0.4 else float(rng.randrange(1, 100))
        side.set(price, qty)
        if qty:
            ref[price] = qty
        else:
            ref.pop(price, None)
    assert [tuple(lv) for lv in book.bids] == sorted(bids.items(), reverse=True)
    assert [tuple(lv) for lv in book.asks] == sorted(asks.items())
    assert len(book) == len(bids) + len(asks)
    best = max(bids)
    assert book.best_bid() == Level(best, bids[best])
    assert book.asks.top(3) == [Level(p, asks[p]) for p in sorted(asks)[:3]]
    # Across chunk boundaries (chunks hold up to 512 prices), both directions.
    for n in (1, 255, 256, 257, 511, 700, 10**6):
        assert book.bids.top(n) == list(book.bids)[:n]
        assert book.asks.top(n) == list(book.asks)[:n]
    assert book.bids.top(0) == []
    assert book.asks.top() == list(book.asks)


def test_reading_the_book() -> None:
    book: OrderBook[Decimal] = OrderBook("BTC-USD")
    assert (book.best_bid(), book.best_ask(), book.spread(), book.mid()) == (None,) * 4
    book.load(levels(("100", "1"), ("99", "2")), levels(("101", "3"), ("103", "1")), sequence=5)
    assert book.best_bid() == (D("100"), D("1"))
    assert book.best_ask() == Level(D("101"), D("3"))
    assert (book.spread(), book.mid(), book.sequence) == (D("1"), D("100.5"), 5)
    view = book.view(1)
    book.update(bids=levels(("100", "0"), ("100.5", "4")), asks=levels(("102", "0")), sequence=6)
    assert view.bids == (Level(D("100"), D("1")),)  # the copy did not change
    assert (view.best_ask, view.sequence) == (Level(D("101"), D("3")), 5)
    assert book.best_bid() == Level(D("100.5"), D("4"))
    assert book.bids.get(D("100")) is None
    assert D("99") in book.bids
    assert (book.sequence, book.updates) == (6, 1)
    assert not book.crossed
    book.update(asks=levels(("100", "1")))
    assert book.crossed
    assert "BTC-USD" in repr(book)
    assert "bids" in repr(book.bids)


def test_depth_truncates_after_every_update() -> None:
    book: OrderBook[Decimal] = OrderBook(depth=2)
    book.load(levels(("3", "1"), ("2", "1"), ("1", "1")), levels(("4", "1"), ("5", "1")))
    assert [lv.price for lv in book.bids] == [D("3"), D("2")]
    book.update(asks=levels(("3.5", "1")))
    assert [lv.price for lv in book.asks] == [D("3.5"), D("4")]
    with pytest.raises(ValueError, match="depth"):
        OrderBook(depth=0)


# -- checksums: the examples of the venues' public docs --------------------------------------

KRAKEN_ASKS = [
    ("45285.2", "0.00100000"),
    ("45286.4", "1.54571953"),
    ("45286.6", "1.54571109"),
    ("45289.6", "1.54560911"),
    ("45290.2", "0.15890660"),
    ("45291.8", "1.54553491"),
    ("45294.7", "0.04454749"),
    ("45296.1", "0.35380000"),
    ("45297.5", "0.09945542"),
    ("45299.5", "0.18772827"),
]
KRAKEN_BIDS = [
    ("45283.5", "0.10000000"),
    ("45283.4", "1.54582015"),
    ("45282.1", "0.10000000"),
    ("45281.0", "0.10000000"),
    ("45280.3", "1.54592586"),
    ("45279.0", "0.07990000"),
    ("45277.6", "0.03310103"),
    ("45277.5", "0.30000000"),
    ("45277.3", "1.54602737"),
    ("45276.6", "0.15445238"),
]


def test_kraken_v2_checksum_of_the_docs_example() -> None:
    book: OrderBook[Decimal] = OrderBook("BTC/USD")
    book.load(levels(*KRAKEN_BIDS), levels(*KRAKEN_ASKS))
    assert kraken_checksum(book) == 3310070434
    # Deeper levels do not count: the checksum covers the top 10.
    book.update(bids=levels(("1.0", "5.0")), asks=levels(("99999.9", "5.0")))
    assert kraken_checksum(book) == 3310070434
    # v2 sends JSON numbers: floats with the instrument's precision give the same.
    floats: OrderBook[float] = OrderBook()
    floats.load(
        [(float(p), float(q)) for p, q in KRAKEN_BIDS],
        [(float(p), float(q)) for p, q in KRAKEN_ASKS],
    )
    assert kraken_checksum(floats, price_precision=1, qty_precision=8) == 3310070434


def test_okx_checksum_of_the_docs_examples() -> None:
    even: OrderBook[Decimal] = OrderBook("BTC-USD")
    even.load(levels(("3366.1", "7"), ("3366", "6")), levels(("3366.8", "9"), ("3368", "8")))
    assert okx_checksum(even) == -1881014294  # "3366.1:7:3366.8:9:3366:6:3368:8"
    odd: OrderBook[Decimal] = OrderBook("BTC-USD")
    odd.load(levels(("3366.1", "7")), levels(("3366.8", "9"), ("3368", "8"), ("3372", "8")))
    assert okx_checksum(odd) == 831078360  # "3366.1:7:3366.8:9:3368:8:3372:8"
    # Tiny sizes are written out, never in scientific notation (str(Decimal) would).
    tiny: OrderBook[Decimal] = OrderBook()
    tiny.load(levels(("0.00000123", "0.00000001")), [])
    assert okx_checksum(tiny) == zlib.crc32(b"0.00000123:0.00000001") - (1 << 32) * (
        zlib.crc32(b"0.00000123:0.00000001") >= 1 << 31
    )


# -- the stream-snapshot procedure (OKX, Kraken, Coinbase) -----------------------------------


def okx(action: str, seq: int, prev: int, bids: Any = (), asks: Any = (), **extra: Any) -> Any:
    data: dict[str, Any] = {"bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}
    data.update(seqId=seq, prevSeqId=prev, **extra)
    return {"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action, "data": [data]}


def okx_checksummed(book: OrderBook[Decimal], message: Any) -> Any:
    """``message`` with the checksum OKX would send for ``book`` after it."""
    shadow: OrderBook[Decimal] = OrderBook()
    shadow.load(book.bids, book.asks)
    update = parse_okx_books(message)
    assert update is not None
    if update.snapshot:
        shadow.load(update.bids, update.asks)
    else:
        shadow.update(update.bids, update.asks)
    message["data"][0]["checksum"] = okx_checksum(shadow)
    return message


def test_okx_snapshot_deltas_gap_and_resubscribe() -> None:
    events: list[BookEvent] = []
    resubscribed: list[int] = []
    book: OrderBook[Decimal] = OrderBook("BTC-USDT")
    sync = BookSync.stream_snapshot(
        book,
        parse_okx_books,
        checksum=okx_checksum,
        resubscribe=lambda: resubscribed.append(1),
        on_event=events.append,
    )
    assert sync.state == "empty"
    sync.feed(okx("update", 9, 8, bids=[("1", "1")]))  # before any snapshot: dropped
    assert (sync.state, sync.dropped) == ("syncing", 1)
    sync.feed({"event": "subscribe"})  # not a book message
    snap = okx("snapshot", 10, -1, bids=[("100", "1", "0", "1")], asks=[("101", "2", "0", "1")])
    sync.feed(okx_checksummed(book, snap))
    assert (sync.state, book.sequence) == ("live", 10)
    sync.feed(okx_checksummed(book, okx("update", 11, 10, bids=[("100.5", "3", "0", "1")])))
    sync.feed(okx_checksummed(book, okx("update", 11, 11)))  # no change (heartbeat)
    assert (sync.applied, book.best_bid(), sync.state) == (2, (D("100.5"), D("3")), "live")
    sync.feed(okx("update", 15, 13, asks=[("101", "0", "0", "0")]))  # 12..13 missing
    assert (sync.state, sync.gaps, sync.resyncs, resubscribed) == ("resyncing", 1, 1, [1])
    assert [e.kind for e in events] == ["live", "gap", "resyncing"]
    assert "previous sequence 13, the book is at 11" in events[1].reason
    assert events[2].state == "resyncing"
    sync.feed(okx("update", 16, 15, bids=[("1", "1", "0", "1")]))  # stale book: dropped
    assert sync.resyncs == 1  # one resync at a time
    snap = okx("snapshot", 20, -1, bids=[("99", "1", "0", "1")], asks=[("102", "1", "0", "1")])
    sync.feed(okx_checksummed(book, snap))
    assert (sync.state, book.best_bid(), book.sequence) == ("live", (D("99"), D("1")), 20)
    # A wrong checksum: corrupt book, resync.
    bad = okx("update", 21, 20, bids=[("98", "1", "0", "1")], checksum=12345)
    sync.feed(bad)
    assert (sync.state, sync.checksum_failures, resubscribed) == ("resyncing", 1, [1, 1])
    assert events[-2].kind == "checksum_failed"
    assert "BookSync BTC-USDT stream: resyncing" in repr(sync)


def test_kraken_book_with_checksums_and_depth() -> None:
    book: OrderBook[Decimal] = OrderBook("BTC/USD", depth=10)
    # v2 prices are JSON numbers: 0.10000000 arrives as 0.1; the instrument's precision
    # (from Kraken's instrument channel) restores the digits the checksum covers.
    checksum = functools.partial(kraken_checksum, price_precision=1, qty_precision=8)
    sync = BookSync.stream_snapshot(book, parse_kraken_book, checksum=checksum)

    def message(kind: str, bids: Any, asks: Any, checksum: int) -> Any:
        def rows(pairs: Any) -> Any:
            return [{"price": float(p), "qty": float(q)} for p, q in pairs]

        data = {"symbol": "BTC/USD", "bids": rows(bids), "asks": rows(asks), "checksum": checksum}
        return {"channel": "book", "type": kind, "data": [data]}

    sync.feed(message("snapshot", KRAKEN_BIDS, KRAKEN_ASKS, 3310070434))
    assert sync.state == "live"
    # An 11th bid falls out of the depth-10 book; the checksum stays the docs' one.
    sync.feed(message("update", [("45000.0", "1.00000000")], [], 3310070434))
    assert (sync.state, len(book.bids)) == ("live", 10)
    sync.feed(message("update", [("45283.5", "0.20000000")], [], 3310070434))
    assert (sync.state, sync.checksum_failures) == ("resyncing", 1)
    assert parse_kraken_book({"channel": "heartbeat"}) is None


def test_coinbase_level2_parse() -> None:
    msg = {
        "channel": "l2_data",
        "sequence_num": 3,
        "events": [
            {
                "type": "snapshot",
                "product_id": "BTC-USD",
                "updates": [
                    {"side": "bid", "price_level": "21921.73", "new_quantity": "0.06317902"},
                    {"side": "offer", "price_level": "21921.74", "new_quantity": "1.5"},
                ],
            },
            {"type": "update", "product_id": "ETH-USD", "updates": []},
        ],
    }
    update = parse_coinbase_level2(msg, "BTC-USD")
    assert update is not None
    assert update.snapshot
    assert update.bids == [(D("21921.73"), D("0.06317902"))]
    assert update.asks == [(D("21921.74"), D("1.5"))]
    assert parse_coinbase_level2(msg, "SOL-USD") is None
    assert parse_coinbase_level2({"channel": "heartbeats"}) is None


# -- the REST-snapshot procedure (Binance) ---------------------------------------------------


def depth(first: int, last: int, bids: Any = (), asks: Any = (), prev: int | None = None) -> Any:
    msg: dict[str, Any] = {
        "e": "depthUpdate",
        "s": "BNBBTC",
        "U": first,
        "u": last,
        "b": [list(b) for b in bids],
        "a": [list(a) for a in asks],
    }
    if prev is not None:
        msg["pu"] = prev
    return msg


def rest(last_update_id: int, bids: Any = (("10", "1"),), asks: Any = (("11", "1"),)) -> Any:
    return {"lastUpdateId": last_update_id, "bids": bids, "asks": asks}


def test_binance_spot_rules_with_a_blocking_snapshot() -> None:
    snapshots = [rest(100), rest(110)]  # the first is older than the first event: refetched
    fetched: list[int] = []

    def fetch() -> BookUpdate[Decimal]:
        payload = snapshots.pop(0)
        fetched.append(payload["lastUpdateId"])
        return binance_rest_snapshot(payload)

    book: OrderBook[Decimal] = OrderBook("BNBBTC")
    sync = BookSync.rest_snapshot(book, parse_binance_depth, fetch)
    # No event loop here: the first delta fetches the snapshot at once, in this thread.
    sync.feed(depth(105, 112, bids=[("10", "2")]))
    assert fetched == [100, 110]
    # 105..112 contains lastUpdateId + 1 = 111: applied; the book is at 112.
    assert (sync.state, book.sequence, book.best_bid()) == ("live", 112, (D("10"), D("2")))
    sync.feed(depth(110, 112, bids=[("10", "9")]))  # u <= 112: older, ignored
    assert (book.best_bid(), sync.dropped) == ((D("10"), D("2")), 1)
    sync.feed(depth(113, 115, asks=[("11", "0"), ("12", "3")]))
    assert (book.best_ask(), book.sequence) == ((D("12"), D("3")), 115)
    snapshots.append(rest(200, bids=[("9", "1")]))
    sync.feed(depth(117, 120))  # 116 missing: gap, resync with a new snapshot
    assert (sync.gaps, sync.resyncs, fetched[-1]) == (1, 1, 200)


async def test_binance_spot_buffers_deltas_while_the_snapshot_is_fetched() -> None:
    release = asyncio.Event()
    events: list[str] = []

    async def fetch() -> BookUpdate[Decimal]:
        await release.wait()
        return binance_rest_snapshot(rest(103, bids=[("10", "1"), ("9", "1")]))

    book: OrderBook[Decimal] = OrderBook("BNBBTC")
    sync = BookSync.rest_snapshot(
        book, parse_binance_depth, fetch, on_event=lambda e: events.append(e.kind)
    )
    for msg in (
        depth(100, 102, bids=[("10", "5")]),  # entirely in the snapshot: dropped
        depth(103, 104, bids=[("9", "0")]),  # contains 104 = lastUpdateId + 1: first applied
        depth(105, 105, asks=[("11", "2")]),
    ):
        sync.feed(msg)
    assert sync.state == "syncing"
    release.set()
    await sync.wait_live(timeout=5)
    assert [tuple(lv) for lv in book.bids] == [(D("10"), D("1"))]
    assert (book.best_ask(), book.sequence, sync.dropped) == ((D("11"), D("2")), 105, 1)
    assert events == ["live"]
    sync.close()


async def test_binance_futures_chain_on_pu_and_refetch_after_a_gap() -> None:
    snapshots = [rest(50), rest(80)]

    async def fetch() -> BookUpdate[Decimal]:
        return binance_rest_snapshot(snapshots.pop(0))

    book: OrderBook[Decimal] = OrderBook("BTCUSDT")
    sync = BookSync.rest_snapshot(book, parse_binance_depth, fetch, futures=True)
    sync.feed(depth(40, 49, prev=30))  # u < lastUpdateId: dropped
    sync.feed(depth(50, 55, prev=49, bids=[("10", "3")]))  # U <= 50 <= u: the first
    sync.feed(depth(56, 60, prev=55, asks=[("11", "4")]))
    await sync.wait_live(timeout=5)
    assert (book.sequence, book.best_bid(), book.best_ask()) == (
        60,
        (D("10"), D("3")),
        (D("11"), D("4")),
    )
    sync.feed(depth(70, 75, prev=65))  # pu 65 is not 60: a gap
    assert sync.state == "resyncing"
    sync.feed(depth(76, 82, prev=75, bids=[("10", "7")]))
    await sync.wait_live(timeout=5)
    assert (book.sequence, book.best_bid(), sync.gaps) == (82, (D("10"), D("7")), 1)


async def test_a_failing_snapshot_is_retried_and_reported() -> None:
    calls: list[int] = []

    async def fetch() -> BookUpdate[Decimal]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("HTTP 503")
        return binance_rest_snapshot(rest(10))

    kinds: list[str] = []
    sync = BookSync.rest_snapshot(
        OrderBook[Decimal](), parse_binance_depth, fetch, on_event=lambda e: kinds.append(e.kind)
    )
    sync.feed(depth(11, 12))
    await sync.wait_live(timeout=5)
    assert kinds == ["snapshot_failed", "live"]
    assert len(calls) == 2


def test_bad_arguments_and_a_failing_handler_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="snapshot="):
        BookSync(OrderBook[Decimal](), parse_okx_books, mode="rest")

    def boom(event: BookEvent) -> None:
        raise RuntimeError("handler bug")

    sync = BookSync.stream_snapshot(OrderBook[Decimal](), parse_okx_books, on_event=boom)
    sync.feed(okx("snapshot", 1, -1))
    assert sync.state == "live"
    assert "on_event handler failed" in caplog.text
