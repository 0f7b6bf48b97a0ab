"""The client against a hostile server on loopback (issue 11): the probes, kept as tests.

Each test drives :class:`jetsocket.testing.HostileServer`, which writes every byte itself:
responses split at any byte or trickled, any status and headers, raw frames that break
RFC 6455, ping floods while not reading.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import pytest

import jetsocket
from jetsocket import BackoffConfig, ConnectionClosedError, HandshakeError, TimeoutError
from jetsocket._protocol._connection import WireConnection
from jetsocket._protocol._open import open_connection
from jetsocket.testing import HostileConnection, HostileServer
from jetsocket.testing._hostile import http_response

TOKEN = "tok3nV4lue0123456789abcdef"
LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"


class Events:
    """Records a client's events; tests await them (no sleeping)."""

    def __init__(self, ws: jetsocket.WebSocket[Any], *names: Any) -> None:
        self.events: dict[str, list[Any]] = {name: [] for name in names}
        self._changed = asyncio.Event()
        for name in names:
            ws.add_handler(name, functools.partial(self._record, name))

    def _record(self, name: str, event: Any) -> None:
        self.events[name].append(event)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, name: str, count: int = 1, timeout: float = 10.0) -> Any:
        async with asyncio.timeout(timeout):
            while len(self.events[name]) < count:
                await self._changed.wait()
        return self.events[name][count - 1]


class Sink:
    """A bare protocol-level listener."""

    def __init__(self, pings_expected: int = 0) -> None:
        self.messages: list[bytes | str] = []
        self.pings = 0
        self.pings_expected = pings_expected
        self.all_pings = asyncio.Event()
        self.lost: list[ConnectionClosedError] = []

    def on_messages(self, messages: list[bytes | str]) -> None:
        self.messages.extend(messages)

    def on_ping(self, payload: bytes) -> None:
        self.pings += 1
        if self.pings == self.pings_expected:
            self.all_pings.set()

    def on_pong(self, payload: bytes) -> None:
        pass

    def on_connection_lost(self, exc: ConnectionClosedError) -> None:
        self.lost.append(exc)


async def hold(conn: HostileConnection) -> None:
    await conn.accept_handshake()
    await conn.wait_closed()


def refuse(status: int, headers: list[tuple[str, str]], body: bytes, cuts: list[int]) -> Any:
    async def script(conn: HostileConnection) -> None:
        await conn.read_request()
        await conn.send(http_response(status, None, headers, body), split_at=cuts, pause=0.01)
        await conn.wait_closed()

    return script


def assert_no_script_errors(server: HostileServer) -> None:
    assert server.errors == [], server.errors


# -- item 1: split handshake responses ---------------------------------------------------------


async def test_a_101_split_at_each_of_its_first_bytes_opens() -> None:
    # Before: a 101 split within "HTTP/1.1 101" failed the handshake.
    cut_of: dict[int, int] = {}

    async def script(conn: HostileConnection) -> None:
        await conn.read_request()
        cut = cut_of[conn.index] = conn.index + 1
        await conn.send(conn.handshake_101(), split_at=[cut], pause=0.01)
        await conn.send_frame(0x1, b"ok %d" % cut)
        await conn.wait_closed()

    async with HostileServer(script) as server:
        for cut in range(1, 16):
            async with jetsocket.WebSocket(server.uri, raw=True, reconnect=False) as ws:
                assert await ws.recv(timeout=5) == f"ok {cut}"
        assert_no_script_errors(server)


async def test_a_split_401_is_fatal_with_its_status_and_headers() -> None:
    # Before: split anywhere in its head, a 401 lost its status (0) and was retried for ever.
    script = refuse(401, [("WWW-Authenticate", "Bearer")], b"bad key", [3, 15, 30])
    async with HostileServer(script) as server:
        ws = jetsocket.WebSocket(server.uri, raw=True)
        with pytest.raises(HandshakeError) as info:
            await ws.connect()
        assert info.value.status_code == 401
        assert info.value.headers["WWW-Authenticate"] == "Bearer"
        assert info.value.body == b"bad key"
        await ws.close()


async def test_a_split_401_after_a_drop_stops_the_reconnects() -> None:
    async def drop(conn: HostileConnection) -> None:
        await conn.accept_handshake()
        conn.abort()

    scripts = [drop, refuse(401, [("X-Why", "revoked")], b"", [2, 13])]
    async with HostileServer(scripts) as server:
        ws = jetsocket.WebSocket(
            server.uri, raw=True, backoff=BackoffConfig(base=0.01, cap=0.02, seed=1)
        )
        events = Events(ws, "error")
        await ws.connect()
        error = await events.wait("error")
        assert error.fatal
        assert isinstance(error.error, HandshakeError)
        assert error.error.status_code == 401
        assert server.connections == 2  # one refusal, no retry
        await ws.close()


