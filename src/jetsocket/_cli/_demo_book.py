"""The demo's order book: kept by a :class:`~jetsocket.book.BookSync`, through a gap.

The simulator's ``<symbol>@book`` stream sends a snapshot, then deltas numbered by the
book's update id and carrying OKX's checksum. Reconnects need nothing special: the
re-sent subscription resumes the stream and the missed deltas are replayed. The injected
gap (deltas withheld within a connection) makes the book resync: it is subscribed again
without ``resume``, so the simulator starts it with a fresh snapshot. At the end the book
is compared with the simulator's own, level by level, at the same version.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from jetsocket._cli._demo_client import Books, DemoClient, parse_book
from jetsocket._cli._model import BookStatus, StreamStats, View
from jetsocket.book import BookEvent, BookSync, OrderBook, okx_checksum
from jetsocket.schema import Stream
from jetsocket.testing import ExchangeSimulator

__all__ = ["GAP_SIZE", "DemoBook", "DemoHost"]


class DemoHost(Protocol):
    """What the demo's book reads of the demo run (``_Demo`` is one)."""

    sim: ExchangeSimulator
    client: DemoClient
    loop: asyncio.AbstractEventLoop
    started: float
    stats: dict[str, StreamStats]
    streams: list[Stream[Any]]
    failures: list[str]
    view: View

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool: ...


GAP_SIZE = 3  # book deltas withheld by the injected gap
_TIMEOUT = 10.0  # seconds for the book to be live (before the gap) and to resync after it
_CATCH_UP_TIMEOUT = 5.0  # seconds for the book to reach the simulator's version at the end


