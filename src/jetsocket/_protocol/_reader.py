"""Sans-I/O batch parser of server-to-client WebSocket frames (RFC 6455 section 5).

:class:`FrameReader` turns the bytes received from the server into complete data messages.
One :meth:`FrameReader.feed` call parses *every* complete frame of the chunk in one loop:
the common case (an unfragmented, uncompressed text or binary frame) is handled inline
with integer operations on ``bytes``, one slice per payload and no per-frame objects;
everything else (control frames, fragments, compression, errors) goes through slower
methods. Only an incomplete trailing frame is copied into a leftover buffer, and a large
frame arriving over many chunks is accumulated in a ``bytearray`` without re-parsing.

Every rule of RFC 6455 that concerns a client receiving frames is enforced; the close code
of a violation is in ``FrameReader.error.code``:

========================================================  =====  ===========================
violation                                                  code   RFC 6455
========================================================  =====  ===========================
RSV1 without permessage-deflate, RSV2/RSV3 ever            1002   5.2 (RFC 7692 section 6)
RSV1 on a control or continuation frame                    1002   RFC 7692 section 6
unknown opcode (3-7, 11-15)                                1002   5.2
masked frame from the server                               1002   5.1
64-bit length with the most significant bit set            1002   5.2
control frame longer than 125 bytes or fragmented          1002   5.5
continuation without a started message                     1002   5.4
new text/binary frame inside a fragmented message          1002   5.4
close payload of 1 byte, invalid close code                1002   5.5.1, 7.4
close reason not UTF-8                                     1007   5.5.1
text message not UTF-8 (checked incrementally, fail fast)  1007   5.6, 8.1
compressed payload that does not inflate                   1007   RFC 7692 section 6.2
message larger than ``max_message_size``                   1009   7.4.1
========================================================  =====  ===========================

Choices where the RFCs leave room:

* Non-minimal length encodings (e.g. a 5-byte payload announced with the 16-bit form) are
  *accepted*: section 5.2 says the *sender* MUST use the minimal form, but rejecting them
  buys no safety and the Autobahn suite does not test it.
* ``max_message_size`` is checked from the frame header, before the payload is buffered,
  cumulatively across the fragments of a message. For compressed messages it applies to the
  *decompressed* size, which zlib is never allowed to exceed (``decompress(max_length=)``),
  so a zip bomb costs at most ``max_message_size`` bytes; the compressed size of a single
  frame is bounded by the same limit plus the worst-case deflate overhead (stored blocks).
* A compressed message may end with a BFINAL block instead of the usual sync flush (RFC
  7692 section 7.2.3.4): the next message then starts a new deflate stream.
* A payload that fails to inflate closes with 1007 (invalid payload data, RFC 6455 section
  7.4.1); RFC 7692 section 6.2 only says to fail the connection (``websockets`` uses 1002).
* Close codes accepted from the server (section 7.4): 1000-1003, 1007-1014 (IANA
  registered) and 3000-4999. 1004-1006, 1015, 1016-2999 and >= 5000 are refused (1002).
* UTF-8 of a text frame still being received is validated as its bytes arrive, so an
  invalid sequence fails the connection before the frame is complete (Autobahn 6.4.3/4).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from websockets.extensions.permessage_deflate import PerMessageDeflate

from jetsocket._exceptions import MessageTooBigError, ProtocolError
from jetsocket._protocol._closecodes import is_receivable_close_code

__all__ = [
    "DEFAULT_MAX_FRAGMENTS",
    "QUEUE_ITER",
    "READER_IMPL",
    "TAKE_BATCH",
    "FrameReader",
]

_logger = logging.getLogger("jetsocket.protocol")

#: Fragments accepted in one message (RFC 6455 section 5.4 sets no limit). Without a cap,
#: a server sending empty continuation frames for ever keeps a message open at size 0, so
#: ``max_message_size`` never trips while the reader loops (and, with 1-byte fragments,
#: pays ~40 bytes of bookkeeping per byte). Twice the most fragmented Autobahn case
#: (9.3.1: 4 MiB in 64-byte frames, 65 536 fragments); a server that fragments a 64 MiB
#: message into 4 KiB frames sends 16 384.
DEFAULT_MAX_FRAGMENTS: Final = 1 << 17

# -- the compiled scanner (optional) ------------------------------------------------------
# _speedups.scan(buf, pos, out, text_as_str, max_size) -> pos consumes the run of common
# frames (complete, unfragmented, uncompressed text/binary, valid UTF-8, within max_size)
# and stops at anything else, which the Python loop below re-checks: it never decides an
# error itself, so both paths behave identically. With a decoder it also decodes each of
# those messages (see FrameReader's ``decode``). See _speedups.c.
_Scan = Callable[..., int]
_SCAN_API: Final = 4


_SOURCE: Final = Path(__file__).with_name("_speedups.c")


def _load_scanner(source: Path = _SOURCE) -> tuple[_Scan | None, str]:
    """Return the compiled scanner (or None) and why, honouring ``JETSOCKET_PURE``.

    Args:
        source: The C source the module must have been compiled from (its SHA-256 is
            compiled into the module); a stale build is ignored.
    """
    if os.environ.get("JETSOCKET_PURE", "") not in ("", "0"):
        return None, "pure (JETSOCKET_PURE is set)"
    try:
        from jetsocket._protocol import _speedups  # noqa: PLC0415 - optional extension
    except ImportError:
        return None, "pure (compiled scanner not built)"
    if getattr(_speedups, "SCAN_API", None) != _SCAN_API:
        return None, "pure (compiled scanner is stale: API mismatch; reinstall to rebuild)"
    try:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError:
        digest = None  # the source is not installed: nothing to be stale against
    if digest is not None and digest != getattr(_speedups, "SOURCE_HASH", None):
        # An editable install whose C source changed since it was compiled.
        return None, "pure (compiled scanner is stale: _speedups.c changed; reinstall)"
    return _speedups.scan, "compiled"


_SCAN, _SCAN_STATUS = _load_scanner()

#: The compiled ``take_batch(deque, marker_type)`` of ``_speedups.c`` (used by
#: ``MessageQueue.batches``), present exactly when the compiled scanner is; else None.
TAKE_BATCH: Callable[[Any, type], list[Any]] | None = None
#: The compiled ``QueueIter`` type (``MessageQueue.iterate_async``), or None.
QUEUE_ITER: Callable[..., Any] | None = None
if _SCAN is not None:
    from jetsocket._protocol import _speedups

    TAKE_BATCH = _speedups.take_batch
    QUEUE_ITER = _speedups.QueueIter
if _SCAN is None:
    _logger.debug("frame reader: %s", _SCAN_STATUS)

#: ``"compiled"`` when the compiled frame scanner is in use, else ``"pure"``.
READER_IMPL: Final = "compiled" if _SCAN is not None else "pure"

# RFC 7692 section 7.2.2: the receiver appends 0x00 0x00 0xff 0xff (an empty stored block
# that the sender removed) before inflating the last frame of a message.
_TAIL: Final = b"\x00\x00\xff\xff"
# Below this size appending the tail by concatenation is cheaper than a second
# decompress() call (same trade-off as websockets).
_CONCAT_TAIL_BELOW: Final = 2044

# "No limit": still a valid Py_ssize_t for zlib's max_length after adding 1.
_NO_LIMIT: Final = 1 << 62


_Utf8Decoder: Final = codecs.getincrementaldecoder("utf-8")


class FrameReader:
    """Parse the frames a server sends into complete messages (Sans-I/O, no sockets).

    Args:
        max_message_size: Largest message accepted, in bytes (after decompression);
            larger messages fail with :class:`~jetsocket.MessageTooBigError` (1009).
            None disables the limit.
        text_as_str: Return text messages as ``str`` (True) or as UTF-8 ``bytes`` (False,
            validated all the same).
        deflate: The negotiated permessage-deflate parameters, or None. Only
            ``remote_no_context_takeover`` and ``remote_max_window_bits`` are read.
        max_fragments: Most frames one message may span (:data:`DEFAULT_MAX_FRAGMENTS`);
            more fail with :class:`~jetsocket.MessageTooBigError` (1009). None disables
            the limit.
        decode: A pure payload decoder (the engine's msgspec decoder) that the compiled
            scanner applies to the messages it parses, as it parses them (see
            :meth:`feed_decoded`). Ignored by the pure-Python reader and when
            ``text_as_str`` is true: :attr:`decoding` says whether it is used.
        copy_payloads: Give ``decode`` a bytes copy of each payload instead of a
            read-only view into the received chunk (for decoders whose results may keep
            the view, e.g. ``msgspec.Raw`` fields: a copy keeps only the payload alive).

    Attributes:
        control: Ping ``(0x9, payload)`` and pong ``(0xA, payload)`` frames, in arrival
            order; the caller processes and clears the list.
        close: ``(code, reason)`` of the server's close frame (``(1005, "")`` when empty),
            None until one arrives. Bytes after it are ignored.
        error: The protocol violation that stopped parsing, or None.
    """

    __slots__ = (
        "_buf",
        "_copy",
        "_decode",
        "_done",
        "_frag_comp",
        "_frag_count",
        "_frag_dec",
        "_frag_op",
        "_frag_parts",
        "_frag_size",
        "_inflater",
        "_max",
        "_max_frags",
        "_need",
        "_pend_b0",
        "_pend_dec",
        "_pend_start",
        "_pend_text",
        "_raw_at",
        "_raw_from",
        "_remote_bits",
        "_remote_nct",
        "_rsv_ok",
        "_scan",
        "_text_as_str",
        "_wire_max",
        "close",
        "control",
        "error",
    )

    def __init__(
        self,
        *,
        max_message_size: int | None,
        text_as_str: bool,
        deflate: PerMessageDeflate | None = None,
        max_fragments: int | None = DEFAULT_MAX_FRAGMENTS,
        decode: Callable[[Any], Any] | None = None,
        copy_payloads: bool = False,
    ) -> None:
        self.control: list[tuple[int, bytes]] = []
        self.close: tuple[int, str] | None = None
        self.error: ProtocolError | None = None
        limit = _NO_LIMIT if max_message_size is None else max(0, max_message_size)
        self._max = limit
        # Deflate can expand incompressible data by 5 bytes per 64 KiB stored block: allow
        # for that on the wire size of one compressed frame (its inflated size is checked
        # exactly while inflating).
        self._wire_max = limit + (limit >> 12) + 1024
        self._text_as_str = text_as_str
        self._max_frags = _NO_LIMIT if max_fragments is None else max(1, max_fragments)
        # The compiled scanner, chosen once per connection (tests swap the module global).
        self._scan: _Scan | None = _SCAN
        # Decoding while scanning: compiled path, payloads as bytes (see feed_decoded).
        self._decode = decode if self._scan is not None and not text_as_str else None
        self._copy = copy_payloads
        # The undecoded indices of the feed_decoded() call in progress (None outside one).
        self._raw_at: list[int] | None = None
        self._raw_from = 0
        # RFC 6455 section 5.2: RSV bits MUST be 0 unless an extension defines them;
        # permessage-deflate defines RSV1 (RFC 7692 section 6).
        self._rsv_ok = 0x40 if deflate is not None else 0
        self._remote_nct = deflate.remote_no_context_takeover if deflate is not None else False
        # A decoder with a window at least as large as the sender's decodes its stream; 9 is
        # used for 8 because zlib < 1.2.9 silently compressed with 9 when asked for 8.
        self._remote_bits = max(9, deflate.remote_max_window_bits) if deflate is not None else 15
        self._inflater: zlib._Decompress | None = None
        # Leftover: an incomplete frame from its first byte (None when there is none: an
        # idle connection keeps no empty buffer). _need is its total size when the header
        # is known (0 while the header itself is incomplete).
        self._buf: bytearray | None = None
        self._need = 0
        self._pend_b0 = 0
        self._pend_start = 0
        self._pend_text = False  # the pending frame's payload is UTF-8 to validate early
        self._pend_dec: codecs.IncrementalDecoder | None = None
        self._done = False
        # Fragmented message in progress (RFC 6455 section 5.4): opcode (0 = none).
        self._frag_op = 0
        self._frag_comp = False
        # str (text_as_str) or bytes; None outside a fragmented message.
        self._frag_parts: list[Any] | None = None
        self._frag_size = 0
        self._frag_count = 0
        self._frag_dec: codecs.IncrementalDecoder | None = None

    # ------------------------------------------------------------------ hot path

    @property
    def decoding(self) -> bool:
        """True when :meth:`feed_decoded` decodes (a decoder and the compiled scanner)."""
        return self._decode is not None

    def feed_decoded(self, data: bytes | bytearray | memoryview) -> tuple[list[Any], list[int]]:
        """:meth:`feed`, with the messages the compiled scanner parses already decoded.

        Returns:
            ``(messages, raw_at)``: the messages in order, each ``decode(payload)``
            except those at the indices ``raw_at`` (ascending), which are payloads exactly
            as :meth:`feed` returns them: the ones the Python loop parsed (control frames
            in between, fragmented or compressed messages, frames split across reads)
            and the ones ``decode`` rejected. The caller decodes those itself, as it
            decodes every message of :meth:`feed`.
        """
        if self._decode is None:
            out = self.feed(data)
            return out, list(range(len(out)))
        raw_at: list[int] = []
        self._raw_at = raw_at
        self._raw_from = 0
        try:
            out = self.feed(data)
        finally:
            self._raw_at = None
        if len(out) > self._raw_from:
            raw_at.extend(range(self._raw_from, len(out)))
        return out, raw_at

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes | str]:
        """Parse every complete frame of the buffered bytes plus ``data``.

        Args:
            data: Bytes received from the server.

        Returns:
            The complete data messages, in order: text as ``str`` (or UTF-8 ``bytes`` when
            ``text_as_str`` is False), binary as ``bytes``. Messages completed before a
            protocol violation or a close frame are returned; afterwards ``[]``.
        """
        if self._done:
            return []
        if type(data) is not bytes:
            data = bytes(data)
        out: list[bytes | str] = []
        pos = 0
        if self._buf:
            if self._need:
                # A frame whose header is known is being accumulated.
                buf_ = self._buf
                missing = self._need - len(buf_)
                if len(data) < missing:
                    buf_ += data
                    if self._pend_text:
                        self._check_partial_utf8(data)
                    return out
                buf_ += memoryview(data)[:missing]
                with memoryview(buf_) as view:
                    payload = bytes(view[self._pend_start :])
                self._buf = None
                self._need = 0
                self._pend_dec = None
                self._pend_text = False
                if not self._frame(self._pend_b0, payload, out):
                    return out
                pos = missing
                buf = data
            else:
                # Only part of a header was buffered: small, so concatenating is cheap.
                buf = bytes(self._buf) + data
                self._buf = None
        else:
            buf = data

        n = len(buf)
        max_size = self._max
        in_frag = self._frag_op
        text_as_str = self._text_as_str
        append = out.append
        scan = self._scan
        need = 0
        while True:
            if scan is not None and not in_frag:
                # The compiled scanner consumes the run of common frames and stops at the
                # first frame it does not handle, which the code below then processes.
                raw_at = self._raw_at
                if raw_at is None:
                    pos = scan(buf, pos, out, text_as_str, max_size)
                else:
                    # feed_decoded: what the Python loop appended since the last scan is
                    # undecoded; the scanner adds the payloads the decoder rejected.
                    if len(out) > self._raw_from:
                        raw_at.extend(range(self._raw_from, len(out)))
                    pos = scan(buf, pos, out, False, max_size, self._decode, raw_at, self._copy)
                    self._raw_from = len(out)
                if pos >= n:
                    # The scanner consumed the chunk (the usual end of a compiled feed):
                    # stop here rather than through the IndexError below, which costs a
                    # raised exception per chunk (one per message on request/response).
                    break
            # An IndexError means the header is incomplete (or pos == n): exceptions
            # are free until raised, cheaper than checking the bytes left per frame.
            try:
                b0 = buf[pos]
                b1 = buf[pos + 1]
                if b1 < 126:
                    # Also proves the MASK bit is clear.
                    start = pos + 2
                    end = start + b1
                elif b1 == 126:
                    start = pos + 4
                    end = start + ((buf[pos + 2] << 8) | buf[pos + 3])
                elif b1 == 127:
                    start = pos + 10
                    if start > n:
                        break
                    length = int.from_bytes(buf[pos + 2 : start])
                    if length >> 63:
                        self._fail(1002, "64-bit payload length with the most significant bit set")
                        return out
                    end = start + length
                else:
                    # RFC 6455 section 5.1: a client MUST close the connection if it
                    # detects a masked frame.
                    self._fail(1002, "masked frame from the server")
                    return out
            except IndexError:
                break

            # Unfragmented, uncompressed text or binary is the common case. Anything else
            # has its header validated now, so that a violation is reported without
            # waiting for the payload.
            common = b0 in (0x81, 0x82) and not in_frag
            if common:
                if end - start > max_size:
                    self._too_big(end - start)
                    return out
            elif not self._check_header(b0, end - start):
                return out
            if end > n:
                need = end - pos
                break
            payload = buf[start:end]
            pos = end
            if common:
                if b0 == 0x82:
                    append(payload)
                elif text_as_str:
                    try:
                        append(payload.decode())
                    except UnicodeDecodeError:
                        self._fail(1007, "invalid UTF-8 in a text message")
                        return out
                else:
                    if not payload.isascii():
                        try:
                            payload.decode()
                        except UnicodeDecodeError:
                            self._fail(1007, "invalid UTF-8 in a text message")
                            return out
                    append(payload)
                continue
            if not self._frame(b0, payload, out):
                return out
            in_frag = self._frag_op

        if pos < n:
            self._buf = bytearray(memoryview(buf)[pos:])
            self._need = need
            if need:
                self._pend_b0 = buf[pos]
                b1 = buf[pos + 1]
                start = 2 if b1 < 126 else 4 if b1 == 126 else 10
                self._pend_start = start
                self._start_partial_utf8(buf[pos + start :])
        return out

    # ------------------------------------------------------------------ slow path

    def _check_header(self, b0: int, length: int) -> bool:
        """Validate a frame header against the state (RFC 6455 sections 5.2-5.5)."""
        opcode = b0 & 0x0F
        rsv = b0 & 0x70
        if opcode >= 8:
            if opcode > 10:
                return self._fail(1002, f"unknown opcode {opcode:#x}")
            if rsv:
                return self._fail(1002, "RSV bit set on a control frame")
            if not b0 & 0x80:
                return self._fail(1002, "fragmented control frame")
            if length > 125:
                return self._fail(1002, "control frame payload longer than 125 bytes")
            return True
        if opcode > 2:
            return self._fail(1002, f"unknown opcode {opcode:#x}")
        if rsv & ~self._rsv_ok:
            return self._fail(1002, "RSV bit set without a negotiated extension")
        if opcode == 0:
            if not self._frag_op:
                return self._fail(1002, "continuation frame without a message to continue")
            if rsv:
                return self._fail(1002, "RSV1 set on a continuation frame")
            if self._frag_count >= self._max_frags:
                # RFC 6455 section 7.4.1: 1009, a message "too big for it to process"
                # (in frames rather than bytes: see DEFAULT_MAX_FRAGMENTS).
                self.error = MessageTooBigError(
                    f"message of more than {self._max_frags} fragments exceeds "
                    f"max_fragments={self._max_frags}"
                )
                self._stop()
                return False
            if self._frag_comp:
                if length > self._wire_max:
                    return self._too_big(length)
            elif self._frag_size + length > self._max:
                return self._too_big(self._frag_size + length)
            return True
        if self._frag_op:
            return self._fail(1002, "new data frame inside a fragmented message")
        if length > (self._wire_max if rsv else self._max):
            return self._too_big(length)
        return True

    def _frame(self, b0: int, payload: bytes, out: list[bytes | str]) -> bool:
        """Process one complete frame whose header passed :meth:`_check_header`."""
        opcode = b0 & 0x0F
        if opcode >= 8:
            if opcode == 8:
                self._close_frame(payload)
                return False
            self.control.append((opcode, payload))
            return True
        fin = b0 & 0x80
        if opcode:
            compressed = bool(b0 & 0x40)
            if fin:
                if compressed:
                    inflated = self._inflate(payload, True, self._max, new_message=True)
                    if inflated is None:
                        return False
                    payload = inflated
                return self._deliver(opcode, payload, out)
            # First fragment (RFC 6455 section 5.4).
            self._frag_op = opcode
            self._frag_comp = compressed
            if compressed:
                inflated = self._inflate(payload, False, self._max, new_message=True)
                if inflated is None:
                    return False
                payload = inflated
            self._frag_size = len(payload)
            self._frag_count = 1
            if opcode == 1:
                decoder = self._frag_dec = _Utf8Decoder()
                try:
                    text = decoder.decode(payload, False)
                except UnicodeDecodeError:
                    return self._fail(1007, "invalid UTF-8 in a text message")
                self._frag_parts = [text] if self._text_as_str else [payload]
            else:
                self._frag_parts = [payload]
            return True
        # Continuation (only reached inside a fragmented message: _check_header).
        parts = self._frag_parts
        assert parts is not None
        self._frag_count += 1
        if self._frag_comp:
            inflated = self._inflate(payload, bool(fin), self._max - self._frag_size)
            if inflated is None:
                return False
            payload = inflated
        self._frag_size += len(payload)
        if self._frag_op == 1:
            assert self._frag_dec is not None
            try:
                text = self._frag_dec.decode(payload, bool(fin))
            except UnicodeDecodeError:
                return self._fail(1007, "invalid UTF-8 in a text message")
            # Empty parts are not kept: a flood of empty continuations costs no memory.
            if self._text_as_str:
                if text:
                    parts.append(text)
            elif payload:
                parts.append(payload)
        elif payload:
            parts.append(payload)
        if fin:
            if self._frag_op == 1 and self._text_as_str:
                out.append("".join(parts))
            else:
                out.append(parts[0] if len(parts) == 1 else b"".join(parts))
            self._frag_op = 0
            self._frag_comp = False
            self._frag_parts = None
            self._frag_size = 0
            self._frag_count = 0
            self._frag_dec = None
        return True

    def _deliver(self, opcode: int, payload: bytes, out: list[bytes | str]) -> bool:
        """Append one complete, unfragmented (already inflated) message."""
        if opcode == 2 or (not self._text_as_str and payload.isascii()):
            out.append(payload)
            return True
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            return self._fail(1007, "invalid UTF-8 in a text message")
        out.append(text if self._text_as_str else payload)
        return True

    def _close_frame(self, payload: bytes) -> None:
        """Record the server's close frame (RFC 6455 section 5.5.1)."""
        if not payload:
            self.close = (1005, "")
        elif len(payload) == 1:
            self._fail(1002, "close frame with a 1-byte payload")
            return
        else:
            code = (payload[0] << 8) | payload[1]
            if not is_receivable_close_code(code):
                self._fail(1002, f"invalid close code {code}")
                return
            try:
                reason = payload[2:].decode()
            except UnicodeDecodeError:
                self._fail(1007, "close reason is not valid UTF-8")
                return
            self.close = (code, reason)
        self._stop()

    def _inflate(
        self, data: bytes, fin: bool, limit: int, *, new_message: bool = False
    ) -> bytes | None:
        """Inflate one compressed frame, never producing more than ``limit`` bytes.

        RFC 7692 section 7.2.2: the frames of a message form one deflate stream; the tail
        ``00 00 ff ff`` is appended after the last one. With context takeover the same
        inflater (and its window) carries over to the next message.
        """
        inflater = self._inflater
        if inflater is None or (new_message and self._remote_nct):
            inflater = self._inflater = zlib.decompressobj(wbits=-self._remote_bits)
        elif inflater.eof:
            # A message ended with a BFINAL block (RFC 7692 section 7.2.3.4): the sender
            # finished its deflate stream, so the next message starts a new one.
            if new_message:
                inflater = self._inflater = zlib.decompressobj(wbits=-self._remote_bits)
            elif data:
                self._fail(1007, "compressed data after the final deflate block")
                return None
            else:
                return b""
        if not data and not fin:
            return b""
        # max_length=limit+1: getting limit+1 bytes proves the message is too big without
        # ever holding more than that; getting less proves zlib had nothing more to give.
        try:
            if fin and len(data) < _CONCAT_TAIL_BELOW:
                result = inflater.decompress(data + _TAIL, limit + 1)
            else:
                result = inflater.decompress(data, limit + 1)
                if fin and len(result) <= limit and not inflater.eof:
                    result += inflater.decompress(_TAIL, limit + 1 - len(result))
        except zlib.error as exc:
            self._fail(1007, f"invalid compressed data: {exc}")
            return None
        if len(result) > limit:
            self._too_big(self._max + 1)
            return None
        return result

    def _start_partial_utf8(self, part: bytes) -> None:
        """Begin validating the UTF-8 of an incomplete text frame as it arrives.

        Autobahn 6.4.3/6.4.4 expect a client to fail as soon as an invalid sequence is
        received (RFC 6455 section 8.1 allows failing fast), even mid-frame. ASCII-only
        data needs no decoder, so none is created until a non-ASCII byte shows up.

        Args:
            part: The payload bytes of the pending frame received so far.
        """
        b0 = self._pend_b0
        if b0 & 0x40:
            return  # compressed: only whole frames can be inflated
        opcode = b0 & 0x0F
        if opcode == 0:
            if self._frag_op != 1 or self._frag_comp or self._frag_dec is None:
                return
            state = self._frag_dec.getstate()
            if state[0]:
                # A code point straddles the fragment boundary: continue from the
                # message decoder's state without disturbing it.
                decoder = _Utf8Decoder()
                decoder.setstate(state)
                self._pend_dec = decoder
        elif opcode != 1:
            return
        self._pend_text = True
        self._check_partial_utf8(part)

    def _check_partial_utf8(self, data: bytes) -> None:
        decoder = self._pend_dec
        if decoder is None:
            if data.isascii():
                return
            decoder = self._pend_dec = _Utf8Decoder()
        try:
            decoder.decode(data, False)
        except UnicodeDecodeError:
            self._fail(1007, "invalid UTF-8 in a text message")

    def _too_big(self, size: int) -> bool:
        self.error = MessageTooBigError(
            f"message of {size} bytes or more exceeds max_message_size={self._max}"
        )
        self._stop()
        return False

    def _fail(self, code: int, message: str) -> bool:
        self.error = ProtocolError(message, code)
        self._stop()
        return False

    def _stop(self) -> None:
        self._done = True
        self._buf = None
        self._need = 0
        self._pend_dec = None
        self._pend_text = False
        self._frag_parts = None
        self._frag_dec = None
        self._inflater = None
