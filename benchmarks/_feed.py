"""Feed throughput: how many server-pushed trade ticks per second a client consumes.

Each client connects to ``/feed?n=N``, receives N text frames pushed in bulk by the server
process, and is timed from **before it connects** to the N-th message (so a client cannot
look faster by doing work before its first message). Typed clients decode every message
into :class:`~benchmarks._common.Trade` (msgspec, decoder built once); jetsocket's raw
client yields validated ``str``, picows' raw client takes the payload as ``bytes`` (what an
expert would write: no UTF-8 decode, no message-type enum per frame).

``jetsocket-*-pure`` are the same jetsocket clients with the compiled frame scanner turned
off (the ``JETSOCKET_PURE=1`` path), measured in the same interleaved rounds: the scanner's
effect, before/after, on one machine at one time.

``floor-*`` are not clients: a bare protocol that reads the socket and runs the compiled
scanner (and, typed, msgspec inside it) per chunk, and nothing else. They measure how fast
any client built on this reader could possibly be here, so the ratios of a peer to them
bound what jetsocket can reach against that peer (see :func:`_floor`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import msgspec

from benchmarks._common import Trade, expected_trade_id, jetsocket_attr

__all__ = [
    "FEED_CLIENTS",
    "FeedRun",
    "RunClock",
    "check_typed",
    "feed_client_available",
    "pure_reader",
    "run_feed_client",
]

_TIMEOUT = 120.0


@dataclass(slots=True)
class FeedRun:
    """One measured run of one client."""

    count: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        """Messages per second (wall clock) from before connecting to the last message."""
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """Client process CPU time (all threads, user + system) per message, in µs.

        Unlike the wall-clock rate it barely moves when other processes compete for the
        cores, so it is the steadier of the two figures on a shared machine.
        """
        return self.cpu_seconds / self.count * 1e6 if self.count else 0.0


class RunClock:
    """Start (before connecting) and last-message timestamps, wall and CPU, for every client.

    The clock starts when it is created: every client creates it before it connects.
    """

    __slots__ = ("count", "cpu_first", "cpu_last", "first", "last", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.last = 0.0
        self.cpu_last = 0.0
        self.first = time.perf_counter()
        self.cpu_first = time.process_time()

    def stop(self) -> None:
        """Call on the last message."""
        self.last = time.perf_counter()
        self.cpu_last = time.process_time()

    async def atake(
        self, messages: AsyncIterable[Any], decode: Callable[[Any], Any] | None = None
    ) -> object:
        """Consume ``n`` messages (decoding each when ``decode`` is given); return the last.

        The clock runs from its creation (before connecting) to the ``n``-th message, the
        same way for every client (two loops, so a client without ``decode`` pays no
        per-message test).
        """
        count = 0
        n = self.n  # a local, as the picows callbacks' closure cell: no attribute per message
        last: object = None
        if decode is None:
            async for msg in messages:
                count += 1
                if count == n:
                    self.stop()
                    last = msg
                    break
        else:
            async for data in messages:
                msg = decode(data)
                count += 1
                if count == n:
                    self.stop()
                    last = msg
                    break
        self.count = count
        return last

    async def atake_batches(self, batches: AsyncIterable[list[Any]]) -> object:
        """:meth:`atake` for a consumer of whole batches (``ws.batches()``)."""
        count = 0
        n = self.n
        last: object = None
        async for batch in batches:
            count += len(batch)
            if count >= n:
                self.stop()
                last = batch[len(batch) - 1 - (count - n)]
                count = n
                break
        self.count = count
        return last

    def take(self, messages: Iterable[Any], decode: Callable[[Any], Any] | None = None) -> object:
        """The blocking twin of :meth:`atake` (sync clients)."""
        count = 0
        n = self.n
        last: object = None
        for data in messages:
            msg = data if decode is None else decode(data)
            count += 1
            if count == n:
                self.stop()
                last = msg
                break
        self.count = count
        return last

    def result(self) -> FeedRun:
        """Return the run's figures; raise if the feed ended early."""
        if self.count < self.n:
            raise RuntimeError(f"feed ended after {self.count} of {self.n} messages")
        return FeedRun(self.count, self.last - self.first, self.cpu_last - self.cpu_first)


def check_typed(msg: object, n: int) -> None:
    """Raise unless ``msg`` is the last Trade of a feed of ``n`` ticks."""
    if not isinstance(msg, Trade) or msg.trade_id != expected_trade_id(n):
        raise RuntimeError(f"unexpected last typed message: {msg!r:.200}")


def _check_raw(msg: object, n: int) -> None:
    if not isinstance(msg, str | bytes):
        raise RuntimeError(f"unexpected raw message type: {type(msg).__name__}")
    text = msg if isinstance(msg, str) else msg.decode()
    if f'"t":{expected_trade_id(n)},' not in text:
        raise RuntimeError(f"unexpected last raw message: {text:.200}")


