"""Concurrent feeds: K connections at once, each pushed N/K trade ticks; total msg/s.

One client process opens K connections to ``/feed?n=N/K`` concurrently and consumes every
one of them (a typed decode per message, as in the feed section). The clock starts before
the first connection is opened and stops at the last message of the last connection; CPU
is the client process's CPU time over the same span. This is the shape of a client that
shards many streams over many connections (one event loop, many transports).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable

import msgspec

from benchmarks._common import Trade, jetsocket_attr
from benchmarks._feed import FeedRun, check_typed, pure_reader

__all__ = ["CONCURRENT_CLIENTS", "run_concurrent_client"]

_TIMEOUT = 180.0


class _Span:
    """Wall and CPU time from creation to the latest :meth:`mark`."""

    __slots__ = ("cpu0", "cpu1", "t0", "t1")

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        self.t1 = self.t0
        self.cpu1 = self.cpu0

    def mark(self) -> None:
        """A connection got its last message: the span ends here unless another ends later."""
        self.t1 = time.perf_counter()
        self.cpu1 = time.process_time()

    def result(self, count: int) -> FeedRun:
        return FeedRun(count, self.t1 - self.t0, self.cpu1 - self.cpu0)


async def _jetsocket(uri: str, per: int, conns: int, *, pure: bool = False) -> FeedRun:
    ws_cls = jetsocket_attr("WebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.WebSocket is not importable")

    async def one() -> object:
        count = 0
        async with ws_cls(uri, message_type=Trade, reconnect=False, compress=False) as ws:
            async for msg in ws:
                count += 1
                if count == per:
                    span.mark()
                    return msg
        raise RuntimeError(f"feed ended after {count} of {per} messages")

    with pure_reader(pure):
        span = _Span()
        lasts = await asyncio.gather(*(one() for _ in range(conns)))
    for last in lasts:
        check_typed(last, per)
    return span.result(per * conns)


async def _picows(uri: str, per: int, conns: int) -> FeedRun:
    """picows written as in the feed section: zero-copy decode in the callback."""
    import picows  # noqa: PLC0415 - peers are imported only when measured

    decode = msgspec.json.Decoder(Trade).decode
    loop = asyncio.get_running_loop()

    class Listener(picows.WSListener):
        def __init__(self) -> None:
            self.count = 0
            self.done: asyncio.Future[object] = loop.create_future()

        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if self.count < per:
                msg = decode(frame.get_payload_as_memoryview())
                self.count += 1
                if self.count == per:
                    span.mark()
                    self.done.set_result(msg)

        def on_ws_disconnected(self, transport: picows.WSTransport) -> None:
            if not self.done.done():
                self.done.set_result(None)

    async def one() -> object:
        transport, listener = await picows.ws_connect(Listener, uri, enable_auto_ping=False)
        assert isinstance(listener, Listener)  # ws_connect is typed with the base class
        try:
            return await listener.done
        finally:
            transport.send_close(picows.WSCloseCode.OK)
            transport.disconnect()
            await transport.wait_disconnected()

    span = _Span()
    lasts = await asyncio.gather(*(one() for _ in range(conns)))
    for last in lasts:
        check_typed(last, per)
    return span.result(per * conns)


async def _websockets(uri: str, per: int, conns: int) -> FeedRun:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    decode = msgspec.json.Decoder(Trade).decode

    async def one() -> object:
        count = 0
        async with connect(uri, compression=None, proxy=None, max_size=None) as ws:
            async for data in ws:
                msg = decode(data)
                count += 1
                if count == per:
                    span.mark()
                    return msg
        raise RuntimeError(f"feed ended after {count} of {per} messages")

    span = _Span()
    lasts = await asyncio.gather(*(one() for _ in range(conns)))
    for last in lasts:
        check_typed(last, per)
    return span.result(per * conns)


ConcurrentClient = Callable[[str, int, int], Awaitable[FeedRun]]

# name -> (client, label). "jetsocket" is the reference of the ratios.
CONCURRENT_CLIENTS: dict[str, tuple[ConcurrentClient, str]] = {
    "jetsocket": (_jetsocket, "jetsocket message_type=Trade"),
    "jetsocket-pure": (
        functools.partial(_jetsocket, pure=True),
        "jetsocket message_type=Trade, pure reader",
    ),
    "picows": (_picows, "picows + msgspec Trade"),
    "websockets": (_websockets, "websockets + msgspec Trade"),
}


async def run_concurrent_client(name: str, uri: str, per: int, conns: int) -> FeedRun:
    """Run client ``name`` once: ``conns`` connections of ``per`` messages each."""
    return await asyncio.wait_for(CONCURRENT_CLIENTS[name][0](uri, per, conns), _TIMEOUT)
