"""Cassettes without sockets: the file format, redaction, frames rebuilt from wire bytes."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate

from jetsocket._protocol._writer import FrameWriter
from jetsocket.testing import (
    Cassette,
    CassetteError,
    CassetteFrame,
    CassetteRedactor,
    Recorder,
)
from jetsocket.testing._replay import _matches
from jetsocket.testing._wire_frames import FrameRebuilder, deflate_params, http_head

HEADER = {
    "format": "jetsocket-cassette",
    "version": 1,
    "url": "wss://venue.example:443/ws?key=***",
    "recorded_at": "2026-01-01T00:00:00+00:00",
    "handshake": {"status": 101, "path": "/ws?key=***", "subprotocol": "v1"},
}


def lines(*objs: object) -> str:
    return "\n".join(json.dumps(o) for o in objs) + "\n"


# -- format ---------------------------------------------------------------------------------


def test_parse_every_kind_of_line() -> None:
    text = lines(
        HEADER,
        {"t": 0.0, "from": "client", "text": '{"op":"subscribe"}'},
        {"t": 0.01, "from": "server", "text": "hello"},
        {"t": 0.02, "from": "server", "binary": base64.b64encode(b"\x00\xff").decode()},
        {"t": 0.03, "from": "server", "ping": base64.b64encode(b"hb").decode()},
        {"t": 0.04, "from": "client", "pong": base64.b64encode(b"hb").decode()},
        {"connection": 1, "handshake": {"status": 101, "path": "/ws"}},
        {"t": 0.5, "from": "server", "text": "second", "c": 1},
        {"t": 0.6, "from": "server", "close": 4000, "reason": "bye", "c": 1},
        {"t": 0.05, "from": "server", "close": None, "reason": ""},
        {"t": 0.06, "end": "closed"},
        {"t": 0.7, "end": "dropped", "c": 1, "future_member": True},
    )
    cassette = Cassette.parse(text)
    assert cassette.url == HEADER["url"]
    first, second = cassette.sessions
    assert first.handshake.subprotocol == "v1"
    assert [f.kind for f in first.frames] == ["text", "text", "binary", "ping", "pong", "close"]
    assert first.frames[0] == CassetteFrame(0.0, "client", "text", text='{"op":"subscribe"}')
    assert first.frames[2].data == b"\x00\xff"
    assert first.frames[2].payload == b"\x00\xff"
    assert first.frames[5].code is None
    assert (first.end, first.duration) == ("closed", 0.06)
    assert [f.text for f in second.frames] == ["second", "bye"]
    assert second.frames[1].code == 4000
    assert (second.end, second.duration) == ("dropped", 0.7)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty file"),
        ('{"format": "other"}\n', "not a jetsocket cassette"),
        (lines({**HEADER, "version": 2}), "cassette version 2; this jetsocket reads version 1"),
        (lines(HEADER) + "not json\n", ":2: not JSON"),
        (lines(HEADER, [1, 2]), ":2: expected a JSON object"),
        (lines(HEADER, {"t": 0, "from": "nobody", "text": "x"}), ':2: "from" must be'),
        (lines(HEADER, {"t": 0, "from": "server"}), "exactly one of text, binary"),
        (lines(HEADER, {"t": 0, "from": "server", "text": "a", "binary": ""}), "exactly one"),
        (lines(HEADER, {"t": 0, "from": "server", "binary": "!!"}), ":2:"),
        (lines(HEADER, {"t": 0, "from": "server", "text": "x", "c": 3}), "before its handshake"),
        (lines(HEADER, {"t": 0, "end": "exploded"}), "bad end"),
        (lines({**HEADER, "handshake": {"status": 42}}), "bad handshake status"),
    ],
)
def test_malformed_cassettes_are_refused_with_the_line(text: str, error: str) -> None:
    with pytest.raises(CassetteError, match=error.replace("(", r"\(").replace(")", r"\)")):
        Cassette.parse(text, source="tape.jsonl")


def test_load_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tape.jsonl"
    path.write_text(lines(HEADER, {"t": 0.1, "from": "server", "text": "x"}))
    assert Cassette.load(path).sessions[0].frames[0].text == "x"
    path.write_text("{}\n")
    with pytest.raises(CassetteError, match=r"tape\.jsonl:1"):
        Cassette.load(path)


def test_recorder_without_any_connection_writes_a_valid_empty_cassette(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    with Recorder(path, url="wss://h/ws?token=abcdef") as recorder:
        assert "recording" in repr(recorder)
    cassette = Cassette.load(path)
    assert cassette.sessions == ()
    assert cassette.url == "wss://h:443/ws?token=***"
    assert "closed" in repr(recorder)
    with pytest.raises(RuntimeError, match="closed"):
        recorder.tap()
    with pytest.raises(TypeError, match="not one str"):
        Recorder(path, secrets="abc")


# -- redaction ------------------------------------------------------------------------------


def test_redaction_of_urls_headers_members_and_declared_secrets() -> None:
    red = CassetteRedactor(
        "wss://user:pa55word@venue.example/ws?listenKey=LK123456&x=1",
        headers={"Authorization": "Bearer TOKEN-9876", "Accept": "json"},
        secrets=["my-api-key", "passphrase-value"],
    )
    assert red.url("wss://u:p@h/ws?a=1&b=2") == "wss://h:443/ws?a=***&b=***"
    assert red.path("/ws?a=1&b=2") == "/ws?a=***&b=***"
    assert red.header("Authorization", "Bearer x") == "***"
    assert red.header("Cookie", "a=b") == "***"
    assert red.header("Set-Cookie", "a=b") == "***"
    assert red.header("X-MBX-APIKEY", "k") == "***"
    assert red.header("Sec-WebSocket-Protocol", "v1") == "v1"
    assert red.header("User-Agent", "agent my-api-key") == "agent ***"
    text = red.text(
        '{"op":"sub","apiKey":"k1","sign":"s1","args":["LK123456","TOKEN-9876","my-api-key"],'
        '"passphrase":"p","n":1}',
        "server",
    )
    assert json.loads(text) == {
        "op": "sub",
        "apiKey": "***",
        "sign": "***",
        "args": ["***", "***", "***"],
        "passphrase": "***",
        "n": 1,
    }
    assert "pa55word" not in red.text("login pa55word", "server")
    assert red.binary(b"\x00my-api-key\x01") == b"\x00***\x01"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # Bybit: positional key, expiry and signature.
        (
            {"op": "auth", "args": ["KEY", 1700000000000, "SIG"], "req_id": "7"},
            {"op": "auth", "args": ["***", "***", "***"], "req_id": "7"},
        ),
        # OKX: members named like credentials anyway; the timestamp too (a login).
        (
            {"op": "login", "args": [{"apiKey": "K", "timestamp": "1", "sign": "S"}]},
            {"op": "login", "args": [{"apiKey": "***", "timestamp": "***", "sign": "***"}]},
        ),
        # Deribit: JSON-RPC method.
        (
            {"method": "public/auth", "id": 3, "params": {"grant_type": "client_credentials"}},
            {"method": "public/auth", "id": 3, "params": {"grant_type": "***"}},
        ),
        # Not a login: untouched.
        (
            {"op": "subscribe", "args": ["tickers.BTCUSDT"]},
            {"op": "subscribe", "args": ["tickers.BTCUSDT"]},
        ),
    ],
)
def test_login_messages_are_redacted_whole(message: object, expected: object) -> None:
    red = CassetteRedactor()
    assert json.loads(red.text(json.dumps(message), "client")) == expected


def test_user_hook_runs_last() -> None:
    red = CassetteRedactor(redact=lambda text: text.replace("secret-ish", "[gone]"))
    assert red.text("a secret-ish value", "client") == "a [gone] value"


def test_declared_secrets_must_be_strings() -> None:
    with pytest.raises(TypeError, match="secrets must be str"):
        CassetteRedactor(secrets=[b"bytes"])  # type: ignore[list-item]


# -- frames rebuilt from the wire -----------------------------------------------------------


def server_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    if n < 126:
        return head + bytes([n]) + payload
    if n < 65536:
        return head + bytes([126]) + n.to_bytes(2, "big") + payload
    return head + bytes([127]) + n.to_bytes(8, "big") + payload


def test_http_head_is_cut_off_and_frames_follow() -> None:
    buf = bytearray(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
    assert http_head(buf) is None
    buf += b"Sec-WebSocket-Protocol: v1\r\n\r\n\x81\x02hi"
    start, headers = http_head(buf) or ("", [])
    assert start == "HTTP/1.1 101 Switching Protocols"
    assert headers == [("Upgrade", "websocket"), ("Sec-WebSocket-Protocol", "v1")]
    assert bytes(buf) == b"\x81\x02hi"


def test_server_frames_split_anywhere_fragmented_and_interleaved_with_control() -> None:
    wire = (
        server_frame(0x1, b"he", fin=False)
        + server_frame(0x9, b"ping!")
        + server_frame(0x0, b"llo")
        + server_frame(0x2, bytes(300))
        + server_frame(0x2, bytes(70000))
        + server_frame(0x8, (1001).to_bytes(2, "big") + b"going")
    )
    rebuilder = FrameRebuilder()
    out = []
    for i in range(0, len(wire), 7):  # 7-byte chunks: every header split somewhere
        out += rebuilder.feed(wire[i : i + 7])
    assert out == [
        ("ping", b"ping!", None),
        ("text", b"hello", None),
        ("binary", bytes(300), None),
        ("binary", bytes(70000), None),
        ("close", b"going", 1001),
    ]


@pytest.mark.parametrize("no_context_takeover", [False, True])
def test_masked_compressed_client_frames(no_context_takeover: bool) -> None:
    deflate = PerMessageDeflate(False, no_context_takeover, 15, 15)
    writer = FrameWriter(deflate=deflate, compression_threshold=0)
    messages = [b'{"op":"subscribe","args":["a"]}' * 4, b'{"op":"subscribe","args":["b"]}' * 4]
    wire = b"".join(writer.message(m, text=True) for m in messages)
    wire += writer.message(b"\x00\x01", text=False) + writer.ping(b"p") + writer.close(1000, "")
    rebuilder = FrameRebuilder()
    rebuilder.use_deflate(no_context_takeover)
    assert rebuilder.feed(wire) == [
        ("text", messages[0], None),
        ("text", messages[1], None),
        ("binary", b"\x00\x01", None),
        ("ping", b"p", None),
        ("close", b"", 1000),
    ]


def test_server_compressed_message_ending_with_a_final_block() -> None:
    # RFC 7692 7.2.3.4: a message may end the deflate stream; the next starts a new one.
    first = zlib.compressobj(wbits=-15)
    data = first.compress(b"first") + first.flush(zlib.Z_FINISH)
    second = zlib.compressobj(wbits=-15)
    data2 = second.compress(b"second") + second.flush(zlib.Z_SYNC_FLUSH)
    wire = server_frame(0x1, data, rsv1=True) + server_frame(0x1, data2[:-4], rsv1=True)
    rebuilder = FrameRebuilder()
    rebuilder.use_deflate(False)
    assert rebuilder.feed(wire) == [("text", b"first", None), ("text", b"second", None)]


def test_deflate_params_from_the_response_header() -> None:
    assert deflate_params(None) is None
    assert deflate_params("x-other") is None
    assert deflate_params("permessage-deflate") == (False, False)
    value = "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
    assert deflate_params(value) == (True, False)
    assert deflate_params("permessage-deflate; client_no_context_takeover") == (False, True)


# -- matching client messages during a replay -----------------------------------------------


def text(value: str) -> CassetteFrame:
    return CassetteFrame(0.0, "client", "text", text=value)


def test_matching_with_redacted_values_as_wildcards() -> None:
    assert _matches(text("hello"), "hello")
    assert not _matches(text("hello"), "hullo")
    assert not _matches(text("hello"), b"hello")
    recorded = text('{"op":"auth","args":["***","***"],"req_id":"1"}')
    assert _matches(recorded, '{"op": "auth", "args": ["k", 12], "req_id": "1"}')
    assert not _matches(recorded, '{"op": "auth", "args": ["k"], "req_id": "1"}')
    assert not _matches(recorded, '{"op": "auth", "args": ["k", 1], "req_id": "2"}')
    assert not _matches(recorded, '{"op": "auth", "args": ["k", 1], "req_id": "1", "x": 0}')
    # 1 and 1.0, true and 1 are different messages.
    assert not _matches(text('{"a":"***","n":1}'), '{"a": 0, "n": true}')
    assert _matches(text("token=*** end"), "token=abc end")
    assert not _matches(text("token=*** end"), "token=abc")
    binary = CassetteFrame(0.0, "client", "binary", data=b"\x01***\x02")
    assert _matches(binary, b"\x01secret\x02")
    assert not _matches(binary, "\x01secret\x02")
    assert _matches(CassetteFrame(0.0, "client", "binary", data=b"ab"), b"ab")
