"""Command line interface: ``python -m jetsocket demo`` and ``python -m jetsocket connect``.

Output is plain lines (no terminal control), so the commands can be piped and tested.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

import msgspec

import jetsocket
from jetsocket._protocol._connection import redact_uri
from jetsocket.testing import (
    ExchangeSimulator,
    FeedMessage,
    Kline,
    Response,
    Trade,
    decode_message,
)

__all__ = ["build_parser", "main"]

_SHOWN = 6  # messages printed in full at the start of the demo
_DEMO_KINDS = ("trade", "kline_1m", "bookTicker")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``jetsocket`` command."""
    parser = argparse.ArgumentParser(
        prog="jetsocket",
        description="jetsocket: typed, resilient, fast WebSocket client (tools).",
    )
    parser.add_argument("--version", action="version", version=jetsocket.__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="stream from the embedded exchange simulator (offline)",
        description="Start the embedded exchange simulator, subscribe a typed jetsocket "
        "client to its trade, kline and book streams, print what arrives and check the "
        "sequence numbers. Exits 0 when no message was lost.",
    )
    demo.add_argument("--duration", type=_positive_float, default=5.0, metavar="SECONDS")
    demo.add_argument(
        "--rate",
        type=_positive_float,
        default=20.0,
        metavar="N",
        help="messages per second per stream (default 20)",
    )
    demo.add_argument(
        "--symbols",
        default="BTCUSDT,ETHUSDT",
        metavar="LIST",
        help="comma-separated symbols (default BTCUSDT,ETHUSDT)",
    )
    demo.add_argument("--seed", type=int, default=7, help="market seed (default 7)")
    demo.add_argument(
        "--burst",
        type=int,
        default=20_000,
        metavar="N",
        help="messages of the final burst phase, 0 to skip (default 20000)",
    )

    connect = commands.add_parser(
        "connect",
        help="minimal interactive client",
        description="Connect to URL, send each line of stdin as a text message and print "
        "every message received. At end of input, wait --linger seconds, then close.",
    )
    connect.add_argument("url", help="ws:// or wss:// URL")
    connect.add_argument(
        "--raw",
        action="store_true",
        help="print messages exactly as received (default: compact JSON)",
    )
    connect.add_argument(
        "--linger",
        type=_non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="keep receiving this long after end of input (default 0)",
    )
    connect.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="extra handshake header (repeatable)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jetsocket`` command.

    ``jetsocket URL`` is short for ``jetsocket connect URL``.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0].startswith(("ws://", "wss://")):
        args_list.insert(0, "connect")
    args = build_parser().parse_args(args_list)
    try:
        if args.command == "demo":
            symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
            return asyncio.run(
                run_demo(
                    duration=args.duration,
                    rate=args.rate,
                    symbols=symbols,
                    seed=args.seed,
                    burst=args.burst,
                )
            )
        headers = dict(_parse_header(h) for h in args.header)
        return asyncio.run(run_connect(args.url, raw=args.raw, linger=args.linger, headers=headers))
    except KeyboardInterrupt:
        return 130


# -- demo ---------------------------------------------------------------------------------


def _stream_of(msg: FeedMessage) -> str:
    symbol = msg.symbol.lower()
    if isinstance(msg, Trade):
        return f"{symbol}@trade"
    if isinstance(msg, Kline):
        return f"{symbol}@kline_{msg.bar.interval}"
    return f"{symbol}@bookTicker"


def _describe(msg: FeedMessage) -> str:
    if isinstance(msg, Trade):
        side = "sell" if msg.buyer_is_maker else "buy "
        return f"trade  {msg.symbol:<8} {side} {msg.qty} @ {msg.price}  (id {msg.trade_id})"
    if isinstance(msg, Kline):
        k = msg.bar
        return (
            f"kline  {msg.symbol:<8} {k.interval} o={k.open} h={k.high} l={k.low} c={k.close} "
            f"v={k.volume} n={k.trades}{' closed' if k.closed else ''}"
        )
    return f"book   {msg.symbol:<8} bid {msg.bid_qty} @ {msg.bid} | ask {msg.ask_qty} @ {msg.ask}"


