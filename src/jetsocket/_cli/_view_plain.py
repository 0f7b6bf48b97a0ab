"""The plain view of ``jetsocket demo``: progress lines (not a terminal, or no ``rich``)."""

from __future__ import annotations

from jetsocket._cli._model import DemoState, fmt_ms, fmt_price

__all__ = ["PlainView"]


class PlainView:
    """Plain lines: a header, events as they happen, one progress line per second.

    Args:
        demo: The running demo whose counters are shown.
    """

    def __init__(self, demo: DemoState) -> None:
        self._demo = demo
        self._last_total = 0

    def _line(self, text: str) -> None:
        self._demo.out.write(f"[{self._demo.elapsed():5.1f}s] {text}\n")
        self._demo.out.flush()

    def start(self) -> None:
        """Print the header."""
        for line in self._demo.header():
            self._demo.out.write(line + "\n")
        self._demo.out.flush()

    def note(self, text: str) -> None:
        """Print an event line."""
        self._line(text)

    def tick(self) -> None:
        """Print one progress line."""
        demo = self._demo
        total = demo.received
        rate, self._last_total = total - self._last_total, total
        prices = "  ".join(f"{symbol} {fmt_price(price)}" for symbol, price in demo.trade_prices())
        hb = fmt_ms(demo.heartbeat_ms)
        book = demo.book_status(1)
        shown = ""
        if book is not None:
            top = f" {book.bids[0][0]}/{book.asks[0][0]}" if book.bids and book.asks else ""
            shown = f"  book {book.state} v{book.version}{top}"
        self._line(
            f"{rate:5d} msg/s  total {total:<6d} up {demo.up}/{demo.connections}  "
            f"reconnects {demo.reconnects}  gaps {demo.gaps}  lost {demo.lost}  hb {hb}  "
            f"{prices}{shown}"
        )

    def stop(self) -> None:
        """Flush."""
        self._demo.out.flush()