# -- jetsocket ----------------------------------------------------------------------------
@contextlib.contextmanager
def pure_reader(pure: bool = True) -> Iterator[None]:
    """Run jetsocket's connections opened inside with the pure-Python frame reader.

    ``FrameReader`` picks the compiled scanner from a module global when a connection
    opens; clearing it is exactly what ``JETSOCKET_PURE=1`` does at import.
    """
    if not pure:
        yield
        return
    from jetsocket._protocol import _reader  # noqa: PLC0415 - private: benchmark only

    saved = _reader._SCAN
    _reader._SCAN = None
    try:
        yield
    finally:
        _reader._SCAN = saved


async def _jetsocket(
    uri: str, n: int, *, typed: bool, pure: bool = False, batches: bool = False
) -> FeedRun:
    """``async for m in ws``; with ``batches``, ``ws.batches()``: one step per socket read."""
    ws_cls = jetsocket_attr("WebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.WebSocket is not importable")
    opts: dict[str, Any] = {"message_type": Trade} if typed else {"raw": True}
    with pure_reader(pure):
        clock = RunClock(n)
        async with ws_cls(uri, reconnect=False, compress=False, **opts) as ws:
            last = await (clock.atake_batches(ws.batches()) if batches else clock.atake(ws))
    (check_typed if typed else _check_raw)(last, n)
    return clock.result()


# -- the floor (not a WebSocket client) -------------------------------------------------------
async def _floor(uri: str, n: int, *, typed: bool) -> FeedRun:
    """What any batch reader on asyncio costs at least: the bound of jetsocket's design.

    A bare ``asyncio.Protocol`` that sends the upgrade request by hand and skips checking
    the answer, then feeds each read chunk to jetsocket's frame reader with the compiled
    scanner (text as ``str``; typed: each payload decoded by msgspec inside the scanner,
    zero-copy, as jetsocket does; a frame split across two reads is completed without
    copying the chunk, as jetsocket does), and counts. No control frames, no handshake
    checks, no queue, no consumer step, no engine: everything a client does besides
    reading the socket, parsing frames and decoding is missing. Its ratio to a peer is the
    most any client with this reader could reach against that peer on this machine.
    """
    from jetsocket._protocol import _reader  # noqa: PLC0415 - private: benchmark only

    if _reader._SCAN is None:
        raise RuntimeError("the compiled frame scanner is not available")
    parts = urlsplit(uri)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    decode = msgspec.json.Decoder(Trade).decode if typed else None
    reader = _reader.FrameReader(max_message_size=None, text_as_str=not typed, decode=decode)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[object] = loop.create_future()
    clock = RunClock(n)

    class Floor(asyncio.Protocol):
        def __init__(self) -> None:
            self.head: bytes | None = b""
            self.count = 0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            cast(asyncio.Transport, transport).write(request)

        def data_received(self, data: bytes) -> None:
            if self.head is not None:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    return
                data, self.head = self.head[end + 4 :], None
            out: list[Any]
            if decode is None:
                out = reader.feed(data)
            else:
                out, raw_at = reader.feed_decoded(data)
                for i in raw_at:  # the frame completed across two reads
                    out[i] = decode(out[i])
            self.count += len(out)
            if self.count >= n and not done.done():
                clock.stop()
                done.set_result(out[len(out) - 1 - (self.count - n)])

    transport, _ = await loop.create_connection(Floor, host, port)
    try:
        last = await asyncio.wait_for(done, _TIMEOUT)
    finally:
        transport.abort()
    clock.count = n
    (check_typed if typed else _check_raw)(last, n)
    return clock.result()


# -- picows -------------------------------------------------------------------------------
async def _picows(uri: str, n: int, *, typed: bool, text: bool = False) -> FeedRun:
    """picows as its documentation recommends for throughput.

    Work happens in ``on_ws_frame`` itself (no task, no queue); the payload is read without
    a copy (``get_payload_as_memoryview()``, valid during the callback) straight into the
    msgspec decoder, and ``frame.msg_type`` is never read per frame (that property builds
    a Python enum member each time): the feed sends only text frames until the N-th, so
    the count alone tells data from the close frame that follows.
    """
    import picows  # noqa: PLC0415 - peers are imported only when measured

    decode = msgspec.json.Decoder(Trade).decode
    clock = RunClock(n)
    count = 0  # a closure cell: the cheapest state a callback can keep
    done: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    # Two listeners rather than one with a flag: the per-frame callback is what we measure.
    class Typed(picows.WSListener):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            nonlocal count
            if count < n:
                msg = decode(frame.get_payload_as_memoryview())
                count += 1
                if count == n:
                    clock.stop()
                    done.set_result(msg)

        def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
            if not done.done():
                done.set_result(None)

    class Raw(Typed):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            nonlocal count
            if count < n:
                msg = frame.get_payload_as_bytes()
                count += 1
                if count == n:
                    clock.stop()
                    done.set_result(msg)

    class RawText(Typed):
        # The same output as jetsocket's raw=True: UTF-8 validated str.
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            nonlocal count
            if count < n:
                msg = frame.get_payload_as_utf8_text()
                count += 1
                if count == n:
                    clock.stop()
                    done.set_result(msg)

    listener = Typed if typed else RawText if text else Raw
    transport, _ = await picows.ws_connect(listener, uri, enable_auto_ping=False)
    try:
        last = await asyncio.wait_for(done, _TIMEOUT)
    finally:
        transport.send_close(picows.WSCloseCode.OK)
        transport.disconnect()
        await transport.wait_disconnected()
    clock.count = count
    (check_typed if typed else _check_raw)(last, n)
    return clock.result()


