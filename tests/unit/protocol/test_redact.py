"""One home for redaction (issue 11, item 8): names, URI parts and declared secret values."""

from __future__ import annotations

import asyncio
import logging
import math

import pytest
from tests.unit.protocol.wire import Recorder, accept_for, make_connection, server_frame
from websockets.uri import parse_uri

import jetsocket
from jetsocket import HandshakeError
from jetsocket._protocol._connection import redact_uri as connection_redact_uri
from jetsocket._protocol._open import open_connection
from jetsocket._protocol._proxy import redact_proxy, resolve_proxy
from jetsocket._protocol._redact import (
    SECRET_WORDS,
    Redactor,
    is_secret_name,
    looks_like_credential,
    redact_resource,
    redact_text,
    redact_uri,
)

TOKEN = "eyJhbGciOiJIUzI1NiJ9deadbeef0123456789"
LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"


def test_the_connection_module_re_exports_the_one_redact_uri() -> None:
    assert connection_redact_uri is redact_uri


# -- by name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "Set-Cookie",
        "X-API-KEY",
        "OK-ACCESS-KEY",
        "OK-ACCESS-SIGN",
        "OK-ACCESS-PASSPHRASE",
        "X-BAPI-SIGN",
        "X-BAPI-API-KEY",
        "X-MBX-APIKEY",
        "X-Session-Id",
        "X-Auth-Token",
        "Client-Secret",
        "X-Password",
        "X-Credential",
        "X-JWT",
    ],
)
def test_secret_header_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["Sec-WebSocket-Key", "Sec-WebSocket-Accept", "Host", "Origin", "User-Agent", "X-Request-Id"],
)
def test_ordinary_header_names(name: str) -> None:
    assert not is_secret_name(name)


def test_one_list_is_used_by_the_cli() -> None:
    from jetsocket._cli import _connect  # noqa: PLC0415

    assert _connect._SECRET_HEADER_WORDS is SECRET_WORDS


# -- URIs ---------------------------------------------------------------------------------------


def test_a_bare_query_token_is_hidden() -> None:
    # Before: "wss://h/ws?TOKEN" was shown as "?TOKEN=***", the token itself being the key.
    shown = redact_uri(f"wss://h/ws?{TOKEN}")
    assert TOKEN not in shown
    assert shown == "wss://h:443/ws?***"


def test_query_values_and_user_info_are_hidden() -> None:
    assert redact_uri(f"wss://h/ws?token={TOKEN}&x=1") == "wss://h:443/ws?token=***&x=***"
    shown = redact_uri(f"ws://user:{TOKEN}@h:8080/")
    assert TOKEN not in shown
    assert "user" not in shown
    assert shown == "ws://h:8080/"


def test_a_listen_key_in_the_path_is_hidden() -> None:
    shown = redact_uri(f"wss://stream.binance.com:9443/ws/{LISTEN_KEY}")
    assert shown == "wss://stream.binance.com:9443/ws/***"


@pytest.mark.parametrize(
    "segment",
    [
        LISTEN_KEY,
        "123e4567-e89b-12d3-a456-426614174000",  # a UUID
        "a1b2c3d4e5f6a7b8c9d0",  # 20 alphanumerics, mixed
        "0123456789abcdef0123456789abcdef01234567",  # a hex digest
    ],
)
def test_credential_looking_segments(segment: str) -> None:
    assert looks_like_credential(segment)


@pytest.mark.parametrize(
    "segment",
    [
        "ws",
        "stream",
        "btcusdt@trade",
        "v1",
        "realtime",
        "2024-10-01",
        "abcdefghijklmnopqrstuvwxyz",  # letters only
        "12345678901234567890123",  # digits only
        "public-market-data-feed",
    ],
)
def test_ordinary_segments_are_kept(segment: str) -> None:
    assert not looks_like_credential(segment)
    assert redact_uri(f"wss://h/{segment}") == f"wss://h:443/{segment}"


def test_declared_secrets_are_hidden_everywhere_in_the_uri() -> None:
    secret = "myAccountName"
    shown = redact_uri(
        f"wss://{secret.lower()}.example.com/feeds/{secret}", [secret.lower(), secret]
    )
    assert secret not in shown
    assert secret.lower() not in shown


def test_declared_secrets_are_found_percent_encoded() -> None:
    secret = "p@ss/wörd 1"
    text = "GET /ws?k=p%40ss%2Fw%C3%B6rd%201 and p%40ss%2Fw%C3%B6rd+1 and p@ss/wörd 1"
    assert redact_text(text, [secret]) == "GET /ws?k=*** and *** and ***"


@pytest.mark.parametrize(
    "uri",
    [
        "ws://host:99999/",
        "ws://host:-1/",
        "ws://host:abc/",
        "ws://[::1/",
        "ws://[::1",
        "http://host/",
        "ws:///?token=x",
        "",
        "\x00\r\n",
        None,
        12,
        b"ws://h/",
        math.nan,
    ],
)
def test_redact_uri_never_raises(uri: object) -> None:
    assert redact_uri(uri) == "<invalid uri>"
    assert Redactor(["x1234"]).uri(uri) == "<invalid uri>"


