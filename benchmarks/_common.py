"""Shared pieces of the benchmarks: the Trade schema, the tick payloads, helpers.

Everything here is imported by both the client side (the benchmark process) and the server
side (the child process started by :class:`ServerProcess`), so it stays free of any client
library import.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import msgspec

__all__ = [
    "FRAME_SLICE",
    "ServerProcess",
    "Stopwatch",
    "Trade",
    "build_feed_frames",
    "build_mixed_frames",
    "expected_trade_id",
    "expected_update_id",
    "interleave",
    "jetsocket_attr",
    "mixed_counts",
    "mixed_payload",
    "fastest_loop",
    "new_event_loop",
    "percentile",
    "raise_fd_limit",
    "rss_kib",
    "run_async",
    "server_frame",
    "stdin_closed",
    "tick_payload",
]

_T = TypeVar("_T")

# Size of one server write: big enough that the server spends almost no time per frame,
# small enough that asyncio's write buffer and flow control (drain) stay meaningful.
FRAME_SLICE = 1 << 20

# First trade id / timestamps: realistic magnitudes (10-11 digits), so a tick is ~170 bytes.
_BASE_TRADE_ID = 3_123_456_789
_BASE_ORDER_ID = 22_123_456_789
_BASE_TIME_MS = 1_700_000_000_000
_BASE_UPDATE_ID = 40_123_456_789
MIXED_KINDS = 3  # trade, kline, bookTicker, in turn


class Trade(msgspec.Struct):
    """A Binance-style trade tick, the typed message every typed client decodes into."""

    event: str = msgspec.field(name="e")
    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    trade_id: int = msgspec.field(name="t")
    price: str = msgspec.field(name="p")
    qty: str = msgspec.field(name="q")
    buyer_order_id: int = msgspec.field(name="b")
    seller_order_id: int = msgspec.field(name="a")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    best_match: bool = msgspec.field(name="M")


def expected_trade_id(n: int) -> int:
    """Return the trade id ``t`` of the last tick of a feed of ``n`` ticks."""
    return _BASE_TRADE_ID + n - 1


def tick_payload(i: int) -> bytes:
    """Return the JSON of tick number ``i`` (numbers vary from tick to tick)."""
    # Key order and spelling exactly as an exchange sends them; f-string keeps it explicit.
    price = 43_250.12 + (i % 2_000) * 0.01 - 10.0
    qty = 0.0001 * (1 + (i * 7) % 50_000)
    t = _BASE_TIME_MS + i * 3
    maker = "true" if i % 3 else "false"
    return (
        f'{{"e":"trade","E":{t + 1},"s":"BTCUSDT","t":{_BASE_TRADE_ID + i},'
        f'"p":"{price:.8f}","q":"{qty:.8f}","b":{_BASE_ORDER_ID + 2 * i},'
        f'"a":{_BASE_ORDER_ID + 2 * i + 1},"T":{t},"m":{maker},"M":true}}'
    ).encode()


def _frame_header(length: int, opcode: int) -> bytes:
    # RFC 6455 section 5.2: FIN=1, no RSV bits, server frames are never masked.
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 1 << 16:
        return bytes((0x80 | opcode, 126)) + length.to_bytes(2, "big")
    return bytes((0x80 | opcode, 127)) + length.to_bytes(8, "big")


def server_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """Return one complete unmasked (server to client) frame."""
    return _frame_header(len(payload), opcode) + payload


def build_feed_frames(n: int) -> bytes:
    """Return ``n`` text frames of trade ticks concatenated into one buffer."""
    return b"".join(server_frame(tick_payload(i)) for i in range(n))


def _kline_payload(j: int) -> bytes:
    # A flat kline (no nested "k" object), so it is ~170 bytes like the other kinds.
    start = _BASE_TIME_MS + j * 60_000
    open_ = 43_250.12 + (j % 2_000) * 0.01 - 10.0
    return (
        f'{{"e":"kline","E":{start + 1_000},"s":"BTCUSDT","t":{start},"T":{start + 59_999},'
        f'"i":"1m","o":"{open_:.2f}","c":"{open_ + 0.5:.2f}",'
        f'"h":"{open_ + 1.25:.2f}","l":"{open_ - 0.75:.2f}","v":"{0.001 * (1 + j % 997):.8f}",'
        f'"n":10,"x":false}}'
    ).encode()


def _book_ticker_payload(j: int) -> bytes:
    bid = 43_250.12 + (j % 2_000) * 0.01 - 10.0
    t = _BASE_TIME_MS + j * 3
    return (
        f'{{"e":"bookTicker","u":{_BASE_UPDATE_ID + j},"E":{t + 1},"T":{t},"s":"BTCUSDT",'
        f'"b":"{bid:.8f}","B":"{0.01 * (1 + j % 311):.8f}","a":"{bid + 0.01:.8f}",'
        f'"A":"{0.01 * (1 + j % 293):.8f}"}}'
    ).encode()


def mixed_payload(i: int) -> bytes:
    """Return message ``i`` of the mixed feed: trade, kline, bookTicker in turn (tag ``e``).

    Each kind has its own running counter ``j = i // 3``: trade ``t``, kline ``t`` and
    bookTicker ``u`` grow by one step per message of that kind. Sizes: 160-184 bytes,
    ~170 on average.
    """
    j, kind = divmod(i, MIXED_KINDS)
    if kind == 0:
        return tick_payload(j)
    if kind == 1:
        return _kline_payload(j)
    return _book_ticker_payload(j)


def mixed_counts(n: int) -> tuple[int, int, int]:
    """Return how many trade, kline and bookTicker messages a mixed feed of ``n`` holds."""
    q, r = divmod(n, MIXED_KINDS)
    return q + (r > 0), q + (r > 1), q


def expected_update_id(count: int) -> int:
    """Return the bookTicker ``u`` of the ``count``-th (last) bookTicker of a mixed feed."""
    return _BASE_UPDATE_ID + count - 1


def build_mixed_frames(n: int) -> bytes:
    """Return the ``n`` text frames of the mixed feed concatenated into one buffer."""
    return b"".join(server_frame(mixed_payload(i)) for i in range(n))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of already sorted values (nearest rank)."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def rss_kib() -> int:
    """Return the resident set size of this process in KiB (``VmRSS`` of /proc/self/status)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("VmRSS not found in /proc/self/status")


