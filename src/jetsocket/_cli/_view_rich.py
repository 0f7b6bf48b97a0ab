"""The live terminal view of ``jetsocket demo``, drawn with ``rich`` (an optional dependency).

Importing this module raises ``ImportError`` when rich is not installed; the demo then
falls back to plain progress lines.
"""

from __future__ import annotations

from collections import deque

from rich import box  # type: ignore[import-not-found, unused-ignore]
from rich.console import Console, Group  # type: ignore[import-not-found, unused-ignore]
from rich.live import Live  # type: ignore[import-not-found, unused-ignore]
from rich.table import Table  # type: ignore[import-not-found, unused-ignore]
from rich.text import Text  # type: ignore[import-not-found, unused-ignore]

from jetsocket._cli._model import BookStatus, DemoState

__all__ = ["RichView"]

_EVENTS_SHOWN = 8
_BOOK_LEVELS = 5  # levels a side drawn
_STATE_STYLE = {
    "live": "bold green",
    "resyncing": "bold yellow",
    "syncing": "yellow",
    "empty": "dim",
}


class RichView:
    """Per-stream table, connection status and recent events, refreshed four times a second.

    Args:
        demo: The running demo whose counters are shown.
    """

    def __init__(self, demo: DemoState) -> None:
        self._demo = demo
        self._events: deque[tuple[float, str]] = deque(maxlen=_EVENTS_SHOWN)
        self._console = Console(file=demo.out)
        self._live = Live(
            console=self._console,
            get_renderable=self._render,
            refresh_per_second=4,
            # The final summary replaces the live frame (it repeats the table).
            transient=True,
            # The demo prints nothing else while live; library logs are silenced.
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def start(self) -> None:
        """Start drawing."""
        self._live.start()

    def note(self, text: str) -> None:
        """Add a line to the recent events."""
        self._events.append((self._demo.elapsed(), text))

    def tick(self) -> None:
        """A second passed (rates were sampled): redraw now."""
        self._live.refresh()

    def stop(self) -> None:
        """Stop drawing and clear the live frame."""
        self._live.stop()

    def _render(self) -> Group:
        demo = self._demo
        elapsed = min(demo.elapsed(), demo.duration)
        gaps, lost = demo.gaps, demo.lost
        title = Text.assemble(
            ("jetsocket demo", "bold cyan"),
            f"  {elapsed:4.1f} / {demo.duration:g} s   ",
            (f"up {demo.up}/{demo.connections}", "green" if demo.up == demo.connections else "red"),
            f"   reconnects {demo.reconnects}   faults {demo.faults_done}/{len(demo.plan)}   ",
            ("gaps ", "bold"),
            (str(gaps), "bold green" if gaps == 0 else "bold red"),
            ("   lost ", "bold"),
            (str(lost), "bold green" if lost == 0 else "bold red"),
            "   heartbeat rtt ",
            "-" if demo.heartbeat_ms is None else f"{demo.heartbeat_ms:.2f} ms",
        )
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("stream")
        for name in ("last seq", "messages", "msg/s", "last price", "latency", "gaps", "lost"):
            table.add_column(name, justify="right")
        for st in demo.stats.values():
            table.add_row(
                st.name,
                str(st.last_seq),
                str(st.received),
                str(st.rate),
                "-" if st.price is None else str(st.price),
                "-" if st.latency_ms is None else f"{st.latency_ms:.1f} ms",
                Text(str(st.gaps), style="green" if st.gaps == 0 else "bold red"),
                Text(str(st.lost), style="green" if st.lost == 0 else "bold red"),
            )
        events = Text()
        for at, text in self._events:
            style = "red" if ("NOT" in text or "GAP" in text) else ""
            if "RESYNCING" in text or "withholds" in text:
                style = "yellow"
            events.append(f"[{at:5.1f}s] ", style="dim")
            events.append(text + "\n", style=style)
        footer = Text(
            "gap: a seq that is not the previous + 1 (one sequence per stream, across "
            "reconnects: each stream resumes after its last seq)",
            style="dim",
        )
        book = demo.book_status(_BOOK_LEVELS)
        if book is None:
            return Group(title, table, events, footer)
        return Group(title, table, _book_panel(book), events, footer)


def _book_panel(book: BookStatus) -> Group:
    """The book's state line and its best levels, bids and asks side by side."""
    state = Text.assemble(
        (f"order book {book.symbol}  ", "bold"),
        (book.state.upper(), _STATE_STYLE.get(book.state, "")),
        f"   version {'-' if book.version is None else book.version}",
        f"   {book.levels} levels a side",
        f"   gaps injected {book.injected}, detected {book.gaps}, resyncs {book.resyncs}",
    )
    if book.consistent is not None:
        state.append(
            "   equal to the simulator's" if book.consistent else "   DIFFERENT",
            style="bold green" if book.consistent else "bold red",
        )
    levels = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    style = "dim" if book.state != "live" else ""
    for name in ("bid qty", "bid", "ask", "ask qty"):
        levels.add_column(name, justify="right", style=style)
    for i in range(max(len(book.bids), len(book.asks))):
        bid = book.bids[i] if i < len(book.bids) else None
        ask = book.asks[i] if i < len(book.asks) else None
        levels.add_row(
            "" if bid is None else str(bid[1]),
            Text("" if bid is None else str(bid[0]), style="green"),
            Text("" if ask is None else str(ask[0]), style="red"),
            "" if ask is None else str(ask[1]),
        )
    return Group(state, levels)
