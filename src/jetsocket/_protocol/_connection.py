"""One WebSocket connection on an ``asyncio.Protocol``: handshake, frames, close.

The opening handshake (RFC 6455 section 4) is built and checked by ``websockets``' Sans-I/O
:class:`~websockets.client.ClientProtocol`; after the 101 response jetsocket reads frames with
its own batch :class:`~jetsocket._protocol._reader.FrameReader`: every complete frame of a
``data_received`` chunk is parsed in one loop and handed to the listener as one list.

This module knows nothing about decoding, reconnecting or consumers: it reports to a
:class:`ConnectionListener` (the engine) and offers write, ping, close and read-side flow
control (``pause_reading``/``resume_reading``).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from websockets.client import ClientProtocol
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    SecurityError,
)
from websockets.extensions.base import Extension
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import WebSocketURI

from jetsocket._exceptions import (
    ConnectionClosedError,
    ConnectionError,
    HandshakeError,
    ProtocolError,
    TimeoutError,
    excerpt,
)
from jetsocket._protocol._deflate import client_deflate_factories, negotiated_deflate
from jetsocket._protocol._handshake import HandshakeLog, Head, status_note
from jetsocket._protocol._listener import ConnectionListener, WireTap
from jetsocket._protocol._reader import FrameReader
from jetsocket._protocol._redact import Redactor, redact_uri, secret_member_pattern
from jetsocket._protocol._threadwrites import PENDING_LIMIT, ThreadSends, ThreadWrites, direct_fd
from jetsocket._protocol._validate import (
    validate_headers,
    validate_subprotocols,
    validate_uri,
)
from jetsocket._protocol._writer import FrameWriter

__all__ = [
    "WireConnection",
    "redact_uri",
    "validate_headers",
    "validate_subprotocols",
    "validate_uri",
]

_OP_PING = 0x9
_OP_PONG = 0xA
_BODY_EXCERPT = 1024
# Frame-level DEBUG log (one line per frame): a logger of its own, so that lifecycle lines
# ("jetsocket", INFO) can be kept while frames are silenced, or the reverse.
_frames_logger = logging.getLogger("jetsocket.frames")
_FRAME_EXCERPT = 120
# JSON members whose name looks like a credential: their value is hidden in frame excerpts.
_SECRET_MEMBER = secret_member_pattern()


def _frame_excerpt(payload: bytes | str, redactor: Redactor | None = None) -> str:
    """A short, credential-free excerpt of a received payload for the DEBUG log."""
    text = _SECRET_MEMBER.sub(r'\1"***"', excerpt(payload, _FRAME_EXCERPT))
    return redactor(text) if redactor else text


def _log_received(messages: list[bytes | str], redactor: Redactor | None) -> None:
    for msg in messages:
        _frames_logger.debug("< message %d bytes: %s", len(msg), _frame_excerpt(msg, redactor))


class WireConnection(asyncio.Protocol):
    """The client side of one WebSocket connection.

    Created by :func:`open_connection`. Writes are synchronous (``send_message`` appends to
    the transport); callers that care about flow control await :meth:`drain`.
    """

    # Slots: a client may hold thousands of idle connections (memory per connection).
    __slots__ = (
        "_close_received",
        "_close_sent",
        "_close_timeout",
        "_close_timer",
        "_closed",
        "_closing_by_us",
        "_compression_threshold",
        "_debug",
        "_decoding",
        "_drain_waiter",
        "_dropped",
        "_fail_code",
        "_head",
        "_hs",
        "_hs_done",
        "_hs_headers",
        "_listener",
        "_lost",
        "_max_message_size",
        "_owed_pong",
        "_reader",
        "_redactor",
        "_reported",
        "_tap",
        "_text_as_str",
        "_threaded",
        "_transport",
        "_writer",
        "bytes_received",
        "bytes_sent",
        "extensions",
        "last_received",
        "reading_paused",
        "response",
        "subprotocol",
        "write_paused",
    )

    def __init__(
        self,
        uri: WebSocketURI,
        *,
        listener: ConnectionListener,
        text_as_str: bool,
        max_message_size: int,
        compress: bool,
        compression_threshold: int,
        extra_headers: Mapping[str, str] | None,
        subprotocols: Sequence[str] | None,
        close_timeout: float,
        secrets: Iterable[str] | Redactor = (),
        tap: WireTap | None = None,
    ) -> None:
        self._listener = listener
        self._tap = tap
        redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
        # None when nothing is declared: the frame DEBUG path then pays one test.
        self._redactor: Redactor | None = redactor if redactor else None
        self._text_as_str = text_as_str
        self._max_message_size = max_message_size
        self._compression_threshold = compression_threshold
        self._close_timeout = close_timeout
        self._hs: ClientProtocol | None = ClientProtocol(
            uri,
            extensions=client_deflate_factories() if compress else None,
            subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
            max_size=max_message_size,
            logger=HandshakeLog(redactor),
        )
        self._head: Head | None = Head()
        self._hs_headers = extra_headers or {}
        self._hs_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader: FrameReader | None = None
        self._writer = FrameWriter()
        self._transport: asyncio.Transport | None = None
        #: True when the transport's write buffer is above its high-water mark.
        self.write_paused = False
        # Set by enable_thread_writes (the sync facade): every write then takes a lock.
        self._threaded: ThreadWrites | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closed = asyncio.get_running_loop().create_future()
        self._close_sent = False
        self._close_received: tuple[int, str] | None = None
        self._lost = False
        self._closing_by_us = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._reported = False
        self._fail_code: tuple[int, str] | None = None
        # Why we dropped TCP ourselves (abort with a code), e.g. (1011, "heartbeat timeout").
        self._dropped: tuple[int, str] | None = None
        # RFC 6455 5.5.3: only the latest ping needs an answer; held while writes are paused.
        self._owed_pong: bytes | None = None
        self.response: Response | None = None
        self.subprotocol: str | None = None
        self.extensions: list[Extension] = []
        self.bytes_received = 0
        self.bytes_sent = 0
        self.last_received = 0.0
        self.reading_paused = False
        # Checked once per connection, like websockets does: the hot path pays one bool.
        self._debug = _frames_logger.isEnabledFor(logging.DEBUG)
        # The reader decodes as it parses (listener.on_decoded), set after the handshake.
        self._decoding = False

    # -- asyncio.Protocol callbacks ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        transport = self._transport
        hs = self._hs
        assert hs is not None
        request = hs.connect()
        for name, value in self._hs_headers.items():
            request.headers[name] = value
        hs.send_request(request)
        for data in hs.data_to_send():
            transport.write(data)
            self.bytes_sent += len(data)
            if self._tap is not None:
                self._tap.on_wire(data, True)

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        self.last_received = time.monotonic()
        if self._tap is not None:
            self._tap.on_wire(data, False)
        reader = self._reader
        if reader is None:
            # Frames may come in the same chunk as the 101 (RFC 6455 allows them at once):
            # the handshake returns those bytes, parsed below like any later chunk.
            data = self._handshake_data(data)
            reader = self._reader
            if reader is None or not data:
                return
        # The one frame path, once per read chunk (not per message).
        if self._decoding:
            decoded, raw_at = reader.feed_decoded(data)
            if decoded:
                self._listener.on_decoded(decoded, raw_at)  # type: ignore[attr-defined]
        else:
            messages = reader.feed(data)
            if messages:
                if self._debug:
                    _log_received(messages, self._redactor)
                self._listener.on_messages(messages)
        if reader.control or reader.close is not None or reader.error is not None:
            self._control(reader)

    def eof_received(self) -> bool | None:
        hs = self._hs
        if hs is not None and not self._hs_done.done():
            head = self._head
            if head is not None and not head.passthrough and head.buffer:
                # A head cut short: websockets says what was missing.
                hs.receive_data(bytes(head.buffer))
                head.buffer = bytearray()
            hs.receive_eof()
            self._handshake_events()
        # Returning None closes the transport: the peer has nothing more to say.
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        threaded = self._threaded
        if threaded is not None:
            # The transport closes the socket after this returns: a thread writing on it
            # holds the lock, so it finishes first or sees _lost and does not write.
            with threaded.lock:
                self._lost = True
                threaded.pending = None
        self._lost = True
        if self._tap is not None:
            self._tap.on_wire_lost()
        if self._close_timer is not None:
            self._close_timer.cancel()
        if not self._hs_done.done():
            err = ConnectionError(f"connection lost during the opening handshake: {exc}")
            self._hs_done.set_exception(err)
            self._hs_done.exception()  # whoever awaits still gets it; nobody may (cancelled)
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if not self._closed.done():
            self._closed.set_result(None)
        if self._reader is not None:
            self._report_lost()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        owed = self._owed_pong
        if owed is not None:
            self._owed_pong = None
            if not self._close_sent:
                self._write(self._writer.pong(owed))
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- handshake ----------------------------------------------------------------------

    def _handshake_data(self, data: bytes) -> bytes:
        """Feed the opening handshake; return the bytes after a complete 101 (frames)."""
        hs = self._hs
        head = self._head
        assert hs is not None
        assert head is not None
        if head.passthrough:
            # Non-101 answer: websockets reads the body (Content-Length or to EOF).
            hs.receive_data(data)
            self._handshake_events()
            return b""
        end = head.feed(data)
        if head.problem is not None:
            self._fail_handshake(
                HandshakeError(
                    f"invalid handshake response{status_note(head.status)}: {head.problem}",
                    status_code=head.status or 0,
                )
            )
            return b""
        if end < 0:
            return b""
        buf = head.buffer
        head.buffer = bytearray()
        if head.status == 101:
            # Feed websockets only the response head: frames after it are ours to parse.
            hs.receive_data(bytes(buf[:end]))
            self._handshake_events()
            return bytes(buf[end:])
        head.passthrough = True
        head.head = bytes(buf[:end])
        hs.receive_data(bytes(buf))
        self._handshake_events()
        return b""

    def _handshake_events(self) -> None:
        hs = self._hs
        if hs is None or self._hs_done.done():
            return
        for event in hs.events_received():
            if isinstance(event, Response):
                self.response = event
        exc = hs.handshake_exc
        if exc is None and self.response is None:
            return
        if exc is not None:
            self._fail_handshake(self._handshake_error(exc))
            return
        # 101 accepted: negotiated extensions and subprotocol are final (RFC 6455 4.1).
        self.extensions = list(hs.extensions)
        self.subprotocol = hs.subprotocol
        deflate = negotiated_deflate(self.extensions)
        # A listener that decodes (the engine, see ConnectionListener) may have the
        # compiled scanner run its decoder; never while frames are logged (the log shows
        # payloads).
        wire = None if self._debug else getattr(self._listener, "wire_decode", None)
        reader = self._reader = FrameReader(
            max_message_size=self._max_message_size,
            text_as_str=self._text_as_str,
            deflate=deflate,
            decode=wire[0] if wire is not None else None,
            copy_payloads=wire[1] if wire is not None else False,
        )
        self._decoding = reader.decoding
        self._writer = FrameWriter(
            deflate=deflate,
            compression_threshold=self._compression_threshold,
        )
        self._hs = None
        self._head = None
        # The response (headers, about 1 KiB) is not kept for the connection's life.
        self.response = None
        self._hs_done.set_result(None)

    def _handshake_error(self, exc: Exception) -> HandshakeError:
        if isinstance(exc, InvalidStatus):
            resp = exc.response
            body = bytes(resp.body)[:_BODY_EXCERPT]
            return HandshakeError(
                f"server rejected the WebSocket handshake: HTTP {resp.status_code} "
                f"{resp.reason_phrase}",
                status_code=resp.status_code,
                headers=dict(resp.headers.raw_items()),
                body=body,
            )
        response = self.response
        head = self._head
        status = response.status_code if response is not None else 0
        if not status and head is not None and head.status is not None:
            status = head.status
        headers = dict(response.headers.raw_items()) if response is not None else {}
        detail = str(exc) if isinstance(exc, InvalidHandshake) else repr(exc)
        cause = exc.__cause__
        if isinstance(exc, InvalidMessage) and cause is not None:
            # "did not receive a valid HTTP response" alone does not say what was wrong.
            if isinstance(cause, SecurityError) and cause.__cause__ is not None:
                cause = cause.__cause__
            detail = f"{detail}: {cause}"
        err = HandshakeError(
            f"invalid handshake response{status_note(status)}: {detail}",
            status_code=status,
            headers=headers,
        )
        err.__cause__ = exc
        return err

    def _unfinished_refusal(self, timeout: float) -> HandshakeError | None:
        """A refusal whose body never ended: report its status and headers anyway."""
        head = self._head
        if head is None or not head.passthrough or not head.status:
            return None
        status_line = head.head.split(b"\r\n", 1)[0].decode("latin-1")
        return HandshakeError(
            f"server rejected the WebSocket handshake: {status_line[:120]} "
            f"(its body did not end within {timeout:.3g}s)",
            status_code=head.status,
            headers=head.headers(),
        )

    def _redacted(self, err: Exception) -> Exception:
        redactor = self._redactor
        if redactor is not None and err.args:
            # A server may echo what we sent (a token in a reason phrase or header).
            err.args = (redactor(str(err.args[0])), *err.args[1:])
        return err

    def _fail_handshake(self, err: Exception) -> None:
        self._redacted(err)
        if not self._hs_done.done():
            self._hs_done.set_exception(err)
        if self._transport is not None:
            self._transport.abort()

    async def wait_open(self, timeout: float) -> None:
        """Wait for the 101 response; raise ``HandshakeError`` or ``TimeoutError``.

        Cancelling or failing the wait drops the TCP connection: no half-opened socket may
        complete its handshake later, unowned.
        """
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._hs_done)
        except builtins.TimeoutError:
            self.abort()
            refusal = self._unfinished_refusal(timeout)
            if refusal is not None:
                raise self._redacted(refusal) from None
            raise TimeoutError(f"opening handshake timed out after {timeout:.3g}s") from None
        except BaseException:
            self.abort()
            done = self._hs_done
            if done.done() and not done.cancelled():
                done.exception()  # retrieved: no "exception never retrieved" warning
            raise

    # -- frames -------------------------------------------------------------------------

    def _control(self, reader: FrameReader) -> None:
        # Control frames are rare: handled outside the batch loop (RFC 6455 5.5).
        if reader.control:
            frames = reader.control
            reader.control = []
            for opcode, payload in frames:
                if self._debug:
                    kind = "ping" if opcode == _OP_PING else "pong"
                    _frames_logger.debug("< %s %s", kind, payload[:_FRAME_EXCERPT].hex())
                if opcode == _OP_PING:
                    # RFC 6455 5.5.2/5.5.3: answer a ping with a pong of the same payload,
                    # unless we already sent a close frame. While the peer does not read
                    # (writes paused), only the latest ping is owed an answer (5.5.3):
                    # a ping flood then costs one pending pong, not a growing queue.
                    if self._close_sent:
                        pass
                    elif self.write_paused:
                        self._owed_pong = payload
                    else:
                        self._write(self._writer.pong(payload))
                    self._listener.on_ping(payload)
                elif opcode == _OP_PONG:
                    self._listener.on_pong(payload)
        if reader.error is not None:
            err = reader.error
            reader.error = None
            self._close_received = None
            self._fail(err.code, str(err)[:120])
        elif reader.close is not None and self._close_received is None:
            self._close_received = reader.close
            code, _ = reader.close
            if self._debug:
                _frames_logger.debug("< close %d %r", code, reader.close[1])
            if not self._close_sent:
                # RFC 6455 5.5.1: echo the close code; 1005 means "no code" and is never sent.
                self._send_close(None if code == 1005 else code, "")
            # RFC 6455 7.1.1: the server closes TCP first; drop it ourselves if it lingers.
            self._arm_close_timer()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the WebSocket connection (RFC 6455 7.1.7) with ``code``."""
        self._fail_code = (code, reason)
        if not self._close_sent:
            self._send_close(code, reason)
        self._arm_close_timer()

    def _send_close(self, code: int | None, reason: str) -> None:
        if self._debug:
            _frames_logger.debug("> close %s %r", code, reason)
        self._close_sent = True
        self._write(self._writer.close(code, reason))

    def _arm_close_timer(self) -> None:
        if self._close_timer is None and self._transport is not None and not self._lost:
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(self._close_timeout, self.abort)

    def _write(self, data: bytes) -> None:
        threaded = self._threaded
        if threaded is not None:
            with threaded.lock:
                self._write_locked(threaded, data)
            return
        transport = self._transport
        if transport is None or self._lost or transport.is_closing():
            return
        transport.write(data)
        self.bytes_sent += len(data)
        if self._tap is not None:
            self._tap.on_wire(data, True)

    def _write_locked(self, threaded: ThreadWrites, data: bytes) -> None:
        # Loop thread, lock held: what threads could not write goes first (it was
        # already counted in bytes_sent).
        out: bytes | bytearray = data
        pending = threaded.pending
        if pending is not None:
            threaded.pending = None
            pending += data
            out = pending
        transport = self._transport
        if transport is None or self._lost or transport.is_closing():
            return
        transport.write(out)
        self.bytes_sent += len(data)
        if self._tap is not None and data:
            # Tapped connections never write from threads, so nothing was pending.
            self._tap.on_wire(data, True)

    def _flush_pending(self) -> None:
        # Loop thread: write what threads handed over (scheduled by write_from_thread).
        threaded = self._threaded
        if threaded is not None and threaded.pending is not None:
            with threaded.lock:
                self._write_locked(threaded, b"")

    def _report_lost(self) -> None:
        if self._reported:
            return
        self._reported = True
        fail = self._fail_code
        if fail is not None:
            code, reason = fail
            exc = ConnectionClosedError(code, reason, by_server=False)
        elif self._close_received is not None:
            code, reason = self._close_received
            exc = ConnectionClosedError(code, reason, by_server=not self._closing_by_us)
        else:
            exc = self._lost_error()
        self._listener.on_connection_lost(exc)

    def _lost_error(self) -> ConnectionClosedError:
        dropped = self._dropped
        if dropped is not None:
            # We dropped TCP for a reason of ours (abort with a code): say which. Not a
            # clean end (by_server=True keeps it an error): the peer stopped answering.
            code, reason = dropped
            exc = ConnectionClosedError(code, reason, by_server=True)
            exc.args = (f"connection dropped by client: code {code} ({reason})",)
            return exc
        # RFC 6455 7.1.5: no close frame seen means 1006 (abnormal closure).
        return ConnectionClosedError(1006, "", by_server=not self._closing_by_us)

    # -- public operations --------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while messages may be sent."""
        return self._reader is not None and not self._close_sent and not self._lost

    @property
    def protocol_error(self) -> ProtocolError | None:
        """The protocol violation that failed this connection, if any."""
        fail = self._fail_code
        if fail is None:
            return None
        return ProtocolError(fail[1], fail[0])

    def send_message(self, payload: bytes, text: bool) -> None:
        """Write one data message (compressed when negotiated and large enough)."""
        # is_open and _write inlined: the hot path of every send.
        if self._close_sent or self._lost or self._reader is None:
            raise self._closed_error()
        if self._debug:
            # Sizes only: outgoing payloads carry logins and signatures (often positional,
            # e.g. {"op": "auth", "args": [key, expires, signature]}) no filter can spot.
            _frames_logger.debug("> %s %d bytes", "text" if text else "binary", len(payload))
        threaded = self._threaded
        if threaded is None:
            transport = self._transport
            if transport is None or transport.is_closing():
                return
            frame = self._writer.message(payload, text=text)
            transport.write(frame)
            self.bytes_sent += len(frame)
            if self._tap is not None:
                self._tap.on_wire(frame, True)
            return
        with threaded.lock:
            # Built under the lock too: compressed frames must reach the wire in the order
            # they were compressed (RFC 7692 context takeover).
            self._write_locked(threaded, self._writer.message(payload, text=text))

    def send_frames(self, payloads: Sequence[bytes], text: bool) -> None:
        """Write several data messages in one transport write."""
        if not self.is_open:
            raise self._closed_error()
        message = self._writer.message
        if self._debug:
            _frames_logger.debug(
                "> %d %s messages, %d bytes",
                len(payloads),
                "text" if text else "binary",
                sum(map(len, payloads)),
            )
        threaded = self._threaded
        if threaded is None:
            self._write(b"".join([message(p, text=text) for p in payloads]))
            return
        with threaded.lock:
            self._write_locked(threaded, b"".join([message(p, text=text) for p in payloads]))

    # -- writes from other threads (the sync facade) ----------------------------------

    def enable_thread_writes(self, shared: ThreadSends) -> None:
        """Let other threads send with :meth:`write_from_thread` (call on the loop thread).

        From now on every write of this connection takes ``shared.lock`` (shared with the
        client's other connections); messages sent by threads are counted in
        ``shared.sent``.
        """
        if self._threaded is not None:
            return
        fd = direct_fd(self._transport)
        self._threaded = ThreadWrites(shared, asyncio.get_running_loop(), fd)

    def write_from_thread(self, payload: bytes, text: bool) -> bool:
        """Send one data message from a thread other than the loop's; False: not done.

        The frame is written on the socket at once when nothing waits before it (plain
        TCP on asyncio's selector loop: what ``websockets.sync`` does, without a hop to
        the loop thread); otherwise, or for what the socket did not take, it is handed
        to the loop, which writes it before anything else. False (nothing sent) when the
        connection is not open, writes are paused (backpressure) or too much is already
        handed over: the caller then sends through the loop and waits.
        """
        threaded = self._threaded
        if threaded is None or self._tap is not None:
            return False  # a tap (a recorder) is fed on the loop thread only
        with threaded.lock:
            if self._close_sent or self._lost or self._reader is None or self.write_paused:
                return False
            transport = self._transport
            if transport is None or transport.is_closing():
                return False
            pending = threaded.pending
            if pending is not None and len(pending) >= PENDING_LIMIT:
                return False
            if self._debug:
                _frames_logger.debug("> %s %d bytes", "text" if text else "binary", len(payload))
            frame = self._writer.message(payload, text=text)
            size = len(frame)
            threaded.shared.sent += 1
            self.bytes_sent += size
            if pending is not None:
                pending += frame
                return True
            fd = threaded.fd
            if fd is not None and not transport.get_write_buffer_size():
                # The transport holds nothing: its socket is ours to write on, as its own
                # write() would (a non-blocking send; the rest is buffered).
                try:
                    written = os.write(fd, frame)
                except (BlockingIOError, InterruptedError):
                    written = 0
                except OSError:
                    # The loop's write meets the same error and fails the connection.
                    written = 0
                if written == size:
                    return True
                frame = frame[written:]
            threaded.pending = bytearray(frame)
            try:
                threaded.loop.call_soon_threadsafe(self._flush_pending)
            except RuntimeError:  # the loop is closed: nothing will be written
                threaded.pending = None
            return True

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping frame (RFC 6455 5.5.2)."""
        if self.is_open:
            if self._debug:
                _frames_logger.debug("> ping %s", payload[:_FRAME_EXCERPT].hex())
            self._write(self._writer.ping(payload))

    def _closed_error(self) -> ConnectionClosedError:
        if self._fail_code is not None:
            code, reason = self._fail_code
            return ConnectionClosedError(code, reason, by_server=False)
        if self._close_received is not None:
            code, reason = self._close_received
            return ConnectionClosedError(code, reason, by_server=not self._closing_by_us)
        return self._lost_error()

    def closed_error(self) -> ConnectionClosedError:
        """The error describing why this connection no longer accepts messages."""
        return self._closed_error()

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        while self.write_paused and not self._lost:
            waiter = self._drain_waiter
            if waiter is None or waiter.done():
                waiter = asyncio.get_running_loop().create_future()
                self._drain_waiter = waiter
            await waiter

    def pause_reading(self) -> None:
        """Stop reading the socket (the consumer is behind: TCP backpressure)."""
        if self._transport is not None and not self._lost:
            self._transport.pause_reading()
            self.reading_paused = True

    def resume_reading(self) -> None:
        """Resume reading the socket."""
        if self._transport is not None and not self._lost:
            self._transport.resume_reading()
            self.reading_paused = False
            # Time spent paused is not silence from the peer (idle and heartbeat checks).
            self.last_received = time.monotonic()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Run the closing handshake (RFC 6455 7.1.2) bounded by ``close_timeout``."""
        self._closing_by_us = True
        if self._transport is None or self._lost:
            return
        if not self._close_sent:
            self._send_close(code, reason)
        try:
            # asyncio.timeout, not wait_for: no task per close (many connections close).
            async with asyncio.timeout(self._close_timeout):
                await asyncio.shield(self._closed)
        except builtins.TimeoutError:
            self.abort()
            await self._closed

    def abort(self, code: int | None = None, reason: str = "") -> None:
        """Drop the TCP connection now.

        Args:
            code: Why, as a close code (e.g. 1011 with ``reason="heartbeat timeout"``,
                as websockets reports a keepalive timeout). The connection is then
                reported lost with this code and reason instead of 1006, and a close frame
                carrying them is attempted first (best effort: the peer is likely gone).
            reason: Explanation (at most 123 UTF-8 bytes are sent).
        """
        transport = self._transport
        if transport is None or self._lost:
            return
        if code is not None and self._dropped is None and self._close_received is None:
            reason = reason.encode()[:123].decode(errors="ignore")
            self._dropped = (code, reason)
            if self._reader is not None and not self._close_sent:
                # A code one may not send (1006, ...) is reported all the same.
                with contextlib.suppress(ValueError):
                    self._send_close(code, reason)
        transport.abort()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is gone."""
        await asyncio.shield(self._closed)
