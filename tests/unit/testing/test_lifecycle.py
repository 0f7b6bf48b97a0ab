"""LocalServer: what every test server of the kit (but the simulator) shares.

The same checks run against each server: address before and after start, one listener at a
time, connection records and waits, restart on the same port, stop idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from websockets.asyncio.client import connect

from jetsocket.testing import (
    FaultProxy,
    HostileConnection,
    HostileServer,
    KrakenVenue,
    ScriptedServer,
    Send,
)
from jetsocket.testing._lifecycle import close_all

T = 5.0


async def _accept(conn: HostileConnection) -> None:
    await conn.accept_handshake()
    await conn.send_frame(0x1, b"hi")
    await conn.wait_closed()


def _scripted() -> ScriptedServer:
    return ScriptedServer([Send("hi")])


def _hostile() -> HostileServer:
    return HostileServer(_accept)


def _kraken() -> KrakenVenue:
    return KrakenVenue(heartbeat_interval=60)


@pytest.mark.parametrize(
    "make", [_scripted, _hostile, _kraken], ids=["scripted", "hostile", "venue"]
)
async def test_every_server_shares_address_records_and_waits(
    make: Callable[[], ScriptedServer | HostileServer | KrakenVenue],
) -> None:
    server = make()
    assert not server.is_running
    with pytest.raises(RuntimeError, match=f"{type(server).__name__} has not been started"):
        _ = server.port
    async with server:
        assert server.is_running
        port = server.port
        with pytest.raises(RuntimeError, match="already running"):
            await server.start()
        uri = server.uri
        assert uri.startswith(f"ws://127.0.0.1:{port}/")
        async with asyncio.timeout(T), connect(uri) as ws:
            await server.wait_for_connections(1, timeout=T)
            assert server.connections == len(server.connection_times) == 1
            await ws.recv()
        await server.stop()
        await server.stop()  # idempotent
        assert not server.is_running
        await server.start()  # the same port again
        assert server.port == port
        with pytest.raises(TimeoutError, match=r"condition not met within 0\.05s"):
            await server.wait_for(lambda: server.connections > 1, 0.05)


async def test_fault_proxy_counts_connections_and_brackets_ipv6() -> None:
    async with _scripted() as server, FaultProxy(server) as proxy:
        assert proxy.is_running
        async with asyncio.timeout(T), connect(proxy.uri_for("x")) as ws:
            await proxy.wait_for_connections(1, timeout=T)
            assert await ws.recv() == "hi"
        assert proxy.connections == 1
        with pytest.raises(RuntimeError, match="FaultProxy is already running"):
            await proxy.start()
    v6 = FaultProxy(("::1", 1), host="::1", port=8765)
    assert v6.uri_for("/a") == "ws://[::1]:8765/a"


async def test_close_all_closes_every_connection_at_once() -> None:
    async with _scripted() as server:
        async with asyncio.timeout(T), connect(server.uri) as a, connect(server.uri) as b:
            await server.wait_for(lambda: server.active == 2, T)
            assert await server.close_all(4000, "bye") == 2
            for ws in (a, b):
                await ws.wait_closed()
                assert ws.close_code == 4000
    assert await close_all([]) == 0