class _Tally:
    """Counts, last prices and sequence checking of the demo's feed."""

    def __init__(self) -> None:
        self.total = 0
        self.by_stream: Counter[str] = Counter()
        self.last_price: dict[str, Decimal] = {}
        self.last_seq = 0
        self.gaps = 0
        self.lost = 0
        self.replies = 0
        self.paced = 0
        self.failed = False

    def add(self, msg: FeedMessage | Response) -> FeedMessage | None:
        if isinstance(msg, Response):
            self.replies += 1
            return None
        self.total += 1
        self.by_stream[_stream_of(msg)] += 1
        if isinstance(msg, Trade):
            self.last_price[msg.symbol] = msg.price
        # seq is 1, 2, 3, ... per connection: anything but last + 1 means lost messages.
        if msg.seq != self.last_seq + 1:
            self.gaps += 1
            self.lost += max(0, msg.seq - self.last_seq - 1)
            print(f"!! sequence gap: expected {self.last_seq + 1}, got {msg.seq}")
        self.last_seq = msg.seq
        return msg


def _progress(t: float, tally: _Tally, since: int, interval: float, symbols: Sequence[str]) -> str:
    parts = []
    for symbol in symbols:
        s = symbol.lower()
        counts = "/".join(str(tally.by_stream[f"{s}@{kind}"]) for kind in _DEMO_KINDS)
        price = tally.last_price.get(symbol)
        parts.append(f"{symbol} {price if price is not None else '-'} ({counts})")
    rate = (tally.total - since) / interval if interval > 0 else 0.0
    return f"[{t:5.1f}s] {rate:7.0f} msg/s  total {tally.total:<7d} " + "  ".join(parts)


async def run_demo(
    *,
    duration: float = 5.0,
    rate: float = 20.0,
    symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT"),
    seed: int = 7,
    burst: int = 20_000,
) -> int:
    """Run the demo: simulator + typed client; return 0 if no message was lost.

    Args:
        duration: Seconds of paced streaming.
        rate: Messages per second per stream.
        symbols: Symbols to subscribe to (trade, 1m kline and book ticker of each).
        seed: Seed of the simulated market.
        burst: Messages sent as fast as possible after the paced phase (0: none).

    Returns:
        The exit status: 0 when messages arrived and no sequence gap was seen.
    """
    tally = _Tally()
    async with ExchangeSimulator(symbols=symbols, rate=rate, seed=seed) as sim:
        print(f"exchange simulator on {sim.uri} (seed {sim.seed}, {rate:g} msg/s per stream)")
        # reconnect=False: the simulator's sequence numbers restart on a new connection and
        # its subscriptions are per connection, so a silent reconnect would hide failures.
        ws = jetsocket.WebSocket(sim.uri, deserializer=decode_message, reconnect=False)
        stats: jetsocket.ConnectionStats | None = None
        try:
            async with ws:
                await _demo_session(sim, ws, tally, duration, burst)
                stats = ws.stats()  # before close: the live connection's numbers
        except jetsocket.JetSocketError as exc:
            print(f"error: {exc}")
            tally.failed = True
        _print_stats(stats or ws.stats())
        sent = sim.stats().messages_sent

    ok = tally.total > 0 and tally.gaps == 0 and not tally.failed
    print(
        f"summary: {'OK' if ok else 'FAILED'}: {tally.total} messages received "
        f"({tally.paced} paced, {tally.total - tally.paced} burst) of {sent} sent, "
        f"{tally.gaps} sequence gaps, {tally.lost} lost"
    )
    return 0 if ok else 1


