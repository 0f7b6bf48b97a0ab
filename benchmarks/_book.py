"""Order book benchmark: deltas applied per second (``python -m benchmarks._book``).

A seeded random walk of L2 deltas around a moving mid (most changes near the top, 30 %
removals, a book of ~2 x ``--levels`` levels), applied by:

* ``side.set``      - ``jetsocket.book.BookSide.set`` alone (float prices);
* ``book float``    - ``OrderBook[float].update`` with one level per message;
* ``book Decimal``  - ``OrderBook[Decimal].update`` (exact prices, what checksums need);
* ``sync``          - ``BookSync.feed`` of pre-parsed ``BookUpdate`` objects (sequence
  checks included), the per-message cost of a live book;
* ``sync+parse``    - ``BookSync.feed`` of decoded OKX ``books`` dicts (``parse_okx_books``:
  strings to Decimal) with the OKX checksum verified every ``--checksum-every`` messages;
* peers: a plain sorted ``list`` with ``bisect.insort`` (O(n) inserts) and
  ``sortedcontainers.SortedDict`` when installed.

Not a timed assertion anywhere: figures only. To make it a section of
``python -m benchmarks`` (``make bench``), add ``"book"`` to ``SECTIONS`` in
``benchmarks/_cli.py`` and ``"book": section`` (``from benchmarks._book import section``)
to its ``sections`` dict: :func:`section` has the signature of the other sections.
"""

from __future__ import annotations

import argparse
import bisect
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from jetsocket.book import BookSync, BookUpdate, OrderBook, okx_checksum, parse_okx_books

__all__ = ["main", "run", "section"]


def _walk(n: int, levels: int, seed: int) -> list[tuple[bool, float, float]]:
    """``(is_bid, price, qty)`` deltas: a random walk of the mid, changes near it."""
    rng = random.Random(seed)
    mid = 10_000.0
    out: list[tuple[bool, float, float]] = []
    for _ in range(n):
        mid += rng.choice((-0.5, 0.0, 0.5))
        distance = int(rng.expovariate(1 / (levels / 8))) % levels + 1
        is_bid = rng.random() < 0.5
        price = round(mid - distance * 0.5 if is_bid else mid + distance * 0.5, 1)
        qty = 0.0 if rng.random() < 0.3 else round(rng.uniform(0.001, 5.0), 3)
        out.append((is_bid, price, qty))
    return out


