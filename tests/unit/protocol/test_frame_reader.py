"""FrameReader: parsing, every RFC 6455 violation with its close code, chunking."""

from __future__ import annotations

import os
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import PerMessageDeflate

from jetsocket._exceptions import MessageTooBigError, ProtocolError
from jetsocket._protocol._closecodes import RECEIVABLE_CLOSE_CODES as VALID_CLOSE_CODES
from jetsocket._protocol._closecodes import is_receivable_close_code as is_valid_close_code
from jetsocket._protocol._deflate import NegotiatedDeflate
from jetsocket._protocol._reader import FrameReader

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
TAIL = b"\x00\x00\xff\xff"


def sframe(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    form: int | None = None,
) -> bytes:
    """A server frame; ``form`` forces the length encoding (7, 16 or 64 bits)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask is not None else 0
    if form is None:
        form = 7 if n < 126 else 16 if n < 65536 else 64
    if form == 7:
        head = bytes([b0, m | n])
    elif form == 16:
        head = bytes([b0, m | 126]) + n.to_bytes(2)
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8)
    if mask is not None:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def reader(**kw: object) -> FrameReader:
    kw.setdefault("max_message_size", 1 << 20)
    kw.setdefault("text_as_str", True)
    return FrameReader(**kw)  # type: ignore[arg-type]


def feed_bytewise(r: FrameReader, data: bytes) -> list[bytes | str]:
    out: list[bytes | str] = []
    for i in range(len(data)):
        out += r.feed(data[i : i + 1])
    return out


def assert_error(r: FrameReader, code: int) -> None:
    assert r.error is not None, "expected a protocol error"
    assert isinstance(r.error, ProtocolError)
    assert r.error.code == code, (r.error.code, str(r.error))
    assert r.feed(sframe(TEXT, b"after")) == []


# ----------------------------------------------------------------------------- basics


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_lengths_text_and_binary(size: int) -> None:
    data = os.urandom(size)
    text = "é" * (size // 2)
    stream = sframe(BINARY, data) + sframe(TEXT, text.encode())
    assert reader().feed(stream) == [data, text]
    assert reader(text_as_str=False).feed(stream) == [data, text.encode()]
    if size <= 70_000:
        assert feed_bytewise(reader(), stream) == [data, text]


def test_many_frames_in_one_chunk_and_leftover() -> None:
    frames = [sframe(TEXT, f"m{i}".encode() * i) for i in range(300)]
    stream = b"".join(frames)
    r = reader()
    out = r.feed(stream[:-3])
    assert out == [f"m{i}" * i for i in range(299)]
    assert r.feed(stream[-3:]) == ["m299" * 299]
    assert r.error is None
    assert r.close is None


def test_bytes_like_input_accepted() -> None:
    stream = sframe(TEXT, b"abc") + sframe(BINARY, b"\x00")
    assert reader().feed(bytearray(stream)) == ["abc", b"\x00"]
    assert reader().feed(memoryview(stream)) == ["abc", b"\x00"]


@pytest.mark.parametrize(("size", "form"), [(5, 16), (5, 64), (300, 64), (0, 16)])
def test_non_minimal_length_is_tolerated(size: int, form: int) -> None:
    payload = b"x" * size
    assert reader().feed(sframe(BINARY, payload, form=form)) == [payload]


def test_ping_pong_collected_in_order() -> None:
    r = reader()
    out = r.feed(sframe(PING, b"p1") + sframe(TEXT, b"a") + sframe(PONG, b"") + sframe(PING))
    assert out == ["a"]
    assert r.control == [(PING, b"p1"), (PONG, b""), (PING, b"")]
    r.control.clear()
    assert r.feed(sframe(PONG, b"x" * 125)) == []
    assert r.control == [(PONG, b"x" * 125)]


def test_fragmented_with_interleaved_control_frames() -> None:
    stream = (
        sframe(TEXT, b"Hel", fin=False)
        + sframe(PING, b"1")
        + sframe(CONT, b"lo ", fin=False)
        + sframe(PONG, b"2")
        + sframe(CONT, b"w\xc3", fin=False)  # "ö" straddles two fragments
        + sframe(PING, b"3")
        + sframe(CONT, b"\xb6rld")
        + sframe(BINARY, b"b1", fin=False)
        + sframe(CONT, b"")
    )
    for r, expected in (
        (reader(), ["Hello wörld", b"b1"]),
        (reader(text_as_str=False), ["Hello wörld".encode(), b"b1"]),
    ):
        assert r.feed(stream) == expected
        assert r.control == [(PING, b"1"), (PONG, b"2"), (PING, b"3")]
    r = reader()
    assert feed_bytewise(r, stream) == ["Hello wörld", b"b1"]
    assert r.control == [(PING, b"1"), (PONG, b"2"), (PING, b"3")]


def test_empty_fragments() -> None:
    stream = sframe(TEXT, b"", fin=False) + sframe(CONT, b"", fin=False) + sframe(CONT, b"")
    assert reader().feed(stream) == [""]
    assert reader(text_as_str=False).feed(stream) == [b""]


# ----------------------------------------------------------------------------- close


def test_close_empty_payload_is_1005() -> None:
    r = reader()
    assert r.feed(sframe(TEXT, b"before") + sframe(CLOSE) + sframe(TEXT, b"after")) == ["before"]
    assert r.close == (1005, "")
    assert r.error is None
    assert r.feed(sframe(TEXT, b"later")) == []


def test_close_code_and_reason() -> None:
    r = reader()
    assert r.feed(sframe(CLOSE, (1001).to_bytes(2) + "bye ☺".encode())) == []
    assert r.close == (1001, "bye ☺")


def test_close_inside_fragmented_message() -> None:
    r = reader()
    assert r.feed(sframe(TEXT, b"a", fin=False) + sframe(CLOSE, (1000).to_bytes(2))) == []
    assert r.close == (1000, "")


def test_close_one_byte_payload() -> None:
    r = reader()
    r.feed(sframe(CLOSE, b"\x03"))
    assert r.close is None
    assert_error(r, 1002)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000])
def test_close_invalid_codes(code: int) -> None:
    r = reader()
    r.feed(sframe(CLOSE, code.to_bytes(2)))
    assert r.close is None
    assert_error(r, 1002)


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_close_valid_codes(code: int) -> None:
    r = reader()
    r.feed(sframe(CLOSE, code.to_bytes(2) + b"ok"))
    assert r.close == (code, "ok")
    assert r.error is None


def test_close_code_table() -> None:
    valid = {c for c in range(70_000) if is_valid_close_code(c)}
    assert valid == set(VALID_CLOSE_CODES) | set(range(3000, 5000))


def test_close_reason_invalid_utf8() -> None:
    r = reader()
    r.feed(sframe(CLOSE, (1000).to_bytes(2) + b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80"))
    assert r.close is None
    assert_error(r, 1007)


# ----------------------------------------------------------------------------- violations


@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x70])
@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING, PONG, CLOSE])
def test_rsv_bits_without_extension(rsv: int, opcode: int) -> None:
    r = reader()
    assert r.feed(sframe(TEXT, b"ok") + sframe(opcode, b"x", rsv=rsv)) == ["ok"]
    assert_error(r, 1002)


def test_rsv_fails_before_payload_arrives() -> None:
    r = reader()
    r.feed(sframe(BINARY, b"x" * 1000, rsv=0x20)[:4])
    assert_error(r, 1002)


@pytest.mark.parametrize("rsv", [0x20, 0x10])
def test_rsv2_rsv3_with_deflate(rsv: int) -> None:
    r = reader(deflate=PerMessageDeflate(False, False, 15, 15))
    r.feed(sframe(TEXT, b"x", rsv=rsv))
    assert_error(r, 1002)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_rsv1_on_control_frame_with_deflate(opcode: int) -> None:
    r = reader(deflate=PerMessageDeflate(False, False, 15, 15))
    r.feed(sframe(opcode, b"", rsv=0x40))
    assert_error(r, 1002)


def test_rsv1_on_continuation_with_deflate() -> None:
    r = reader(deflate=PerMessageDeflate(False, False, 15, 15))
    r.feed(sframe(TEXT, b"a", fin=False) + sframe(CONT, b"b", rsv=0x40))
    assert_error(r, 1002)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_unknown_opcodes(opcode: int) -> None:
    r = reader()
    assert r.feed(sframe(TEXT, b"ok") + sframe(opcode, b"")) == ["ok"]
    assert_error(r, 1002)


def test_masked_server_frame() -> None:
    r = reader()
    r.feed(sframe(TEXT, b"hello", mask=b"\x01\x02\x03\x04"))
    assert_error(r, 1002)


def test_64bit_length_msb_set() -> None:
    r = reader()
    r.feed(bytes([0x82, 127]) + (1 << 63).to_bytes(8))
    assert_error(r, 1002)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_control_frame_too_long(opcode: int) -> None:
    r = reader()
    r.feed(sframe(opcode, b"x" * 126)[:4])  # header alone is enough to fail
    assert_error(r, 1002)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_fragmented_control_frame(opcode: int) -> None:
    r = reader()
    r.feed(sframe(opcode, b"x", fin=False))
    assert_error(r, 1002)


@pytest.mark.parametrize("fin", [True, False])
def test_continuation_without_start(fin: bool) -> None:
    r = reader()
    assert r.feed(sframe(TEXT, b"done") + sframe(CONT, b"x", fin=fin)) == ["done"]
    assert_error(r, 1002)


@pytest.mark.parametrize("first", [TEXT, BINARY])
@pytest.mark.parametrize("second", [TEXT, BINARY])
@pytest.mark.parametrize("fin", [True, False])
def test_new_data_frame_inside_fragmented_message(first: int, second: int, fin: bool) -> None:
    r = reader()
    r.feed(sframe(first, b"a", fin=False) + sframe(second, b"b", fin=fin))
    assert_error(r, 1002)


# ----------------------------------------------------------------------------- UTF-8

INVALID_UTF8 = [
    b"\xff",
    b"\xc0\xaf",  # overlong
    b"\xed\xa0\x80",  # surrogate
    b"\xf4\x90\x80\x80",  # > U+10FFFF
    b"abc\xce",  # truncated at the end
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
]


@pytest.mark.parametrize("payload", INVALID_UTF8)
@pytest.mark.parametrize("text_as_str", [True, False])
def test_invalid_utf8_unfragmented(payload: bytes, text_as_str: bool) -> None:
    r = reader(text_as_str=text_as_str)
    assert r.feed(sframe(TEXT, b"ok") + sframe(TEXT, payload)) == ["ok" if text_as_str else b"ok"]
    assert_error(r, 1007)


@pytest.mark.parametrize("payload", INVALID_UTF8)
def test_invalid_utf8_fragmented_bytewise(payload: bytes) -> None:
    stream = b"".join(
        sframe(CONT if i else TEXT, payload[i : i + 1], fin=False) for i in range(len(payload))
    ) + sframe(CONT, b"")
    r = reader()
    assert feed_bytewise(r, stream) == []
    assert_error(r, 1007)


def test_invalid_utf8_fails_fast_across_fragments() -> None:
    # The invalid byte is in the second fragment: the error must come before the end.
    r = reader()
    r.feed(sframe(TEXT, "κόσμε".encode(), fin=False))
    assert r.error is None
    r.feed(sframe(CONT, b"\xed\xa0\x80", fin=False))
    assert_error(r, 1007)


def test_invalid_utf8_fails_fast_inside_one_frame() -> None:
    # Autobahn 6.4.3: one frame whose payload arrives in chops.
    payload = "κόσμε".encode() + b"\xf4\x90\x80\x80" + b"edited"
    frame = sframe(TEXT, payload)
    head = 2 + len("κόσμε".encode())
    r = reader()
    assert r.feed(frame[:head]) == []
    assert r.error is None
    r.feed(frame[head : head + 2])
    assert_error(r, 1007)


def test_invalid_utf8_fails_fast_inside_continuation_frame() -> None:
    # A code point is split between a complete fragment and a partial continuation.
    r = reader()
    r.feed(sframe(TEXT, b"ab\xce", fin=False))
    frame = sframe(CONT, b"A" + b"x" * 50)  # \xce followed by "A" is invalid
    r.feed(frame[:3])
    assert_error(r, 1007)


def test_valid_utf8_split_inside_partial_frames() -> None:
    text = "wörld ☺ 𝄞 " * 40
    stream = sframe(TEXT, text[:77].encode(), fin=False) + sframe(CONT, text[77:].encode())
    for step in (1, 2, 3, 7):
        r = reader()
        out: list[bytes | str] = []
        for i in range(0, len(stream), step):
            out += r.feed(stream[i : i + step])
        assert out == [text]
        assert r.error is None


# ----------------------------------------------------------------------------- size limit


def test_max_size_exact_limit_ok() -> None:
    r = reader(max_message_size=1000)
    assert r.feed(sframe(BINARY, b"x" * 1000)) == [b"x" * 1000]


def test_max_size_checked_from_header() -> None:
    r = reader(max_message_size=1000)
    out = r.feed(sframe(TEXT, b"ok") + sframe(BINARY, b"x" * 1001)[:4])
    assert out == ["ok"]
    assert isinstance(r.error, MessageTooBigError)
    assert_error(r, 1009)


def test_max_size_huge_64bit_header() -> None:
    r = reader(max_message_size=1 << 20)
    r.feed(bytes([0x82, 127]) + (1 << 40).to_bytes(8))
    assert_error(r, 1009)


def test_max_size_cumulative_across_fragments() -> None:
    r = reader(max_message_size=100)
    r.feed(
        sframe(TEXT, b"x" * 60, fin=False)
        + sframe(PING, b"p")
        + sframe(CONT, b"x" * 40)
        + sframe(BINARY, b"y" * 60, fin=False)
    )
    assert r.error is None
    r.feed(sframe(CONT, b"y" * 41)[:2])
    assert_error(r, 1009)


def test_max_size_none_means_unlimited() -> None:
    r = FrameReader(max_message_size=None, text_as_str=False)
    assert r.feed(sframe(BINARY, b"z" * 300_000)) == [b"z" * 300_000]


def test_max_size_zero() -> None:
    r = reader(max_message_size=0)
    assert r.feed(sframe(BINARY, b"")) == [b""]
    r.feed(sframe(BINARY, b"a"))
    assert_error(r, 1009)


# ----------------------------------------------------------------------------- deflate


def compress_messages(
    messages: list[bytes], *, wbits: int = 15, takeover: bool = True, strategy: int = 0
) -> list[bytes]:
    """Server side of RFC 7692 7.2.1: deflate, sync flush, strip the tail."""
    out = []
    enc = zlib.compressobj(wbits=-wbits, strategy=strategy)
    for m in messages:
        if not takeover:
            enc = zlib.compressobj(wbits=-wbits, strategy=strategy)
        data = enc.compress(m) + enc.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(TAIL)
        out.append(data[:-4])
    return out


def deflate_params(*, takeover: bool = True, bits: int = 15) -> PerMessageDeflate:
    return NegotiatedDeflate(not takeover, False, bits, 15)


@pytest.mark.parametrize("takeover", [True, False])
@pytest.mark.parametrize("bits", list(range(9, 16)))
def test_deflate_round_trip_window_bits(takeover: bool, bits: int) -> None:
    messages = [(b"hello world %d " % i) * (i + 1) * 40 for i in range(12)]
    wire = compress_messages(messages, wbits=bits, takeover=takeover)
    stream = b"".join(sframe(BINARY, w, rsv=0x40) for w in wire)
    r = reader(deflate=deflate_params(takeover=takeover, bits=bits))
    assert r.feed(stream) == messages
    r = reader(deflate=deflate_params(takeover=takeover, bits=bits))
    assert feed_bytewise(r, stream) == messages


def test_deflate_window_bits_8() -> None:
    # zlib cannot compress with an 8-bit window; Z_RLE only references distance 1.
    block = os.urandom(300)
    messages = [block * 5, b"a" * 1000, block]
    wire = compress_messages(messages, wbits=9, strategy=zlib.Z_RLE)
    r = reader(deflate=deflate_params(bits=8))
    assert r.feed(b"".join(sframe(BINARY, w, rsv=0x40) for w in wire)) == messages


def test_deflate_context_takeover_is_really_used() -> None:
    messages = [b"the same long sentence, repeated " * 4] * 3
    wire = compress_messages(messages)
    assert len(wire[1]) < len(wire[0]) // 4  # back-references into the previous message
    r = reader(deflate=deflate_params())
    assert r.feed(b"".join(sframe(TEXT, w, rsv=0x40) for w in wire)) == [
        m.decode() for m in messages
    ]
    # Without takeover on our side the second message cannot be inflated.
    r = reader(deflate=deflate_params(takeover=False))
    r.feed(b"".join(sframe(TEXT, w, rsv=0x40) for w in wire))
    assert_error(r, 1007)


def test_deflate_fragmented_and_mixed_with_uncompressed() -> None:
    text = "Grüße, " * 500
    (wire,) = compress_messages([text.encode()])
    parts = [wire[:10], wire[10:11], wire[11:500], wire[500:]]
    stream = (
        sframe(TEXT, parts[0], rsv=0x40, fin=False)
        + sframe(PING, b"p")
        + sframe(CONT, parts[1], fin=False)
        + sframe(CONT, parts[2], fin=False)
        + sframe(CONT, parts[3])
        + sframe(TEXT, b"plain")
        + sframe(BINARY, b"bin")
    )
    for r in (reader(deflate=deflate_params()), reader(deflate=deflate_params())):
        assert r.feed(stream) == [text, "plain", b"bin"]
        assert r.control == [(PING, b"p")]
    assert feed_bytewise(reader(deflate=deflate_params()), stream) == [text, "plain", b"bin"]


def test_deflate_large_message_uses_second_decompress_call() -> None:
    data = os.urandom(5000) * 3
    (wire,) = compress_messages([data])
    assert len(wire) > 2044
    assert reader(deflate=deflate_params()).feed(sframe(BINARY, wire, rsv=0x40)) == [data]


def test_deflate_empty_message() -> None:
    r = reader(deflate=deflate_params())
    # RFC 7692 7.2.3.6: an empty message compresses to a single 0x00 byte.
    assert r.feed(sframe(TEXT, b"\x00", rsv=0x40) + sframe(TEXT, b"", rsv=0x40)) == ["", ""]


def test_deflate_bfinal_block() -> None:
    # RFC 7692 7.2.3.4: a message may end with a BFINAL block instead of a sync flush.
    enc = zlib.compressobj(wbits=-15)
    first = enc.compress(b"final block") + enc.flush(zlib.Z_FINISH)
    (second,) = compress_messages([b"next"])
    r = reader(deflate=deflate_params())
    stream = sframe(BINARY, first, rsv=0x40) + sframe(BINARY, second, rsv=0x40)
    assert r.feed(stream) == [b"final block", b"next"]


def test_deflate_bfinal_inside_fragmented_message() -> None:
    enc = zlib.compressobj(wbits=-15)
    wire = enc.compress(b"fragmented final") + enc.flush(zlib.Z_FINISH)
    r = reader(deflate=deflate_params())
    stream = sframe(BINARY, wire, rsv=0x40, fin=False) + sframe(CONT, b"")
    assert r.feed(stream) == [b"fragmented final"]
    r = reader(deflate=deflate_params())
    r.feed(sframe(BINARY, wire, rsv=0x40, fin=False) + sframe(CONT, b"\x00"))
    assert_error(r, 1007)


def test_deflate_no_context_takeover_empty_first_fragment() -> None:
    first, second = compress_messages([b"one " * 50, b"two " * 50], takeover=False)
    stream = (
        sframe(TEXT, first, rsv=0x40)
        + sframe(TEXT, b"", rsv=0x40, fin=False)
        + sframe(CONT, second[:3], fin=False)
        + sframe(CONT, second[3:])
    )
    assert reader(deflate=deflate_params(takeover=False)).feed(stream) == [
        "one " * 50,
        "two " * 50,
    ]


def test_deflate_invalid_data_is_1007() -> None:
    r = reader(deflate=deflate_params())
    r.feed(sframe(BINARY, b"\xff\xff\xff\xff garbage", rsv=0x40))
    assert_error(r, 1007)


def test_deflate_invalid_utf8_after_inflate() -> None:
    (wire,) = compress_messages([b"ok \xed\xa0\x80"])
    r = reader(deflate=deflate_params())
    r.feed(sframe(TEXT, wire, rsv=0x40))
    assert_error(r, 1007)


def test_deflate_invalid_utf8_fails_fast_in_fragments() -> None:
    (wire,) = compress_messages([b"\xff" + b"a" * 100])
    r = reader(deflate=deflate_params())
    r.feed(sframe(TEXT, wire, rsv=0x40, fin=False))
    assert_error(r, 1007)


@pytest.mark.parametrize("fragmented", [False, True])
def test_zip_bomb_capped_without_allocating(fragmented: bool) -> None:
    limit = 1 << 20
    bomb = b"\x00" * (64 << 20)  # 64 MiB of zeros deflates to ~64 KiB
    (wire,) = compress_messages([bomb])
    r = reader(max_message_size=limit, deflate=deflate_params())
    if fragmented:
        cut = len(wire) // 4
        frames = [sframe(BINARY, wire[:cut], rsv=0x40, fin=False)] + [
            sframe(CONT, wire[i : i + cut], fin=i + cut >= len(wire))
            for i in range(cut, len(wire), cut)
        ]
        stream = b"".join(frames)
    else:
        stream = sframe(BINARY, wire, rsv=0x40)
    del bomb
    tracemalloc.start()
    try:
        assert r.feed(stream) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_error(r, 1009)
    assert peak < len(stream) + 4 * limit


def test_compressed_frame_wire_size_bounded() -> None:
    r = reader(max_message_size=1000, deflate=deflate_params())
    r.feed(bytes([0xC2, 127]) + (1 << 30).to_bytes(8))
    assert_error(r, 1009)


# ----------------------------------------------------------------------------- hypothesis


@st.composite
def message_streams(
    draw: st.DrawFn, compressed: bool = False
) -> tuple[bytes, list[bytes | str], list[tuple[int, bytes]]]:
    """A valid server byte stream, the messages and the control frames it carries."""
    enc = zlib.compressobj(wbits=-15)
    frames: list[bytes] = []
    messages: list[bytes | str] = []
    controls: list[tuple[int, bytes]] = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            text = draw(st.text(max_size=300))
            messages.append(text)
            opcode, data = TEXT, text.encode()
        else:
            data = draw(st.binary(max_size=300))
            messages.append(data)
            opcode = BINARY
        rsv = 0
        if compressed and draw(st.booleans()):
            data = (enc.compress(data) + enc.flush(zlib.Z_SYNC_FLUSH))[:-4]
            rsv = 0x40
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            frames.append(
                sframe(opcode if i == 0 else CONT, piece, fin=last, rsv=rsv if i == 0 else 0)
            )
            if draw(st.integers(0, 3)) == 0:
                ctl = draw(st.sampled_from([PING, PONG]))
                body = draw(st.binary(max_size=125))
                controls.append((ctl, body))
                frames.append(sframe(ctl, body))
    return b"".join(frames), messages, controls


def split_points(data: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, len(data)), max_size=20).map(sorted)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_random_streams_split_anywhere(data: st.DataObject, compressed: bool) -> None:
    stream, messages, controls = data.draw(message_streams(compressed=compressed))
    cuts = data.draw(split_points(stream))
    deflate = deflate_params() if compressed else None

    whole = reader(deflate=deflate)
    assert whole.feed(stream) == messages
    assert whole.control == controls
    assert whole.error is None

    chunked = reader(deflate=deflate_params() if compressed else None)
    out: list[bytes | str] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += chunked.feed(stream[a:b])
    assert out == messages
    assert chunked.control == controls
    assert chunked.error is None

    as_bytes = reader(text_as_str=False, deflate=deflate_params() if compressed else None)
    expected = [m.encode() if isinstance(m, str) else m for m in messages]
    assert as_bytes.feed(stream) == expected