async def _demo_session(
    sim: ExchangeSimulator,
    ws: jetsocket.WebSocket[FeedMessage | Response],
    tally: _Tally,
    duration: float,
    burst: int,
) -> None:
    streams = sim.stream_names(_DEMO_KINDS)
    await ws.send({"method": "SUBSCRIBE", "params": streams, "id": 1})
    reply = await ws.recv(timeout=5.0)
    if not isinstance(reply, Response) or reply.error is not None:
        print(f"subscription failed: {reply!r}")
        tally.failed = True
        return
    print(f"subscribed to {len(streams)} streams: {', '.join(streams)}")
    print(f"first {_SHOWN} messages, decoded into typed msgspec Structs:")

    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + duration
    next_tick, last_total = start + 1.0, 0
    while (now := loop.time()) < deadline:
        try:
            msg = await ws.recv(timeout=min(next_tick, deadline) - now)
        except jetsocket.TimeoutError:
            msg = None
        if msg is not None and (feed := tally.add(msg)) and tally.total <= _SHOWN:
            print(f"  #{feed.seq:<3d} {_describe(feed)}")
            if tally.total == _SHOWN:
                print(f"  {feed!r}")
        if loop.time() >= next_tick:
            print(_progress(next_tick - start, tally, last_total, 1.0, sim.symbols))
            next_tick, last_total = next_tick + 1.0, tally.total
    tally.paced = tally.total

    if burst > 0:
        per_stream = max(1, burst // len(streams))
        target = tally.total + per_stream * len(streams)
        print(f"burst: {per_stream * len(streams)} messages, sent as fast as possible ...")
        begin = time.perf_counter()
        sim.burst(per_stream)
        try:
            async with asyncio.timeout(30.0):
                while tally.total < target:
                    tally.add(await ws.recv())
        except TimeoutError:
            print("burst: timed out after 30 s")
            tally.failed = True
        elapsed = time.perf_counter() - begin
        got = tally.total - tally.paced
        print(
            f"burst: {got} messages in {elapsed:.2f} s = {got / elapsed:,.0f} msg/s "
            "(simulator and typed client sharing one process)"
        )


def _print_stats(stats: jetsocket.ConnectionStats) -> None:
    print("client stats (ws.stats()):")
    for field in dataclasses.fields(stats):
        value = getattr(stats, field.name)
        if isinstance(value, jetsocket.ConnectionState):
            shown = value.value
        elif isinstance(value, float):
            shown = f"{value:.3f}"
        else:
            shown = str(value)
        print(f"  {field.name:<20} {shown}")


# -- connect ------------------------------------------------------------------------------


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Read stdin in a daemon thread (portable, and never blocks interpreter exit)."""

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="jetsocket-stdin", daemon=True).start()


def _show(message: str | bytes, *, raw: bool) -> str:
    if isinstance(message, bytes):
        if raw:
            return message.hex()
        return f"<binary {len(message)} bytes> {message[:64].hex()}"
    if raw:
        return message
    try:
        return msgspec.json.encode(msgspec.json.decode(message)).decode()
    except msgspec.DecodeError:
        return message


async def run_connect(
    url: str, *, raw: bool = False, linger: float = 0.0, headers: dict[str, str] | None = None
) -> int:
    """Interactive client: stdin lines are sent, received messages are printed.

    Args:
        url: The ``ws://`` or ``wss://`` URL.
        raw: Print messages exactly as received (binary as hex).
        linger: Seconds to keep receiving after end of input.
        headers: Extra handshake headers.

    Returns:
        0 after a normal close, 1 on an error.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    ws = jetsocket.WebSocket(url, raw=True, reconnect=False, extra_headers=headers or {})
    try:
        await ws.connect()
    except (jetsocket.JetSocketError, OSError) as exc:
        print(f"connect failed: {exc}", file=sys.stderr)
        return 1
    print(f"connected to {redact_uri(url)}", file=sys.stderr)  # query tokens hidden

    async def printer() -> None:
        async for message in ws:
            print(_show(message, raw=raw), flush=True)

    receiving = asyncio.create_task(printer())
    _stdin_lines(loop, lines)
    try:
        while not receiving.done():
            getter = asyncio.ensure_future(lines.get())
            await asyncio.wait({getter, receiving}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            line = getter.result()
            if line is None:
                if linger > 0:
                    await asyncio.wait({receiving}, timeout=linger)
                break
            if line:
                await ws.send_raw(line, binary=False)
    except jetsocket.ConnectionClosedError:
        pass  # reported below from the receiving task
    finally:
        await ws.close()
    # Our close() ends the iteration cleanly; anything else ended it first.
    with contextlib.suppress(jetsocket.JetSocketError):
        await receiving
    error = receiving.exception()
    if error is not None:
        print(f"connection lost: {error}", file=sys.stderr)
        return 1
    print("closed", file=sys.stderr)
    return 0


# -- argument helpers ---------------------------------------------------------------------


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise SystemExit(f"jetsocket: invalid header {text!r} (expected NAME:VALUE)")
    return name.strip(), value.strip()