def raise_fd_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 65_536)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def new_event_loop(loop: str) -> asyncio.AbstractEventLoop:
    """Return a new event loop of the given kind (``asyncio`` or ``uvloop``)."""
    if loop == "uvloop":
        import uvloop  # noqa: PLC0415 - optional extra, imported only when asked for

        new: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return new
    return asyncio.new_event_loop()


def fastest_loop(name: str) -> str:
    """``name``, with ``auto`` resolved to uvloop when installed (servers that add little)."""
    if name != "auto":
        return name
    try:
        import uvloop  # noqa: F401, PLC0415 - optional
    except ImportError:
        return "asyncio"
    return "uvloop"


def stdin_closed(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future done once stdin closes: a server process stops with its parent's pipe."""
    stop: asyncio.Future[None] = loop.create_future()

    def watch_stdin() -> None:
        with contextlib.suppress(OSError):
            while sys.stdin.buffer.read(4096):
                pass

        def finish() -> None:
            if not stop.done():
                stop.set_result(None)

        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(finish)

    threading.Thread(target=watch_stdin, daemon=True).start()
    return stop


def run_async(coro: Coroutine[Any, Any, _T], loop: str = "asyncio") -> _T:
    """Run ``coro`` to completion on a fresh event loop of the given kind."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(loop)) as runner:
        return runner.run(coro)


def jetsocket_attr(name: str) -> Any | None:
    """Return ``jetsocket.<name>``, or None when jetsocket (or that name) is not importable.

    The benchmarks reach jetsocket dynamically so that they run (peers only) while the
    package is incomplete, and type-check whatever its current state.
    """
    try:
        import jetsocket  # noqa: PLC0415 - optional at run time, see docstring
    except Exception:  # a broken package must not stop the peers' figures
        return None
    return getattr(jetsocket, name, None)


class ServerProcess:
    """A benchmark server (``python -m benchmarks._server`` by default) in its own process.

    ``module="benchmarks._picows_server"`` runs the picows (C transport) echo server.

    Running the server in another process keeps it off the client's core and GIL. It prints
    its port on stdout once listening and exits when its stdin is closed.
    """

    def __init__(
        self,
        *,
        feed_n: Sequence[int] = (),
        mixed_n: Sequence[int] = (),
        loop: str = "auto",
        module: str = "benchmarks._server",
    ) -> None:
        self._args = [sys.executable, "-m", module, "--loop", loop]
        for n in feed_n:
            self._args += ["--feed-n", str(n)]
        for n in mixed_n:
            self._args += ["--mixed-n", str(n)]
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.info = ""

    def __enter__(self) -> ServerProcess:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self._proc = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().decode().split()
        if len(line) < 2 or line[0] != "PORT":
            self.__exit__()
            raise RuntimeError(f"benchmark server failed to start: {line!r}")
        self.port = int(line[1])
        self.info = " ".join(line[2:])
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def uri(self, path: str) -> str:
        """Return the ``ws://`` URI of ``path`` on this server."""
        return f"ws://127.0.0.1:{self.port}{path}"


class Stopwatch:
    """Best-effort timer used by sections to report their own wall time."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Return seconds since creation."""
        return time.perf_counter() - self.start


def interleave(rounds: int, names: list[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(round, name)`` pairs so that every round visits every peer once.

    The order rotates from round to round, so no peer always runs first (right after the
    server's warm-up, or right after the most memory-hungry peer).
    """
    for r in range(rounds):
        shift = r % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            yield r, name
