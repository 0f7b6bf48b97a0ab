"""jetsocket.presets: typed option sets usable with WebSocket, SyncWebSocket and Client."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from tests.conftest import ws_server
from websockets.asyncio.server import ServerConnection

import jetsocket
from jetsocket import (
    BackoffConfig,
    HeartbeatConfig,
    SyncWebSocket,
    WebSocket,
    WebSocketOptions,
    presets,
)
from jetsocket.schema import Client

URI = "ws://127.0.0.1:9/"
NAMES = ("trading", "llm_stream", "dashboard", "minimal")


class Tick(msgspec.Struct):
    p: float


def preset(name: str) -> WebSocketOptions:
    value: WebSocketOptions = getattr(presets, name)
    return value


@pytest.mark.parametrize("name", NAMES)
def test_presets_are_valid_options(name: str) -> None:
    options = preset(name)
    assert isinstance(options, dict)
    assert options
    assert set(options) <= set(WebSocketOptions.__annotations__)


@pytest.mark.parametrize("name", NAMES)
def test_each_access_is_a_fresh_copy(name: str) -> None:
    first = preset(name)
    assert preset(name) is not first
    first["reconnect"] = not first.get("reconnect", True)
    first["connect_timeout"] = 123.0
    again = preset(name)
    assert again.get("connect_timeout") != 123.0
    assert again == preset(name)


def test_module_attributes() -> None:
    for name in NAMES:
        assert name in dir(presets)
        assert name in presets.__all__
    with pytest.raises(AttributeError, match="no attribute 'tradng'"):
        presets.tradng  # type: ignore[attr-defined]  # noqa: B018


def test_websocket_accepts_every_preset() -> None:
    # These calls are the type-check: mypy --strict must accept **presets.<name>.
    ws_trading = WebSocket(URI, **presets.trading)
    ws_llm = WebSocket(URI, message_type=Tick, **presets.llm_stream)
    ws_dash: WebSocket[str | bytes] = WebSocket(URI, raw=True, **presets.dashboard)
    ws_min = jetsocket.connect(URI, **presets.minimal)

    assert ws_trading.settings.heartbeat == HeartbeatConfig(interval=10.0, timeout=5.0)
    assert ws_trading.settings.backoff == BackoffConfig(base=0.1, cap=5.0, reset_after=30.0)
    assert ws_trading.settings.buffer.capacity == 100_000
    assert ws_trading.settings.buffer.overflow_policy == "block"
    assert ws_trading.settings.max_connection_age == 23 * 3600
    assert ws_trading.settings.connect.compress is False
    assert ws_trading.settings.send.wait_while_reconnecting is False

    assert ws_llm.settings.connect.max_message_size == 128 * 1024 * 1024
    assert ws_llm.settings.max_connection_age is None
    assert ws_llm.settings.send.wait_while_reconnecting is True
    assert ws_llm.settings.send.timeout == 30.0

    assert ws_dash.settings.buffer.overflow_policy == "drop_oldest"
    assert ws_dash.settings.buffer.capacity == 1_000

    assert ws_min.settings.reconnect is False
    assert ws_min.settings.heartbeat is None
    assert ws_min.settings.max_connection_age is None


@pytest.mark.parametrize("name", NAMES)
def test_sync_websocket_accepts_every_preset(name: str) -> None:
    ws = SyncWebSocket(URI, raw=True, **preset(name))
    assert ws.websocket.settings.reconnect is (name != "minimal")
    ws.close()


def test_sync_websocket_typed() -> None:
    ws = SyncWebSocket(URI, message_type=Tick, **presets.trading)
    assert ws.websocket.settings.max_connection_age == 23 * 3600
    ws.close()


def test_customize_overrides_a_copy() -> None:
    opts = presets.customize(presets.trading, heartbeat=5.0, compress=True)
    assert opts["heartbeat"] == 5.0
    assert opts["compress"] is True
    assert opts["max_connection_age"] == 23 * 3600
    assert presets.trading["compress"] is False
    ws = WebSocket(URI, **opts)
    assert ws.settings.heartbeat == HeartbeatConfig(interval=5.0, timeout=5.0)


def test_client_instance_options() -> None:
    class Venue(Client[Tick]):
        uri = URI
        heartbeat = 20.0

    venue = Venue(**presets.trading)  # instance options win over class attributes
    assert venue.websocket.settings.heartbeat == HeartbeatConfig(interval=10.0, timeout=5.0)
    assert venue.websocket.settings.max_connection_age == 23 * 3600
    sync = Venue.sync(**presets.dashboard)
    assert sync.websocket.settings.buffer.overflow_policy == "drop_oldest"


def test_apply_sets_class_attributes_without_overriding_the_class_body() -> None:
    @presets.apply(presets.trading)
    class Venue(Client[Tick]):
        uri = URI
        heartbeat = 20.0  # the class body wins over the preset

    ws = Venue().websocket
    assert ws.settings.heartbeat == HeartbeatConfig(interval=20.0, timeout=10.0)
    assert ws.settings.max_connection_age == 23 * 3600
    assert ws.settings.connect.compress is False
    assert ws.settings.buffer.capacity == 100_000
    # Instance options win over both.
    assert Venue(max_connection_age=60.0).websocket.settings.max_connection_age == 60.0

    class Child(Venue):  # presets are inherited like any class attribute
        pass

    assert Child().websocket.settings.backoff == BackoffConfig(base=0.1, cap=5.0, reset_after=30)


async def echo(ws: ServerConnection) -> None:
    async for msg in ws:
        await ws.send(msg)


@pytest.mark.parametrize("name", NAMES)
async def test_presets_connect_and_echo(name: str) -> None:
    async with ws_server(echo) as uri, WebSocket(uri, raw=True, **preset(name)) as ws:
        await ws.send_raw("hi", binary=False)
        assert await ws.recv(timeout=5) == "hi"
        negotiated = ws._conn.extensions if ws._conn is not None else []
        assert bool(negotiated) is (name != "trading")  # trading turns compression off


async def test_minimal_does_not_reconnect() -> None:
    async def close_at_once(ws: ServerConnection) -> None:
        await ws.close(1011, "bye")

    async with ws_server(close_at_once) as uri:
        ws = WebSocket(uri, raw=True, **presets.minimal)
        await ws.connect()
        with pytest.raises(jetsocket.ConnectionClosedError) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.code == 1011
        assert ws.state is jetsocket.ConnectionState.CLOSED
        await ws.close()
