"""``jetsocket demo``: a typed client riding out network faults against the embedded exchange.

Everything runs in one process, on loopback::

    DemoClient (typed jetsocket Client)  ->  FaultProxy  ->  ExchangeSimulator

* The :class:`~jetsocket.testing.ExchangeSimulator` serves trade, kline and book-ticker
  streams for a few symbols and an order book for the first, like a venue with replay
  (``sequence="stream"``): each stream has one sequence ``seq`` over every connection, keeps
  producing while a client reconnects, and replays its history to a client that resumes.
* :class:`DemoClient` declares one :class:`~jetsocket.schema.Subscription` per stream
  (:class:`Trades`, :class:`Klines`, :class:`BookTickers`, :class:`Books`) whose
  ``sequence()`` is that ``seq``, with one connection per stream
  (``max_streams_per_connection = 1``, the client shards). After a reconnect each
  subscription is re-sent with the last ``seq`` its stream received (``"resume"``), so the
  simulator sends what the client missed, then the live feed.
* Every few seconds a fault cuts every connection: a server reset (``sim.drop_all()``), a
  half-open connection (``proxy.blackhole()``: the sockets stay up, nothing flows, only the
  heartbeat can tell; the proxy is restored once it did) and a network reset
  (``proxy.drop()``). The client reconnects, resubscribes, and the same ``Stream`` objects go
  on: the consumer loops never see the reconnects.
* Between the first two faults the simulator withholds a few deltas of the order book
  (``sim.inject_gap``): the :class:`~jetsocket.book.BookSync` keeping the book sees the
  version jump, goes *resyncing*, subscribes again for a fresh snapshot and is *live*
  again; at the end the book is compared with the simulator's own, level by level.

**Gaps and lost messages.** Every message of a stream must be the previous one + 1, across
reconnects too (the stream's first message may be any number: it existed before). A *gap*
is a message that is not; *lost* counts the messages missing inside gaps plus those a full
stream buffer discarded (none: the streams use the ``block`` overflow policy). Before the
end the demo waits until every stream reached the simulator's last ``seq``, so what was
received is checked against everything the simulator produced since the subscription. The
injected book gap is the exception by design: it is reported apart, and what counts is that
the book resynced. The exit status is 0 only if there was no other gap, nothing lost, every
stream received messages and recovered after every fault (half-open detected included),
and the book was live and equal to the simulator's at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TextIO, TypeVar

import jetsocket
from jetsocket._cli._demo_book import GAP_SIZE, DemoBook
from jetsocket._cli._demo_client import (
    HEARTBEAT,
    Books,
    BookTickers,
    DemoClient,
    Klines,
    Resume,
    SimFeed,
    Trades,
    parse_book,
)
from jetsocket._cli._model import KIND_LABEL, BookStatus, StreamStats, View, fmt_ms, fmt_price
from jetsocket._cli._view_plain import PlainView
from jetsocket.schema import Stream
from jetsocket.testing import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    ExchangeSimulator,
    FaultProxy,
    Kline,
    Trade,
)

__all__ = [
    "BookTickers",
    "Books",
    "DemoClient",
    "Klines",
    "Resume",
    "StreamStats",
    "Trades",
    "fault_plan",
    "parse_book",
    "run_demo",
]

M = TypeVar("M", bound=Trade | Kline | BookTicker | BookSnapshot | BookDelta)

_RECOVERY_TIMEOUT = 10.0  # seconds for every connection to be back after a fault
_BURST_TIMEOUT = 30.0
_POLL = 0.02  # seconds between checks of a recovery condition (demo pacing, not sync)
_CATCH_UP_TIMEOUT = 5.0  # seconds for the streams to reach the simulator's last seq
_HISTORY = 10_000  # messages the simulator keeps per stream for resumes


# -- what the demo measures --------------------------------------------------------------


@dataclass
class _Fault:
    kind: str
    at: float
    cut: int = 0
    detected: tuple[float, float] | None = None  # half-open: first and last detection
    detected_on: int = 0
    recovered_after: float | None = None


def _price(msg: Trade | Kline | BookTicker | BookSnapshot | BookDelta) -> Decimal | None:
    if isinstance(msg, Trade):
        return msg.price
    if isinstance(msg, Kline):
        return msg.bar.close
    if isinstance(msg, BookTicker):
        return ((msg.bid + msg.ask) / 2).quantize(msg.bid)
    return None


class _Demo:
    """One run: client, consumers, fault driver, counters."""

    def __init__(
        self,
        sim: ExchangeSimulator,
        proxy: FaultProxy,
        *,
        duration: float,
        burst: int,
        faults: bool,
        out: TextIO,
    ) -> None:
        self.sim = sim
        self.proxy = proxy
        self.duration = duration
        self.burst = burst
        self.plan = fault_plan(duration) if faults else []
        self.out = out
        self.loop = asyncio.get_running_loop()
        self.started = self.loop.time()
        # A reconnect attempt made while the network is a black hole hangs in the opening
        # handshake: connect_timeout bounds it (the next attempt then goes through).
        self.client = DemoClient(uri=proxy.uri_for("/ws"), connect_timeout=1.0)
        self.subscriptions: list[SimFeed[Any]] = [
            feed(symbol=symbol) for symbol in sim.symbols for feed in (Trades, Klines, BookTickers)
        ]
        # The order book of the first symbol (its own consumer); its gap is injected
        # between the first two faults.
        self.book = DemoBook(self, sim.symbols[0], self.plan[0][0] * 1.5 if self.plan else None)
        self.book_sub = self.book.sub
        self.subscriptions.append(self.book_sub)
        self.delivery: tuple[int, int] | None = None  # (expected, received) at the end
        self.stats = {sub.topic: StreamStats(sub.topic) for sub in self.subscriptions}
        self.streams: list[Stream[Any]] = []
        self.faults: list[_Fault] = []
        self.reconnects = 0
        self.up = 0  # connections up (connected minus disconnected events, every shard)
        self.disconnect_times: list[float] = []
        self.resubscribed = 0
        self.gap_events = 0
        self.book_gap_events = 0
        self.errors: list[str] = []
        self.fatal: str | None = None
        self.heartbeat_ms: float | None = None
        self.first_trade: Trade | None = None
        self.burst_result: tuple[int, float] | None = None
        self.failures: list[str] = []
        # Unhandled errors reported by the event loop (a library bug, not a demo failure).
        self.loop_warnings: dict[str, int] = {}
        self.view: View = PlainView(self)
        self._watch()

    # -- helpers ------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.loop.time() - self.started

    @property
    def connections(self) -> int:
        return len(self.subscriptions)

    @property
    def received(self) -> int:
        return sum(st.received for st in self.stats.values())

    @property
    def gaps(self) -> int:
        return sum(st.gaps for st in self.stats.values())

    @property
    def lost(self) -> int:
        return sum(st.lost for st in self.stats.values()) + sum(s.dropped for s in self.streams)

    @property
    def faults_done(self) -> int:
        return len(self.faults)

    def book_status(self, depth: int) -> BookStatus:
        return self.book.status(depth)

    def trade_prices(self) -> list[tuple[str, Decimal | None]]:
        return [
            (sub.symbol.upper(), self.stats[sub.topic].price)
            for sub in self.subscriptions
            if isinstance(sub, Trades)
        ]

    def header(self) -> list[str]:
        sim = self.sim
        kinds = ", ".join(KIND_LABEL[kind].split(" (")[0] for _, kind in self.plan[:3]) or "none"
        return [
            f"jetsocket demo: {self.duration:g} s; faults: {kinds}"
            + (f" (every {self.plan[0][0]:g} s)" if self.plan else ""),
            f"  simulator  {sim.uri}  symbols {' '.join(sim.symbols)}, seed {sim.seed}",
            f"  proxy      {self.proxy.uri_for('/ws')}  (client -> fault proxy -> simulator)",
            f"  client     DemoClient: {self.connections} typed subscriptions, one connection "
            f"each, heartbeat {HEARTBEAT.interval:g} s + {HEARTBEAT.timeout:g} s; resumes each "
            "stream from its last seq after a reconnect",
            f"  book       {self.book_sub.topic}: snapshot + deltas kept by a BookSync"
            + (
                f"; {GAP_SIZE} deltas withheld at {self.book.gap_at:g} s (an injected gap)"
                if self.book.gap_at is not None
                else ""
            ),
            "subscribed: " + " ".join(sub.topic for sub in self.subscriptions),
        ]

    def _watch(self) -> None:
        client = self.client

        @client.on("reconnected")
        def reconnected(event: jetsocket.ReconnectedEvent) -> None:
            self.reconnects += 1

        @client.on("connected")
        def connected(event: jetsocket.ConnectedEvent) -> None:
            self.up += 1

        @client.on("disconnected")
        def disconnected(event: jetsocket.DisconnectedEvent) -> None:
            self.up -= 1
            self.disconnect_times.append(self.loop.time())

        @client.on("resubscribed")
        def resubscribed(event: jetsocket.ResubscribedEvent) -> None:
            self.resubscribed += event.count - len(event.failed)

        @client.on("pong")
        def pong(event: jetsocket.PongEvent) -> None:
            if event.latency_ms is not None:
                self.heartbeat_ms = event.latency_ms

        @client.on("gap")
        def gap(event: jetsocket.GapEvent) -> None:
            # The engine's own check (Subscription.sequence), which names the subscription:
            # the book's injected gap is expected.
            if event.subscription == self.book_sub:
                self.book_gap_events += 1
            else:
                self.gap_events += 1

        @client.on("error")
        def error(event: jetsocket.ErrorEvent) -> None:
            text = f"{event.context or 'error'}: {event.error}"
            self.errors.append(text)
            if event.fatal:
                self.fatal = text

    def loop_warning(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Event loop exception handler: keep the report for the summary, off the screen."""
        exc = context.get("exception")
        text = str(context.get("message", "unhandled error"))
        if exc is not None:
            text += f": {exc!r}"
        self.loop_warnings[text] = self.loop_warnings.get(text, 0) + 1

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        # Conditions span client and simulator state (no single event to await): poll.
        deadline = self.loop.time() + timeout
        while not predicate():
            if self.loop.time() >= deadline:
                return False
            await asyncio.sleep(_POLL)
        return True

    # -- consumers ----------------------------------------------------------------------

    async def _consume(self, stream: Stream[M], stats: StreamStats) -> None:
        """One plain ``async for`` per stream: reconnects never show up here."""
        async for msg in stream:
            missing = stats.observe(msg.seq)
            if missing:
                self.view.note(f"GAP in {stats.name}: {missing} message(s) missing before {msg}")
            stats.price = _price(msg)
            stats.latency_ms = time.time() * 1000.0 - msg.event_time
            if self.first_trade is None and isinstance(msg, Trade):
                self.first_trade = msg
                self.view.note(f"first trade, a typed msgspec Struct: {msg!r}")

    async def _drive_faults(self) -> None:
        for at, kind in self.plan:
            delay = self.started + at - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # the demo's schedule, not synchronisation
            if not await self.wait_until(lambda: self.client.is_connected, _RECOVERY_TIMEOUT):
                self.failures.append(f"not all connections up at {at:.1f} s")
                continue
            fault = _Fault(kind, self.elapsed())
            self.faults.append(fault)
            reconnects = self.reconnects
            if kind == "half-open":
                await self._half_open(fault)
            elif kind == "reset":
                fault.cut = min(await self.sim.drop_all(), self.connections)
                self.view.note(f"fault: {KIND_LABEL[kind]}: {fault.cut} connections cut")
            else:
                fault.cut = min(self.proxy.drop(), self.connections)
                self.view.note(f"fault: {KIND_LABEL[kind]}: {fault.cut} connections cut")
            expected = reconnects + self.connections
            back = await self.wait_until(partial(self._recovered, expected), _RECOVERY_TIMEOUT)
            if back:
                fault.recovered_after = self.elapsed() - fault.at
                self.view.note(
                    f"recovered: {self.connections}/{self.connections} connections back and "
                    f"resubscribed after {fault.recovered_after:.2f} s"
                )
            else:
                self.failures.append(f"{KIND_LABEL[kind]} at {fault.at:.1f} s: not recovered")
                self.view.note(f"NOT recovered within {_RECOVERY_TIMEOUT:.0f} s")

    def _recovered(self, reconnects: int) -> bool:
        return self.reconnects >= reconnects and self.client.is_connected

    async def _half_open(self, fault: _Fault) -> None:
        before = len(self.disconnect_times)
        start = self.loop.time()
        self.proxy.blackhole()
        fault.cut = self.connections
        self.view.note(
            f"fault: {KIND_LABEL['half-open']}: {self.connections} connections silent, TCP still up"
        )
        bound = HEARTBEAT.interval + HEARTBEAT.timeout
        try:
            # Restore only once every connection was declared dead: bytes flowing again on
            # a connection the client still trusts would be a real (mid-connection) gap.
            await self.wait_until(
                lambda: len(self.disconnect_times) - before >= self.connections, bound + 2.0
            )
        finally:
            self.proxy.restore()
        times = [t - start for t in self.disconnect_times[before:]]
        fault.detected_on = min(len(times), self.connections)
        if times:
            fault.detected = (min(times), max(times))
        if fault.detected_on < self.connections:
            self.failures.append(
                f"half-open detected on {fault.detected_on}/{self.connections} connections only"
            )
            self.view.note(f"half-open NOT detected on every connection ({fault.detected_on})")
        else:
            self.view.note(
                f"half-open detected by the heartbeat after {max(times):.2f} s on all "
                f"{self.connections} connections (bound {bound:.1f} s); proxy restored"
            )

    async def _burst(self) -> None:
        if not await self.wait_until(lambda: self.client.is_connected, _RECOVERY_TIMEOUT):
            self.failures.append("burst skipped: not all connections up")
            return
        # The feeds only: the book's deltas are checksummed one by one, a different
        # measure (benchmarks/_book.py); the book keeps its paced feed meanwhile.
        feeds = [sub.topic for sub in self.subscriptions if sub is not self.book_sub]
        per_stream = max(1, self.burst // len(feeds))
        targets = {name: self.stats[name].received + per_stream for name in feeds}
        self.view.note(f"burst: {per_stream} messages per stream at full speed ...")
        begin = time.perf_counter()
        base = self.received
        self.sim.burst(per_stream, streams=feeds)
        done = await self.wait_until(
            lambda: all(self.stats[n].received >= t for n, t in targets.items()), _BURST_TIMEOUT
        )
        elapsed = time.perf_counter() - begin
        got = self.received - base
        self.burst_result = (got, elapsed)
        if not done:
            self.failures.append(f"burst incomplete after {_BURST_TIMEOUT:.0f} s")
        self.view.note(
            f"burst: {got:,} messages in {elapsed:.2f} s = {got / elapsed:,.0f} msg/s "
            "(simulator, proxy and typed client in one process)"
        )

    # -- the run ------------------------------------------------------------------------

    async def run(self, view: View) -> int:
        """Stream, inject the faults, burst; print the summary and return the exit status."""
        self.view = view
        try:
            await self._stream()
        except jetsocket.JetSocketError as exc:
            self.failures.append(f"the client failed: {exc}")
        finally:
            view.stop()  # also on Ctrl-C: a live view must give the terminal back
        return self.summary()

    async def _stream(self) -> None:
        view = self.view
        async with self.client:
            for sub in self.subscriptions:
                stream = await self.client.subscribe(sub)
                sub.resume.stream = stream  # re-sent subscriptions resume after its last seq
                self.streams.append(stream)
            consumers = [
                asyncio.create_task(
                    self.book.follow(stream)
                    if sub is self.book_sub
                    else self._consume(stream, self.stats[sub.topic])
                )
                for sub, stream in zip(self.subscriptions, self.streams, strict=True)
            ]
            self.started = self.loop.time()
            view.start()
            ticker = asyncio.create_task(self._tick())
            driver = asyncio.create_task(self._drive_faults())
            gap = asyncio.create_task(self.book.inject_gap())
            try:
                await asyncio.sleep(self.duration)
                # A fault started before the end finishes (recovery bounded).
                await driver
                await gap
                if self.burst:
                    await self._burst()
                await self._check_delivery()
                await self.book.check()
            finally:
                for task in (ticker, driver, gap):
                    task.cancel()
                await asyncio.gather(ticker, driver, gap, return_exceptions=True)
        # Closing the client ends every stream once its buffered messages are consumed.
        for result in await asyncio.gather(*consumers, return_exceptions=True):
            if isinstance(result, BaseException):
                self.failures.append(f"consumer failed: {result!r}")
        await self._settle()

    async def _check_delivery(self) -> None:
        """Wait until every stream reached the simulator's last ``seq``; count what it took.

        The simulator's sequence counts every message a stream produced: once a stream's
        consumer has seen the number the simulator was at, everything from its first
        message to there was received (or is counted missing in a gap).
        """
        heads = {
            sub.topic: self.sim.sequence_of(sub.topic)
            for sub in self.subscriptions
            if sub is not self.book_sub
        }
        caught_up = await self.wait_until(
            lambda: all(self.stats[n].last_seq >= head for n, head in heads.items()),
            _CATCH_UP_TIMEOUT,
        )
        if not caught_up:
            behind = [n for n, head in heads.items() if self.stats[n].last_seq < head]
            self.failures.append(f"behind the simulator at the end: {', '.join(behind)}")
        expected = received = 0
        for name in heads:
            st = self.stats[name]
            if st.received:
                expected += st.last_seq - st.first_seq + 1
                received += st.received
        self.delivery = (expected, received)

    async def _settle(self) -> None:
        """Let the proxied connections end before the proxy stops (a clean shutdown)."""
        proxy = self.proxy
        try:
            await proxy.wait_for(lambda: proxy.active == 0, timeout=1.0)
        except TimeoutError:
            # Links left over from the black hole (their client side is long gone).
            proxy.drop()
            with contextlib.suppress(TimeoutError):
                await proxy.wait_for(lambda: proxy.active == 0, timeout=1.0)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)  # one progress sample per second
            for st in self.stats.values():
                st.sample()
            self.view.tick()

    def summary(self) -> int:
        """Print the final summary; return the exit status."""
        resets = sum(1 for f in self.faults if f.kind != "half-open")
        half_opens = sum(1 for f in self.faults if f.kind == "half-open")
        if self.gap_events:
            self.failures.append(f"{self.gap_events} gap events from the engine")
        self.failures += self.book.failures(self.book_gap_events)
        if self.book.consistent is None and not any("book" in f for f in self.failures):
            self.failures.append("the book was not checked against the simulator's")
        if self.fatal is not None:
            self.failures.append(f"fatal error: {self.fatal}")
        silent = [name for name, st in self.stats.items() if st.received == 0]
        if silent:
            self.failures.append(f"no message on {', '.join(silent)}")
        ok = not self.failures and self.gaps == 0 and self.lost == 0 and bool(self.book.consistent)
        sim_stats = self.sim.stats()
        write = self.out.write
        write(
            f"summary: {'OK' if ok else 'FAILED'}: {len(self.stats)} streams, "
            f"{self.duration:g} s, {resets} resets + {half_opens} half-open, "
            f"{self.reconnects} reconnects, {self.received} messages, "
            f"{self.gaps} gaps, {self.lost} lost\n"
            f"resubscribed: {self.resubscribed} subscriptions re-sent and acknowledged after "
            "reconnects; the consumers' Stream objects never noticed\n"
        )
        for fault in self.faults:
            if fault.kind == "half-open":
                if fault.detected is not None and fault.detected_on == self.connections:
                    low, high = fault.detected
                    write(
                        f"half-open: detected by the heartbeat after {low:.2f}-{high:.2f} s on "
                        f"{fault.detected_on}/{self.connections} connections (bound: interval "
                        f"{HEARTBEAT.interval:g} s + timeout {HEARTBEAT.timeout:g} s)\n"
                    )
                else:
                    write(f"half-open: NOT detected ({fault.detected_on}/{self.connections})\n")
        write("faults:\n")
        for fault in self.faults:
            back = (
                f"all back and resubscribed after {fault.recovered_after:.2f} s"
                if fault.recovered_after is not None
                else "NOT recovered"
            )
            write(f"  [{fault.at:5.1f}s] {KIND_LABEL[fault.kind]}: {fault.cut} cut, {back}\n")
        if not self.faults:
            write("  none\n")
        if self.burst_result is not None:
            got, elapsed = self.burst_result
            write(f"burst: {got:,} messages in {elapsed:.2f} s = {got / elapsed:,.0f} msg/s\n")
        if self.delivery is not None:
            expected, received = self.delivery
            streams = len(self.subscriptions) - 1
            write(
                f"delivery: the simulator produced {expected:,} messages on the {streams} "
                f"streams from each one's first message to its last seq at the end; "
                f"{received:,} received, {expected - received:,} missing\n"
            )
        write(
            f"replayed: {sim_stats.messages_replayed:,} messages re-sent from the simulator's "
            "history to resumed subscriptions (in flight or produced while a connection was "
            "down: without replay they would have been lost)\n"
        )
        write(self.book.summary())
        write(
            f"{'stream':<20} {'messages':>8} {'last seq':>8} {'last price':>12} "
            f"{'latency':>10} {'gaps':>4} {'lost':>4}\n"
        )
        for st in self.stats.values():
            write(
                f"{st.name:<20} {st.received:>8} {st.last_seq:>8} {fmt_price(st.price):>12} "
                f"{fmt_ms(st.latency_ms):>10} {st.gaps:>4} {st.lost:>4}\n"
            )
        write(
            "gap = a seq that is not the previous + 1 (one sequence per stream, across "
            "reconnects); lost = messages missing inside gaps + messages a full stream buffer "
            "discarded\n"
        )
        if self.errors:
            write(
                f"client error events: {len(self.errors)} (failed reconnect attempts, e.g. "
                f"into the black hole), last: {self.errors[-1]}\n"
            )
        for message, count in self.loop_warnings.items():
            write(f"event loop warning ({count}x, not counted as a failure): {message}\n")
        for failure in self.failures:
            write(f"FAILED: {failure}\n")
        self.out.flush()
        return 0 if ok else 1


