"""permessage-deflate negotiation (RFC 7692) through websockets' Sans-I/O ClientProtocol."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import NegotiationError
from websockets.extensions.base import ClientExtensionFactory, Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri
from websockets.utils import accept_key

from jetsocket._protocol._deflate import (
    DEFAULT_COMPRESS_SETTINGS,
    ClientDeflateFactory,
    NegotiatedDeflate,
    client_deflate_factories,
    negotiated_deflate,
)
from jetsocket._protocol._reader import FrameReader
from jetsocket._protocol._writer import FrameWriter


def handshake(
    answer: str | None, factories: Sequence[ClientExtensionFactory] | None = None
) -> tuple[str, list[Extension], Exception | None]:
    """Run ClientProtocol's opening handshake against a canned 101 response."""
    protocol = ClientProtocol(
        parse_uri("ws://example.test/"),
        extensions=client_deflate_factories() if factories is None else factories,
    )
    request = protocol.connect()
    protocol.send_request(request)
    offer = request.headers["Sec-WebSocket-Extensions"]
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(request.headers['Sec-WebSocket-Key'])}",
    ]
    if answer is not None:
        lines.append(f"Sec-WebSocket-Extensions: {answer}")
    protocol.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode())
    return offer, protocol.extensions, protocol.handshake_exc


def negotiate(
    answer: str, factories: Sequence[ClientExtensionFactory] | None = None
) -> NegotiatedDeflate:
    _, extensions, exc = handshake(answer, factories)
    assert exc is None, exc
    (extension,) = extensions
    assert isinstance(extension, NegotiatedDeflate)
    return extension


def params(d: NegotiatedDeflate) -> tuple[bool, bool, int, int]:
    return (
        d.remote_no_context_takeover,
        d.local_no_context_takeover,
        d.remote_max_window_bits,
        d.negotiated_local_max_window_bits,
    )


def test_offers_in_preference_order() -> None:
    offer, extensions, exc = handshake(None)
    assert offer == (
        "permessage-deflate; client_max_window_bits, "
        "permessage-deflate; client_no_context_takeover; client_max_window_bits"
    )
    assert exc is None
    assert extensions == []


# What the kosoku fuzzing server answers in Autobahn 12.x and 13.1-13.7 to these two offers
# (found by running it): every case negotiates compression, none ends UNIMPLEMENTED.
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("permessage-deflate", (False, False, 15, 15)),  # 12.x, 13.1
        ("permessage-deflate; client_no_context_takeover", (False, True, 15, 15)),  # 13.2
        ("permessage-deflate; client_max_window_bits=9", (False, False, 15, 9)),  # 13.3
        ("permessage-deflate; client_max_window_bits=15", (False, False, 15, 15)),  # 13.4
        (
            "permessage-deflate; client_no_context_takeover; client_max_window_bits=9",
            (False, True, 15, 9),
        ),  # 13.5, 13.7
        (
            "permessage-deflate; client_no_context_takeover; client_max_window_bits=15",
            (False, True, 15, 15),
        ),  # 13.6
        ("permessage-deflate; client_max_window_bits=8", (False, False, 15, 8)),
        ("permessage-deflate; server_no_context_takeover", (True, False, 15, 15)),
        ("permessage-deflate; server_max_window_bits=10", (False, False, 10, 15)),
        ("permessage-deflate; server_max_window_bits=8", (False, False, 8, 15)),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            'server_max_window_bits=12; client_max_window_bits="11"',
            (True, True, 12, 11),
        ),
    ],
)
def test_valid_answers(answer: str, expected: tuple[bool, bool, int, int]) -> None:
    d = negotiate(answer)
    assert params(d) == expected
    assert d.compress_settings["memLevel"] == DEFAULT_COMPRESS_SETTINGS["memLevel"]


@pytest.mark.parametrize(
    "answer",
    [
        "permessage-deflate; unknown_param",
        "permessage-deflate; client_max_window_bits",  # no value in a response
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=09",  # leading zero
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=yes",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits=9; client_max_window_bits=10",
        "permessage-deflate, permessage-deflate",
        "x-webkit-deflate-frame",
    ],
)
def test_invalid_answers_fail_the_handshake(answer: str) -> None:
    _, extensions, exc = handshake(answer)
    assert exc is not None
    assert extensions == []


