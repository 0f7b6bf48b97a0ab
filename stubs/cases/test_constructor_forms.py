"""Type-check case: every constructor form of the engine, its facade and clients.

Run by ``stubs/check.py``: ``mypy --strict`` must accept every line except those ending
with ``# E: <code>``, which must produce exactly that error.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal, TypedDict, assert_type

import msgspec

import jetsocket
from jetsocket.schema import (
    Client,
    Message,
    Stream,
    Subscription,
    SyncClient,
    SyncStream,
    field,
)


class Trade(Message, tag="trade", tag_field="e"):
    symbol: str = field(name="s")


class Kline(Message, tag="kline", tag_field="e"):
    symbol: str = field(name="s")


class Quote(TypedDict):
    bid: float
    ask: float


class Point(msgspec.Struct):
    x: int


class Trades(Subscription[Trade]):
    symbol: str

    def subscribe_message(self, request_id: int) -> object:
        return {"id": request_id}


class Ticker(Message, tag="ticker", tag_field="e"):
    symbol: str = field(name="s")


class Tickers(Subscription[Ticker]):
    def subscribe_message(self, request_id: int) -> object:
        return {"id": request_id}


class Everything(Subscription[Message]):
    def subscribe_message(self, request_id: int) -> object:
        return {"id": request_id}


class Klines(Subscription[Trade | Kline]):
    def subscribe_message(self, request_id: int) -> object:
        return {"id": request_id}


class Untyped(Client[Any]):
    uri = "wss://example.invalid/ws"


class Binance(Client[Trade | Kline]):
    uri = "wss://stream.binance.com:9443/ws"


class Keyed(Client[Trade]):
    """A client whose constructor takes its own arguments: sync() takes the same."""

    uri = "wss://example.invalid/ws"

    def __init__(self, api_key: str, *, testnet: bool = False, heartbeat: float = 20.0) -> None:
        super().__init__(heartbeat=heartbeat)
        self.api_key = api_key


URI = "wss://stream.example.invalid/ws"


def count_bytes(data: bytes) -> int:
    return len(data)


# -- message_type is a type form: a union, a generic, a TypedDict, a Literal ------------------

union_ws = jetsocket.WebSocket(URI, message_type=Trade | Kline)
assert_type(union_ws, jetsocket.WebSocket[Trade | Kline])
assert_type(jetsocket.WebSocket(URI, message_type=list[Point]), jetsocket.WebSocket[list[Point]])
assert_type(jetsocket.WebSocket(URI, message_type=Quote), jetsocket.WebSocket[Quote])
assert_type(
    jetsocket.WebSocket(URI, message_type=Literal["pong"]), jetsocket.WebSocket[Literal["pong"]]
)
assert_type(jetsocket.WebSocket(URI, raw=False), jetsocket.WebSocket[Any])
assert_type(
    jetsocket.SyncWebSocket(URI, message_type=Trade | Kline, heartbeat=5.0),
    jetsocket.SyncWebSocket[Trade | Kline],
)
assert_type(jetsocket.SyncWebSocket(URI), jetsocket.SyncWebSocket[Any])
assert_type(jetsocket.SyncWebSocket(URI, deserializer=count_bytes), jetsocket.SyncWebSocket[int])
assert_type(jetsocket.SyncWebSocket(URI, raw=True), jetsocket.SyncWebSocket[str | bytes])
# A type only known at run time still works (as Any).
runtime_type: Any = Trade
assert_type(jetsocket.WebSocket(URI, message_type=runtime_type), jetsocket.WebSocket[Any])


# -- connect() is WebSocket: every form, typed the same way ---------------------------------

assert_type(jetsocket.connect(URI), jetsocket.WebSocket[Any])
assert_type(jetsocket.connect(URI, raw=True), jetsocket.WebSocket[str | bytes])
assert_type(jetsocket.connect(URI, deserializer=count_bytes), jetsocket.WebSocket[int])
assert_type(jetsocket.connect(URI, message_type=Trade), jetsocket.WebSocket[Trade])
assert_type(jetsocket.connect(URI, message_type=Trade | Kline), jetsocket.WebSocket[Trade | Kline])
assert_type(
    jetsocket.connect(URI, raw=True, heartbeat=5.0, reconnect=False),
    jetsocket.WebSocket[str | bytes],
)
options: jetsocket.WebSocketOptions = {"heartbeat": 5.0, "send_rate": 10.0}
assert_type(jetsocket.connect(URI, message_type=Trade, **options), jetsocket.WebSocket[Trade])


async def iterate() -> None:
    async with jetsocket.connect(URI, message_type=Trade | Kline) as ws:
        async for message in ws:
            assert_type(message, Trade | Kline)
        async for batch in ws.batches():
            assert_type(batch, list[Trade | Kline])
        # batches() are generators: they can be closed early (aclosing / closing).
        async with contextlib.aclosing(ws.batches()) as batches:
            async for batch in batches:
                assert_type(batch, list[Trade | Kline])
    sync_ws = jetsocket.SyncWebSocket(URI, raw=True)
    with sync_ws, contextlib.closing(sync_ws.batches()) as sync_batches:
        for frames in sync_batches:
            assert_type(frames, list[str | bytes])


# -- Client.sync() takes what the client's constructor takes ---------------------------------

assert_type(Binance.sync(ack_timeout=3), SyncClient[Trade | Kline])
assert_type(
    Binance.sync(uri=URI, unknown_messages="ignore", heartbeat=5.0, max_streams_per_connection=2),
    SyncClient[Trade | Kline],
)
assert_type(Keyed.sync("key", testnet=True), SyncClient[Trade])


def sync_client() -> None:
    with Binance.sync(ack_timeout=30.0) as bn:
        assert_type(bn.subscriptions, tuple[Subscription[Any], ...])
        assert_type(bn.request({"method": "PING"}, lambda m: True), Any)
        assert_type(bn.expect(lambda m: True, timeout=1.0), Any)
        stream = bn.subscribe(Trades(symbol="btcusdt"))
        assert_type(stream, SyncStream[Trade])
        assert_type(stream.received, int)
        assert_type(stream.gaps, int)
        assert_type(stream.dropped, int)
        assert_type(stream.last_sequence, int | None)
        for batch in stream.batches():
            assert_type(batch, list[Trade])
        for trade in stream.iter_messages(timeout=1.0):
            assert_type(trade, Trade)
        for message_batch in bn.batches():
            assert_type(message_batch, list[Trade | Kline])
        assert_type(bn.settings.heartbeat, jetsocket.HeartbeatConfig | None)
        assert_type(bn.subprotocol, str | None)


def add_on_open(ws: jetsocket.SyncWebSocket[Trade]) -> None:
    ws.add_on_open(lambda: [{"op": "subscribe"}])
    ws.add_on_open(lambda: None)

    async def login(engine: jetsocket.WebSocket[Any]) -> None:
        await engine.send({"op": "login"})

    ws.add_on_open(login)


# -- subscribe() takes subscriptions whose messages lie within the client's type --------------


async def subscriptions(bn: Binance, untyped: Untyped) -> None:
    assert_type(await bn.subscribe(Trades(symbol="btc")), Stream[Trade])
    assert_type(await bn.subscribe(Klines()), Stream[Trade | Kline])
    assert_type(await untyped.subscribe(Tickers()), Stream[Ticker])  # Client[Any]: anything
    await bn.subscribe(Tickers())  # E: arg-type
    # A supertype of the union is outside it too: declare Subscription[Trade | Kline].
    await bn.subscribe(Everything())  # E: arg-type
    with Binance.sync() as sync_bn:
        assert_type(sync_bn.subscribe(Trades(symbol="btc")), SyncStream[Trade])
        sync_bn.subscribe(Tickers())  # E: arg-type


# -- lines mypy must reject ---------------------------------------------------------------------

# A wrong option type on a client (one signature) names the option: "Argument "ack_timeout"
# to "sync" of "Client" has incompatible type "str"; expected "float | None"".
Binance.sync(ack_timeout="3")  # E: arg-type
Binance.sync(heartbeat="20s")  # E: arg-type
Binance.sync(heartbeat_interval=20.0)  # E: call-arg
Keyed.sync()  # E: call-arg
Keyed.sync("key", ack_timeout=3)  # E: call-arg
# The engine has two forms (only a literal raw=True can select str | bytes), so mypy
# reports a wrong option as "no overload variant" and lists the two forms.
jetsocket.WebSocket(URI, send_rate="5/s")  # E: call-overload
jetsocket.SyncWebSocket(URI, heartbeat="20s")  # E: call-overload
jetsocket.connect(URI, raw=True, message_type=Trade)  # E: call-overload
jetsocket.connect(URI, raw=True, deserializer=count_bytes)  # E: call-overload
jetsocket.SyncWebSocket(URI, message_type=Trade, deserializer=count_bytes)  # E: arg-type
jetsocket.WebSocket(URI, message_type=42)  # E: call-overload
wrong: jetsocket.WebSocket[Kline] = jetsocket.WebSocket(URI, message_type=Trade)  # E: arg-type
