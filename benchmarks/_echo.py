"""Echo round trip: sequential request/response latency of a small JSON text message.

Every client sends ``{"op":"ping","id":N}`` as a text frame to ``/echo``, waits for the
echoed message, then sends the next one; each round trip is timed with
``perf_counter_ns``. The payload is encoded before the timer starts, so only the client's
send and receive paths (and the server, identical for all) are measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from benchmarks._common import jetsocket_attr

__all__ = ["ECHO_CLIENTS", "echo_client_available", "run_echo_client"]

_TIMEOUT = 120.0
_encode = msgspec.json.encode


def _payload(i: int) -> bytes:
    return _encode({"op": "ping", "id": i})


def _check(reply: object, i: int) -> None:
    data = reply.encode() if isinstance(reply, str) else reply
    if data != _payload(i):
        raise RuntimeError(f"echo mismatch at {i}: {reply!r:.100}")


async def _jetsocket(uri: str, warmup: int, count: int) -> list[int]:
    ws_cls = jetsocket_attr("WebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.WebSocket is not importable")
    samples: list[int] = []
    clock = time.perf_counter_ns
    async with ws_cls(uri, raw=True, reconnect=False, compress=False) as ws:
        send = ws.send_raw
        recv = ws.recv
        for i in range(warmup + count):
            data = _payload(i)
            t0 = clock()
            await send(data, binary=False)
            reply = await recv()
            t1 = clock()
            if i >= warmup:
                samples.append(t1 - t0)
        _check(reply, warmup + count - 1)
    return samples


async def _picows(uri: str, warmup: int, count: int) -> list[int]:
    import picows  # noqa: PLC0415 - peers are imported only when measured

    text = picows.WSMsgType.TEXT
    loop = asyncio.get_running_loop()
    waiter: list[asyncio.Future[bytes]] = []

    class Listener(picows.WSListener):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if frame.msg_type == text and waiter:
                waiter.pop().set_result(frame.get_payload_as_bytes())

    transport, _ = await picows.ws_connect(Listener, uri, enable_auto_ping=False)
    samples: list[int] = []
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
            if i >= warmup:
                samples.append(t1 - t0)
        _check(reply, warmup + count - 1)
    finally:
        transport.send_close(picows.WSCloseCode.OK)
        transport.disconnect()
        await transport.wait_disconnected()
    return samples


async def _websockets(uri: str, warmup: int, count: int) -> list[int]:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    samples: list[int] = []
    clock = time.perf_counter_ns
    reply: Any = None
    async with connect(uri, compression=None, proxy=None, ping_interval=None) as ws:
        for i in range(warmup + count):
            data = _payload(i)
            t0 = clock()
            await ws.send(data, text=True)
            reply = await ws.recv()
            t1 = clock()
            if i >= warmup:
                samples.append(t1 - t0)
    _check(reply, warmup + count - 1)
    return samples


async def _aiohttp(uri: str, warmup: int, count: int) -> list[int]:
    import aiohttp  # noqa: PLC0415

    samples: list[int] = []
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
            if i >= warmup:
                samples.append(t1 - t0)
    _check(reply, warmup + count - 1)
    return samples


EchoClient = Callable[[str, int, int], Awaitable[list[int]]]

ECHO_CLIENTS: dict[str, tuple[EchoClient, str]] = {
    "jetsocket": (_jetsocket, "jetsocket raw send_raw()/recv()"),
    "picows": (_picows, "picows send()/on_ws_frame future"),
    "websockets": (_websockets, "websockets send()/recv()"),
    "aiohttp": (_aiohttp, "aiohttp send_frame()/receive()"),
}


def echo_client_available(name: str) -> str | None:
    """Return why client ``name`` cannot run, or None when it can."""
    if name == "jetsocket" and jetsocket_attr("WebSocket") is None:
        return "jetsocket.WebSocket not importable"
    return None


async def run_echo_client(name: str, uri: str, warmup: int, count: int) -> list[int]:
    """Run ``warmup + count`` round trips with client ``name``; return ``count`` ns samples."""
    return await asyncio.wait_for(ECHO_CLIENTS[name][0](uri, warmup, count), _TIMEOUT)
