"""An embedded exchange feed server for tests, demos and benchmarks.

See :class:`ExchangeSimulator`. The server is `websockets`' asyncio server; the
connections are in ``_session``, the ``sequence="stream"`` streams in ``_channels`` and
the market model in ``_market``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed

from jetsocket.testing._channels import SharedFeed
from jetsocket.testing._lifecycle import LocalServer
from jetsocket.testing._market import Market, default_price
from jetsocket.testing._session import Session

__all__ = ["ExchangeSimulator", "SimulatedBook", "SimulatorStats"]

_log = logging.getLogger("jetsocket.testing")

_DEFAULT_KINDS = ("trade", "kline_1m", "bookTicker")
_SYMBOL_RE = re.compile(r"[A-Z0-9_-]{1,32}")


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
        messages_produced: Messages produced by the streams. ``sequence="stream"``: the
            numbered messages, once per stream however many connections receive them (book
            snapshots are not numbered, so not included); otherwise every message rendered
            for a connection, i.e. those sent plus those withheld.
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


class ExchangeSimulator(LocalServer[Server]):
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
    ``4h``, ...), ``<symbol>@bookTicker`` and ``<symbol>@book``, symbol in any case; the
    messages are described by :class:`~jetsocket.testing.Trade`,
    :class:`~jetsocket.testing.Kline`, :class:`~jetsocket.testing.BookTicker` and, for
    ``book``, :class:`~jetsocket.testing.BookSnapshot` then
    :class:`~jetsocket.testing.BookDelta` (an L2 order book of 20 levels a side: a snapshot
    on subscribe, then one delta per update, each with the book's update id ``"u"``, the
    previous one's + 1, as on Coinbase ``level2``, Kraken v2 ``book`` or OKX ``books``).

    **Sequence numbers.** Every feed message carries ``"seq"``. With
    ``sequence="connection"`` (the default) it is 1, 2, 3, ... per connection, over all
    its streams, and a new connection starts again at 1; every connection has markets of
    its own (see *Determinism*).

    With ``sequence="stream"`` the simulator behaves like a venue with replay: each stream
    exists once, with its own sequence 1, 2, 3, ... over every connection, created by its
    first subscription and producing ``rate`` messages a second from then on whether
    anybody is subscribed or not (the market goes on while a client reconnects). The last
    ``history`` messages of each stream are kept, and a SUBSCRIBE may ask to *resume*::

        {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 7,
         "resume": {"btcusdt@trade": 1234}}

    ``1234`` is the last sequence number the client has: the reply
    ``{"result": {"recovered": {"btcusdt@trade": true}}, "id": 7}`` is followed by the
    messages 1235, 1236, ... from the history, then the live feed, without a gap or a
    duplicate. The design follows Centrifugo's stream recovery (a subscribe carries the
    position last seen; the reply says whether the history still covered it). When the
    history no longer reaches back that far (or the position is unknown), the reply says
    ``false`` and the stream goes on from the oldest message kept, so the client sees the
    gap; a ``book`` stream sends a fresh snapshot instead. Without ``resume`` a stream
    starts with its next message (a ``book`` with a snapshot numbered with the stream's
    last sequence, which the first delta follows). A ``resume`` with
    ``sequence="connection"`` is refused (code 1).

    **Injected gaps.** :meth:`inject_gap` withholds the next messages of a stream from the
    connections subscribed to it: they see a jump in ``seq`` (and, on a ``book`` stream, in
    ``"u"``), which is the cue for an order book to resync.

    **Determinism.** Prices, quantities and trade ids come from a random walk seeded with
    ``(seed, symbol)``. With ``sequence="connection"`` every connection sees the same
    market from the start, and streams with the same rate subscribed in one request
    interleave in request order, so two connections sending the same requests receive the
    same messages (timestamps and kline boundaries follow the wall clock and are the only
    difference). With ``sequence="stream"`` there is one market per symbol for the whole
    simulator; how its streams interleave depends on timing.

    **Rate and bursts.** Each subscribed stream sends ``rate`` messages per second on a
    fixed schedule (``rate=0``: none). ``burst=N`` makes every newly subscribed stream
    first send N messages as fast as the connection takes them; :meth:`burst` does the
    same on demand. Sending applies backpressure: a slow client slows the server down, and
    a stream more than a second behind its schedule skips the missed slots. With
    ``sequence="stream"`` a burst is produced at once into the history (keep it below
    ``history``) and each connection is sent it as fast as it takes it; ``burst=N`` makes
    a stream's first subscription produce N messages at once.

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
        sequence: ``"connection"`` (default): ``seq`` numbers the messages of each
            connection, every connection has its own markets. ``"stream"``: one sequence,
            market and history per stream, resume on SUBSCRIBE (see above).
        history: Messages kept per stream for resumes (``sequence="stream"``).
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
        super().__init__(host=host, port=port)
        given = {k.upper(): v for k, v in (prices or {}).items()}
        self._prices = {s: given.get(s) or default_price(s) for s in self._symbols}
        self._max_streams = max_streams_per_connection
        self._compression = compression
        self._ping_interval = ping_interval
        self._sessions: dict[ServerConnection, Session] = {}
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
            self._shared = SharedFeed(self._rate, history, self._market, self._notify)
        self._producer: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening. After :meth:`stop`, this listens again on the same port.

        Raises:
            RuntimeError: The simulator is already running.
            OSError: The port could not be bound.
        """
        await self._serve(
            self._handler,
            compression=self._compression,
            ping_interval=self._ping_interval,
            close_timeout=2.0,
        )
        if self._shared is not None and self._producer is None:
            self._producer = asyncio.create_task(self._shared.run())

    async def stop(self) -> None:
        """Close every connection (code 1001) and stop listening. Idempotent."""
        server = self._unlisten()
        if server is not None:
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
    def uri(self) -> str:
        """The WebSocket URI clients connect to, e.g. ``ws://127.0.0.1:54321/ws``."""
        return self._ws_uri("/ws")

    @property
    def seed(self) -> int:
        """The seed of the market model (chosen at random if none was given)."""
        return self._seed

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols served."""
        return self._symbols

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

        With ``sequence="stream"`` each stream produces the messages once, into its history,
        and every connection subscribed to it is sent them as fast as it takes them.

        Returns:
            The number of (connection, stream) pairs that will burst; with
            ``sequence="stream"``, the number of streams.
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

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true.

        The predicate is checked now and whenever a connection opens or closes, a
        subscription changes or (``sequence="stream"``) streams produced messages, so it
        should depend on that state only (see :meth:`subscriptions`,
        :attr:`connection_count`, :meth:`sequence_of`).

        Args:
            predicate: Condition on the simulator's state.
            timeout: Seconds to wait at most.

        Raises:
            TimeoutError: The condition did not become true in time.
        """
        await super().wait_for(predicate, timeout)

    async def wait_for_connections(self, count: int = 1, *, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` clients are connected at once.

        Open connections, unlike :attr:`connections` (every connection accepted so far).

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
        session = Session(self, conn)
        self._sessions[conn] = session
        self._accepted += 1
        self._connected()
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