# -- item 2: Retry-After clamped, the delay reported ---------------------------------------------


async def test_retry_after_is_clamped_and_the_delay_is_reported() -> None:
    # Before: "Retry-After: 3600" made the client sleep an hour in RECONNECTING, silently
    # ignoring cap; "0" made it retry at once. Both are split across segments too.
    async def drop(conn: HostileConnection) -> None:
        await conn.accept_handshake()
        conn.abort()

    async def serve_one(conn: HostileConnection) -> None:
        await conn.accept_handshake()
        await conn.send_frame(0x1, b"back")
        await conn.wait_closed()

    scripts = [
        drop,
        refuse(429, [("Retry-After", "3600")], b"", [20]),
        refuse(503, [("Retry-After", "1e12")], b"", [7]),
        refuse(429, [("Retry-After", "0")], b"", [9]),
        refuse(429, [("Retry-After", "nan")], b"", [9]),
        serve_one,
    ]
    backoff = BackoffConfig(base=0.05, cap=0.2, seed=1)
    async with HostileServer(scripts) as server:
        ws = jetsocket.WebSocket(server.uri, raw=True, backoff=backoff)
        events = Events(ws, "reconnecting", "reconnected")
        async with ws:
            await events.wait("reconnected", timeout=10)
            assert await ws.recv(timeout=5) == "back"
        delays = [e.delay for e in events.events["reconnecting"]]
        assert len(delays) == 5
        # After the huge Retry-After values: the cap (the default max_retry_after).
        assert delays[1] == 0.2
        assert delays[2] == 0.2
        # Invalid values (0, nan) are ignored: the jittered backoff applies.
        assert all(0 <= d <= 0.2 for d in delays)
        assert_no_script_errors(server)


# -- item 10: a hostile head says what was wrong --------------------------------------------------


async def test_ten_thousand_headers_are_refused_with_a_clear_error() -> None:
    async def script(conn: HostileConnection) -> None:
        await conn.read_request()
        headers = [(f"X-H{i}", str(i)) for i in range(10_000)]
        await conn.send(conn.handshake_101(headers))
        await conn.wait_closed()

    async with HostileServer(script) as server:
        ws = jetsocket.WebSocket(server.uri, raw=True)
        with pytest.raises(HandshakeError) as info:
            await ws.connect()
        assert info.value.status_code == 101
        assert "too many headers (more than 128)" in str(info.value)
        await ws.close()


async def test_a_trickled_handshake_opens() -> None:
    async def script(conn: HostileConnection) -> None:
        await conn.read_request()
        await conn.trickle(conn.handshake_101(), chunk=1, interval=0.001)
        await conn.send_frame(0x1, b"slow but fine")
        await conn.wait_closed()

    async with HostileServer(script) as server:
        async with jetsocket.WebSocket(server.uri, raw=True, reconnect=False) as ws:
            assert await ws.recv(timeout=5) == "slow but fine"


async def test_a_slowloris_that_never_finishes_is_bounded_by_connect_timeout() -> None:
    async def script(conn: HostileConnection) -> None:
        await conn.read_request()
        await conn.trickle(
            b"HTTP/1.1 101 Switching Protocols\r\n" + b"X: y\r\n" * 10_000, interval=0.01
        )

    async with HostileServer(script) as server:
        ws = jetsocket.WebSocket(server.uri, raw=True, connect_timeout=0.3)
        async with asyncio.timeout(5):
            with pytest.raises(TimeoutError):
                await ws.connect()
        await ws.close()


# -- raw frames: every violation closes with the RFC code -----------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (dict(opcode=0x3, payload=b"x"), 1002),  # reserved data opcode
        (dict(opcode=0xB), 1002),  # reserved control opcode
        (dict(opcode=0x1, payload=b"hi", mask=b"\x01\x02\x03\x04"), 1002),  # masked
        (dict(opcode=0x1, payload=b"hi", rsv=4), 1002),  # RSV1 without an extension
        (dict(opcode=0x0, payload=b""), 1002),  # a continuation with nothing to continue
        (dict(opcode=0x9, payload=b"x" * 126), 1002),  # control frame too long
        (dict(opcode=0x9, payload=b"x", fin=False), 1002),  # fragmented control frame
        (dict(opcode=0x1, payload=b"\xff\xfe"), 1007),  # invalid UTF-8
        (dict(opcode=0x2, payload=b"", length=1 << 40), 1009),  # a lying length
    ],
)
async def test_raw_frame_violations_close_with_the_rfc_code(
    frame: dict[str, Any], code: int
) -> None:
    received: list[int | None] = []

    async def script(conn: HostileConnection) -> None:
        await conn.accept_handshake()
        await conn.send_frame(**frame)
        close_code, _ = await conn.read_close(timeout=5)
        received.append(close_code)

    async with HostileServer(script) as server:
        ws = jetsocket.WebSocket(server.uri, raw=True, reconnect=False)
        await ws.connect()
        with pytest.raises(jetsocket.JetSocketError):
            await ws.recv(timeout=5)
        await server.wait_for(lambda: server.closed == 1)
        await ws.close()
        assert received == [code]
        assert_no_script_errors(server)


