"""Builder of client-to-server WebSocket frames (RFC 6455 section 5).

Every frame a client sends is masked with a fresh, unpredictable 4-byte key (section 5.3:
"The masking key needs to be unpredictable ... derived from a strong source of entropy").
Keys are cut from a per-writer pool of ``os.urandom`` bytes refilled 4 KiB at a time (one
system call per 1024 frames); the payload is masked by ``websockets``' C ``apply_mask``.

Data messages of at least ``compression_threshold`` bytes are compressed when
permessage-deflate was negotiated (RFC 7692 section 7.2.1), honouring
``local_no_context_takeover`` and ``local_max_window_bits``.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any, Final

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.speedups import apply_mask

from jetsocket._protocol._closecodes import is_receivable_close_code

__all__ = ["FrameWriter"]

_POOL_SIZE: Final = 4096


class _MaskPool:
    """Random bytes for masking keys, drawn from ``os.urandom`` 4 KiB at a time.

    One pool for the process (not one per connection: idle connections cost memory). Two
    threads racing here could reuse a key once; keys stay unpredictable, which is what
    RFC 6455 section 5.3 asks of them.
    """

    __slots__ = ("data", "pos")

    def __init__(self) -> None:
        self.data = b""
        self.pos = _POOL_SIZE


_MASKS = _MaskPool()
# Header layouts (section 5.2) with the MASK bit set and the masking key appended.
_SHORT: Final = struct.Struct("!BB4s")
_MEDIUM: Final = struct.Struct("!BBH4s")
_LONG: Final = struct.Struct("!BBQ4s")


class FrameWriter:
    """Build masked client frames, one complete frame per call.

    Args:
        deflate: The negotiated permessage-deflate parameters, or None. Read:
            ``local_no_context_takeover``, ``local_max_window_bits`` and
            ``compress_settings``.
        compression_threshold: Data messages shorter than this are sent uncompressed
            (RFC 7692 section 6: compression is decided per message, RSV1 clear).
    """

    __slots__ = ("_encoder", "_nct", "_settings", "_threshold", "_wbits")

    def __init__(
        self,
        *,
        deflate: PerMessageDeflate | None = None,
        compression_threshold: int = 128,
    ) -> None:
        self._encoder: zlib._Compress | None = None
        if deflate is None:
            self._threshold: int | None = None
            self._nct = False
            self._wbits = -15
            self._settings: dict[str, Any] = {}
        else:
            self._threshold = max(0, compression_threshold)
            self._nct = deflate.local_no_context_takeover
            # NegotiatedDeflate stores the effective zlib settings here (wbits 9 with
            # strategy Z_RLE when the server asked for an 8-bit window).
            self._wbits = -deflate.local_max_window_bits
            self._settings = dict(deflate.compress_settings or {})

    def _frame(self, b0: int, payload: bytes | bytearray | memoryview) -> bytes:
        pool = _MASKS
        pos = pool.pos
        if pos >= _POOL_SIZE:
            pool.data = os.urandom(_POOL_SIZE)
            pos = 0
        pool.pos = pos + 4
        mask = pool.data[pos : pos + 4]
        n = len(payload)
        if n < 126:
            head = _SHORT.pack(b0, 0x80 | n, mask)
        elif n < 65536:
            head = _MEDIUM.pack(b0, 0xFE, n, mask)
        else:
            head = _LONG.pack(b0, 0xFF, n, mask)
        return head + apply_mask(payload, mask)

    def message(self, payload: bytes | bytearray | memoryview, *, text: bool) -> bytes:
        """Build one complete (FIN) masked data frame, compressed when worthwhile.

        Args:
            payload: The message; for text, its UTF-8 encoding (not re-validated).
            text: Text (opcode 0x1) or binary (0x2).

        Returns:
            The frame, ready to write.
        """
        b0 = 0x81 if text else 0x82
        threshold = self._threshold
        if threshold is not None and len(payload) >= threshold:
            # RFC 7692 section 6: RSV1 marks the first frame of a compressed message.
            # Incompressible data is compressed all the same: some peers (Autobahn's
            # 12.x/13.x cases) mishandle uncompressed messages once deflate is negotiated.
            b0 |= 0x40
            payload = self._compress(payload)
        return self._frame(b0, payload)

    def _compress(self, payload: bytes | bytearray | memoryview) -> bytes:
        """Deflate one message (RFC 7692 section 7.2.1)."""
        encoder = self._encoder
        if encoder is None:
            encoder = zlib.compressobj(wbits=self._wbits, **self._settings)
            if not self._nct:
                # Context takeover: the LZ77 window carries over to the next message.
                self._encoder = encoder
        data = encoder.compress(payload) + encoder.flush(zlib.Z_SYNC_FLUSH)
        # The sync flush ends with an empty stored block 00 00 ff ff, which the sender
        # removes (section 7.2.1) and the receiver appends back.
        return data[:-4]

    def ping(self, payload: bytes = b"") -> bytes:
        """Build a ping frame.

        Args:
            payload: Application data, at most 125 bytes (section 5.5).

        Returns:
            The frame.

        Raises:
            ValueError: If the payload is longer than 125 bytes.
        """
        return self._control(0x89, payload)

    def pong(self, payload: bytes) -> bytes:
        """Build a pong frame (section 5.5.3: echo the ping's payload).

        Args:
            payload: Application data, at most 125 bytes.

        Returns:
            The frame.

        Raises:
            ValueError: If the payload is longer than 125 bytes.
        """
        return self._control(0x8A, payload)

    def _control(self, b0: int, payload: bytes) -> bytes:
        # Section 5.5: control frames carry at most 125 bytes.
        if len(payload) > 125:
            raise ValueError("control frame payload must be at most 125 bytes")
        return self._frame(b0, payload)

    def close(self, code: int | None = 1000, reason: str = "") -> bytes:
        """Build a close frame (section 5.5.1).

        Args:
            code: Close status code (section 7.4: 1000-1003, 1007-1014 or 3000-4999), or
                None for a close frame without payload.
            reason: UTF-8 reason, at most 123 bytes once encoded; must be empty when
                ``code`` is None.

        Returns:
            The frame.

        Raises:
            ValueError: On an invalid code, a reason without code or a reason too long.
        """
        if code is None:
            if reason:
                raise ValueError("a close reason requires a close code")
            return self._frame(0x88, b"")
        if not is_receivable_close_code(code):
            raise ValueError(f"invalid close code {code}")
        payload = code.to_bytes(2) + reason.encode()
        if len(payload) > 125:
            raise ValueError("close reason must be at most 123 bytes in UTF-8")
        return self._frame(0x88, payload)
