"""What every fake venue shares: lifecycle, sessions, streams, records and fault injection.

A fake venue is a :class:`VenueServer` subclass that speaks one venue's wire protocol. This
module holds the venue-neutral parts:

* **Streams** (:class:`Item`): the venue produces trades per *stream* (the unit that carries
  one sequence: a Binance stream name, a Coinbase product, a Kraken symbol...). Sequence
  numbers are per stream, start at ``first_sequence`` and continue across reconnects, as on
  a real venue: the market does not stop while a client is away. A background ticker
  (``rate`` items per second per stream that was ever subscribed) or :meth:`publish`
  (deterministic, for tests) produces them.
* **Records**: every client message (:attr:`VenueServer.received`, and per connection
  :attr:`VenueSession.received`) and every item delivered, per connection and stream
  (:attr:`VenueServer.sent`, :class:`Sent`), including snapshot replays (``replay=True``),
  so a test can prove that nothing was lost or delivered twice.
* **Fault injection**: :meth:`kill_all` (every connection dies mid-stream, the server keeps
  listening so clients come back at once), :meth:`restart`, :meth:`reject` (a subscription
  gets the venue's own error), :meth:`send_malformed`, :meth:`send_unknown`, :meth:`skip`
  (a sequence gap on one stream), :meth:`freeze` (silence without a close: a half-open
  connection) and, per venue, a snapshot of recent items replayed on every (re)subscribe.

Deliveries, acknowledgements with their snapshot, heartbeats and kills are serialised by
one lock, so a kill always falls between two whole messages and no live item can slip in
between a subscription's ack and its snapshot.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple, TypedDict

import msgspec
from typing_extensions import Unpack
from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from jetsocket.testing._lifecycle import LocalServer, close_all

__all__ = ["Item", "Sent", "VenueServer", "VenueSession", "encode", "now_ms", "rfc3339"]

encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

_DEFAULT_PRICES = {"BTC": Decimal("64000.00"), "ETH": Decimal("3100.00"), "SOL": Decimal("150.00")}

#: A frame to send and the sequence numbers of the items it carries (for :class:`Sent`).
Frame = tuple[object, Sequence[int]]


def now_ms() -> int:
    """Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


def rfc3339(ms: int) -> str:
    """``2024-05-01T12:00:00.123000Z`` for a Unix time in milliseconds."""
    secs, rest = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rest:03d}000Z"


class Item(NamedTuple):
    """One trade of one stream, before a venue renders it in its own shape.

    Attributes:
        stream: The stream (sequence unit) it belongs to.
        seq: Its sequence number in that stream (venues use it as trade id or sequence).
        ts_ms: Unix time in milliseconds.
        price: Price as a venue string (two decimals).
        qty: Quantity as a venue string (four decimals).
        side: Taker side, ``"buy"`` or ``"sell"``.
    """

    stream: str
    seq: int
    ts_ms: int
    price: str
    qty: str
    side: str


class Sent(NamedTuple):
    """One item delivered to one connection.

    Attributes:
        conn: The connection number (:attr:`VenueSession.no`, 1 for the first).
        stream: The item's stream.
        seq: The item's sequence number.
        replay: True when it was part of a snapshot replayed on (re)subscribe.
    """

    conn: int
    stream: str
    seq: int
    replay: bool


class _Stream:
    """Sequence, seeded price walk and recent history of one stream."""

    def __init__(self, key: str, seed: int, first: int, recent: int) -> None:
        # random.Random seeds str deterministically (SHA-512), unlike hash().
        self.rng = random.Random(f"{seed}:{key}")
        upper = key.upper().lstrip("T")
        base = next((p for k, p in _DEFAULT_PRICES.items() if upper.startswith(k)), None)
        self.price = base if base is not None else Decimal(self.rng.randrange(10, 500))
        self.key = key
        self.last = first - 1
        self.pending_skip = 0
        self.recent: deque[Item] = deque(maxlen=max(recent, 1))
        self.published: list[int] = []
        self.skipped: list[int] = []

    def next(self) -> Item:
        if self.pending_skip:
            self.skipped.extend(range(self.last + 1, self.last + 1 + self.pending_skip))
            self.last += self.pending_skip
            self.pending_skip = 0
        self.last += 1
        move = Decimal(self.rng.randint(-20, 20)) * self.price / Decimal(100_000)
        self.price = max(Decimal("0.01"), (self.price + move).quantize(Decimal("0.01")))
        qty = Decimal(self.rng.randint(1, 5000)) / Decimal(10_000)
        side = "buy" if self.rng.random() < 0.5 else "sell"
        item = Item(self.key, self.last, now_ms(), f"{self.price:.2f}", f"{qty:.4f}", side)
        self.recent.append(item)
        self.published.append(item.seq)
        return item


