"""What the demo's views see: per-stream counters and two small protocols.

The views (:mod:`._view_plain`, :mod:`._view_rich`) import only this module, and the demo
(:mod:`._demo`) imports the views: no import circle. A view draws a :class:`DemoState`; the
demo drives a :class:`View`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TextIO

__all__ = [
    "KIND_LABEL",
    "BookStatus",
    "DemoState",
    "StreamStats",
    "View",
    "fmt_ms",
    "fmt_price",
]

#: How each kind of fault is named on screen.
KIND_LABEL = {
    "reset": "server reset (simulator drop_all)",
    "half-open": "half-open (proxy black hole)",
    "network": "network reset (proxy drop)",
}


@dataclass
class StreamStats:
    """Counters of one stream, updated by its consumer.

    The simulator numbers each stream's messages once, over every connection
    (``sequence="stream"``), and the client resumes from its last ``seq`` after a reconnect,
    so every message must be the previous one + 1, across reconnects too.

    Attributes:
        name: The stream name.
        received: Messages consumed.
        first_seq: ``seq`` of the first message (the stream existed before: not 1).
        last_seq: ``seq`` of the last message (0: none yet).
        gaps: Messages whose ``seq`` was not ``last_seq + 1``.
        lost: Messages missing inside those gaps.
        price: Last price (trade price, candle close, book mid).
        latency_ms: Send-to-consume delay of the last message (simulator clock ``E``).
        rate: Messages in the last second.
    """

    name: str
    received: int = 0
    first_seq: int = 0
    last_seq: int = 0
    gaps: int = 0
    lost: int = 0
    price: Decimal | None = None
    latency_ms: float | None = None
    rate: int = 0
    _mark: int = 0

    def observe(self, seq: int) -> int:
        """Check ``seq`` against the previous one; return how many messages are missing."""
        self.received += 1
        last, self.last_seq = self.last_seq, seq
        if not last:
            self.first_seq = seq  # where the stream was when the client subscribed
            return 0
        if seq == last + 1:
            return 0
        self.gaps += 1
        missing = max(0, seq - last - 1)
        self.lost += missing
        return missing

    def sample(self) -> None:
        """Close a one-second window of :attr:`rate`."""
        self.rate, self._mark = self.received - self._mark, self.received

    def restart(self) -> None:
        """The stream starts again from a snapshot (an order book's resync).

        No gap is checked between the last message before and the first after.
        """
        self.last_seq = 0


@dataclass
class BookStatus:
    """What the views show of the demo's order book.

    Attributes:
        symbol: The instrument.
        state: The book's state: ``empty``, ``syncing``, ``live`` or ``resyncing``.
        version: Update id of the last delta applied.
        bids: The best bid levels, best first.
        asks: The best ask levels, best first.
        levels: Levels per side in the book.
        gaps: Gaps the book detected (each starts a resync).
        resyncs: Resyncs done (a fresh snapshot made the book live again).
        injected: Gaps the demo injected on the book's stream.
        consistent: Whether the book equalled the simulator's at the end (None: not
            checked yet).
    """

    symbol: str
    state: str = "empty"
    version: int | None = None
    bids: tuple[tuple[Decimal, Decimal], ...] = ()
    asks: tuple[tuple[Decimal, Decimal], ...] = ()
    levels: int = 0
    gaps: int = 0
    resyncs: int = 0
    injected: int = 0
    consistent: bool | None = None


class DemoState(Protocol):
    """The running demo as a view sees it (read only)."""

    @property
    def out(self) -> TextIO:
        """Where to draw."""
        ...

    @property
    def duration(self) -> float:
        """Seconds of streaming."""
        ...

    @property
    def stats(self) -> Mapping[str, StreamStats]:
        """Counters per stream name."""
        ...

    @property
    def plan(self) -> Sequence[tuple[float, str]]:
        """The faults to inject: ``(seconds after start, kind)``."""
        ...

    @property
    def faults_done(self) -> int:
        """Faults injected so far."""
        ...

    @property
    def connections(self) -> int:
        """Connections the client should hold."""
        ...

    @property
    def up(self) -> int:
        """Connections up now."""
        ...

    @property
    def reconnects(self) -> int:
        """Reconnects so far."""
        ...

    @property
    def received(self) -> int:
        """Messages consumed, every stream."""
        ...

    @property
    def gaps(self) -> int:
        """Sequence gaps, every stream."""
        ...

    @property
    def lost(self) -> int:
        """Messages lost, every stream."""
        ...

    @property
    def heartbeat_ms(self) -> float | None:
        """Last heartbeat round trip."""
        ...

    def elapsed(self) -> float:
        """Seconds since streaming started."""
        ...

    def header(self) -> list[str]:
        """The lines describing the setup (simulator, proxy, client, subscriptions)."""
        ...

    def trade_prices(self) -> list[tuple[str, Decimal | None]]:
        """``(symbol, last trade price)`` per symbol."""
        ...

    def book_status(self, depth: int) -> BookStatus | None:
        """The order book with its ``depth`` best levels a side (None: no book)."""
        ...


class View(Protocol):
    """What the demo drives: a plain or a live view."""

    def start(self) -> None:
        """Start drawing."""

    def note(self, text: str) -> None:
        """Show an event line."""

    def tick(self) -> None:
        """A second passed (rates were sampled)."""

    def stop(self) -> None:
        """Stop drawing (the terminal is given back)."""


def fmt_price(price: Decimal | None) -> str:
    """A price, or ``-``."""
    return "-" if price is None else str(price)


def fmt_ms(ms: float | None) -> str:
    """Milliseconds with one decimal, or ``-``."""
    return "-" if ms is None else f"{ms:.1f} ms"
