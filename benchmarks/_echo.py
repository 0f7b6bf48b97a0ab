"""Echo round trip: sequential request/response latency of a small JSON text message.

Every client sends ``{"op":"ping","id":N}`` as a text frame to ``/echo``, waits for the
echoed message, then sends the next one; each round trip is timed with
``perf_counter_ns``. The payload is encoded before the timer starts, so only the client's
send and receive paths (and the server, identical for all) are measured.

The server is picows' (``benchmarks/_picows_server.py``: Cython frames on aiofastnet's C
transport), in its own process: a pure-Python server would add tens of µs to every round
trip for every client alike and pull every ratio towards 1. ``jetsocket-pure`` is
jetsocket with its compiled frame scanner off (the ``JETSOCKET_PURE=1`` path).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from benchmarks._common import jetsocket_attr
from benchmarks._feed import pure_reader

__all__ = [
    "ECHO_CLIENTS",
    "SYNC_ECHO_CLIENTS",
    "EchoRun",
    "echo_client_available",
    "run_echo_client",
]

_TIMEOUT = 120.0
_encode = msgspec.json.encode


class EchoRun:
    """Round-trip samples of one client run, and the CPU time they took."""

    __slots__ = ("_cpu0", "cpu_seconds", "samples", "warmup")

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.samples: list[int] = []
        self._cpu0 = time.process_time()
        self.cpu_seconds = 0.0

    def add(self, i: int, ns: int) -> None:
        """Record round trip ``i`` (called after the timed span, so it costs nothing)."""
        if i >= self.warmup:
            self.samples.append(ns)
        elif i == self.warmup - 1:
            self._cpu0 = time.process_time()

    def finish(self) -> EchoRun:
        """Stop the CPU clock (call right after the last round trip)."""
        self.cpu_seconds = time.process_time() - self._cpu0
        return self

    @property
    def cpu_us(self) -> float:
        """Client process CPU time per measured round trip, in µs."""
        return self.cpu_seconds / len(self.samples) * 1e6 if self.samples else 0.0


def _payload(i: int) -> bytes:
    return _encode({"op": "ping", "id": i})


def _check(reply: object, i: int) -> None:
    data = reply.encode() if isinstance(reply, str) else reply
    if data != _payload(i):
        raise RuntimeError(f"echo mismatch at {i}: {reply!r:.100}")


async def _jetsocket(uri: str, warmup: int, count: int, *, pure: bool = False) -> EchoRun:
    ws_cls = jetsocket_attr("WebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.WebSocket is not importable")
    run = EchoRun(warmup)
    clock = time.perf_counter_ns
    with pure_reader(pure):
        async with ws_cls(uri, raw=True, reconnect=False, compress=False) as ws:
            send = ws.send_raw
            recv = ws.recv
            for i in range(warmup + count):
                data = _payload(i)
                t0 = clock()
                await send(data, binary=False)
                reply = await recv()
                t1 = clock()
                run.add(i, t1 - t0)
            run.finish()
            _check(reply, warmup + count - 1)
    return run


async def _picows(uri: str, warmup: int, count: int) -> EchoRun:
    """picows as its examples do request/response: a future completed in ``on_ws_frame``.

    ``frame.msg_type`` is not read (it builds an enum member per frame): the echo server
    only ever answers with the text frame it got.
    """
    import picows  # noqa: PLC0415 - peers are imported only when measured

    text = picows.WSMsgType.TEXT
    loop = asyncio.get_running_loop()
    waiter: list[asyncio.Future[bytes]] = []

    class Listener(picows.WSListener):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if waiter:
                waiter.pop().set_result(frame.get_payload_as_bytes())

    transport, _ = await picows.ws_connect(Listener, uri, enable_auto_ping=False)
    run = EchoRun(warmup)
    clock = time.perf_counter_ns
    reply = b""
    try:
        for i in range(warmup + count):
            data = _payload(i)
            t0 = clock()
            fut: asyncio.Future[bytes] = loop.create_future()
            waiter.append(fut)
            transport.send(text, data)
            reply = await fut
            t1 = clock()
            run.add(i, t1 - t0)
        run.finish()
        _check(reply, warmup + count - 1)
    finally:
        transport.send_close(picows.WSCloseCode.OK)
        transport.disconnect()
        await transport.wait_disconnected()
    return run


async def _websockets(uri: str, warmup: int, count: int) -> EchoRun:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    run = EchoRun(warmup)
    clock = time.perf_counter_ns
    reply: Any = None
    async with connect(uri, compression=None, proxy=None, ping_interval=None) as ws:
        for i in range(warmup + count):
            data = _payload(i)
            t0 = clock()
            await ws.send(data, text=True)
            reply = await ws.recv()
            t1 = clock()
            run.add(i, t1 - t0)
        run.finish()
    _check(reply, warmup + count - 1)
    return run


async def _aiohttp(uri: str, warmup: int, count: int) -> EchoRun:
    import aiohttp  # noqa: PLC0415

    run = EchoRun(warmup)
    clock = time.perf_counter_ns
    reply: Any = None
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(uri, compress=0, autoping=True) as ws,
    ):
        for i in range(warmup + count):
            data = _payload(i)
            t0 = clock()
            await ws.send_frame(data, aiohttp.WSMsgType.TEXT)
            reply = (await ws.receive()).data
            t1 = clock()
            run.add(i, t1 - t0)
        run.finish()
    _check(reply, warmup + count - 1)
    return run


def _jetsocket_sync(uri: str, warmup: int, count: int) -> EchoRun:
    """``jetsocket.SyncWebSocket``: ``send_raw()`` from the calling thread, ``recv()``."""
    ws_cls = jetsocket_attr("SyncWebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.SyncWebSocket is not importable")
    run = EchoRun(warmup)
    clock = time.perf_counter_ns
    reply: Any = None
    with ws_cls(uri, raw=True, reconnect=False, compress=False) as ws:
        send = ws.send_raw
        recv = ws.recv
        for i in range(warmup + count):
            data = _payload(i)
            t0 = clock()
            send(data, binary=False)
            reply = recv()
            t1 = clock()
            run.add(i, t1 - t0)
        run.finish()
    _check(reply, warmup + count - 1)
    return run


def _websockets_sync(uri: str, warmup: int, count: int) -> EchoRun:
    """``websockets.sync``: writes from the calling thread, a reader thread per connection."""
    from websockets.sync.client import connect  # noqa: PLC0415

    run = EchoRun(warmup)
    clock = time.perf_counter_ns
    reply: Any = None
    with connect(uri, compression=None, proxy=None, ping_interval=None) as ws:
        for i in range(warmup + count):
            data = _payload(i)
            t0 = clock()
            ws.send(data, text=True)
            reply = ws.recv()
            t1 = clock()
            run.add(i, t1 - t0)
        run.finish()
    _check(reply, warmup + count - 1)
    return run


EchoClient = Callable[[str, int, int], Awaitable[EchoRun]]
SyncEchoClient = Callable[[str, int, int], EchoRun]

#: Blocking clients of the sync section's echo (the first one is the reference).
SYNC_ECHO_CLIENTS: dict[str, tuple[SyncEchoClient, str]] = {
    "jetsocket-sync": (_jetsocket_sync, "jetsocket SyncWebSocket send_raw()/recv()"),
    "websockets-sync": (_websockets_sync, "websockets.sync send()/recv()"),
}

ECHO_CLIENTS: dict[str, tuple[EchoClient, str]] = {
    "jetsocket": (_jetsocket, "jetsocket raw send_raw()/recv()"),
    "jetsocket-pure": (functools.partial(_jetsocket, pure=True), "jetsocket raw, pure reader"),
    "picows": (_picows, "picows send()/on_ws_frame future"),
    "websockets": (_websockets, "websockets send()/recv()"),
    "aiohttp": (_aiohttp, "aiohttp send_frame()/receive()"),
}


def echo_client_available(name: str) -> str | None:
    """Return why client ``name`` cannot run, or None when it can."""
    if name.startswith("jetsocket") and jetsocket_attr("WebSocket") is None:
        return "jetsocket.WebSocket not importable"
    return None


async def run_echo_client(name: str, uri: str, warmup: int, count: int) -> EchoRun:
    """Run ``warmup + count`` round trips with client ``name``; return ``count`` ns samples."""
    return await asyncio.wait_for(ECHO_CLIENTS[name][0](uri, warmup, count), _TIMEOUT)