# -- websockets ---------------------------------------------------------------------------
async def _websockets_typed(uri: str, n: int) -> FeedRun:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    decode = msgspec.json.Decoder(Trade).decode
    clock = RunClock(n)
    async with connect(uri, compression=None, proxy=None, max_size=None) as ws:
        last = await clock.atake(ws, decode)
    check_typed(last, n)
    return clock.result()


# -- aiohttp ------------------------------------------------------------------------------
async def _aiohttp_typed(uri: str, n: int) -> FeedRun:
    import aiohttp  # noqa: PLC0415

    decode = msgspec.json.Decoder(Trade).decode
    clock = RunClock(n)
    last: object = None
    text = aiohttp.WSMsgType.TEXT
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(uri, compress=0, max_msg_size=0) as ws,
    ):
        count = 0
        async for item in ws:
            if item.type is not text:
                break
            msg = decode(item.data)
            count += 1
            if count == n:
                clock.stop()
                last = msg
                break
        clock.count = count
    check_typed(last, n)
    return clock.result()


FeedClient = Callable[[str, int], Awaitable[FeedRun]]

# name -> (client, what it is compared with, label). Order = table order.
FEED_CLIENTS: dict[str, tuple[FeedClient, str, str]] = {
    "jetsocket-typed": (
        functools.partial(_jetsocket, typed=True),
        "jetsocket-typed",
        "jetsocket message_type=Trade",
    ),
    "jetsocket-typed-batches": (
        functools.partial(_jetsocket, typed=True, batches=True),
        "jetsocket-typed-batches",
        "jetsocket message_type=Trade, batches()",
    ),
    "picows-typed": (
        functools.partial(_picows, typed=True),
        "jetsocket-typed",
        "picows + msgspec Trade",
    ),
    "websockets-typed": (_websockets_typed, "jetsocket-typed", "websockets + msgspec Trade"),
    "aiohttp-typed": (_aiohttp_typed, "jetsocket-typed", "aiohttp + msgspec Trade"),
    "jetsocket-raw": (
        functools.partial(_jetsocket, typed=False),
        "jetsocket-raw",
        "jetsocket raw=True (str)",
    ),
    "jetsocket-raw-batches": (
        functools.partial(_jetsocket, typed=False, batches=True),
        "jetsocket-raw-batches",
        "jetsocket raw=True, batches()",
    ),
    "picows-raw": (
        functools.partial(_picows, typed=False),
        "jetsocket-raw",
        "picows raw (bytes payload)",
    ),
    "picows-raw-str": (
        functools.partial(_picows, typed=False, text=True),
        "jetsocket-raw",
        "picows raw, validated str (utf8)",
    ),
    "jetsocket-typed-pure": (
        functools.partial(_jetsocket, typed=True, pure=True),
        "jetsocket-typed",
        "jetsocket message_type=Trade, pure reader",
    ),
    "jetsocket-raw-pure": (
        functools.partial(_jetsocket, typed=False, pure=True),
        "jetsocket-raw",
        "jetsocket raw=True, pure reader",
    ),
    "floor-typed": (
        functools.partial(_floor, typed=True),
        "jetsocket-typed",
        "floor: scan + msgspec decode per chunk, no client (not a client)",
    ),
    "floor-raw": (
        functools.partial(_floor, typed=False),
        "jetsocket-raw",
        "floor: scan to str per chunk, no client (not a client)",
    ),
}


def feed_client_available(name: str) -> str | None:
    """Return why client ``name`` cannot run, or None when it can."""
    if name.startswith("jetsocket") and jetsocket_attr("WebSocket") is None:
        return "jetsocket.WebSocket not importable"
    if name.startswith("floor"):
        try:
            from jetsocket._protocol import _reader  # noqa: PLC0415 - private: benchmark only
        except ImportError:
            return "jetsocket not importable"
        if _reader._SCAN is None:
            return "compiled frame scanner not available"
    return None


async def run_feed_client(name: str, uri: str, n: int) -> FeedRun:
    """Run client ``name`` once against the feed at ``uri`` and return its figures."""
    client = FEED_CLIENTS[name][0]
    return await asyncio.wait_for(client(uri, n), _TIMEOUT)
