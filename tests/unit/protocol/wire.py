"""A WireConnection on a fake transport: bytes in by hand, bytes out recorded (no socket)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from websockets.uri import parse_uri

from jetsocket import ConnectionClosedError, HandshakeError
from jetsocket._engine._retry import is_fatal
from jetsocket._protocol._connection import WireConnection

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeTransport(asyncio.Transport):
    """Records writes; ``pause_writing`` is driven by a high-water mark like asyncio's."""

    def __init__(self, high_water: int | None = None) -> None:
        super().__init__()
        self.written = bytearray()
        self.buffered = 0  # bytes "not yet sent" while paused (a peer that does not read)
        self.high_water = high_water
        self.protocol: WireConnection | None = None
        self.aborted = False
        self.closing = False
        self.paused_reading = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data
        if self.high_water is not None:
            self.buffered += len(data)
            if self.buffered > self.high_water and self.protocol is not None:
                self.protocol.pause_writing()

    def drain_all(self) -> None:
        """The peer read everything: below the low-water mark again."""
        self.buffered = 0
        if self.protocol is not None:
            self.protocol.resume_writing()

    def abort(self) -> None:
        self.aborted = True
        self.closing = True
        if self.protocol is not None:
            self.protocol.connection_lost(None)

    def close(self) -> None:
        self.abort()

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.paused_reading = True

    def resume_reading(self) -> None:
        self.paused_reading = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class Recorder:
    """The listener: what the connection reported."""

    def __init__(self) -> None:
        self.messages: list[bytes | str] = []
        self.pings: list[bytes] = []
        self.pongs: list[bytes] = []
        self.lost: list[ConnectionClosedError] = []

    def on_messages(self, messages: list[bytes | str]) -> None:
        self.messages.extend(messages)

    def on_ping(self, payload: bytes) -> None:
        self.pings.append(payload)

    def on_pong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def on_connection_lost(self, exc: ConnectionClosedError) -> None:
        self.lost.append(exc)


def make_connection(
    *,
    uri: str = "ws://example.com/ws",
    subprotocols: list[str] | None = None,
    high_water: int | None = None,
    **kwargs: Any,
) -> tuple[WireConnection, FakeTransport, Recorder]:
    """A connection that has sent its request on a fake transport."""
    rec = Recorder()
    conn = WireConnection(
        parse_uri(uri),
        listener=rec,
        text_as_str=True,
        max_message_size=1 << 20,
        compress=False,
        compression_threshold=128,
        extra_headers=kwargs.pop("extra_headers", None),
        subprotocols=subprotocols,
        close_timeout=1.0,
        **kwargs,
    )
    transport = FakeTransport(high_water)
    transport.protocol = conn
    conn.connection_made(transport)
    return conn, transport, rec


def accept_for(request: bytes) -> str:
    for line in request.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "sec-websocket-key":
            key = value.strip().encode()
            return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    raise AssertionError("no Sec-WebSocket-Key in the request")


def pieces(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def server_frame(opcode: int, payload: bytes = b"") -> bytes:
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


async def outcome(conn: WireConnection, rec: Recorder) -> tuple[object, ...]:
    """What the handshake came to: comparable between split and unsplit deliveries."""
    try:
        await conn.wait_open(0.5)
    except HandshakeError as exc:
        return (
            "refused",
            exc.status_code,
            sorted(exc.headers.items()),
            exc.retry_after,
            exc.body,
            is_fatal(exc),
            str(exc),
        )
    return ("open", conn.subprotocol, list(rec.messages))


def handshake_101(accept: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode()


async def open_wire(**kwargs: Any) -> tuple[WireConnection, FakeTransport, Recorder]:
    """An open connection (101 accepted) on a fake transport; writes so far are cleared."""
    conn, transport, rec = make_connection(**kwargs)
    conn.data_received(handshake_101(accept_for(bytes(transport.written))))
    await conn.wait_open(1)
    transport.drain_all()
    transport.written.clear()
    return conn, transport, rec


def client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Parse masked client frames: ``[(opcode, unmasked payload), ...]``."""
    out = []
    i = 0
    while i < len(data):
        b0, b1 = data[i], data[i + 1]
        n = b1 & 0x7F
        i += 2
        if n == 126:
            n = int.from_bytes(data[i : i + 2])
            i += 2
        elif n == 127:
            n = int.from_bytes(data[i : i + 8])
            i += 8
        mask = data[i : i + 4]
        i += 4
        payload = bytes(b ^ mask[j % 4] for j, b in enumerate(data[i : i + n]))
        i += n
        out.append((b0 & 0xF, payload))
    return out
