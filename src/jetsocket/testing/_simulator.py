"""An embedded exchange feed server for tests, demos and benchmarks.

See :class:`ExchangeSimulator`. The server is `websockets`' asyncio server; everything
else (streams, schedule, market model) is here and in ``_market``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from jetsocket.testing._channels import Cursor, SharedFeed
from jetsocket.testing._lifecycle import Changes, ServerLifecycle
from jetsocket.testing._market import Market, StreamKind, StreamSpec, default_price, parse_stream

__all__ = ["ExchangeSimulator", "SimulatedBook", "SimulatorStats"]

_log = logging.getLogger("jetsocket.testing")

# Messages sent before the sender yields to the event loop, so that a burst or a catch-up
# never starves the request reader (UNSUBSCRIBE must take effect) or other connections.
_BATCH = 512
# A stream that falls further behind its schedule than this (slow client, busy loop)
# forgets the missed slots instead of catching up with an unbounded burst.
_MAX_LAG = 1.0
_ERR_VALUE = 1  # Binance: invalid value
_ERR_REQUEST = 2  # Binance: invalid request
_DEFAULT_KINDS = ("trade", "kline_1m", "bookTicker")
_SYMBOL_RE = re.compile(r"[A-Z0-9_-]{1,32}")

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class SimulatorStats:
    """A snapshot of an :class:`ExchangeSimulator`'s counters.

    Attributes:
        connections_accepted: WebSocket connections accepted since the simulator was created.
        connections_open: Connections open now.
        requests_received: Requests (text messages) received from clients.
        messages_sent: Feed messages pushed to clients (replies not included).
        bytes_sent: Payload bytes of those feed messages.
        messages_by_stream: Feed messages pushed per stream name, over all connections.
        feed_errors: Connections closed with 1011 because the feed failed (a simulator
            bug; the traceback is logged on the ``jetsocket.testing`` logger).
        messages_replayed: Feed messages sent again to a connection that resumed a stream
            (included in ``messages_sent``; ``sequence="stream"`` only).
        messages_withheld: Feed messages not sent to a subscribed connection because of
            :meth:`ExchangeSimulator.inject_gap`.
        messages_produced: Messages produced by the streams (``sequence="stream"``: once
            per stream, however many connections receive them; otherwise equal to the
            messages sent plus those withheld).
    """

    connections_accepted: int
    connections_open: int
    requests_received: int
    messages_sent: int
    bytes_sent: int
    messages_by_stream: Mapping[str, int]
    feed_errors: int
    messages_replayed: int = 0
    messages_withheld: int = 0
    messages_produced: int = 0


@dataclass(frozen=True, slots=True)
class SimulatedBook:
    """The simulator's order book of one symbol, as :meth:`ExchangeSimulator.book` returns it.

    Attributes:
        symbol: Upper-case symbol.
        version: Update id of the last delta applied (the ``"u"`` of the messages).
        bids: ``(price, quantity)`` levels, best (highest) first.
        asks: ``(price, quantity)`` levels, best (lowest) first.
    """

    symbol: str
    version: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


class _Stream:
    """A stream subscribed on one connection, with its place in the send schedule."""

    __slots__ = ("market", "period", "slot", "snapshot", "spec", "start")

    def __init__(self, spec: StreamSpec, market: Market, rate: float, now: float) -> None:
        self.spec = spec
        self.market = market
        self.period = 1.0 / rate if rate > 0 else 0.0
        self.start = now
        self.slot = 0
        # A book stream starts with a snapshot of the connection's book, then deltas.
        self.snapshot = spec.kind is StreamKind.BOOK

    def due(self) -> float:
        # start + slot * period rather than a running sum: no accumulated float drift, so
        # streams with the same rate stay exactly tied and interleave deterministically.
        return self.start + self.slot * self.period

    def render(self, seq: int, now_ms: int) -> bytes:
        market = self.market
        if self.snapshot:
            self.snapshot = False
            return market.book.snapshot_message(seq, now_ms)
        market.trade()
        kind = self.spec.kind
        if kind is StreamKind.TRADE:
            return market.trade_message(seq, now_ms)
        if kind is StreamKind.KLINE:
            return market.kline_message(self.spec, seq, now_ms)
        if kind is StreamKind.BOOK:
            return market.book.delta_message(seq, now_ms)
        return market.book_message(seq, now_ms)


class _Session:
    """One client connection: its subscriptions, markets, schedule and sequence counter.

    With ``sequence="stream"`` the streams, markets and sequences belong to the simulator
    (:class:`~jetsocket.testing._channels.SharedFeed`); the session only keeps a
    :class:`~jetsocket.testing._channels.Cursor` per subscribed stream in :attr:`cursors`.
    """

    def __init__(self, sim: ExchangeSimulator, conn: ServerConnection) -> None:
        self.sim = sim
        self.conn = conn
        self.seq = 0
        self.shared = sim._shared
        self.cursors: dict[str, Cursor] = {}  # sequence="stream" only
        self.withhold: dict[str, int] = {}  # stream -> messages to skip (inject_gap)
        self.streams: dict[str, _Stream] = {}  # insertion order = subscription order
        self.markets: dict[str, Market] = {}
        self.bursts: dict[str, int] = {}
        self.heap: list[tuple[float, int, _Stream]] = []
        self.order = itertools.count()  # heap tie-break: earlier scheduled goes first
        self.wakeup = asyncio.Event()
        # Held while sending: a reply can't overtake or be overtaken by a feed message
        # that was already decided on, so no message of a stream follows its UNSUBSCRIBE
        # reply and none precedes its SUBSCRIBE reply.
        self.lock = asyncio.Lock()

    # -- requests ------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The subscribed streams, in subscription order."""
        return list(self.cursors if self.shared is not None else self.streams)

    async def serve(self) -> None:
        async for raw in self.conn:
            self.sim._requests += 1
            await self.handle(raw)

    def close(self) -> None:
        for cursor in self.cursors.values():
            cursor.channel.subscribers.pop(self, None)
        self.cursors.clear()

    async def handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            await self.reply(None, error=(_ERR_REQUEST, "requests must be text messages"))
            return
        try:
            request = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            await self.reply(None, error=(_ERR_REQUEST, "invalid JSON"))
            return
        if not isinstance(request, dict):
            await self.reply(None, error=(_ERR_REQUEST, "a request must be a JSON object"))
            return
        request_id = request.get("id")
        method = request.get("method")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            params = request.get("params")
            if not isinstance(params, list) or not params:
                await self.reply(request_id, error=(_ERR_REQUEST, "params must be a list"))
                return
            if method == "SUBSCRIBE":
                await self.subscribe(request_id, params, request.get("resume"))
            else:
                await self.unsubscribe(request_id, params)
        elif method == "LIST_SUBSCRIPTIONS":
            await self.reply(request_id, result=self.names())
        else:
            await self.reply(request_id, error=(_ERR_REQUEST, f"unknown method {method!r}"))

    async def subscribe(self, request_id: object, params: list[Any], resume: object) -> None:
        sim = self.sim
        specs: list[StreamSpec] = []
        subscribed = self.names()
        for name in params:
            spec = parse_stream(name, sim._symbol_set)
            if isinstance(spec, str):
                # All or nothing, so a client never has to guess which streams are live.
                await self.reply(request_id, error=(_ERR_VALUE, spec))
                return
            if spec.name not in subscribed and spec.name not in {s.name for s in specs}:
                specs.append(spec)
        limit = sim._max_streams
        if limit is not None and len(subscribed) + len(specs) > limit:
            await self.reply(
                request_id, error=(_ERR_VALUE, f"too many streams (max {limit} per connection)")
            )
            return
        positions = _check_resume(resume, params, shared=self.shared is not None)
        if isinstance(positions, tuple):
            await self.reply(request_id, error=positions)
            return
        if self.shared is not None:
            await self._subscribe_shared(request_id, specs, positions)
            return
        async with self.lock:
            await self._send(_encode({"result": None, "id": request_id}))
            now = asyncio.get_running_loop().time()
            for spec in specs:
                market = self.markets.get(spec.symbol)
                if market is None:
                    market = Market(spec.symbol, sim._prices[spec.symbol], sim.seed)
                    self.markets[spec.symbol] = market
                stream = _Stream(spec, market, sim._rate, now)
                self.streams[spec.name] = stream
                if stream.period:
                    heapq.heappush(self.heap, (stream.due(), next(self.order), stream))
                if sim._burst:
                    self.bursts[spec.name] = self.bursts.get(spec.name, 0) + sim._burst
        self.wakeup.set()
        sim._notify()

    async def _subscribe_shared(
        self, request_id: object, specs: list[StreamSpec], positions: dict[str, int]
    ) -> None:
        """Subscribe in ``sequence="stream"`` mode: join the channels, replay if asked."""
        shared = self.shared
        assert shared is not None
        recovered: dict[str, bool] = {}
        snapshots: list[tuple[str, bytes]] = []
        now_ms = time.time_ns() // 1_000_000
        async with self.lock:
            # Nothing is awaited until every cursor is placed: a snapshot and the position
            # after it are taken at the same sequence number.
            for spec in specs:
                channel = shared.channel(spec)
                last = positions.get(spec.name)
                head = channel.seq
                if last is not None and channel.base - 1 <= last <= head:
                    cursor = Cursor(channel, last + 1, replay_to=head)
                    recovered[spec.name] = True
                else:
                    if last is not None:
                        recovered[spec.name] = False  # older than the history (or unknown)
                    cursor = Cursor(channel, head + 1)
                    if spec.kind is StreamKind.BOOK:
                        snapshots.append((spec.name, channel.snapshot(now_ms)))
                    elif last is not None:
                        cursor.next = channel.base  # what is left: the client sees the gap
                self.cursors[spec.name] = cursor
                channel.subscribers[self] = self.wakeup
            result = {"recovered": recovered} if positions else None
            batch = [_encode({"result": result, "id": request_id})]
            for name, payload in snapshots:
                self._count(name, payload)
                batch.append(payload)
            await self._send_batch(batch)
        self.wakeup.set()
        self.sim._notify()

    async def unsubscribe(self, request_id: object, params: list[Any]) -> None:
        for name in params:
            if isinstance(name, str):
                # Stale heap entries are skipped by the sender (identity check).
                self.streams.pop(name, None)
                self.bursts.pop(name, None)
                cursor = self.cursors.pop(name, None)
                if cursor is not None:
                    cursor.channel.subscribers.pop(self, None)
        await self.reply(request_id, result=None)
        self.sim._notify()

    async def reply(
        self, request_id: object, *, result: object = None, error: tuple[int, str] | None = None
    ) -> None:
        if error is None:
            payload = _encode({"result": result, "id": request_id})
        else:
            payload = _encode({"error": {"code": error[0], "msg": error[1]}, "id": request_id})
        async with self.lock:
            await self._send(payload)

    # -- feed ----------------------------------------------------------------------------

    def add_burst(self, count: int, names: Collection[str] | None) -> int:
        added = 0
        for name in self.streams:
            if names is None or name in names:
                self.bursts[name] = self.bursts.get(name, 0) + count
                added += 1
        if added:
            self.wakeup.set()
        return added

    async def run_feed(self) -> None:
        try:
            if self.shared is not None:
                await self._feed_shared()
            else:
                await self._feed()
        except ConnectionClosed:
            pass
        except Exception:
            # A bug here must not leave the client waiting forever for messages: log it
            # and close with 1011 (internal error, RFC 6455 section 7.4.1).
            _log.exception("simulator feed failed")
            self.sim._errors += 1
            await self.conn.close(1011, "simulator feed failed")

    async def _feed(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # Cleared before the state is inspected: a subscribe or burst that happens
            # while we are awaiting below sets it again, so no wake-up is lost.
            self.wakeup.clear()
            if self.bursts:
                await self._send_burst()
                if not self.bursts:
                    self._rebase(loop.time())
                await asyncio.sleep(0)
                continue
            heap = self.heap
            while heap and self.streams.get(heap[0][2].spec.name) is not heap[0][2]:
                heapq.heappop(heap)
            if not heap:
                await self.wakeup.wait()
                continue
            now = loop.time()
            if heap[0][0] > now:
                handle = loop.call_at(heap[0][0], self.wakeup.set)
                try:
                    await self.wakeup.wait()
                finally:
                    handle.cancel()
                continue
            await self._send_due(now)
            await asyncio.sleep(0)

    async def _send_due(self, now: float) -> None:
        heap = self.heap
        batch: list[bytes] = []
        async with self.lock:
            while heap and heap[0][0] <= now and len(batch) < _BATCH:
                _, _, stream = heapq.heappop(heap)
                if self.streams.get(stream.spec.name) is not stream:
                    continue  # unsubscribed since it was scheduled
                self._render(stream, batch)
                stream.slot += 1
                if stream.due() < now - _MAX_LAG:
                    stream.start, stream.slot = now, 0
                heapq.heappush(heap, (stream.due(), next(self.order), stream))
            await self._send_batch(batch)

    async def _send_burst(self) -> None:
        batch: list[bytes] = []
        async with self.lock:
            while self.bursts and len(batch) < _BATCH:
                # One round: one message per bursting stream, in subscription order.
                for name in [n for n in self.streams if n in self.bursts]:
                    self._render(self.streams[name], batch)
                    left = self.bursts[name] - 1
                    if left > 0:
                        self.bursts[name] = left
                    else:
                        del self.bursts[name]
                for name in [n for n in self.bursts if n not in self.streams]:
                    del self.bursts[name]
            await self._send_batch(batch)

    async def _feed_shared(self) -> None:
        """Send what the subscribed channels produced, from each cursor, in batches."""
        sim = self.sim
        while True:
            self.wakeup.clear()
            batch: list[bytes] = []
            async with self.lock:
                for name, cursor in self.cursors.items():
                    channel = cursor.channel
                    # Further behind than the history (a stalled connection): what is left
                    # goes on, the client sees the gap.
                    cursor.next = max(cursor.next, channel.base)
                    end = min(channel.seq, cursor.next + _BATCH - len(batch) - 1)
                    for seq in range(cursor.next, end + 1):
                        payload = channel.entry(seq)
                        if seq <= cursor.replay_to:
                            sim._replayed += 1
                        elif seq in channel.withheld:
                            sim._withheld += 1
                            continue
                        batch.append(payload)
                        self._count(name, payload)
                    cursor.next = max(cursor.next, end + 1)
                    if len(batch) >= _BATCH:
                        break
                await self._send_batch(batch)
            if batch:
                await asyncio.sleep(0)  # let requests and other connections in
            else:
                await self.wakeup.wait()

    def _count(self, name: str, payload: bytes) -> None:
        sim = self.sim
        sim._messages += 1
        sim._bytes += len(payload)
        sim._by_stream[name] = sim._by_stream.get(name, 0) + 1

    def _rebase(self, now: float) -> None:
        # After a burst the paced schedule restarts from now instead of catching up.
        self.heap = []
        for stream in self.streams.values():
            if stream.period:
                stream.start, stream.slot = now, 0
                heapq.heappush(self.heap, (stream.due(), next(self.order), stream))

    def _render(self, stream: _Stream, batch: list[bytes]) -> None:
        """Render the next message of ``stream`` into ``batch`` (unless it is withheld)."""
        self.seq += 1
        payload = stream.render(self.seq, time.time_ns() // 1_000_000)
        name = stream.spec.name
        if self.withhold:
            left = self.withhold.get(name, 0)
            if left:
                # An injected gap: the message exists (its number is taken), never sent.
                if left > 1:
                    self.withhold[name] = left - 1
                else:
                    del self.withhold[name]
                self.sim._withheld += 1
                return
        self._count(name, payload)
        batch.append(payload)

    async def _send(self, payload: bytes) -> None:
        # text=True sends the UTF-8 bytes as a text frame without decoding them first.
        await self.conn.send(payload, text=True)

    async def _send_batch(self, payloads: list[bytes]) -> None:
        """Send many text messages with one socket write.

        ``ServerConnection.send`` writes every frame separately, one system call each,
        which caps a feed at a few ten thousand messages per second. Here the frames are
        built by the websockets protocol object (so extensions such as permessage-deflate
        still apply) and written at once, inside websockets' own ``send_context`` so that
        state checks, flow control (drain) and error handling stay those of ``send``.
        """
        if not payloads:
            return
        conn = self.conn
        async with conn.send_context():
            protocol = conn.protocol
            if protocol.extensions:
                for payload in payloads:
                    protocol.send_text(payload)
                chunks = protocol.data_to_send()
            else:
                # Without extensions a server frame is a plain header plus the payload
                # (RFC 6455 section 5.2: FIN + text opcode, no mask from a server), cheaper
                # to build here than through the protocol's frame objects.
                chunks = protocol.data_to_send()  # anything queued goes first
                chunks.extend(_frame(payload) for payload in payloads)
            conn.transport.write(b"".join(chunks))
            if b"" in chunks:  # end-of-stream marker: only after a close, keep its meaning
                conn.transport.close()


def _check_resume(
    resume: object, params: list[Any], *, shared: bool
) -> dict[str, int] | tuple[int, str]:
    """Validate a SUBSCRIBE's ``"resume"``: ``{stream: last sequence seen}``, or an error."""
    if resume is None:
        return {}
    if not shared:
        return (_ERR_VALUE, "resume needs one sequence per stream (sequence='stream')")
    if not isinstance(resume, dict):
        return (_ERR_REQUEST, "resume must be an object {stream: last sequence seen}")
    positions: dict[str, int] = {}
    for name, last in resume.items():
        if name not in params:
            return (_ERR_VALUE, f"resume names {name!r}, which is not in params")
        if isinstance(last, bool) or not isinstance(last, int) or last < 0:
            return (_ERR_REQUEST, f"resume position of {name!r} must be an int >= 0")
        positions[name] = last
    return positions


def _frame(payload: bytes) -> bytes:
    """Return an unmasked, unfragmented text frame carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return b"\x81" + size.to_bytes(1, "big") + payload
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


class ExchangeSimulator(ServerLifecycle):
    """An embedded exchange feed server speaking a Binance-like JSON protocol.

    Use it as an async context manager; it listens on ``127.0.0.1`` on a free port::

        async with ExchangeSimulator(symbols=("BTCUSDT", "ETHUSDT"), rate=50, seed=1) as sim:
            async with jetsocket.WebSocket(sim.uri, deserializer=decode_message) as ws:
                await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
                reply = await ws.recv()          # Response(id=1, result=None)
                trade = await ws.recv()          # Trade(..., seq=1)

    **Protocol.** A client sends ``{"method": "SUBSCRIBE", "params": [streams], "id": N}``
    and gets ``{"result": null, "id": N}``; feed messages of the new streams follow (never
    precede) the reply. ``UNSUBSCRIBE`` likewise (no message of the stream follows the
    reply) and ``LIST_SUBSCRIPTIONS`` answers ``{"result": [streams], "id": N}``. A bad
    request is answered ``{"error": {"code": 1 or 2, "msg": ...}, "id": N}`` and changes
    nothing. Streams are ``<symbol>@trade``, ``<symbol>@kline_<interval>`` (``1s``, ``1m``,
    ``4h``, ...) and ``<symbol>@bookTicker``, symbol in any case; the messages are
    described by :class:`~jetsocket.testing.Trade`, :class:`~jetsocket.testing.Kline` and
    :class:`~jetsocket.testing.BookTicker`.

    **Sequence numbers.** Every feed message carries ``"seq"``: 1, 2, 3, ... per
    connection, over all its streams. A client that sees a jump lost messages. A new
    connection starts again at 1.

    **Determinism.** Prices, quantities and trade ids come from a random walk seeded with
    ``(seed, symbol)``; every connection sees the same market from the start. Streams with
    the same rate subscribed in one request interleave in request order, so two
    connections sending the same requests receive the same messages (timestamps and kline
    boundaries follow the wall clock and are the only difference).

    **Rate and bursts.** Each subscribed stream sends ``rate`` messages per second on a
    fixed schedule (``rate=0``: none). ``burst=N`` makes every newly subscribed stream
    first send N messages as fast as the connection takes them; :meth:`burst` does the
    same on demand. Sending applies backpressure: a slow client slows the server down, and
    a stream more than a second behind its schedule skips the missed slots.

    Args:
        symbols: The symbols served (upper case).
        rate: Messages per second per subscribed stream.
        burst: Messages each newly subscribed stream sends at once before its paced rate.
        seed: Seed of the market model; None picks one at random (see :attr:`seed`).
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one (see :attr:`port`).
        prices: Start price per symbol as a decimal string (its decimals are the price
            precision); defaults exist for common symbols.
        max_streams_per_connection: Reject subscriptions beyond this many streams on one
            connection (to test sharding); None for no limit.
        compression: ``"deflate"`` to offer permessage-deflate, None (default) for none.
        ping_interval: Seconds between server pings; None (default) sends none.
    """

    def __init__(
        self,
        symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"),
        *,
        rate: float = 10.0,
        burst: int = 0,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        prices: Mapping[str, str] | None = None,
        max_streams_per_connection: int | None = None,
        compression: str | None = None,
        ping_interval: float | None = None,
        sequence: Literal["connection", "stream"] = "connection",
        history: int = 10_000,
    ) -> None:
        self._symbols = tuple(dict.fromkeys(s.upper() for s in symbols))
        if not self._symbols:
            raise ValueError("at least one symbol is needed")
        for symbol in self._symbols:
            if not _SYMBOL_RE.fullmatch(symbol):
                raise ValueError(f"symbols are letters, digits, '-' and '_', got {symbol!r}")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            raise ValueError(f"rate must be a number >= 0, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 0:
            raise ValueError(f"burst must be an int >= 0, got {burst!r}")
        if max_streams_per_connection is not None and max_streams_per_connection < 1:
            raise ValueError("max_streams_per_connection must be >= 1 or None")
        self._symbol_set = frozenset(self._symbols)
        self._rate = float(rate)
        self._burst = burst
        self._seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self._host = host
        self._port = port
        given = {k.upper(): v for k, v in (prices or {}).items()}
        self._prices = {s: given.get(s) or default_price(s) for s in self._symbols}
        self._max_streams = max_streams_per_connection
        self._compression = compression
        self._ping_interval = ping_interval
        self._server: Server | None = None
        self._sessions: dict[ServerConnection, _Session] = {}
        self._changes = Changes()
        self._errors = 0
        self._accepted = 0
        self._requests = 0
        self._messages = 0
        self._bytes = 0
        self._by_stream: dict[str, int] = {}
        self._replayed = 0
        self._withheld = 0
        if sequence not in ("connection", "stream"):
            raise ValueError(f"sequence must be 'connection' or 'stream', got {sequence!r}")
        if isinstance(history, bool) or not isinstance(history, int) or history < 1:
            raise ValueError(f"history must be an int >= 1, got {history!r}")
        self._sequence = sequence
        self._markets: dict[str, Market] = {}
        self._shared: SharedFeed | None = None
        if sequence == "stream":
            self._shared = SharedFeed(self._rate, history, self._market)
        self._producer: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening. After :meth:`stop`, this listens again on the same port.

        Raises:
            RuntimeError: The simulator is already running.
            OSError: The port could not be bound.
        """
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server = await serve(
            self._handler,
            self._host,
            self._port,
            compression=self._compression,
            ping_interval=self._ping_interval,
            close_timeout=2.0,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        if self._shared is not None and self._producer is None:
            self._producer = asyncio.create_task(self._shared.run())

    async def stop(self) -> None:
        """Close every connection (code 1001) and stop listening. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        # The market pauses while the simulator is stopped (its streams, sequences and
        # history are kept: a restart on the same port goes on from where it was).
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    # -- properties ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (known after :meth:`start`)."""
        if not self._port:
            raise RuntimeError("the simulator has not been started")
        return self._port

    @property
    def uri(self) -> str:
        """The WebSocket URI clients connect to, e.g. ``ws://127.0.0.1:54321/ws``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"ws://{host}:{self.port}/ws"

    @property
    def seed(self) -> int:
        """The seed of the market model (chosen at random if none was given)."""
        return self._seed

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols served."""
        return self._symbols

    @property
    def is_running(self) -> bool:
        """Whether the simulator is listening."""
        return self._server is not None

    @property
    def connection_count(self) -> int:
        """The number of open client connections."""
        return len(self._sessions)

    def stream_names(self, kinds: Iterable[str] = _DEFAULT_KINDS) -> list[str]:
        """Return the stream names of every symbol for the given kinds.

        Args:
            kinds: Stream kinds, e.g. ``("trade", "kline_1m", "bookTicker")``.

        Returns:
            Names such as ``"btcusdt@trade"``, grouped by symbol.
        """
        kinds = tuple(kinds)
        return [f"{symbol.lower()}@{kind}" for symbol in self._symbols for kind in kinds]

    def subscriptions(self) -> list[list[str]]:
        """Return the subscribed streams of each open connection (in subscription order)."""
        return [session.names() for session in self._sessions.values()]

    def stats(self) -> SimulatorStats:
        """Return a snapshot of the counters."""
        return SimulatorStats(
            connections_accepted=self._accepted,
            connections_open=len(self._sessions),
            requests_received=self._requests,
            messages_sent=self._messages,
            bytes_sent=self._bytes,
            messages_by_stream=MappingProxyType(dict(self._by_stream)),
            feed_errors=self._errors,
            messages_replayed=self._replayed,
            messages_withheld=self._withheld,
            messages_produced=(
                self._shared.produced
                if self._shared is not None
                else self._messages + self._withheld
            ),
        )

    # -- control -------------------------------------------------------------------------

    def burst(self, count: int, streams: Collection[str] | None = None) -> int:
        """Make subscribed streams send ``count`` more messages each, as fast as possible.

        Args:
            count: Messages per stream.
            streams: Only these stream names; None for every subscribed stream.

        Returns:
            The number of (connection, stream) pairs that will burst.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        shared = self._shared
        if shared is not None:
            subscribed = {n for s in self._sessions.values() for n in s.cursors}
            channels = [
                c
                for name, c in shared.channels.items()
                if name in subscribed and (streams is None or name in streams)
            ]
            for channel in channels:
                shared.burst(channel, count)
            return len(channels)
        return sum(s.add_burst(count, streams) for s in self._sessions.values())

    def inject_gap(self, stream: str, count: int = 1) -> int:
        """Withhold the next ``count`` messages of ``stream`` from its subscribed connections.

        The messages are produced and numbered as usual but not sent to the connections
        subscribed to ``stream`` now, as if they were lost on the way: those clients see a
        sequence gap (for a ``book`` stream: a book version gap, the cue to resync). With
        ``sequence="stream"`` the messages stay in the history, so a resumed subscription
        gets them again.

        Args:
            stream: The stream name, e.g. ``"btcusdt@book"``.
            count: Messages to withhold.

        Returns:
            The number of connections subscribed to the stream (0: nothing will happen).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be an int >= 1, got {count!r}")
        shared = self._shared
        if shared is not None:
            channel = shared.channels.get(stream)
            if channel is None or not channel.subscribers:
                return 0
            channel.withhold += count
            return len(channel.subscribers)
        affected = 0
        for session in self._sessions.values():
            if stream in session.streams:
                session.withhold[stream] = session.withhold.get(stream, 0) + count
                affected += 1
        return affected

    def sequence_of(self, stream: str) -> int:
        """The sequence number of the last message ``stream`` produced (``sequence="stream"``).

        Returns:
            0 when the stream has not been subscribed yet.

        Raises:
            RuntimeError: The simulator numbers messages per connection.
        """
        shared = self._require_shared("sequence_of()")
        channel = shared.channels.get(stream)
        return 0 if channel is None else channel.seq

    def book(self, symbol: str) -> SimulatedBook:
        """The order book of ``symbol`` as the ``<symbol>@book`` stream last described it.

        With ``sequence="stream"`` the book is the simulator's own (one per symbol), so a
        client can compare its book with it once it has seen version :attr:`SimulatedBook.version`.

        Raises:
            RuntimeError: The simulator keeps one market per connection.
            ValueError: ``symbol`` is not served.
        """
        self._require_shared("book()")
        market = self._market(symbol.upper())
        model = market.book
        bids, asks = model.levels()
        scale = Decimal(1).scaleb(-market.decimals)
        lot = Decimal("0.0001")
        return SimulatedBook(
            symbol=market.symbol,
            version=model.version,
            bids=tuple((px * scale, qty * lot) for px, qty in bids),
            asks=tuple((px * scale, qty * lot) for px, qty in asks),
        )

    async def drop_all(self, *, timeout: float = 5.0) -> int:
        """Abort every client connection at the TCP level: no close frame, no FIN handshake.

        Clients see an abnormal closure (1006), as after a network failure.

        Args:
            timeout: Seconds to wait until the server has released the connections.

        Returns:
            The number of connections dropped.
        """
        sessions = list(self._sessions.values())
        for session in sessions:
            session.conn.transport.abort()
        dropped = {s.conn for s in sessions}
        await self.wait_for(lambda: not dropped & self._sessions.keys(), timeout=timeout)
        return len(sessions)

    def close_all(self, code: int = 1001, reason: str = "") -> asyncio.Task[int]:
        """Start the closing handshake (RFC 6455 section 7) on every client connection.

        The close frames are sent right away; awaiting the returned task (optional) waits
        until the clients have answered or the close timeout (2 s) expired.

        Args:
            code: Close code, e.g. 1001 (going away) or 1012 (service restart).
            reason: Close reason.

        Returns:
            A task whose result is the number of connections closed.
        """
        conns = list(self._sessions)
        tasks = [asyncio.create_task(conn.close(code, reason)) for conn in conns]

        async def wait() -> int:
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
            return len(conns)

        return asyncio.create_task(wait())

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true.

        The predicate is checked now and whenever a connection opens or closes or a
        subscription changes, so it should depend on that state only (see
        :meth:`subscriptions`, :attr:`connection_count`).

        Args:
            predicate: Condition on the simulator's state.
            timeout: Seconds to wait at most.

        Raises:
            TimeoutError: The condition did not become true in time.
        """
        await self._changes.wait_for(predicate, timeout)

    async def wait_for_connections(self, count: int = 1, *, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` clients are connected.

        Raises:
            TimeoutError: Fewer clients were connected after ``timeout`` seconds.
        """
        await self.wait_for(lambda: len(self._sessions) >= count, timeout=timeout)

    async def wait_for_subscription(self, stream: str, *, timeout: float = 5.0) -> None:
        """Wait until some connection is subscribed to ``stream``.

        Raises:
            TimeoutError: No connection subscribed in time.
        """
        await self.wait_for(
            lambda: any(stream in s.names() for s in self._sessions.values()), timeout=timeout
        )

    # -- internals -----------------------------------------------------------------------

    def _notify(self) -> None:
        self._changes.notify()

    def _market(self, symbol: str) -> Market:
        """The simulator-wide market of ``symbol`` (``sequence="stream"``)."""
        if symbol not in self._symbol_set:
            raise ValueError(f"unknown symbol {symbol!r}")
        market = self._markets.get(symbol)
        if market is None:
            market = Market(symbol, self._prices[symbol], self._seed)
            self._markets[symbol] = market
        return market

    def _require_shared(self, what: str) -> SharedFeed:
        if self._shared is None:
            raise RuntimeError(f"{what} needs sequence='stream' (markets are per connection)")
        return self._shared

    async def _handler(self, conn: ServerConnection) -> None:
        session = _Session(self, conn)
        self._sessions[conn] = session
        self._accepted += 1
        self._notify()
        feed = asyncio.create_task(session.run_feed())
        try:
            await session.serve()
        except ConnectionClosed:
            pass
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            session.close()
            del self._sessions[conn]
            self._notify()
