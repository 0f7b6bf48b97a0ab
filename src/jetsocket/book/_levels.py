"""Sorted price levels: one side of an L2 book (Sans-I/O, no dependency).

A side is a dict ``price -> quantity`` (an update of an existing level is one dict store)
plus the prices kept sorted in a *chunked* list: a list of sorted sublists of at most
``2 * _LOAD`` prices and the maximum of each. Finding a price is a bisection over the
maxima then over one sublist, and an insert or delete moves at most ``2 * _LOAD`` pointers,
so a level added or removed costs O(log n) comparisons plus a bounded memmove, whatever
the size of the book (the design of ``sortedcontainers``, written here in a few lines so
that it is not a runtime dependency).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Final, Generic, NamedTuple, TypeVar

__all__ = ["BookSide", "Level", "N"]

#: Prices and quantities: ``Decimal`` (exact, what checksums need) or ``float`` (faster).
N = TypeVar("N", Decimal, float)

_LOAD: Final = 256  # sublists hold _LOAD to 2 * _LOAD prices


class Level(NamedTuple, Generic[N]):
    """One price level: ``(price, qty)``."""

    price: N
    qty: N


class _SortedPrices(Generic[N]):
    """Prices in ascending order, in chunks (see the module docstring)."""

    __slots__ = ("_lists", "_maxes")

    def __init__(self) -> None:
        self._lists: list[list[N]] = []
        self._maxes: list[N] = []

    def add(self, price: N) -> None:
        maxes = self._maxes
        if not maxes:
            self._lists.append([price])
            maxes.append(price)
            return
        i = bisect_left(maxes, price)
        lists = self._lists
        if i == len(maxes):
            i -= 1
            lists[i].append(price)
            maxes[i] = price
        else:
            insort(lists[i], price)
        chunk = lists[i]
        if len(chunk) > 2 * _LOAD:
            half = chunk[_LOAD:]
            del chunk[_LOAD:]
            maxes[i] = chunk[-1]
            lists.insert(i + 1, half)
            maxes.insert(i + 1, half[-1])

    def remove(self, price: N) -> None:
        maxes = self._maxes
        i = bisect_left(maxes, price)
        chunk = self._lists[i]
        j = bisect_left(chunk, price)
        del chunk[j]
        if not chunk:
            del self._lists[i]
            del maxes[i]
        elif j == len(chunk):
            maxes[i] = chunk[-1]

    def clear(self) -> None:
        self._lists = []
        self._maxes = []

    def first(self) -> N | None:
        return self._lists[0][0] if self._lists else None

    def last(self) -> N | None:
        return self._maxes[-1] if self._maxes else None

    def head(self, n: int, *, descending: bool) -> list[N]:
        """The ``n`` first prices in that order (slices of whole chunks: no per-price step)."""
        out: list[N] = []
        chunks = reversed(self._lists) if descending else self._lists
        for chunk in chunks:
            need = n - len(out)
            if descending:
                out += chunk[: -need - 1 : -1] if need < len(chunk) else chunk[::-1]
            else:
                out += chunk[:need]
            if len(out) >= n:
                break
        return out

    def ascending(self) -> Iterator[N]:
        for chunk in self._lists:
            yield from chunk

    def descending(self) -> Iterator[N]:
        for chunk in reversed(self._lists):
            yield from reversed(chunk)


class BookSide(Generic[N]):
    """One side of a book, best price first: bids high to low, asks low to high.

    Args:
        descending: True for bids (the best price is the highest).
    """

    __slots__ = ("_descending", "_levels", "_prices")

    def __init__(self, *, descending: bool) -> None:
        self._descending = descending
        self._levels: dict[N, N] = {}
        self._prices: _SortedPrices[N] = _SortedPrices()

    def set(self, price: N, qty: N) -> None:
        """Set the quantity at ``price``; a zero quantity removes the level.

        A removal of a level that is not in the book is ignored (venues send them, e.g.
        Binance: "receiving an event that removes a price level that is not in your
        local order book can happen and is normal").
        """
        levels = self._levels
        if not qty:
            if price in levels:
                del levels[price]
                self._prices.remove(price)
            return
        if price not in levels:
            self._prices.add(price)
        levels[price] = qty

    def update(self, levels: Iterable[tuple[N, N]]) -> None:
        """Apply ``(price, qty)`` changes in order."""
        for price, qty in levels:
            self.set(price, qty)

    def clear(self) -> None:
        """Remove every level."""
        self._levels.clear()
        self._prices.clear()

    def best(self) -> Level[N] | None:
        """The best level, or None when the side is empty."""
        prices = self._prices
        price = prices.last() if self._descending else prices.first()
        if price is None:
            return None
        return Level(price, self._levels[price])

    def prices(self) -> Iterator[N]:
        """Prices, best first."""
        return self._prices.descending() if self._descending else self._prices.ascending()

    def top(self, n: int | None = None) -> list[Level[N]]:
        """The ``n`` best levels (all when None), best first."""
        levels = self._levels
        if n is None:
            return [Level(p, levels[p]) for p in self.prices()]
        if n <= 0:
            return []
        return [Level(p, levels[p]) for p in self._prices.head(n, descending=self._descending)]

    def truncate(self, depth: int) -> int:
        """Keep the ``depth`` best levels; return how many were removed."""
        extra = len(self._levels) - depth
        if extra <= 0:
            return 0
        prices = self._prices.ascending() if self._descending else self._prices.descending()
        worst = [p for _, p in zip(range(extra), prices, strict=False)]
        for price in worst:
            del self._levels[price]
            self._prices.remove(price)
        return extra

    def get(self, price: N) -> N | None:
        """The quantity at ``price``, or None."""
        return self._levels.get(price)

    def __len__(self) -> int:
        return len(self._levels)

    def __contains__(self, price: object) -> bool:
        return price in self._levels

    def __iter__(self) -> Iterator[Level[N]]:
        levels = self._levels
        return (Level(p, levels[p]) for p in self.prices())

    def __repr__(self) -> str:
        side = "bids" if self._descending else "asks"
        return f"<BookSide {side}: {len(self)} levels, best {self.best()}>"
