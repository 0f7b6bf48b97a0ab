"""FrameWriter: frames decoded by websockets' parser (unmasked) match what was written."""

from __future__ import annotations

import os
import zlib

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from jetsocket._protocol._deflate import NegotiatedDeflate
from jetsocket._protocol._writer import FrameWriter


def parse(data: bytes, extensions: list[PerMessageDeflate] | None = None) -> list[Frame]:
    """Parse client frames as a server would (websockets' reference parser)."""
    stream = StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    frames = []
    while stream.buffer:
        gen = Frame.parse(stream.read_exact, mask=True, extensions=extensions)
        with pytest.raises(StopIteration) as stop:
            next(gen)
        frames.append(stop.value.value)
    return frames


def split(data: bytes) -> tuple[int, int, bytes, bytes]:
    """(b0, length, mask, masked payload) of one frame."""
    b0, b1 = data[0], data[1]
    assert b1 & 0x80, "client frames must be masked"
    length, pos = b1 & 0x7F, 2
    if length == 126:
        length, pos = int.from_bytes(data[2:4]), 4
    elif length == 127:
        length, pos = int.from_bytes(data[2:10]), 10
    assert len(data) == pos + 4 + length
    return b0, length, data[pos : pos + 4], data[pos + 4 :]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 100_000])
@pytest.mark.parametrize("text", [True, False])
def test_message_round_trip(size: int, text: bool) -> None:
    payload = os.urandom(size)
    data = FrameWriter().message(payload, text=text)
    (frame,) = parse(data)
    assert frame.opcode is (Opcode.TEXT if text else Opcode.BINARY)
    assert frame.fin
    assert (frame.rsv1, frame.rsv2, frame.rsv3) == (False, False, False)
    assert frame.data == payload
    # Minimal length encoding (RFC 6455 section 5.2).
    header = 2 + 4 + (0 if size < 126 else 2 if size < 65536 else 8)
    assert len(data) == header + size


def test_bytes_like_payloads() -> None:
    w = FrameWriter()
    (frame,) = parse(w.message(bytearray(b"abc"), text=False))
    assert frame.data == b"abc"
    (frame,) = parse(w.message(memoryview(b"xyz"), text=True))
    assert frame.data == b"xyz"


def test_masks_are_fresh_and_applied() -> None:
    w = FrameWriter()
    payload = b"A" * 64
    masks = []
    for _ in range(3000):  # crosses the 4 KiB pool refill twice
        _, _, mask, masked = split(w.message(payload, text=False))
        masks.append(mask)
        assert bytes(b ^ mask[i % 4] for i, b in enumerate(masked)) == payload
    assert len(set(masks)) > 2990  # 32-bit random keys: collisions are very rare
    assert len({m for m in masks if m != b"\x00\x00\x00\x00"}) > 2990


def test_two_writers_use_different_masks() -> None:
    a = [split(FrameWriter().message(b"x", text=False))[2] for _ in range(50)]
    assert len(set(a)) > 45


def test_ping_pong() -> None:
    w = FrameWriter()
    frames = parse(w.ping() + w.ping(b"abc") + w.pong(b"p" * 125))
    assert [(f.opcode, f.data, f.fin) for f in frames] == [
        (Opcode.PING, b"", True),
        (Opcode.PING, b"abc", True),
        (Opcode.PONG, b"p" * 125, True),
    ]
    with pytest.raises(ValueError, match="125"):
        w.ping(b"x" * 126)
    with pytest.raises(ValueError, match="125"):
        w.pong(b"x" * 126)


def test_close_frames() -> None:
    w = FrameWriter()
    frames = parse(w.close() + w.close(4000, "bye ☺") + w.close(None) + w.close(1001, "r" * 123))
    assert [(f.opcode, f.data) for f in frames] == [
        (Opcode.CLOSE, b"\x03\xe8"),
        (Opcode.CLOSE, b"\x0f\xa0" + "bye ☺".encode()),
        (Opcode.CLOSE, b""),
        (Opcode.CLOSE, b"\x03\xe9" + b"r" * 123),
    ]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_close_invalid_code(code: int) -> None:
    with pytest.raises(ValueError, match="invalid close code"):
        FrameWriter().close(code)


def test_close_reason_rules() -> None:
    w = FrameWriter()
    with pytest.raises(ValueError, match="123"):
        w.close(1000, "é" * 62)  # 124 bytes in UTF-8
    with pytest.raises(ValueError, match="requires a close code"):
        w.close(None, "reason")


# ----------------------------------------------------------------------------- deflate


def server_side(deflate: PerMessageDeflate) -> PerMessageDeflate:
    """The server's view of the same negotiation (its remote is our local)."""
    return PerMessageDeflate(
        remote_no_context_takeover=deflate.local_no_context_takeover,
        local_no_context_takeover=deflate.remote_no_context_takeover,
        remote_max_window_bits=getattr(
            deflate, "negotiated_local_max_window_bits", deflate.local_max_window_bits
        ),
        local_max_window_bits=15,
    )


