"""The L2 order book: two sorted sides, best prices, depth and consistent copies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic

from jetsocket.book._levels import BookSide, Level, N

__all__ = ["BookView", "OrderBook"]


@dataclass(frozen=True, slots=True)
class BookView(Generic[N]):
    """An immutable copy of (the top of) a book, taken at one point in time.

    Attributes:
        symbol: The instrument.
        bids: Bid levels, best (highest) first.
        asks: Ask levels, best (lowest) first.
        sequence: The book's sequence when the copy was taken.
    """

    symbol: str
    bids: tuple[Level[N], ...]
    asks: tuple[Level[N], ...]
    sequence: int | None

    @property
    def best_bid(self) -> Level[N] | None:
        """The highest bid."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Level[N] | None:
        """The lowest ask."""
        return self.asks[0] if self.asks else None


class OrderBook(Generic[N]):
    """An L2 order book: aggregated quantity per price level, both sides sorted.

    Prices and quantities are ``Decimal`` (exact: what checksums need) or ``float``;
    one book uses one of them (``OrderBook[Decimal]``). Changing a level costs O(log n).
    The book itself trusts what it is told; :class:`~jetsocket.book.BookSync` feeds it
    from a venue's stream and keeps it correct (sequences, checksums, resync).

    Args:
        symbol: The instrument (for display and events).
        depth: Keep only this many levels per side after every update (venues that
            send a book of fixed depth, e.g. Kraken, do not remove levels that fall out
            of it).

    Attributes:
        bids: The bid side, best (highest) first.
        asks: The ask side, best (lowest) first.
        sequence: The venue's sequence of the last change applied (None if unknown).
        updates: Changes applied since the last snapshot.
    """

    __slots__ = ("asks", "bids", "depth", "sequence", "symbol", "updates")

    def __init__(self, symbol: str = "", *, depth: int | None = None) -> None:
        if depth is not None and (isinstance(depth, bool) or depth < 1):
            raise ValueError(f"depth must be >= 1 or None, got {depth!r}")
        self.symbol = symbol
        self.depth = depth
        self.bids: BookSide[N] = BookSide(descending=True)
        self.asks: BookSide[N] = BookSide(descending=False)
        self.sequence: int | None = None
        self.updates = 0

    def load(
        self,
        bids: Iterable[tuple[N, N]],
        asks: Iterable[tuple[N, N]],
        *,
        sequence: int | None = None,
    ) -> None:
        """Replace the whole book with a snapshot."""
        self.clear()
        self.bids.update(bids)
        self.asks.update(asks)
        self.sequence = sequence
        self._truncate()

    def update(
        self,
        bids: Iterable[tuple[N, N]] = (),
        asks: Iterable[tuple[N, N]] = (),
        *,
        sequence: int | None = None,
    ) -> None:
        """Apply changes: the new quantity per price, 0 removes the level."""
        self.bids.update(bids)
        self.asks.update(asks)
        if sequence is not None:
            self.sequence = sequence
        self.updates += 1
        if self.depth is not None:
            self._truncate()

    def clear(self) -> None:
        """Empty both sides."""
        self.bids.clear()
        self.asks.clear()
        self.sequence = None
        self.updates = 0

    def _truncate(self) -> None:
        if self.depth is not None:
            self.bids.truncate(self.depth)
            self.asks.truncate(self.depth)

    # -- reading --------------------------------------------------------------------------

    def best_bid(self) -> Level[N] | None:
        """The highest bid, or None."""
        return self.bids.best()

    def best_ask(self) -> Level[N] | None:
        """The lowest ask, or None."""
        return self.asks.best()

    def spread(self) -> N | None:
        """Best ask minus best bid, or None when a side is empty."""
        bid, ask = self.bids.best(), self.asks.best()
        if bid is None or ask is None:
            return None
        return ask.price - bid.price

    def mid(self) -> N | None:
        """The middle of the best bid and ask, or None when a side is empty."""
        bid, ask = self.bids.best(), self.asks.best()
        if bid is None or ask is None:
            return None
        return (bid.price + ask.price) / 2

    @property
    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask (a corrupt book)."""
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid.price >= ask.price

    def view(self, depth: int | None = None) -> BookView[N]:
        """A consistent, immutable copy of the ``depth`` best levels (all when None).

        Safe to hand to another thread or task: later updates do not change it.
        """
        return BookView(
            self.symbol,
            tuple(self.bids.top(depth)),
            tuple(self.asks.top(depth)),
            self.sequence,
        )

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)

    def __repr__(self) -> str:
        return (
            f"<OrderBook {self.symbol or '?'}: {len(self.bids)} bids, {len(self.asks)} asks, "
            f"best {self.bids.best()} / {self.asks.best()}, sequence {self.sequence}>"
        )