def test_ipv6_and_default_ports() -> None:
    assert redact_uri("ws://[::1]/a") == "ws://[::1]:80/a"
    assert redact_uri("wss://[2001:db8::1]:9443/?k=v") == "wss://[2001:db8::1]:9443/?k=***"


def test_redact_resource_is_the_get_line_rule() -> None:
    assert redact_resource(f"/ws/{LISTEN_KEY}?{TOKEN}") == "/ws/***?***"
    assert redact_resource("/ws?a=1&b") == "/ws?a=***&***"


# -- the Redactor ---------------------------------------------------------------------------------


def test_redactor_replaces_the_longest_first_and_hides_itself() -> None:
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact("x abcdefgh y abcd") == "x *** y ***"
    assert "abcd" not in repr(redact)


@pytest.mark.parametrize(
    ("bad", "error"),
    [("secret", TypeError), ([b"x"], TypeError), ([""], ValueError), ([3], TypeError)],
)
def test_redactor_refuses_bad_declarations(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        Redactor(bad)  # type: ignore[arg-type]


def test_redact_text_never_raises_on_bad_declarations() -> None:
    assert redact_text("abc secret1 def", "secret1") == "abc *** def"
    assert redact_text("abc", [None, ""]) == "abc"  # type: ignore[list-item]


# -- the handshake DEBUG log ----------------------------------------------------------------------


def test_handshake_debug_log_hides_names_paths_and_declared_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="jetsocket.handshake")
    headers = {
        "OK-ACCESS-KEY": "okx-key-value",
        "OK-ACCESS-SIGN": "okx-signature-value",
        "OK-ACCESS-PASSPHRASE": "okx-passphrase-value",
        "X-BAPI-SIGN": "bybit-signature-value",
        "Cookie": "sid=cookie-value",
        "X-Account": "declared-account-value",
    }

    async def go() -> None:
        conn, transport, _ = make_connection(
            uri=f"wss://h/ws/{LISTEN_KEY}?{TOKEN}",
            extra_headers=headers,
            secrets=["declared-account-value"],
        )
        accept = accept_for(bytes(transport.written))
        conn.data_received(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSet-Cookie: sid=server-cookie-value\r\n"
            b"Sec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n"
        )
        await conn.wait_open(1)

    asyncio.run(go())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "> GET /ws/***?*** HTTP/1.1" in text
    for value in [*headers.values(), "server-cookie-value", LISTEN_KEY, TOKEN]:
        assert value not in text
    assert "OK-ACCESS-SIGN: ***" in text
    assert "X-BAPI-SIGN: ***" in text
    assert "X-Account: ***" in text
    assert "Sec-WebSocket-Key: " in text
    assert "Sec-WebSocket-Key: ***" not in text


def test_frame_debug_log_hides_declared_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jetsocket.frames")

    async def go() -> None:
        conn, transport, rec = make_connection(secrets=["acct-0042-private"])
        accept = accept_for(bytes(transport.written))
        conn.data_received(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: "
            + accept.encode()
            + b"\r\n\r\n"
            + server_frame(0x1, b'{"account":"acct-0042-private"}')
        )
        await conn.wait_open(1)
        assert rec.messages == ['{"account":"acct-0042-private"}']

    asyncio.run(go())
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "acct-0042-private" not in text
    assert '{"account":"***"}' in text


# -- the proxy module ------------------------------------------------------------------------


def test_unsupported_proxy_scheme_keeps_no_password_in_the_context() -> None:
    # Before: "raise ... from None" hid the InvalidProxy from tracebacks only; its
    # __context__ still held the URL with the password.
    with pytest.raises(ValueError, match=r"ftp://\*\*\*@proxy:21") as info:
        resolve_proxy("ftp://user:hunter2pass@proxy:21", parse_uri("ws://h/"))
    chain: list[BaseException] = []
    exc: BaseException | None = info.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__context__ or exc.__cause__
    assert all("hunter2pass" not in repr(e) for e in chain)
    assert info.value.__context__ is None


def test_redact_proxy_never_raises() -> None:
    assert redact_proxy("http://user:pw@proxy.example:99999") == "<invalid proxy URL>"
    assert redact_proxy(None) == "<invalid proxy URL>"  # type: ignore[arg-type]


async def test_handshake_errors_hide_declared_values() -> None:
    conn, _, _ = make_connection(secrets=["acct-0042-private"])
    conn.data_received(
        b"HTTP/1.1 403 account acct-0042-private is banned\r\nContent-Length: 0\r\n\r\n"
    )
    with pytest.raises(HandshakeError) as info:
        await conn.wait_open(1)
    assert "acct-0042-private" not in str(info.value)
    assert "account *** is banned" in str(info.value)


@pytest.mark.parametrize("secrets", [["acct-0042"], Redactor(["acct-0042"])])
async def test_connect_errors_hide_declared_values(secrets: list[str] | Redactor) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    with pytest.raises(jetsocket.ConnectionError) as info:
        await open_connection(
            "ws://127.0.0.1:1/feeds/acct-0042",
            Recorder(),
            text_as_str=True,
            max_message_size=1 << 20,
            secrets=secrets,
        )
    assert "acct-0042" not in str(info.value)
    assert "ws://127.0.0.1:1/feeds/***" in str(info.value)
