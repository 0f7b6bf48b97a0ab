"""The compiled scanner decoding as it parses (``FrameReader.feed_decoded``).

The contract: ``feed_decoded`` gives the same messages as ``feed`` followed by the decoder,
except that the indices in ``raw_at`` hold payloads still to decode (frames the Python loop
parsed, payloads the decoder rejected). A differential hypothesis test checks it against
the pure reader on random, often invalid, frame streams split at random points, with a
decoder that rejects some payloads and keeps the zero-copy view of others (whose bytes
must stay right after the whole stream was parsed).
"""

from __future__ import annotations

import gc
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import COMPILED_MISSING, COMPILED_SCAN
from tests.unit.protocol.test_frame_reader import BINARY, PING, TEXT, deflate_params, sframe
from tests.unit.protocol.test_frame_scanner import any_frame, random_chunks, reader_error

from jetsocket._protocol._reader import DEFAULT_MAX_FRAGMENTS, FrameReader

needs_compiled = pytest.mark.skipif(
    COMPILED_SCAN is None, reason=f"compiled frame scanner unavailable: {COMPILED_MISSING}"
)


class Kept:
    """What the test decoder returns for a payload starting with ``k``: the view itself."""

    __slots__ = ("arg",)

    arg: Any

    def __init__(self, arg: Any) -> None:
        self.arg = arg


def decode(payload: Any) -> object:
    """Rejects ``x...``, keeps the object it was given for ``k...``, copies the rest."""
    data = bytes(payload)
    if data[:1] == b"x":
        raise ValueError("rejected")
    if data[:1] == b"k":
        return Kept(payload)
    return ("decoded", data)


def settle(messages: list[Any], raw_at: list[int]) -> list[Any]:
    """Decode what feed_decoded left undecoded; a rejection becomes a marker."""
    out = list(messages)
    for i in raw_at:
        try:
            out[i] = decode(out[i])
        except ValueError:
            out[i] = ("rejected", out[i])
    return out


def shown(item: Any) -> Any:
    # A kept view is compared by its bytes, read after the whole stream was parsed.
    return ("kept", bytes(item.arg)) if isinstance(item, Kept) else item


def test_reader_decodes_only_on_the_compiled_path(reader_path: str) -> None:
    r = FrameReader(max_message_size=None, text_as_str=False, decode=decode)
    assert r.decoding == (reader_path == "compiled")
    # Text as str: never decoded in the scanner (the engine decodes bytes only).
    assert not FrameReader(max_message_size=None, text_as_str=True, decode=decode).decoding
    assert not FrameReader(max_message_size=None, text_as_str=False).decoding


def test_feed_decoded_equals_feed_then_decode(reader_path: str) -> None:
    stream = (
        sframe(TEXT, b'{"a":1}')
        + sframe(TEXT, b"xbad")
        + sframe(PING, b"p")
        + sframe(BINARY, b"kept")
        + sframe(TEXT, b"fr", fin=False)
        + sframe(0, b"ag")
        + sframe(TEXT, "é".encode())
    )
    for cut in range(len(stream) + 1):
        r = FrameReader(max_message_size=1 << 20, text_as_str=False, decode=decode)
        got: list[Any] = []
        for chunk in (stream[:cut], stream[cut:]):
            messages, raw_at = r.feed_decoded(chunk)
            assert raw_at == sorted(set(raw_at))
            assert all(0 <= i < len(messages) for i in raw_at)
            got += settle(messages, raw_at)
        assert [shown(m) for m in got] == [
            ("decoded", b'{"a":1}'),
            ("rejected", b"xbad"),
            ("kept", b"kept"),
            ("decoded", b"frag"),
            ("decoded", "é".encode()),
        ]
        assert r.control == [(PING, b"p")]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(
        st.one_of(
            any_frame(),
            st.sampled_from([b"x", b"k", b"d", b""]).flatmap(
                lambda head: st.binary(max_size=200).map(lambda tail: sframe(TEXT, head + tail))
            ),
        ),
        max_size=14,
    ),
    data=st.data(),
    max_size=st.sampled_from([None, 0, 100, 1 << 20]),
    deflate=st.booleans(),
    copy=st.booleans(),
)
def _decoded_and_pure_agree(
    frames: list[bytes],
    data: st.DataObject,
    max_size: int | None,
    deflate: bool,
    copy: bool,
) -> None:
    chunks = random_chunks(b"".join(frames), data)
    kw: dict[str, Any] = {
        "max_message_size": max_size,
        "text_as_str": False,
        "max_fragments": DEFAULT_MAX_FRAGMENTS,
    }
    if deflate:
        kw["deflate"] = deflate_params()

    compiled = FrameReader(**kw, decode=decode, copy_payloads=copy)
    assert compiled.decoding  # the fixture-free run: the module global is the compiled scan
    got: list[Any] = []
    for chunk in chunks:
        got += settle(*compiled.feed_decoded(chunk))
    gc.collect()  # views kept by the decoder must still read their own payload

    pure = FrameReader(**kw)
    pure._scan = None
    want: list[Any] = []
    for chunk in chunks:
        messages = pure.feed(chunk)
        want += settle(messages, list(range(len(messages))))

    assert [shown(m) for m in got] == [shown(m) for m in want]
    assert (compiled.control, compiled.close, reader_error(compiled)) == (
        pure.control,
        pure.close,
        reader_error(pure),
    )


