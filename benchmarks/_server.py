"""The benchmark server, run in a child process (``python -m benchmarks._server``).

A minimal raw asyncio WebSocket server: it performs the HTTP/1.1 upgrade itself
(RFC 6455 section 4.2) and then serves one of four paths, chosen by the request target:

* ``/feed?n=N`` pushes N pre-encoded unmasked text frames of trade ticks, written from one
  buffer built once, in ~1 MiB slices honouring flow control, then a close frame (1000).
* ``/mixed?n=N&wait=K`` the same, with trade, kline and bookTicker messages in turn
  (tagged on ``"e"``, ~170 bytes each), pushed once the client has sent K data frames
  (its subscribe requests, otherwise ignored), as a venue starts streaming a topic only
  once subscribed. ``wait`` defaults to 0 (push at once); ``/feed`` takes it too.
* ``/echo`` sends every data frame back unchanged (opcode and payload, unmasked).
* ``/idle`` only answers pings and the close handshake (memory per idle connection).

It never negotiates extensions (no permessage-deflate), so every client reads plain frames.
It prints ``PORT <port> <info>`` once listening and exits when its stdin is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
from typing import cast
from urllib.parse import parse_qs, urlsplit

from benchmarks._common import (
    FRAME_SLICE,
    build_feed_frames,
    build_mixed_frames,
    fastest_loop,
    new_event_loop,
    raise_fd_limit,
    stdin_closed,
)

try:
    from websockets.speedups import apply_mask as _apply_mask  # C, same as every client
except ImportError:  # pragma: no cover - websockets always ships its speedups on CPython

    def _apply_mask(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
        n = len(data)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
_MAX_HEAD = 64 * 1024
_CLOSE_1000 = bytes((0x88, 0x02)) + (1000).to_bytes(2, "big")


class _Feeds:
    """Feed buffers built once per path and size, shared by every connection."""

    def __init__(self) -> None:
        self._frames: dict[tuple[str, int], bytes] = {}

    def get(self, n: int, path: str = "/feed") -> bytes:
        frames = self._frames.get((path, n))
        if frames is None:
            build = build_mixed_frames if path == "/mixed" else build_feed_frames
            frames = self._frames[path, n] = build(n)
        return frames


class _Conn(asyncio.Protocol):
    """One client connection: handshake, then the behaviour its path asks for."""

    def __init__(self, feeds: _Feeds) -> None:
        self._feeds = feeds
        self._buf = bytearray()
        self._open = False
        self._mode = ""
        self._transport: asyncio.Transport | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        self._close_sent = False
        self._task: asyncio.Task[None] | None = None
        self._frames = b""
        self._wait = 0  # data frames to receive before pushing the feed

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._task is not None:
            self._task.cancel()
        self._wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._open:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > _MAX_HEAD:
                    self._abort()
                return
            head = bytes(self._buf[:end])
            del self._buf[: end + 4]
            self._handshake(head)
        if self._open and self._buf:
            self._parse()

    # -- handshake --------------------------------------------------------------------
    def _handshake(self, head: bytes) -> None:
        assert self._transport is not None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if len(parts) != 3 or parts[0] != "GET" or not key:
            self._transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            self._transport.close()
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        self._transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
        )
        self._open = True
        target = urlsplit(parts[1])
        self._mode = target.path
        if self._mode in ("/feed", "/mixed"):
            query = parse_qs(target.query)
            n = int(query.get("n", ["300000"])[0])
            self._frames = self._feeds.get(n, self._mode)
            self._wait = int(query.get("wait", ["0"])[0])
            if not self._wait:
                self._start_push()

    def _start_push(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._push(self._frames))

    # -- frames from the client -------------------------------------------------------
    def _parse(self) -> None:
        buf = self._buf
        size = len(buf)
        pos = 0
        while size - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            masked = b1 & 0x80
            if masked:
                head += 4
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            if masked:  # RFC 6455 section 5.3: client frames are masked
                payload = _apply_mask(payload, bytes(buf[pos + head - 4 : pos + head]))
            pos += head + length
            self._frame(b0, payload)
            if self._transport is None or self._transport.is_closing():
                break
        del buf[:pos]

    def _frame(self, b0: int, payload: bytes) -> None:
        assert self._transport is not None
        opcode = b0 & 0x0F
        if opcode == 0x8:  # close: echo the code (RFC 6455 section 5.5.1), then hang up
            if not self._close_sent:
                self._close_sent = True
                self._transport.write(bytes((0x88, min(len(payload), 2))) + payload[:2])
            self._transport.close()
        elif opcode == 0x9:  # ping -> pong with the same payload (section 5.5.3)
            self._transport.write(bytes((0x8A, len(payload))) + payload)
        elif opcode == 0xA:
            pass
        elif self._wait:  # a subscribe request: push once the last one has arrived
            self._wait -= 1
            if not self._wait:
                self._start_push()
        elif self._mode == "/echo":
            n = len(payload)
            if n < 126:
                head = bytes((b0 & 0x8F, n))
            elif n < 1 << 16:
                head = bytes((b0 & 0x8F, 126)) + n.to_bytes(2, "big")
            else:
                head = bytes((b0 & 0x8F, 127)) + n.to_bytes(8, "big")
            self._transport.write(head + payload)

    # -- feed ---------------------------------------------------------------------------
    async def _push(self, frames: bytes) -> None:
        transport = self._transport
        assert transport is not None
        view = memoryview(frames)
        for start in range(0, len(view), FRAME_SLICE):
            if transport.is_closing():
                return
            transport.write(view[start : start + FRAME_SLICE])
            while self._paused and not transport.is_closing():
                self._drain = asyncio.get_running_loop().create_future()
                await self._drain
        if not self._close_sent and not transport.is_closing():
            self._close_sent = True
            transport.write(_CLOSE_1000)
        # The client answers the close frame; give up on a silent one (RFC 6455 section 7.1.1).
        await asyncio.sleep(30)
        transport.abort()

    def _wake(self) -> None:
        waiter, self._drain = self._drain, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


async def _serve(feed_n: list[int], mixed_n: list[int], loop_name: str) -> None:
    feeds = _Feeds()
    for n in feed_n:
        feeds.get(n)  # build before listening, so no client ever waits for it
    for n in mixed_n:
        feeds.get(n, "/mixed")
    loop = asyncio.get_running_loop()
    stop = stdin_closed(loop)
    server = await loop.create_server(lambda: _Conn(feeds), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port} loop={loop_name}", flush=True)
    async with server:
        await stop


def main() -> None:
    """Parse arguments and serve until stdin is closed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    parser.add_argument("--feed-n", type=int, action="append", default=[])
    parser.add_argument("--mixed-n", type=int, action="append", default=[])
    args = parser.parse_args()
    loop_name = fastest_loop(args.loop)
    raise_fd_limit()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(loop_name)) as runner:
        runner.run(_serve(args.feed_n, args.mixed_n, loop_name))


if __name__ == "__main__":
    main()
