"""One client connection of the :class:`~jetsocket.testing.ExchangeSimulator`.

A :class:`Session` reads the client's requests and sends its feed: with
``sequence="connection"`` from its own markets and schedule (``Paced``), with
``sequence="stream"`` from the simulator's channels through a cursor per stream
(:mod:`jetsocket.testing._channels`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Collection
from typing import Any, Protocol

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from jetsocket.testing._channels import Cursor, Paced, SharedFeed, wait_due
from jetsocket.testing._market import Market, StreamSpec, parse_stream


class SessionHost(Protocol):
    """The simulator state a session reads and counts into (``ExchangeSimulator`` is one)."""

    _burst: int
    _by_stream: dict[str, int]
    _bytes: int
    _errors: int
    _max_streams: int | None
    _messages: int
    _prices: dict[str, str]
    _rate: float
    _replayed: int
    _requests: int
    _shared: SharedFeed | None
    _symbol_set: frozenset[str]
    _withheld: int

    @property
    def seed(self) -> int: ...
    def _notify(self) -> None: ...


__all__ = ["Session"]

_log = logging.getLogger("jetsocket.testing")

# Messages sent before the sender yields to the event loop, so that a burst or a catch-up
# never starves the request reader (UNSUBSCRIBE must take effect) or other connections.
_BATCH = 512
_ERR_VALUE = 1  # Binance: invalid value
_ERR_REQUEST = 2  # Binance: invalid request

_encode = msgspec.json.Encoder().encode


class Session:
    """One client connection: its subscriptions, markets, schedule and sequence counter.

    With ``sequence="stream"`` the streams, markets and sequences belong to the simulator
    (:class:`~jetsocket.testing._channels.SharedFeed`); the session only keeps a
    :class:`~jetsocket.testing._channels.Cursor` per subscribed stream in :attr:`cursors`.
    """

    def __init__(self, sim: SessionHost, conn: ServerConnection) -> None:
        self.sim = sim
        self.conn = conn
        self.seq = 0
        self.shared = sim._shared
        self.cursors: dict[str, Cursor] = {}  # sequence="stream" only
        self.withhold: dict[str, int] = {}  # stream -> messages to skip (inject_gap)
        self.streams: dict[str, Paced] = {}  # insertion order = subscription order
        self.markets: dict[str, Market] = {}
        self.bursts: dict[str, int] = {}
        self.heap: list[tuple[float, int, Paced]] = []
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
            batch = [_encode({"result": None, "id": request_id})]
            now = asyncio.get_running_loop().time()
            for spec in specs:
                market = self.markets.get(spec.symbol)
                if market is None:
                    market = Market(spec.symbol, sim._prices[spec.symbol], sim.seed)
                    self.markets[spec.symbol] = market
                stream = Paced(spec, market, sim._rate, now)
                self.streams[spec.name] = stream
                if spec.kind == "book":
                    # A book stream starts with a snapshot of the book, right after the reply.
                    self.seq += 1
                    snapshot = market.book.snapshot_message(self.seq, time.time_ns() // 1_000_000)
                    self._count(spec.name, snapshot)
                    batch.append(snapshot)
                if stream.period:
                    heapq.heappush(self.heap, (stream.due(), next(self.order), stream))
                if sim._burst:
                    self.bursts[spec.name] = self.bursts.get(spec.name, 0) + sim._burst
            await self._send_batch(batch)
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
                new = spec.name not in shared.channels
                channel = shared.channel(spec)
                if new and self.sim._burst:
                    shared.burst(channel, self.sim._burst)
                last = positions.get(spec.name)
                head = channel.seq
                if last is not None and channel.base - 1 <= last <= head:
                    cursor = Cursor(channel, last + 1, replay_to=head)
                    recovered[spec.name] = True
                else:
                    if last is not None:
                        recovered[spec.name] = False  # older than the history (or unknown)
                    cursor = Cursor(channel, head + 1)
                    if spec.kind == "book":
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
            now = await wait_due(heap, self.wakeup)
            if now is not None:
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
                heapq.heappush(heap, (stream.next_slot(now), next(self.order), stream))
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

    def _render(self, stream: Paced, batch: list[bytes]) -> None:
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