@needs_compiled
@pytest.mark.once  # compares both paths itself
def test_decoded_and_pure_agree() -> None:
    """Random streams and chunking: feed_decoded + decode == feed + decode, views intact."""
    _decoded_and_pure_agree()


# ---------------------------------------------------------------- the scanner's contract


@needs_compiled
def test_scan_decodes_and_reports_rejections() -> None:
    assert COMPILED_SCAN is not None
    buf = sframe(TEXT, b"d1") + sframe(BINARY, b"x2") + sframe(TEXT, b"d3") + sframe(PING, b"")
    seen: list[type] = []

    def spy(payload: Any) -> object:
        seen.append(type(payload))
        return decode(payload)

    for copy in (False, True):
        seen.clear()
        out: list[Any] = []
        raw_at: list[int] = []
        assert COMPILED_SCAN(buf, 0, out, False, 1 << 20, spy, raw_at, copy) == len(buf) - 2
        assert out == [("decoded", b"d1"), b"x2", ("decoded", b"d3")]
        assert raw_at == [1]
        assert (seen[0] is bytes) == copy
        assert seen[0] is not memoryview  # the zero-copy argument is the scanner's own view


@needs_compiled
def test_zero_copy_view_is_read_only_and_keeps_the_chunk() -> None:
    assert COMPILED_SCAN is not None
    kept: list[Any] = []

    def keep(payload: Any) -> object:
        kept.append(payload)
        return len(kept)

    buf = b"".join(sframe(TEXT, b"k%d" % i) for i in range(3))
    out: list[Any] = []
    COMPILED_SCAN(buf, 0, out, False, 1 << 20, keep, [], False)
    del buf
    gc.collect()
    assert [bytes(v) for v in kept] == [b"k0", b"k1", b"k2"]
    with memoryview(kept[0]) as view:
        assert view.readonly
    assert msgspec.json.decode(memoryview(sframe(TEXT, b"[1]"))[2:]) == [1]


@needs_compiled
def test_scan_lets_non_exceptions_through() -> None:
    assert COMPILED_SCAN is not None

    class Stop(BaseException):
        pass

    def stop(payload: Any) -> object:
        raise Stop

    with pytest.raises(Stop):
        COMPILED_SCAN(sframe(TEXT, b"a"), 0, [], False, 1 << 20, stop, [], False)


@needs_compiled
def test_scan_decode_rejects_bad_arguments() -> None:
    assert COMPILED_SCAN is not None
    frame = sframe(TEXT, b"a")
    with pytest.raises(TypeError, match="callable"):
        COMPILED_SCAN(frame, 0, [], False, 9, 42, [], False)
    with pytest.raises(TypeError, match="raw_at"):
        COMPILED_SCAN(frame, 0, [], False, 9, decode, (), False)
    with pytest.raises(TypeError, match="arguments"):
        COMPILED_SCAN(frame, 0, [], False, 9, decode, [], False, None)
    out: list[Any] = []
    assert COMPILED_SCAN(frame, 0, out, False, 9, None) == len(frame)  # None: no decoding
    assert out == [b"a"]
