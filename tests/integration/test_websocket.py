"""WebSocket[T] against websockets' server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from tests.conftest import ws_server
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Response

import jetsocket


class Tick(msgspec.Struct):
    s: str
    p: float


async def echo(ws: ServerConnection) -> None:
    async for msg in ws:
        await ws.send(msg)


async def test_echo_raw_text_and_binary() -> None:
    async with ws_server(echo) as uri, jetsocket.WebSocket(uri, raw=True) as ws:
        assert ws.is_connected
        await ws.send_raw("héllo")
        await ws.send_raw(b"\x00\x01")
        assert await ws.recv(timeout=5) == "héllo"
        assert await ws.recv(timeout=5) == b"\x00\x01"
        st = ws.stats()
        assert st.messages_sent == 2
        assert st.messages_received == 2
        assert st.bytes_received > 0
        assert st.bytes_sent > 0
    after = ws.stats()  # closed: the totals stay (counted once)
    assert st.bytes_received <= after.bytes_received < 2 * st.bytes_received
    assert st.bytes_sent < after.bytes_sent < 2 * st.bytes_sent


async def test_default_decoding_json() -> None:
    async with ws_server(echo) as uri, jetsocket.connect(uri) as ws:
        await ws.send({"a": [1, 2, {"b": None}]})
        assert await ws.recv(timeout=5) == {"a": [1, 2, {"b": None}]}


async def test_typed_decoding_and_strict_error_does_not_hang() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"s": "BTC", "p": 1.5}))
        await ws.send(json.dumps({"s": "BTC", "p": "not a number"}))
        await ws.send(json.dumps({"s": "ETH", "p": 2.5}))
        await ws.close()

    async with ws_server(handler) as uri:
        async with jetsocket.WebSocket(uri, message_type=Tick, reconnect=False) as ws:
            assert await ws.recv(timeout=5) == Tick("BTC", 1.5)
            with pytest.raises(jetsocket.MessageDecodeError) as info:
                await ws.recv(timeout=5)
            assert "not a number" in info.value.payload
            assert await ws.recv(timeout=5) == Tick("ETH", 2.5)
            assert ws.stats().validation_errors == 1


async def test_lenient_decoding_skips_and_counts() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("{broken")
        await ws.send(json.dumps({"s": "ETH", "p": 2.5}))
        await ws.close()

    async with ws_server(handler) as uri:
        ws = jetsocket.WebSocket(uri, message_type=Tick, strict=False, reconnect=False)
        async with ws:
            got = [m async for m in ws]
        assert got == [Tick("ETH", 2.5)]
        assert ws.stats().validation_errors == 1


async def test_iteration_ends_on_clean_server_close() -> None:
    async def handler(ws: ServerConnection) -> None:
        for i in range(100):
            await ws.send(str(i))
        await ws.close(1000, "bye")

    async with ws_server(handler) as uri:
        async with jetsocket.WebSocket(uri, raw=True, reconnect=False) as ws:
            got = [m async for m in ws]
            assert got == [str(i) for i in range(100)]
            with pytest.raises(jetsocket.ConnectionClosedError) as info:
                await ws.recv()
            assert info.value.code == 1000
            assert info.value.reason == "bye"
            assert info.value.by_server


async def test_iteration_raises_on_abnormal_server_close() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("x")
        await ws.close(1011, "oops")

    async with ws_server(handler) as uri:
        async with jetsocket.WebSocket(uri, raw=True, reconnect=False) as ws:
            assert await ws.recv(timeout=5) == "x"
            with pytest.raises(jetsocket.ConnectionClosedError) as info:
                async for _ in ws:
                    pass
            assert info.value.code == 1011


async def test_close_keeps_buffered_messages_then_ends() -> None:
    got_close = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        for i in range(10):
            await ws.send(str(i))
        try:
            await ws.wait_closed()
        finally:
            got_close.set()

    async with ws_server(handler) as uri:
        ws = jetsocket.WebSocket(uri, raw=True)
        await ws.connect()
        assert await ws.recv(timeout=5) == "0"
        while ws.stats().messages_received < 10:
            await asyncio.sleep(0)  # yield to the loop while the rest arrives
        await ws.close()
        await asyncio.wait_for(got_close.wait(), 5)
        assert ws.state is jetsocket.ConnectionState.CLOSED
        assert [m async for m in ws] == [str(i) for i in range(1, 10)]
        with pytest.raises(jetsocket.ConnectionClosedError) as info:
            await ws.recv()
        assert not info.value.by_server
        with pytest.raises(jetsocket.ConnectionClosedError):
            await ws.send("late")
        with pytest.raises(jetsocket.InvalidStateError, match="create a new one"):
            await ws.connect()
        await ws.close()  # idempotent


async def test_recv_timeout_is_builtin_timeout() -> None:
    async with ws_server(echo) as uri, jetsocket.WebSocket(uri) as ws:
        with pytest.raises(TimeoutError):
            await ws.recv(timeout=0.05)
        with pytest.raises(jetsocket.TimeoutError):
            await ws.recv(timeout=0.05)


async def test_recv_before_connect() -> None:
    ws = jetsocket.WebSocket("ws://127.0.0.1:9/")
    with pytest.raises(jetsocket.InvalidStateError):
        await ws.recv()
    with pytest.raises(jetsocket.InvalidStateError):
        await ws.send("x")


async def test_handshake_error_carries_status_headers_body() -> None:
    def reject(conn: ServerConnection, request: Any) -> Response:
        return Response(
            429, "Too Many Requests", Headers({"Retry-After": "7"}), b"slow down please"
        )

    async with ws_server(echo, process_request=reject) as uri:
        ws = jetsocket.WebSocket(uri)
        with pytest.raises(jetsocket.HandshakeError) as info:
            await ws.connect()
        err = info.value
        assert err.status_code == 429
        assert err.retry_after == 7.0
        assert b"slow down" in err.body
        assert ws.state is jetsocket.ConnectionState.FAILED


async def test_extra_headers_and_subprotocols() -> None:
    seen: dict[str, Any] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen["x"] = ws.request.headers.get("X-Api-Key")
        await ws.send("ok")
        await ws.wait_closed()

    async with ws_server(handler, subprotocols=["v2.proto"]) as uri:
        ws = jetsocket.WebSocket(
            uri, raw=True, extra_headers={"X-Api-Key": "secret"}, subprotocols=["v2.proto"]
        )
        async with ws:
            assert await ws.recv(timeout=5) == "ok"
            assert ws.subprotocol == "v2.proto"
    assert seen["x"] == "secret"


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb"])
async def test_header_injection_rejected(value: str) -> None:
    # Refused at construction (issue 11 item 6: validated where the call is made).
    with pytest.raises(ValueError, match="CR, LF"):
        jetsocket.WebSocket("ws://127.0.0.1:9/", extra_headers={"X-A": value})


async def test_connect_timeout_when_server_never_answers() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answer the handshake
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        ws = jetsocket.WebSocket(f"ws://127.0.0.1:{port}/", connect_timeout=0.2)
        with pytest.raises(jetsocket.TimeoutError):
            await ws.connect()
    finally:
        srv.close()


async def test_connection_refused_is_connection_error() -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    ws = jetsocket.WebSocket(f"ws://127.0.0.1:{port}/")
    with pytest.raises(jetsocket.ConnectionError):
        await ws.connect()
    with pytest.raises(ConnectionError):  # the builtin too
        await jetsocket.WebSocket(f"ws://127.0.0.1:{port}/").connect()


async def test_message_too_big_fails_with_1009() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("x" * 5000)
        await ws.wait_closed()

    async with (
        ws_server(handler) as uri,
        jetsocket.WebSocket(uri, raw=True, max_message_size=1000, reconnect=False) as ws,
    ):
        with pytest.raises(jetsocket.ConnectionClosedError) as info:
            await ws.recv(timeout=5)
        assert info.value.code == 1009


@pytest.mark.parametrize("compress", [True, False])
async def test_permessage_deflate_round_trip(compress: bool) -> None:
    big = {"data": "abc" * 5000}
    async with ws_server(echo) as uri, jetsocket.WebSocket(uri, compress=compress) as ws:
        for _ in range(3):
            await ws.send(big)
            assert await ws.recv(timeout=5) == big
        # compressed traffic is far smaller than the 15 kB payloads
        if compress:
            assert ws.stats().bytes_sent < 3 * 15000


async def test_decompression_bomb_is_capped() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(b"\x00" * 2_000_000)  # compresses to ~2 kB
        await ws.wait_closed()

    async with (
        ws_server(handler) as uri,
        jetsocket.WebSocket(uri, raw=True, max_message_size=100_000, reconnect=False) as ws,
    ):
        with pytest.raises(jetsocket.ConnectionClosedError) as info:
            await ws.recv(timeout=5)
        assert info.value.code == 1009
        assert ws.stats().bytes_received < 100_000


async def test_backpressure_bounds_memory_and_loses_nothing() -> None:
    # Large messages so that the stream (30 MB) cannot hide in the kernel's socket buffers.
    total = 3_000
    pad = "x" * 10_000

    async def handler(ws: ServerConnection) -> None:
        for i in range(total):
            await ws.send(f"{i} {pad}")
        await ws.close()

    async def until(predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not predicate():
                await asyncio.sleep(0.01)

    async with ws_server(handler) as uri:
        async with jetsocket.WebSocket(
            uri, raw=True, buffer=100, reconnect=False, compress=False
        ) as ws:
            # The consumer does not read: the client must stop reading the socket.
            await until(lambda: ws.stats().paused_reading > 0)
            # One read chunk may overshoot the capacity (asyncio reads 256 KiB, about 26
            # messages; uvloop reads more), never the stream.
            bound = total // 5
            assert ws.stats().buffer_size <= bound
            seen = 0
            async for msg in ws:
                assert isinstance(msg, str)
                assert msg.split(" ", 1)[0] == str(seen)
                seen += 1
                assert ws.stats().buffer_size <= bound
            assert seen == total


async def test_repr_redacts_credentials() -> None:
    ws = jetsocket.WebSocket("wss://user:pw@example.com/ws?token=SECRET&x=1")
    text = repr(ws)
    assert "SECRET" not in text
    assert "pw" not in text
    assert "token=***" in text


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="ws://"):
        jetsocket.WebSocket("http://example.com")
    with pytest.raises(TypeError):
        jetsocket.WebSocket(b"ws://x")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="raw=True"):
        jetsocket.WebSocket("ws://x", raw=True, message_type=Tick)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="connect_timeout"):
        jetsocket.WebSocket("ws://x", connect_timeout=0)


async def test_batches_yield_everything_in_order() -> None:
    async def handler(ws: ServerConnection) -> None:
        for i in range(1000):
            await ws.send(str(i))
        await ws.close()

    async with ws_server(handler) as uri:
        async with jetsocket.WebSocket(uri, reconnect=False) as ws:
            got: list[int] = []
            async for batch in ws.batches():
                assert batch
                got.extend(batch)
            assert got == list(range(1000))