def fault_plan(duration: float) -> list[tuple[float, str]]:
    """When to inject which fault: every few seconds, the half-open one second.

    Args:
        duration: Seconds of streaming.

    Returns:
        ``(seconds after start, kind)`` pairs, kind ``reset``, ``half-open`` or ``network``;
        the last fault starts at least 1.5 s before the end, so it can be recovered.
    """
    step = min(4.0, max(1.5, duration / 4))
    kinds = ("reset", "half-open", "network")
    plan: list[tuple[float, str]] = []
    at = step
    while at <= duration - 1.5 + 1e-9:
        index = len(plan)
        kind = kinds[index] if index < len(kinds) else ("reset", "network")[index % 2]
        plan.append((at, kind))
        at += step
    return plan


def _rich_view(demo: _Demo) -> View | None:
    """A live ``rich`` view, or None when rich is not installed."""
    try:
        from jetsocket._cli._view_rich import RichView  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    return RichView(demo)


async def run_demo(
    *,
    duration: float = 12.0,
    rate: float = 25.0,
    symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    seed: int = 7,
    burst: int = 20_000,
    faults: bool = True,
    live: bool | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the demo; return 0 if no gap and no lost message was seen.

    Args:
        duration: Seconds of streaming and faults.
        rate: Messages per second per stream.
        symbols: Symbols; each gets a trade, a kline and a book-ticker stream.
        seed: Seed of the simulated market.
        burst: Messages of a final full-speed burst (0: none).
        faults: Inject faults (resets and one half-open connection).
        live: Live ``rich`` view (None: when stdout is a terminal and rich is installed).
        out: Where to print (default: stdout).

    Returns:
        The exit status: 0 when every stream received messages, recovered after every
        fault, and no gap and no lost message was seen.
    """
    stream = out if out is not None else sys.stdout
    quiet = _QuietLogs()
    try:
        async with (
            ExchangeSimulator(
                symbols=symbols,
                rate=rate,
                seed=seed,
                sequence="stream",
                history=max(_HISTORY, 2 * burst),
            ) as sim,
            FaultProxy(sim) as proxy,
        ):
            demo = _Demo(sim, proxy, duration=duration, burst=burst, faults=faults, out=stream)
            view: View = PlainView(demo)
            if live is None:
                live = stream.isatty()
            if live:
                view = _rich_view(demo) or view
            loop = asyncio.get_running_loop()
            previous = loop.get_exception_handler()
            loop.set_exception_handler(demo.loop_warning)
            try:
                return await demo.run(view)
            finally:
                loop.set_exception_handler(previous)
    finally:
        quiet.restore()


class _QuietLogs:
    """Keep library log lines out of the demo's output while it runs.

    The client logs every disconnect and failed reconnect attempt at WARNING (expected
    here: the demo causes them) and the simulator's server logs the handshakes the proxy
    aborts; the demo reports all of that itself.
    """

    _NAMES = ("jetsocket", "websockets")

    def __init__(self) -> None:
        self._handler = logging.NullHandler()
        self._saved: list[tuple[logging.Logger, bool]] = []
        for name in self._NAMES:
            log = logging.getLogger(name)
            self._saved.append((log, log.propagate))
            log.addHandler(self._handler)
            log.propagate = False

    def restore(self) -> None:
        for log, propagate in self._saved:
            log.removeHandler(self._handler)
            log.propagate = propagate
