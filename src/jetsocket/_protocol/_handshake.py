"""The opening handshake's response head and DEBUG log, as the connection reads them.

:class:`Head` collects the response head whatever the TCP segments, checking limits as it
grows; :class:`HandshakeLog` is the logger websockets' ``ClientProtocol`` writes its
handshake lines to, with every credential hidden.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from websockets.http11 import MAX_LINE_LENGTH, MAX_NUM_HEADERS

from jetsocket._protocol._redact import Redactor, redact_resource

__all__ = ["MAX_HANDSHAKE", "HandshakeLog", "Head", "status_note"]

# A handshake response head larger than this is not a WebSocket server talking to us
# (websockets' own limits allow 128 lines of 8 KiB; real servers send about 1 KiB).
MAX_HANDSHAKE = 64 * 1024
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3})(?: |$)")
_handshake_logger = logging.getLogger("jetsocket.handshake")


class Head:
    """The handshake response head being collected, checked against limits as it grows.

    The head is collected whole before websockets parses it, whatever the TCP segments:
    a response split at any byte parses exactly as unsplit. Limits are websockets' own
    (``MAX_NUM_HEADERS``, ``MAX_LINE_LENGTH``) plus a bound on the whole head, checked
    incrementally (a slowloris trickling one byte at a time costs no rescans), so a
    hostile head is refused with what was wrong and the status, if the status line came.
    """

    __slots__ = ("buffer", "head", "lines", "passthrough", "pos", "problem", "status")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.pos = 0  # start of the first line not yet seen whole
        self.lines = 0  # complete lines seen: the status line, then headers
        self.status: int | None = None
        self.problem: str | None = None
        self.passthrough = False  # head done, not a 101: websockets reads the body
        self.head = b""

    def feed(self, data: bytes) -> int:
        """Add ``data``; return the index just past the head, or -1 while incomplete."""
        buf = self.buffer
        search_from = max(0, len(buf) - 3)
        buf += data
        end = buf.find(b"\r\n\r\n", search_from)
        limit = end + 2 if end >= 0 else len(buf)
        pos = self.pos
        while True:
            nl = buf.find(b"\r\n", pos, limit)
            if nl < 0:
                break
            if nl - pos > MAX_LINE_LENGTH:
                self.problem = f"a header line is longer than {MAX_LINE_LENGTH} bytes"
                return -1
            if self.lines == 0:
                match = _STATUS_LINE.match(buf, pos, nl)
                self.status = int(match.group(1)) if match else None
            self.lines += 1
            pos = nl + 2
            if self.lines - 1 > MAX_NUM_HEADERS:
                self.problem = f"too many headers (more than {MAX_NUM_HEADERS})"
                return -1
        self.pos = pos
        if end >= 0:
            return end + 4
        if len(buf) - pos > MAX_LINE_LENGTH:
            what = "the status line" if self.lines == 0 else "a header line"
            self.problem = f"{what} is longer than {MAX_LINE_LENGTH} bytes"
        elif len(buf) > MAX_HANDSHAKE:
            self.problem = f"the response head is larger than {MAX_HANDSHAKE // 1024} KiB"
        return -1

    def headers(self) -> dict[str, str]:
        """The headers of a complete head, parsed leniently (for a diagnosis only)."""
        out: dict[str, str] = {}
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            name, sep, value = line.partition(":")
            if sep and name.strip():
                out[name.strip()] = value.strip()
        return out


def status_note(status: int | None) -> str:
    return f" (HTTP {status})" if status else ""


class HandshakeLog(logging.LoggerAdapter[logging.Logger]):
    """websockets' handshake DEBUG lines, credentials hidden before any handler sees them.

    ``ClientProtocol`` logs ``> GET <path?query> HTTP/1.1`` and every ``> Name: value`` /
    ``< Name: value`` header line at DEBUG; venues put API keys, signatures and
    passphrases in both (OK-ACCESS-SIGN, X-BAPI-SIGN, ...).
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__(_handshake_logger, {})
        self.redactor = redactor

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if args:
            args = _redact_handshake_args(msg, args, self.redactor)
        super().log(level, msg, *args, **kwargs)


def _redact_handshake_args(
    msg: object, args: tuple[object, ...], redactor: Redactor
) -> tuple[object, ...]:
    if msg == "> GET %s HTTP/1.1":
        return (redactor(redact_resource(str(args[0]))),)
    if len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], str):
        return (args[0], redactor.header(args[0], args[1]))
    return tuple(redactor(a) if isinstance(a, str) else a for a in args)


_handshake_logger = logging.getLogger("jetsocket.handshake")