def test_compression_threshold() -> None:
    d = NegotiatedDeflate(False, False, 15, 15)
    w = FrameWriter(deflate=d, compression_threshold=100)
    small, big = b"s" * 99, b"b" * 100
    rsv1 = [bool(split(w.message(m, text=False))[0] & 0x40) for m in (small, big)]
    assert rsv1 == [False, True]
    w = FrameWriter(deflate=d, compression_threshold=100)  # fresh compression context
    decoded = parse(w.message(small, text=False) + w.message(big, text=True), [server_side(d)])
    assert [f.data for f in decoded] == [small, big]


def test_no_compression_without_deflate() -> None:
    w = FrameWriter(compression_threshold=0)
    (frame,) = parse(w.message(b"a" * 1000, text=False))
    assert not frame.rsv1
    assert frame.data == b"a" * 1000


def strict_inflate(decoder: zlib._Decompress, data: bytes) -> bytes:
    """Inflate one output byte per call, so that the only history zlib can use is its
    window of exactly 2**bits bytes: any reference further back fails."""
    out = bytearray()
    while True:
        chunk = decoder.decompress(data, 1)
        out += chunk
        data = decoder.unconsumed_tail
        if not data and not chunk:
            return bytes(out)


def unmask(frame: bytes) -> tuple[int, bytes]:
    b0, _, mask, masked = split(frame)
    return b0, bytes(b ^ mask[i % 4] for i, b in enumerate(masked))


@pytest.mark.parametrize("takeover", [True, False])
@pytest.mark.parametrize("bits", list(range(8, 16)))
def test_deflate_round_trip(takeover: bool, bits: int) -> None:
    d = NegotiatedDeflate(False, not takeover, 15, bits)
    w = FrameWriter(deflate=d, compression_threshold=0)
    # Repetitions at distances from 200 bytes to 20 KB tempt a compressor whose window is
    # larger than negotiated into references the peer cannot resolve.
    messages = [
        os.urandom(200) * 3,
        b"",
        os.urandom(700) * 3,
        b"hello " * 200,
        os.urandom(5000) * 2,
        os.urandom(20000) * 2,
    ]
    decoder = zlib.decompressobj(wbits=-bits)
    for message in messages:
        b0, payload = unmask(w.message(message, text=False))
        assert b0 & 0x40  # compressed
        if not takeover:
            decoder = zlib.decompressobj(wbits=-bits)
        assert strict_inflate(decoder, payload + b"\x00\x00\xff\xff") == message


def test_strict_inflate_detects_too_far_references() -> None:
    data = os.urandom(300) * 4
    enc = zlib.compressobj(wbits=-10)  # may reference up to 762 bytes back
    wire = enc.compress(data) + enc.flush(zlib.Z_SYNC_FLUSH)
    assert strict_inflate(zlib.decompressobj(wbits=-9), wire) == data
    with pytest.raises(zlib.error, match="too far back"):
        strict_inflate(zlib.decompressobj(wbits=-8), wire)


def test_deflate_round_trip_with_websockets_decoder() -> None:
    d = NegotiatedDeflate(False, False, 15, 11)
    w = FrameWriter(deflate=d, compression_threshold=0)
    messages = [b"abc" * 500, os.urandom(100), b"abc" * 500]
    frames = parse(b"".join(w.message(m, text=True) for m in messages), [server_side(d)])
    assert [f.data for f in frames] == messages


def test_context_takeover_shrinks_repeated_messages() -> None:
    message = b"a moderately long message that repeats itself " * 3
    with_takeover = FrameWriter(deflate=NegotiatedDeflate(False, False, 15, 15))
    without = FrameWriter(deflate=NegotiatedDeflate(False, True, 15, 15))
    sizes_with = [len(with_takeover.message(message, text=True)) for _ in range(3)]
    sizes_without = [len(without.message(message, text=True)) for _ in range(3)]
    assert sizes_with[1] < sizes_without[1] // 2
    assert sizes_without[0] == sizes_without[1] == sizes_without[2]


def test_incompressible_still_compressed() -> None:
    d = NegotiatedDeflate(False, True, 15, 15)
    w = FrameWriter(deflate=d, compression_threshold=0)
    noise = os.urandom(500)
    assert split(w.message(noise, text=False))[0] & 0x40
    w = FrameWriter(deflate=d, compression_threshold=0)
    (frame,) = parse(w.message(noise, text=False), [server_side(d)])
    assert frame.data == noise


def test_control_frames_never_compressed() -> None:
    w = FrameWriter(deflate=NegotiatedDeflate(False, False, 15, 15), compression_threshold=0)
    frames = parse(w.ping(b"p" * 100) + w.pong(b"q" * 100) + w.close(1000, "x" * 100))
    assert not any(f.rsv1 for f in frames)


def test_accepts_plain_websockets_permessage_deflate() -> None:
    d = PerMessageDeflate(False, False, 15, 12, {"memLevel": 5})
    w = FrameWriter(deflate=d, compression_threshold=0)
    frames = parse(w.message(b"plain websockets object " * 30, text=True), [server_side(d)])
    assert frames[0].data == b"plain websockets object " * 30
