"""Feed throughput: how many server-pushed trade ticks per second a client consumes.

Each client connects to ``/feed?n=N``, receives N text frames pushed in bulk by the server
process, and times from the first to the N-th message. Typed clients decode every message
into :class:`~benchmarks._common.Trade` (msgspec, decoder built once); raw clients only
materialise the text (``str``, UTF-8 validated, as jetsocket's ``raw=True`` yields).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from benchmarks._common import Trade, expected_trade_id, jetsocket_attr

__all__ = [
    "FEED_CLIENTS",
    "FeedRun",
    "RunClock",
    "check_typed",
    "feed_client_available",
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
        """Messages per second (wall clock) between the first and the last message."""
        return (self.count - 1) / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """Client process CPU time (all threads, user + system) per message, in µs.

        Unlike the wall-clock rate it barely moves when other processes compete for the
        cores, so it is the steadier of the two figures on a shared machine.
        """
        return self.cpu_seconds / (self.count - 1) * 1e6 if self.count > 1 else 0.0


class RunClock:
    """First/last message timestamps (wall and CPU), kept by every client the same way."""

    __slots__ = ("count", "cpu_first", "cpu_last", "first", "last", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0
        self.first = self.last = 0.0
        self.cpu_first = self.cpu_last = 0.0

    def start(self) -> None:
        """Call on the first message."""
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

        The clock runs from the first to the ``n``-th message, the same way for every
        client (two loops, so a client without ``decode`` pays no per-message test).
        """
        count = 0
        last: object = None
        if decode is None:
            async for msg in messages:
                if count == 0:
                    self.start()
                count += 1
                if count == self.n:
                    self.stop()
                    last = msg
                    break
        else:
            async for data in messages:
                msg = decode(data)
                if count == 0:
                    self.start()
                count += 1
                if count == self.n:
                    self.stop()
                    last = msg
                    break
        self.count = count
        return last

    def take(self, messages: Iterable[Any], decode: Callable[[Any], Any] | None = None) -> object:
        """The blocking twin of :meth:`atake` (sync clients)."""
        count = 0
        last: object = None
        for data in messages:
            msg = data if decode is None else decode(data)
            if count == 0:
                self.start()
            count += 1
            if count == self.n:
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
async def _jetsocket(uri: str, n: int, *, typed: bool) -> FeedRun:
    ws_cls = jetsocket_attr("WebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.WebSocket is not importable")
    opts: dict[str, Any] = {"message_type": Trade} if typed else {"raw": True}
    clock = RunClock(n)
    async with ws_cls(uri, reconnect=False, compress=False, **opts) as ws:
        last = await clock.atake(ws)
    (check_typed if typed else _check_raw)(last, n)
    return clock.result()


async def _jetsocket_typed(uri: str, n: int) -> FeedRun:
    return await _jetsocket(uri, n, typed=True)


async def _jetsocket_raw(uri: str, n: int) -> FeedRun:
    return await _jetsocket(uri, n, typed=False)


# -- picows -------------------------------------------------------------------------------
async def _picows(uri: str, n: int, *, typed: bool) -> FeedRun:
    import picows  # noqa: PLC0415 - peers are imported only when measured

    text = picows.WSMsgType.TEXT
    close = picows.WSMsgType.CLOSE
    decode = msgspec.json.Decoder(Trade).decode
    clock = RunClock(n)
    count = 0  # a closure cell: the cheapest state a callback can keep
    done: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    # Two listeners rather than one with a flag: the per-frame callback is what we measure.
    class Typed(picows.WSListener):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            nonlocal count
            if frame.msg_type == text:
                msg = decode(frame.get_payload_as_bytes())
                if count == 0:
                    clock.start()
                count += 1
                if count == n:
                    clock.stop()
                    done.set_result(msg)
            elif frame.msg_type == close:
                transport.disconnect()

        def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
            if not done.done():
                done.set_result(None)

    class Raw(Typed):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            nonlocal count
            if frame.msg_type == text:
                msg = frame.get_payload_as_utf8_text()
                if count == 0:
                    clock.start()
                count += 1
                if count == n:
                    clock.stop()
                    done.set_result(msg)
            elif frame.msg_type == close:
                transport.disconnect()

    listener = Typed if typed else Raw
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


async def _picows_typed(uri: str, n: int) -> FeedRun:
    return await _picows(uri, n, typed=True)


async def _picows_raw(uri: str, n: int) -> FeedRun:
    return await _picows(uri, n, typed=False)


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
            if count == 0:
                clock.start()
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
    "jetsocket-typed": (_jetsocket_typed, "jetsocket-typed", "jetsocket message_type=Trade"),
    "picows-typed": (_picows_typed, "jetsocket-typed", "picows + msgspec Trade"),
    "websockets-typed": (_websockets_typed, "jetsocket-typed", "websockets + msgspec Trade"),
    "aiohttp-typed": (_aiohttp_typed, "jetsocket-typed", "aiohttp + msgspec Trade"),
    "jetsocket-raw": (_jetsocket_raw, "jetsocket-raw", "jetsocket raw=True (str)"),
    "picows-raw": (_picows_raw, "jetsocket-raw", "picows raw (utf8 str)"),
}


def feed_client_available(name: str) -> str | None:
    """Return why client ``name`` cannot run, or None when it can."""
    if name.startswith("jetsocket") and jetsocket_attr("WebSocket") is None:
        return "jetsocket.WebSocket not importable"
    return None


async def run_feed_client(name: str, uri: str, n: int) -> FeedRun:
    """Run client ``name`` once against the feed at ``uri`` and return its figures."""
    client = FEED_CLIENTS[name][0]
    return await asyncio.wait_for(client(uri, n), _TIMEOUT)