def _timed(func: Callable[[], None], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return n / best


def run(
    n: int = 200_000, levels: int = 1_000, rounds: int = 3, checksum_every: int = 100
) -> dict[str, float]:
    """Deltas applied per second by each implementation (best of ``rounds``)."""
    deltas = _walk(n, levels, seed=7)
    dec = [(b, Decimal(repr(p)), Decimal(repr(q))) for b, p, q in deltas]
    results: dict[str, float] = {}

    def side_set() -> None:
        book: OrderBook[float] = OrderBook()
        bids, asks = book.bids.set, book.asks.set
        for is_bid, price, qty in deltas:
            (bids if is_bid else asks)(price, qty)

    def book_float() -> None:
        book: OrderBook[float] = OrderBook()
        update = book.update
        for is_bid, price, qty in deltas:
            if is_bid:
                update(bids=((price, qty),))
            else:
                update(asks=((price, qty),))

    def book_decimal() -> None:
        book: OrderBook[Decimal] = OrderBook()
        update = book.update
        for is_bid, price, qty in dec:
            if is_bid:
                update(bids=((price, qty),))
            else:
                update(asks=((price, qty),))

    updates: list[BookUpdate[Decimal]] = [
        BookUpdate(bids=((p, q),) if b else (), asks=() if b else ((p, q),), last=i + 1, prev=i)
        for i, (b, p, q) in enumerate(dec, start=1)
    ]

    def sync() -> None:
        book: OrderBook[Decimal] = OrderBook()
        feeder = BookSync.stream_snapshot(book, lambda u: u)
        feeder.feed(BookUpdate(snapshot=True, last=1))
        for update in updates:
            feeder.feed(update)
        assert feeder.state == "live"

    messages: list[Any] = []
    for i, (b, p, q) in enumerate(deltas, start=1):
        row = [[repr(p), repr(q), "0", "1"]]
        data = {"bids": row if b else [], "asks": [] if b else row, "seqId": i + 1, "prevSeqId": i}
        messages.append({"arg": {"channel": "books"}, "action": "update", "data": [data]})

    def sync_parse() -> None:
        book: OrderBook[Decimal] = OrderBook()
        feeder = BookSync.stream_snapshot(book, parse_okx_books)
        feeder.feed(BookUpdate(snapshot=True, last=1))
        for i, message in enumerate(messages):
            feeder.feed(message)
            if i % checksum_every == 0:
                okx_checksum(book)

    def naive_list() -> None:
        prices: dict[bool, list[float]] = {True: [], False: []}
        sides: dict[bool, dict[float, float]] = {True: {}, False: {}}
        for is_bid, price, qty in deltas:
            keys = prices[is_bid]
            qtys = sides[is_bid]
            if qty:
                if price not in qtys:
                    bisect.insort(keys, price)
                qtys[price] = qty
            elif price in qtys:
                del qtys[price]
                del keys[bisect.bisect_left(keys, price)]

    cases: dict[str, Callable[[], None]] = {
        "side.set (float)": side_set,
        "OrderBook[float].update": book_float,
        "OrderBook[Decimal].update": book_decimal,
        "BookSync.feed (BookUpdate)": sync,
        "BookSync.feed + parse (OKX dict)": sync_parse,
        "peer: list + bisect.insort": naive_list,
    }
    try:
        from sortedcontainers import SortedDict  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:
        pass
    else:

        def sorted_dict() -> None:
            sides = {True: SortedDict(), False: SortedDict()}
            for is_bid, price, qty in deltas:
                side = sides[is_bid]
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)

        cases["peer: sortedcontainers.SortedDict"] = sorted_dict
    for name, func in cases.items():
        results[name] = _timed(func, n, rounds)
    book: OrderBook[Decimal] = OrderBook()
    for is_bid, price, qty in dec:
        book.update(bids=((price, qty),)) if is_bid else book.update(asks=((price, qty),))
    results["okx_checksum calls/s (25+25 levels)"] = _timed(
        lambda: _repeat(okx_checksum, book, 2000), 2000, rounds
    )
    results["book levels at the end"] = float(len(book))
    return results


def section(args: argparse.Namespace, srv: Any, report: Any) -> None:
    """The ``book`` section of ``python -m benchmarks`` (``srv``, the feed server, is unused)."""
    from benchmarks._report import Table  # noqa: PLC0415 - only when run as a section

    n = min(int(args.n), 200_000)
    results = run(n=n, rounds=int(args.rounds))
    table = Table(
        f"Order book: {n:,} deltas (random walk, ~1 000 levels per side), best of {args.rounds}",
        ["implementation", "deltas/s"],
    )
    for name, value in results.items():
        if not name.startswith("book levels"):
            table.add(name, f"{value:,.0f}")
    table.note("peers are bare data structures: no sequence checks, no parsing")
    report.tables.append(table)
    report.data["book"] = {"n": n, "rounds": args.rounds, "rates": results}


def _repeat(func: Callable[[Any], Any], arg: Any, times: int) -> None:
    for _ in range(times):
        func(arg)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._book")
    parser.add_argument("--n", type=int, default=200_000, help="deltas per run (200000)")
    parser.add_argument("--levels", type=int, default=1_000, help="typical depth per side (1000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs, best kept (3)")
    parser.add_argument("--checksum-every", type=int, default=100, help="OKX checksum period")
    args = parser.parse_args()
    results = run(args.n, args.levels, args.rounds, args.checksum_every)
    print(f"order book: {args.n:,} deltas, ~{args.levels} levels per side, best of {args.rounds}")
    for name, value in results.items():
        if name.startswith("book levels"):
            print(f"  {name:<40} {value:>14,.0f}")
        else:
            print(f"  {name:<40} {value:>14,.0f} /s")


if __name__ == "__main__":
    main()