class DemoBook:
    """The book of one symbol, its resyncs, the injected gap and the final check.

    Args:
        demo: The running demo (client, simulator, view, failures).
        symbol: The instrument.
        gap_at: Seconds after the start to inject the gap (None: no gap).
    """

    def __init__(self, demo: DemoHost, symbol: str, gap_at: float | None) -> None:
        self.demo = demo
        self.sub = Books(symbol=symbol)
        self.book: OrderBook[Decimal] = OrderBook(symbol)
        self.sync = BookSync.stream_snapshot(
            self.book, parse_book, checksum=okx_checksum, on_event=self._event
        )
        self.gap_at = gap_at
        self.injected = 0
        self.healed = 0  # injected gaps a replay filled (a reconnect came first)
        self.resync_times: list[float] = []
        self.consistent: bool | None = None
        self.detail = ""
        self._resync_started: float | None = None

    def status(self, depth: int) -> BookStatus:
        """What the views show, with the ``depth`` best levels a side."""
        book = self.book
        view = book.view(depth)
        return BookStatus(
            symbol=book.symbol,
            state=self.sync.state,
            version=book.sequence,
            bids=tuple(view.bids),
            asks=tuple(view.asks),
            levels=len(book.bids),
            gaps=self.sync.gaps,
            resyncs=len(self.resync_times),
            injected=self.injected,
            consistent=self.consistent,
        )

    async def follow(self, stream: Stream[Any]) -> None:
        """Feed the book from ``stream``; on a gap, subscribe again for a fresh snapshot."""
        demo, sub, sync = self.demo, self.sub, self.sync
        stats = demo.stats[sub.topic]
        while True:
            sub.resume.stream = stream
            async for msg in stream:
                gaps = sync.gaps
                sync.feed(msg)
                if sync.gaps != gaps:
                    stats.received += 1  # the injected gap: reported by the book, not lost
                else:
                    missing = stats.observe(msg.seq)
                    if missing:
                        demo.view.note(f"GAP in {stats.name}: {missing} message(s) missing")
                stats.latency_ms = time.time() * 1000.0 - msg.event_time
                bid, ask = self.book.best_bid(), self.book.best_ask()
                if bid is not None and ask is not None:
                    stats.price = ((bid.price + ask.price) / 2).quantize(bid.price)
                if sync.state == "resyncing":
                    break
            else:
                return  # the client closed
            sub.resume.stream = None  # the next SUBSCRIBE asks for a snapshot
            stats.restart()
            await demo.client.unsubscribe(sub)
            stream = await demo.client.subscribe(sub)
            demo.streams.append(stream)

    def _event(self, event: BookEvent) -> None:
        demo = self.demo
        now = demo.loop.time()
        if event.kind == "resyncing":
            self._resync_started = now
            demo.view.note(f"book {event.symbol}: RESYNCING ({event.reason})")
        elif event.kind == "live" and self._resync_started is not None:
            took = now - self._resync_started
            self._resync_started = None
            self.resync_times.append(took)
            demo.view.note(
                f"book {event.symbol}: live again after {took * 1000:.1f} ms, from a fresh "
                f"snapshot at version {event.sequence}"
            )
        elif event.kind in ("gap", "checksum_failed"):
            demo.view.note(f"book {event.symbol}: {event.kind.replace('_', ' ')}: {event.reason}")

    async def inject_gap(self) -> None:
        """At :attr:`gap_at`, have the simulator withhold deltas; wait for the resync."""
        demo, at = self.demo, self.gap_at
        if at is None:
            return
        delay = demo.started + at - demo.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)  # the demo's schedule, not synchronisation
        if not await demo.wait_until(
            lambda: self.sync.is_live and demo.client.is_connected, _TIMEOUT
        ):
            demo.failures.append("book gap not injected: the book was not live")
            return
        resyncs, gaps = len(self.resync_times), self.sync.gaps
        # The deltas withheld are the next GAP_SIZE: past them without a gap, a reconnect's
        # replay delivered them (resume), and there was nothing to resync.
        gap_end = demo.sim.sequence_of(self.sub.topic) + GAP_SIZE
        if not demo.sim.inject_gap(self.sub.topic, GAP_SIZE):
            demo.failures.append("book gap not injected: nobody subscribed")
            return
        self.injected += 1
        demo.view.note(
            f"fault: the simulator withholds the next {GAP_SIZE} deltas of {self.sub.topic} "
            "(an injected gap)"
        )

        def healed() -> bool:
            sequence = self.book.sequence
            return (
                self.sync.gaps == gaps
                and self.sync.is_live
                and sequence is not None
                and sequence > gap_end
            )

        if not await demo.wait_until(
            lambda: len(self.resync_times) > resyncs or healed(), _TIMEOUT
        ):
            demo.failures.append("the book did not resync after the injected gap")
        elif len(self.resync_times) == resyncs:
            self.healed += 1
            demo.view.note(
                f"book {self.book.symbol}: the withheld deltas came with a reconnect's replay: "
                "no gap to resync"
            )

    async def check(self) -> None:
        """Compare the book with the simulator's, level by level, at the same version."""
        demo, book, sync = self.demo, self.book, self.sync
        sim_book = demo.sim.book

        def compared() -> bool:
            # Checked in one go (no await): the simulator's book cannot move in between.
            truth = sim_book(book.symbol)
            if not sync.is_live or book.sequence != truth.version:
                return False
            view = book.view()
            self.consistent = tuple(view.bids) == truth.bids and tuple(view.asks) == truth.asks
            self.detail = (
                f"version {truth.version}, {len(truth.bids)} bids + {len(truth.asks)} asks"
            )
            return True

        if not await demo.wait_until(compared, _CATCH_UP_TIMEOUT):
            demo.failures.append(f"the book never caught up with the simulator's ({sync!r})")
        elif not self.consistent:
            demo.failures.append(f"the book differs from the simulator's at {self.detail}")

    def failures(self, gap_events: int) -> list[str]:
        """What went wrong with the book, given the engine's gap events on its stream."""
        out: list[str] = []
        if self.injected and self.sync.gaps != self.injected - self.healed:
            out.append(f"{self.injected} book gap(s) injected, {self.sync.gaps} detected")
        if gap_events > self.sync.gaps:
            out.append(f"{gap_events - self.sync.gaps} unexplained gap events on the book")
        if self.sync.checksum_failures:
            out.append(f"{self.sync.checksum_failures} book checksum failures")
        return out

    def summary(self) -> str:
        """The summary lines of the book."""
        book, sync = self.book, self.sync
        bid, ask = book.best_bid(), book.best_ask()
        top = f"best {bid.price} / {ask.price}" if bid is not None and ask is not None else "empty"
        if self.consistent is None:
            verdict = "NOT checked against the simulator's book"
        elif self.consistent:
            verdict = f"equal to the simulator's book at {self.detail}"
        else:
            verdict = f"DIFFERENT from the simulator's book at {self.detail}"
        lines = (
            f"book {book.symbol}: {sync.state}, {top}, {verdict}; {sync.applied:,} deltas "
            f"applied, OKX checksum verified after each ({sync.checksum_failures} failures)\n"
        )
        if self.injected:
            lines += (
                f"book gap: {self.injected} injected ({GAP_SIZE} deltas withheld), "
                f"{sync.gaps} detected by the BookSync"
            )
            if self.resync_times:
                took = ", ".join(f"{t * 1000:.1f} ms" for t in self.resync_times)
                lines += f", resynced from a fresh snapshot after {took}"
            if self.healed:
                lines += (
                    f"; {self.healed} filled by the replay after a reconnect before it showed "
                    "(nothing to resync)"
                )
            lines += "\n"
        return lines