class VenueSession:
    """One client connection, as the venue sees it.

    Attributes:
        no: Connection number (1 for the first accepted by this server).
        id: The venue-style connection id, ``"conn-<no>"``.
        path: The request path with its query, e.g. ``/stream?streams=btcusdt@trade``.
        received: The messages this connection sent (decoded JSON, else the text).
        sent: Items delivered on this connection.
        streams: Subscribed streams and the venue's state for each (e.g. a channel id).
        state: Venue-specific per-connection state (logged in, heartbeat interval...).
        open: False once the connection has ended.
        pongs: Pong frames received in answer to the venue's ping frames.
    """

    def __init__(self, no: int, conn: ServerConnection) -> None:
        self.no = no
        self.id = f"conn-{no}"
        self.conn = conn
        self.path = conn.request.path if conn.request is not None else "/"
        self.received: list[Any] = []
        self.sent: list[Sent] = []
        self.streams: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.open = True
        self.pongs = 0
        self.tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"<VenueSession {self.no} open={self.open} streams={list(self.streams)}>"


class VenueServer(LocalServer[Server], abc.ABC):
    """Base of the fake venues: lifecycle, sessions, streams, records, fault injection.

    Use a subclass as an async context manager (``async with KrakenVenue() as venue``),
    or call :meth:`start` and :meth:`stop`.

    :meth:`wait_for` re-checks its predicate whenever a connection opens or closes, after
    every message received and after every delivery, so it may depend on any record.

    Args:
        **options: The options of every venue (see :class:`VenueServer.Options`).

    Raises:
        TypeError: An option that is not one of :class:`VenueServer.Options`.
        ValueError: A negative ``rate`` or ``recent``.

    Attributes:
        received: Every message received from clients, in order: decoded JSON, or the
            text itself when it is not JSON (e.g. OKX's ``"ping"``).
        sent: Every item delivered, in order (see :class:`Sent`).
        sessions: Every connection accepted, open or not, in order.
    """

    path: ClassVar[str] = "/"
    #: Venues that batch trades in one message produce 1 to this many per tick.
    _tick_batch: ClassVar[int] = 1

    class Options(TypedDict, total=False):
        """The keyword arguments every market venue takes, besides its own.

        ``BinanceVenue(rate=100, seed=7, port=9000)``: each venue's documentation says what a
        sequence number is there and where its defaults differ from these.

        Attributes:
            rate: Items per second produced on every stream subscribed at least once
                (default 0: only :meth:`VenueServer.publish` produces).
            seed: Seed of the prices (and of whatever else a venue draws: batching, ids).
            recent: How many recent items per stream a snapshot replays (default 50; venues
                that replay one).
            first_sequence: The first sequence number of every stream (default 1).
            host: Interface to listen on (default ``"127.0.0.1"``).
            port: Port to listen on; 0 (the default) picks a free one, kept across
                :meth:`VenueServer.restart`.
        """

        rate: float
        seed: int
        recent: int
        first_sequence: int
        host: str
        port: int

    def __init__(self, **options: Unpack[VenueServer.Options]) -> None:
        unknown = sorted(options.keys() - VenueServer.Options.__optional_keys__)
        if unknown:
            name = type(self).__name__
            raise TypeError(f"{name}() got an unexpected keyword argument {unknown[0]!r}")
        rate = options.get("rate", 0.0)
        recent = options.get("recent", 50)
        if rate < 0:
            raise ValueError(f"rate must be >= 0, got {rate!r}")
        if recent < 0:
            raise ValueError(f"recent must be >= 0, got {recent!r}")
        super().__init__(host=options.get("host", "127.0.0.1"), port=options.get("port", 0))
        self._rate = rate
        self._seed = options.get("seed", 0)
        self._recent = recent
        self._first = options.get("first_sequence", 1)
        self._ticker_task: asyncio.Task[None] | None = None
        self._by_conn: dict[ServerConnection, VenueSession] = {}
        self._streams: dict[str, _Stream] = {}
        self._active: dict[str, None] = {}
        self._rejected: dict[str, str | None] = {}
        self._frozen = False
        self._lock = asyncio.Lock()
        self.received: list[Any] = []
        self.sent: list[Sent] = []
        self.sessions: list[VenueSession] = []

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (again on the same port after :meth:`stop`).

        Raises:
            RuntimeError: Already running.
        """
        await self._serve(
            self._handler,
            process_request=self._check_request,
            ping_interval=None,  # venues that ping do it in _keepalive (observable)
            close_timeout=2.0,
        )
        if self._rate > 0:
            self._ticker_task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        """Close every connection (1001) and stop listening. Idempotent."""
        ticker, self._ticker_task = self._ticker_task, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        server = self._unlisten()
        if server is not None:
            await server.wait_closed()

    async def restart(self) -> None:
        """Stop (clients see 1001) and listen again on the same port at once."""
        await self.stop()
        await self.start()

    # -- properties and records ----------------------------------------------------------

    @property
    def uri(self) -> str:
        """The URI to connect to, with the venue's path, e.g. ``ws://127.0.0.1:5678/ws``."""
        return self._ws_uri(self.path)

    @property
    def connection_count(self) -> int:
        """Client connections open now."""
        return len(self._by_conn)

    @property
    def connections_accepted(self) -> int:
        """WebSocket connections accepted since creation (:attr:`connections`, too)."""
        return len(self.sessions)

    def open_sessions(self) -> list[VenueSession]:
        """The sessions whose connection is open, oldest first."""
        return list(self._by_conn.values())

    def subscriptions(self) -> list[list[str]]:
        """The streams subscribed on each open connection, in subscription order."""
        return [list(s.streams) for s in self._by_conn.values()]

    def published(self, stream: str) -> list[int]:
        """Sequence numbers produced on ``stream`` (skipped ones excluded), in order."""
        st = self._streams.get(stream)
        return list(st.published) if st is not None else []

    def skipped(self, stream: str) -> list[int]:
        """Sequence numbers :meth:`skip` made the venue jump over on ``stream``."""
        st = self._streams.get(stream)
        return list(st.skipped) if st is not None else []

    def last_sequence(self, stream: str) -> int | None:
        """The last sequence number produced (or skipped) on ``stream``, None before any."""
        st = self._streams.get(stream)
        return None if st is None or st.last < self._first else st.last

    def sent_seqs(
        self, stream: str, *, conn: int | None = None, replay: bool | None = None
    ) -> list[int]:
        """Sequence numbers delivered on ``stream``, in delivery order.

        Args:
            stream: The stream.
            conn: Only on this connection number.
            replay: Only replayed items (True) or only live ones (False); None: both.
        """
        return [
            s.seq
            for s in self.sent
            if s.stream == stream
            and (conn is None or s.conn == conn)
            and (replay is None or s.replay == replay)
        ]

    # -- fault injection -------------------------------------------------------------------

    async def kill_all(self, *, reset: bool = False, timeout: float = 5.0) -> int:
        """End every client connection mid-stream without a close frame (clients see 1006).

        The server keeps listening: a reconnecting client is accepted at once. The kill
        falls between two whole messages. By default the TCP connection is closed after
        the bytes already sent are flushed, so every item recorded in :attr:`sent` reaches
        the client; ``reset=True`` resets it instead (RST), which may lose the tail.

        Returns:
            The number of connections killed.
        """
        async with self._lock:
            conns = list(self._by_conn)
            for conn in conns:
                if reset:
                    conn.transport.abort()
                else:
                    conn.transport.close()
        await self.wait_for(lambda: not set(self._by_conn).intersection(conns), timeout=timeout)
        return len(conns)

    async def drop_all(self, *, timeout: float = 5.0) -> int:
        """Reset every client connection (TCP RST): :meth:`kill_all` with ``reset=True``."""
        return await self.kill_all(reset=True, timeout=timeout)

    async def close_all(self, code: int = 1001, reason: str = "") -> int:
        """Close every client connection with a close frame; return how many."""
        return await close_all(list(self._by_conn), code, reason)

    def freeze(self) -> None:
        """Go silent without closing anything (a half-open connection, a stalled feed).

        Nothing is sent (data, acks, heartbeats; items produced meanwhile are not delivered
        nor recorded, so a client sees them as a gap) and nothing is read, so WebSocket
        pings go unanswered as well: what a client's dead-peer detection must notice.
        """
        self._frozen = True
        for conn in self._by_conn:
            conn.transport.pause_reading()

    def thaw(self) -> None:
        """Undo :meth:`freeze`: read and send again."""
        self._frozen = False
        for conn in self._by_conn:
            with contextlib.suppress(RuntimeError):  # already closed
                conn.transport.resume_reading()

    def reject(self, *streams: str, reason: str | None = None) -> None:
        """Refuse every later subscription to these streams with the venue's error.

        Args:
            streams: Stream keys, or the venue's subscription names where a venue says so.
            reason: The error text (None: the venue's usual wording).
        """
        for stream in streams:
            self._rejected[stream] = reason

    def accept(self, *streams: str) -> None:
        """Undo :meth:`reject` for these streams (all of them when none is given)."""
        if not streams:
            self._rejected.clear()
        for stream in streams:
            self._rejected.pop(stream, None)

    def skip(self, stream: str, count: int = 1) -> None:
        """Make ``stream`` jump over the next ``count`` sequence numbers (a gap).

        The skipped numbers are never delivered nor replayed; :meth:`skipped` lists them.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        self._stream(stream).pending_skip += count

    async def send_malformed(self, text: str | None = None) -> int:
        """Send a text frame that is not valid JSON to every open connection; return how many."""
        return await self.send_raw(text if text is not None else self._malformed_text())

    async def send_unknown(self) -> int:
        """Send a well-formed message of a type the venue never documented; return how many."""
        return await self.send_raw(encode(self._unknown_message()).decode())

    async def send_raw(self, text: str) -> int:
        """Send ``text`` as one text frame to every open connection; return how many got it."""
        count = 0
        async with self._lock:
            for session in list(self._by_conn.values()):
                count += await self._send(session, text)
        return count

    async def publish(self, stream: str, count: int = 1) -> list[Item]:
        """Produce ``count`` items on ``stream`` now and deliver them to its subscribers.

        Returns:
            The items produced (their sequence numbers continue the stream's).
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        async with self._lock:
            st = self._stream(stream)
            items = [st.next() for _ in range(count)]
            for session in list(self._by_conn.values()):
                if stream in session.streams:
                    await self._deliver(session, stream, items, replay=False)
        self._notify()
        return items

    # -- synchronisation -------------------------------------------------------------------

    async def wait_subscribed(self, stream: str, *, timeout: float = 5.0) -> None:
        """Wait until an open connection is subscribed to ``stream``."""
        await self.wait_for(
            lambda: any(stream in s.streams for s in self._by_conn.values()), timeout=timeout
        )

    # -- for subclasses --------------------------------------------------------------------

    @abc.abstractmethod
    async def _session(self, session: VenueSession) -> None:
        """Serve one connection until it ends."""

    @abc.abstractmethod
    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        """The frames that deliver ``items`` of ``stream`` to ``session``."""

    @abc.abstractmethod
    def _unknown_message(self) -> object:
        """A venue-shaped message of an undocumented type."""

    def _malformed_text(self) -> str:
        return '{"truncated": '

    def _items_per_tick(self, st: _Stream) -> int:
        """Items produced per tick of the background ticker: 1, or 1 to :attr:`_tick_batch`."""
        return st.rng.randint(1, self._tick_batch) if self._tick_batch > 1 else 1

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Refuse the opening handshake by returning a response (default: accept)."""
        return None

    def _rejection(self, *names: str) -> tuple[bool, str | None]:
        """Whether one of ``names`` was :meth:`reject`-ed, and the reason given."""
        for name in names:
            if name in self._rejected:
                return True, self._rejected[name]
        return False, None

    def _stream(self, key: str) -> _Stream:
        st = self._streams.get(key)
        if st is None:
            st = self._streams[key] = _Stream(key, self._seed, self._first, self._recent)
        return st

    def _recent_items(self, stream: str, limit: int | None = None) -> list[Item]:
        items = list(self._stream(stream).recent)
        n = self._recent if limit is None else min(limit, self._recent)
        return items[-n:] if n else []

    async def _send(self, session: VenueSession, obj: object) -> bool:
        """Send one message (JSON-encoded unless str/bytes); False if not sent.

        Nothing goes out while the venue is frozen (see :meth:`freeze`).
        """
        if self._frozen:
            return False
        try:
            if isinstance(obj, str):
                await session.conn.send(obj)
            else:
                data = obj if isinstance(obj, bytes) else encode(obj)
                # text=True: a text frame (as venues send JSON) without decoding the bytes.
                await session.conn.send(data, text=True)
        except ConnectionClosed:
            return False
        return True

    async def _reply(self, session: VenueSession, obj: object) -> bool:
        """Send a reply (ack, error, pong) in order with the deliveries."""
        async with self._lock:
            return await self._send(session, obj)

    async def _deliver(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> None:
        """Send ``items`` to ``session`` (caller holds the lock) and record what went out."""
        for frame, seqs in self._render(session, stream, items, replay=replay):
            if not await self._send(session, frame):
                return
            self._record(session, stream, seqs, replay=replay)

    def _record(
        self, session: VenueSession, stream: str, seqs: Iterable[int], *, replay: bool
    ) -> None:
        """Remember that the items ``seqs`` of ``stream`` went out on ``session``."""
        for seq in seqs:
            record = Sent(session.no, stream, seq, replay)
            self.sent.append(record)
            session.sent.append(record)

    async def _subscribe(
        self,
        session: VenueSession,
        stream: str,
        state: object = None,
        *,
        ack: object = None,
        replay: int = 0,
    ) -> None:
        """Send ``ack`` (None: nothing), replay up to ``replay`` recent items, then go live.

        All under the lock: no live item of ``stream`` precedes its ack or its snapshot,
        none falls between them. A venue that answers a request for several streams with
        one message passes ``ack`` with the first stream only.
        """
        async with self._lock:
            if ack is not None:
                await self._send(session, ack)
            self._stream(stream)
            if replay:  # a snapshot, empty when the stream has no history yet
                recent = self._recent_items(stream, replay)
                await self._deliver(session, stream, recent, replay=True)
            session.streams[stream] = state
            self._active[stream] = None
        self._notify()

    def _unsubscribe(self, session: VenueSession, stream: str) -> None:
        session.streams.pop(stream, None)

    def _start_task(self, session: VenueSession, coro: Awaitable[None]) -> None:
        """Run ``coro`` while the connection lives (heartbeats)."""

        async def run() -> None:
            with contextlib.suppress(ConnectionClosed):
                await coro

        session.tasks.append(asyncio.get_running_loop().create_task(run()))

    async def _keepalive(self, session: VenueSession, interval: float, timeout: float) -> None:
        """Ping every ``interval``; drop the connection when a pong takes ``timeout``.

        RFC 6455 section 5.5.2: the peer must answer a ping frame with a pong.
        """
        # Pacing sleep: pings are periodic, nothing synchronises on the sleep itself.
        while True:
            await asyncio.sleep(interval)
            waiter = await session.conn.ping()
            try:
                await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                session.conn.transport.abort()
                return
            session.pongs += 1
            self._notify()

    async def _messages(self, session: VenueSession, idle: float | None) -> AsyncIterator[Any]:
        """Yield decoded client messages; close the connection after ``idle`` quiet seconds.

        Venues drop clients that stay silent (this is what application pings are for).
        """
        conn = session.conn
        while True:
            try:
                async with asyncio.timeout(idle):
                    raw = await conn.recv()
            except TimeoutError:
                await conn.close(1000, "idle: no ping received")
                return
            try:
                msg = _decode(raw)
            except msgspec.DecodeError:
                msg = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            self.received.append(msg)
            session.received.append(msg)
            try:
                yield msg
            finally:
                self._notify()

    # -- internals -------------------------------------------------------------------------

    async def _handler(self, conn: ServerConnection) -> None:
        session = VenueSession(len(self.sessions) + 1, conn)
        self.sessions.append(session)
        self._by_conn[conn] = session
        if self._frozen:
            conn.transport.pause_reading()
        self._connected()
        try:
            await self._session(session)
        except ConnectionClosed:
            pass
        finally:
            session.open = False
            self._by_conn.pop(conn, None)
            for task in session.tasks:
                task.cancel()
            for task in session.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._notify()

    async def _tick(self) -> None:
        # Pacing uses sleep: this is a paced feed, nothing waits on it to synchronise.
        period = 1.0 / self._rate
        while True:
            await asyncio.sleep(period)
            for key in list(self._active):
                await self.publish(key, self._items_per_tick(self._stream(key)))


def chunks(items: Sequence[Item], size: int) -> Iterable[Sequence[Item]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
