"""A hostile WebSocket server for tests: raw TCP, every byte under the script's control.

:class:`ScriptedServer` runs a real WebSocket server and misbehaves politely (drops,
refusals, close codes). :class:`HostileServer` writes the opening handshake and every frame
itself, so a script can do what no conforming server library lets it do: split its
response at any byte, trickle it one byte at a time (slowloris), answer any status with any
headers (ten thousand of them), send frames with reserved opcodes, a mask, a lying length
or empty continuations, flood pings and stop reading its socket::

    from jetsocket.testing import HostileConnection, HostileServer

    async def split_101(conn: HostileConnection) -> None:
        await conn.read_request()
        await conn.send(conn.handshake_101(), split_at=[5, 11], pause=0.01)
        await conn.send_frame(0x1, b"hello")
        await conn.wait_closed()

    async with HostileServer(split_101) as server:
        async with jetsocket.WebSocket(server.uri, raw=True) as ws:
            assert await ws.recv() == "hello"

A script is an ``async`` function of a :class:`HostileConnection`; a list of scripts plays
one per successive connection, the last one repeating. When the script returns the TCP
connection is closed. A script that fails (other than because the client went away) is
recorded in :attr:`HostileServer.errors`, for the test to assert it is empty.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeAlias, TypedDict, cast

from typing_extensions import Unpack

from jetsocket.testing._lifecycle import LocalServer

__all__ = ["HostileConnection", "HostileScript", "HostileServer", "http_response", "raw_frame"]

HostileScript: TypeAlias = Callable[["HostileConnection"], Awaitable[None]]

# RFC 6455 section 1.3: the GUID appended to Sec-WebSocket-Key to compute the accept value.
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_REQUEST = 64 * 1024


def raw_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    length: int | None = None,
) -> bytes:
    """Build one frame exactly as told, valid or not (RFC 6455 section 5.2).

    Args:
        opcode: Any 4-bit value, reserved ones (0x3-0x7, 0xB-0xF) included.
        payload: The payload (masked with ``mask`` if given).
        fin: The FIN bit.
        rsv: The three RSV bits as an int 0-7 (RSV1 = 4).
        mask: A 4-byte masking key: servers must not mask (section 5.1), a client must
            fail the connection when they do.
        length: The payload length to announce, if not the real one (a lie).

    Returns:
        The frame's bytes.
    """
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", b0, mask_bit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mask_bit | 127, n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def http_response(
    status: int,
    reason: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> bytes:
    """Build an HTTP/1.1 response (any status, any headers, in order, repeats allowed).

    Args:
        status: The status code.
        reason: The reason phrase (default: the standard one).
        headers: Header lines as (name, value) pairs, sent as they are.
        body: The body.
        content_length: Add a ``Content-Length`` header (statuses that have a body);
            without it, the client reads the body until the connection closes.
    """
    if reason is None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if content_length and status >= 200 and status not in (204, 304):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HostileConnection:
    """One accepted TCP connection, driven by a script byte by byte.

    Attributes:
        index: 0 for the server's first connection, then 1, 2...
        request: The client's raw request head, once :meth:`read_request` has run.
        headers: Its headers, names in lower case.
        bytes_written: Bytes this server wrote on the connection.
    """

    class FrameBits(TypedDict, total=False):
        """The header fields :func:`raw_frame` sets as told, with its defaults."""

        fin: bool
        rsv: int
        mask: bytes | None
        length: int | None

    def __init__(
        self,
        server: HostileServer,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._server = server
        self._reader = reader
        self._writer = writer
        self.index = index
        self.request = b""
        self.headers: dict[str, str] = {}
        self.bytes_written = 0

    # -- the opening handshake -------------------------------------------------------------

    async def read_request(self, timeout: float = 10.0) -> bytes:
        """Read the client's opening handshake request head and return it."""
        async with asyncio.timeout(timeout):
            head = await self._reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_REQUEST:
            raise ValueError("request head too large")
        self.request = head
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, sep, value = line.partition(":")
            if sep:
                self.headers[name.strip().lower()] = value.strip()
        self._server.requests.append(head)
        self._server._notify()
        return head

    @property
    def accept(self) -> str:
        """The ``Sec-WebSocket-Accept`` value for the request's key (RFC 6455 4.2.2)."""
        key = self.headers.get("sec-websocket-key", "").encode()
        return base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()

    def handshake_101(
        self, headers: Iterable[tuple[str, str]] = (), *, subprotocol: str | None = None
    ) -> bytes:
        """A valid 101 answer to the request read (no extension), plus ``headers``."""
        lines = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", self.accept),
        ]
        if subprotocol is not None:
            lines.append(("Sec-WebSocket-Protocol", subprotocol))
        return http_response(101, "Switching Protocols", [*lines, *headers])

    async def accept_handshake(self) -> None:
        """Read the request and answer a valid 101 in one write."""
        await self.read_request()
        await self.send(self.handshake_101())

    response = staticmethod(http_response)
    frame = staticmethod(raw_frame)

    # -- writing ---------------------------------------------------------------------------

    async def send(self, data: bytes, *, split_at: Iterable[int] = (), pause: float = 0.0) -> None:
        """Write ``data``, cut at the given byte offsets into separate writes.

        Args:
            data: The bytes.
            split_at: Offsets where to cut (out-of-range ones are ignored).
            pause: Seconds between pieces (so that each arrives in its own TCP segment
                and, usually, its own ``data_received`` on the client).
        """
        cuts = sorted({i for i in split_at if 0 < i < len(data)})
        start = 0
        for i, cut in enumerate([*cuts, len(data)]):
            if i and pause:
                await asyncio.sleep(pause)
            await self._write(data[start:cut])
            start = cut

    async def trickle(self, data: bytes, *, chunk: int = 1, interval: float = 0.005) -> None:
        """Write ``data`` ``chunk`` bytes at a time, ``interval`` seconds apart (slowloris)."""
        for start in range(0, len(data), chunk):
            if start:
                await asyncio.sleep(interval)
            await self._write(data[start : start + chunk])

    async def send_frame(
        self, opcode: int, payload: bytes = b"", **bits: Unpack[HostileConnection.FrameBits]
    ) -> None:
        """Write one frame exactly as told.

        Args:
            opcode: Any 4-bit value.
            payload: The payload.
            **bits: ``fin``, ``rsv``, ``mask``, ``length``: see :func:`raw_frame`.
        """
        await self._write(raw_frame(opcode, payload, **bits))

    async def flood_pings(self, count: int, payload: bytes = b"", *, batch: int = 4096) -> None:
        """Send ``count`` ping frames as fast as the socket takes them."""
        ping = raw_frame(0x9, payload)
        sent = 0
        while sent < count:
            n = min(batch, count - sent)
            await self._write(ping * n)
            sent += n

    async def _write(self, data: bytes) -> None:
        self._writer.write(data)
        self.bytes_written += len(data)
        await self._writer.drain()

    # -- reading ---------------------------------------------------------------------------

    def stop_reading(self) -> None:
        """Stop reading the socket: what the client writes piles up on its side."""
        transport = cast(asyncio.Transport, self._writer.transport)
        if not transport.is_closing():
            transport.pause_reading()

    def resume_reading(self) -> None:
        """Read the socket again."""
        transport = cast(asyncio.Transport, self._writer.transport)
        if not transport.is_closing():
            transport.resume_reading()

    async def read_frame(self, timeout: float = 10.0) -> tuple[int, bytes]:
        """Read one frame from the client and return ``(opcode, unmasked payload)``."""
        read = self._reader.readexactly
        async with asyncio.timeout(timeout):
            b0, b1 = await read(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await read(8))
            mask = await read(4) if b1 & 0x80 else b"\0\0\0\0"
            payload = await read(n)
        return b0 & 0xF, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    async def read_close(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Read frames until a close frame; return its code (None if empty) and reason."""
        async with asyncio.timeout(timeout):
            while True:
                opcode, payload = await self.read_frame(timeout)
                if opcode == 0x8:
                    if len(payload) < 2:
                        return None, ""
                    return int.from_bytes(payload[:2]), payload[2:].decode(errors="replace")

    async def wait_closed(self, timeout: float = 30.0) -> None:
        """Read the client's frames until its close frame (echoed, RFC 6455 5.5.1) or EOF."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    opcode, payload = await self.read_frame(timeout)
                    if opcode == 0x8:
                        await self._write(raw_frame(0x8, payload[:2]))
                        return
        except asyncio.IncompleteReadError:
            return  # the client dropped the connection

    def abort(self) -> None:
        """Drop the TCP connection (RST) now."""
        self._writer.transport.abort()


class HostileServer(LocalServer[asyncio.Server]):
    """A raw asyncio TCP server on ``127.0.0.1`` whose scripts write every byte.

    Args:
        script: One script for every connection, or a list played one per connection
            (the last one repeating).
        host: Address to listen on.
        port: Port (0: a free one).
        receive_buffer: ``SO_RCVBUF`` of accepted sockets in bytes (small values make a
            client's writes back up quickly once a script stops reading).

    Attributes:
        connection_times: ``time.monotonic()`` of each connection accepted, in order
            (:attr:`connections` counts them).
        closed: Connections whose script has finished.
        requests: Raw request heads read by scripts, in order.
        errors: Exceptions raised by scripts (not counting the client going away).
    """

    def __init__(
        self,
        script: HostileScript | Sequence[HostileScript],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        receive_buffer: int | None = None,
    ) -> None:
        self._scripts: list[HostileScript] = [script] if callable(script) else list(script)
        if not self._scripts:
            raise ValueError("at least one script is needed")
        super().__init__(host=host, port=port)
        self._receive_buffer = receive_buffer
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = 0
        self.requests: list[bytes] = []
        self.errors: list[BaseException] = []

    @property
    def uri(self) -> str:
        """``ws://127.0.0.1:<port>/``."""
        return self._ws_uri()

    async def start(self) -> None:
        """Listen (on the same port after a :meth:`stop`).

        Raises:
            RuntimeError: Already running.
        """
        await self._listen(self._open)

    async def _open(self) -> asyncio.Server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self._receive_buffer is not None:
                # Set on the listener before listen(): accepted sockets inherit it and the
                # TCP window is sized from it.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
            sock.bind((self._host, self._port))
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return await asyncio.start_server(self._handle, sock=sock)

    async def stop(self) -> None:
        """Stop listening and end every connection's script."""
        server = self._unlisten()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        index = self._connected()
        writer.transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        script = self._scripts[min(index, len(self._scripts) - 1)]
        try:
            await script(HostileConnection(self, index, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the server is stopping
        except Exception as exc:  # reported to the test, never lost
            self.errors.append(exc)
        finally:
            self._tasks.discard(task)
            writer.transport.abort()
            self.closed += 1
            self._notify()