# -- item 9b: a ping flood to a client whose peer does not read ---------------------------------


async def test_a_ping_flood_while_not_reading_keeps_the_write_buffer_bounded() -> None:
    # Before: every ping queued a pong; 100 000 pings of 125 bytes made about 13 MB of
    # pongs pile up in the client's write buffer while the server did not read.
    count = 100_000
    flooded = asyncio.Event()
    release = asyncio.Event()

    async def script(conn: HostileConnection) -> None:
        await conn.accept_handshake()
        conn.stop_reading()
        await conn.flood_pings(count, b"p" * 125)
        flooded.set()
        await release.wait()

    async with HostileServer(script, receive_buffer=4096) as server:
        sink = Sink(pings_expected=count)
        conn: WireConnection = await open_connection(
            server.uri, sink, text_as_str=True, max_message_size=1 << 20
        )
        try:
            async with asyncio.timeout(30):
                await flooded.wait()
                await sink.all_pings.wait()  # every ping was read and answered (or owed)
            transport = conn._transport
            assert transport is not None
            buffered = transport.get_write_buffer_size()
            assert buffered <= 64 * 1024 + 256, buffered
            assert conn.bytes_sent < count * 131 // 2  # far from one pong per ping
        finally:
            release.set()
            conn.abort()
        assert_no_script_errors(server)


# -- items 6 and 7: bad arguments fail fast and clearly -------------------------------------------


async def connect(uri: str, **options: Any) -> None:
    """Construct and connect (the engine may validate in either)."""
    ws = jetsocket.WebSocket(uri, raw=True, **options)
    try:
        await ws.connect()
    finally:
        await ws.close()


async def test_an_invalid_subprotocol_fails_fast_and_clearly() -> None:
    # Before: it raised inside connection_made; connect() waited for connect_timeout and
    # reported a misleading TimeoutError.
    async with HostileServer(hold) as server:
        async with asyncio.timeout(2):
            with pytest.raises(ValueError, match="subprotocol"):
                await open_connection(
                    server.uri,
                    Sink(),
                    text_as_str=True,
                    max_message_size=1 << 20,
                    subprotocols=["chat\r\nX-Injected: 1"],
                    connect_timeout=5,
                )
            with pytest.raises(ValueError, match="subprotocol"):
                await connect(server.uri, subprotocols=["x,y"], connect_timeout=5)
        assert server.connections == 0  # refused before any socket was opened


@pytest.mark.parametrize("uri", ["ws://127.0.0.1:99999/", "ws://[::1/", "ws://127.0.0.1:0/"])
async def test_an_invalid_uri_fails_clearly_and_repr_and_close_never_raise(uri: str) -> None:
    try:
        ws = jetsocket.WebSocket(uri, raw=True)
    except ValueError as exc:  # validated at construction (the engine's choice)
        message = str(exc)
        assert "invalid WebSocket URI" in message or "port" in message
        return
    assert "uri=" in repr(ws)
    with pytest.raises(ValueError, match="invalid WebSocket URI"):
        await ws.connect()
    assert "uri=" in repr(ws)
    await ws.close()
    await ws.close()


# -- item 8: secrets in the URI never reach repr, events or logs ----------------------------------


@pytest.mark.parametrize(
    ("suffix", "secret"), [(f"ws?{TOKEN}", TOKEN), (f"ws/{LISTEN_KEY}", LISTEN_KEY)]
)
async def test_uri_credentials_stay_out_of_repr_events_and_logs(
    suffix: str, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with HostileServer(hold) as server:
        ws = jetsocket.WebSocket(server.uri + suffix, raw=True, reconnect=False)
        events = Events(ws, "connecting", "connected")
        async with ws:
            await events.wait("connected")
            shown = repr(ws)
        assert secret.encode() in server.requests[0]  # it was sent
        assert secret not in shown
        assert all(secret not in e.uri for e in events.events["connecting"])
        assert all(secret not in str(e) for e in events.events["connected"])
        assert secret not in caplog.text
