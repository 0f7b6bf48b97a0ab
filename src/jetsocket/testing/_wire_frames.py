"""Frames rebuilt from the raw bytes of a connection (Sans-I/O, for the cassette recorder).

The recorder's tap sees the bytes exactly as they crossed the socket, both ways: an HTTP
head, then frames (RFC 6455 section 5). This module turns them back into messages. It
trusts its input: the connection's own reader already enforces every rule of the RFC and
fails the connection on a violation, so a malformed frame here can only be the last one.
"""

from __future__ import annotations

import zlib
from typing import Any, Final, Literal

from websockets.exceptions import InvalidHeaderFormat
from websockets.headers import parse_extension
from websockets.speedups import apply_mask

__all__ = ["FrameKind", "FrameRebuilder", "deflate_params", "http_head"]

FrameKind = Literal["text", "binary", "ping", "pong", "close"]

_MAX_HEAD: Final = 64 * 1024
_TAIL: Final = b"\x00\x00\xff\xff"  # RFC 7692 7.2.2: removed by the sender, appended back


def http_head(buf: bytearray) -> tuple[str, list[tuple[str, str]]] | None:
    """``(start line, headers)`` once ``buf`` holds a whole HTTP head (removed from it)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > _MAX_HEAD:
            raise ValueError("HTTP head too large")
        return None
    head = bytes(buf[:end]).decode("latin-1")
    del buf[: end + 4]
    start, *lines = head.split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return start, headers


class FrameRebuilder:
    """Rebuilds the messages of one direction from its frames (RFC 6455 5.2, 5.4).

    Masked (client) and unmasked (server) frames alike; fragments are joined and
    compressed messages inflated (RFC 7692) once :meth:`use_deflate` was called.
    Control frames are returned as they come, between the messages.
    """

    __slots__ = ("_buf", "_compressed", "_inflate", "_kind", "_parts", "_reset")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._kind: FrameKind | None = None
        self._parts: list[bytes] = []
        self._compressed = False
        self._inflate: Any = None
        self._reset = False

    def use_deflate(self, no_context_takeover: bool) -> None:
        """Inflate messages with RSV1 set (the sender resets its context when told so)."""
        # A 15-bit window inflates whatever window the sender used (RFC 7692 7.1.2).
        self._inflate = zlib.decompressobj(-15)
        self._reset = no_context_takeover

    def feed(self, data: bytes) -> list[tuple[FrameKind, bytes, int | None]]:
        """Parse every complete frame of ``data``: ``(kind, payload, close code)``."""
        buf = self._buf
        buf += data
        out: list[tuple[FrameKind, bytes, int | None]] = []
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length = b1 & 0x7F
            pos = 2
            if length == 126:
                if len(buf) < 4:
                    break
                length = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length = int.from_bytes(buf[2:10], "big")
                pos = 10
            key = b""
            if b1 & 0x80:
                key = bytes(buf[pos : pos + 4])
                pos += 4
            if len(buf) < pos + length:
                break
            payload = bytes(buf[pos : pos + length])
            del buf[: pos + length]
            if key:
                # RFC 6455 5.3, with the same C routine the writer masks with.
                payload = apply_mask(payload, key)
            self._frame(b0, payload, out)
        return out

    def _frame(
        self, b0: int, payload: bytes, out: list[tuple[FrameKind, bytes, int | None]]
    ) -> None:
        fin, rsv1, opcode = b0 & 0x80, b0 & 0x40, b0 & 0x0F
        if opcode >= 0x8:
            if opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                out.append(("close", payload[2:], code))
            elif opcode in (0x9, 0xA):
                out.append(("ping" if opcode == 0x9 else "pong", payload, None))
            return
        if opcode in (0x1, 0x2):
            self._kind = "text" if opcode == 0x1 else "binary"
            self._parts = []
            self._compressed = bool(rsv1) and self._inflate is not None
        elif self._kind is None:
            return  # a continuation without a start: the real reader failed the connection
        self._parts.append(payload)
        if not fin:
            return
        message = b"".join(self._parts)
        kind = self._kind
        self._kind, self._parts = None, []
        if self._compressed:
            message = self._decompress(message)
        out.append((kind, message, None))

    def _decompress(self, data: bytes) -> bytes:
        inflate = self._inflate
        message: bytes = inflate.decompress(data + _TAIL)
        if inflate.eof or self._reset:
            # A final deflate block (RFC 7692 7.2.3.4) or no context takeover: start anew.
            self._inflate = zlib.decompressobj(-15)
        return message


def deflate_params(value: str | None) -> tuple[bool, bool] | None:
    """``(server_no_context_takeover, client_no_context_takeover)`` if deflate was agreed."""
    if not value:
        return None
    try:
        extensions = parse_extension(value)  # websockets' RFC 7692 header grammar
    except InvalidHeaderFormat:
        return None
    for name, params in extensions:
        if name == "permessage-deflate":
            names = {param for param, _ in params}
            return "server_no_context_takeover" in names, "client_no_context_takeover" in names
    return None