def test_own_offer_parameters_are_enforced() -> None:
    snct = [ClientDeflateFactory(server_no_context_takeover=True)]
    assert params(negotiate("permessage-deflate; server_no_context_takeover", snct))[0]
    assert handshake("permessage-deflate", snct)[2] is not None  # 7.1.1.1: must be echoed

    smwb = [ClientDeflateFactory(server_max_window_bits=10)]
    assert params(negotiate("permessage-deflate; server_max_window_bits=9", smwb))[2] == 9
    assert handshake("permessage-deflate; server_max_window_bits=11", smwb)[2] is not None
    assert handshake("permessage-deflate", smwb)[2] is not None  # 7.1.2.1: must answer

    cmwb = [ClientDeflateFactory(client_max_window_bits=10)]
    assert params(negotiate("permessage-deflate", cmwb))[3] == 10
    assert params(negotiate("permessage-deflate; client_max_window_bits=8", cmwb))[3] == 8
    assert handshake("permessage-deflate; client_max_window_bits=11", cmwb)[2] is not None

    none = [ClientDeflateFactory(client_max_window_bits=None)]
    assert handshake("permessage-deflate; client_max_window_bits=9", none)[2] is not None

    cnct = [ClientDeflateFactory(client_no_context_takeover=True)]
    assert params(negotiate("permessage-deflate", cnct))[1]  # 7.1.1.2: our hint is kept


def test_factory_request_params() -> None:
    assert ClientDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=12,
        client_max_window_bits=8,
    ).get_request_params() == [
        ("server_no_context_takeover", None),
        ("client_no_context_takeover", None),
        ("server_max_window_bits", "12"),
        ("client_max_window_bits", "8"),
    ]
    assert ClientDeflateFactory(client_max_window_bits=None).get_request_params() == []


@pytest.mark.parametrize("bits", [7, 16, 0])
def test_factory_rejects_bad_window_bits(bits: int) -> None:
    with pytest.raises(ValueError, match="between 8 and 15"):
        ClientDeflateFactory(client_max_window_bits=bits)


def test_duplicate_extension_refused_by_factory() -> None:
    factory = ClientDeflateFactory()
    first = factory.process_response_params([], [])
    with pytest.raises(NegotiationError):
        factory.process_response_params([], [first])


def test_negotiated_deflate_window_8() -> None:
    d = NegotiatedDeflate(False, False, 15, 8, {"memLevel": 5})
    assert d.negotiated_local_max_window_bits == 8
    assert d.local_max_window_bits == 9  # effective zlib setting
    assert d.compress_settings == {"memLevel": 5, "strategy": zlib.Z_RLE}
    assert "local_max_window_bits=8" in repr(d)
    # The inherited websockets encoder works with these settings too.
    frame = d.encode(Frame(Opcode.TEXT, b"abcabc" * 100))
    assert frame.rsv1
    inflated = zlib.decompressobj(wbits=-8).decompress(bytes(frame.data) + b"\x00\x00\xff\xff")
    assert inflated == b"abcabc" * 100
    with pytest.raises(ValueError, match="between 8 and 15"):
        NegotiatedDeflate(False, False, 15, 16)
    with pytest.raises(ValueError, match="between 8 and 15"):
        NegotiatedDeflate(False, False, 7, 15)


def test_negotiated_deflate_helper() -> None:
    d = NegotiatedDeflate(False, False, 15, 15)
    assert negotiated_deflate([]) is None
    assert negotiated_deflate([d]) is d
    plain = PerMessageDeflate(False, False, 15, 15)
    assert negotiated_deflate([plain]) is plain


@pytest.mark.parametrize(
    "answer",
    [
        "permessage-deflate",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=8",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
    ],
)
def test_negotiated_object_drives_reader_and_writer(answer: str) -> None:
    # Our writer's frames, unmasked, are what a server would send us with the mirrored
    # parameters: feed them to a reader configured as the server's peer.
    client = negotiate(answer)
    server_view = NegotiatedDeflate(
        client.local_no_context_takeover,
        client.remote_no_context_takeover,
        client.negotiated_local_max_window_bits,
        client.remote_max_window_bits,
    )
    writer = FrameWriter(deflate=client, compression_threshold=0)
    reader = FrameReader(max_message_size=1 << 20, text_as_str=True, deflate=server_view)
    messages = ["négociation " * 50, "", "x" * 3000, "négociation " * 50]
    stream = b""
    for m in messages:
        frame = writer.message(m.encode(), text=True)
        h = _header_len(frame)
        mask = frame[h - 4 : h]
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(frame[h:]))
        stream += bytes([frame[0]]) + _length(len(body)) + body
    assert reader.feed(stream) == messages
    assert reader.error is None


def _header_len(frame: bytes) -> int:
    n = frame[1] & 0x7F
    return 2 + (2 if n == 126 else 8 if n == 127 else 0) + 4


def _length(n: int) -> bytes:
    if n < 126:
        return bytes([n])
    if n < 65536:
        return bytes([126]) + n.to_bytes(2)
    return bytes([127]) + n.to_bytes(8)
