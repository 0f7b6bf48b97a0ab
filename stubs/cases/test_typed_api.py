"""Type-check case: typed messages, handlers, subscriptions and clients (never executed).

Run by ``stubs/check.py``: ``mypy --strict`` must accept every line except those ending
with ``# E: <code>``, which must produce exactly that error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, assert_type

import jetsocket
from jetsocket.schema import Client, Message, Stream, Subscription, SyncClient, SyncStream, field


class Trade(Message, tag="trade", tag_field="e"):
    symbol: str = field(name="s")
    price: float = field(name="p")


class Kline(Message, tag="kline", tag_field="e"):
    symbol: str = field(name="s")
    close: float = field(name="c")


class Trades(Subscription[Trade]):
    symbol: str

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [f"{self.symbol}@trade"], "id": request_id}

    def matches(self, msg: Trade) -> bool:
        return msg.symbol == self.symbol.upper()


class Binance(Client[Trade | Kline]):
    uri = "wss://stream.binance.com:9443/ws"
    send_rate = 5.0


URI = "wss://stream.example.invalid/ws"


def decode_length(data: bytes) -> int:
    return len(data)


# -- the engine: what iteration yields follows the constructor's arguments -------------------


async def engine() -> None:
    async for trade in jetsocket.WebSocket(URI, message_type=Trade):
        assert_type(trade, Trade)
    typed = jetsocket.WebSocket(URI, message_type=Trade)
    assert_type(await typed.recv(timeout=1.0), Trade)

    raw = jetsocket.WebSocket(URI, raw=True)
    assert_type(raw, jetsocket.WebSocket[str | bytes])
    async for frame in raw:
        assert_type(frame, str | bytes)

    assert_type(jetsocket.WebSocket(URI), jetsocket.WebSocket[Any])
    assert_type(jetsocket.WebSocket(URI, deserializer=decode_length), jetsocket.WebSocket[int])
    async with jetsocket.connect(URI, message_type=Kline) as ws:
        assert_type(ws, jetsocket.WebSocket[Kline])


def sync_engine() -> None:
    for trade in jetsocket.SyncWebSocket(URI, message_type=Trade):
        assert_type(trade, Trade)
    with jetsocket.SyncWebSocket(URI, raw=True) as raw:
        assert_type(raw.recv(timeout=1.0), str | bytes)


# -- handlers: on(Type) takes a handler of that type, on("event") one of that event -----------


def on_trade(trade: Trade) -> None:
    pass


def on_kline(kline: Kline) -> None:
    pass


def on_connected(event: jetsocket.ConnectedEvent) -> None:
    pass


async def handlers(ws: jetsocket.WebSocket[Trade | Kline]) -> None:
    registered = ws.on(Trade)(on_trade)
    assert_type(registered, Callable[[Trade], None])

    @ws.on(Kline)
    async def log_kline(kline: Kline) -> None:
        pass

    assert_type(log_kline, Callable[[Kline], Coroutine[Any, Any, None]])
    assert_type(ws.on("connected")(on_connected), Callable[[jetsocket.ConnectedEvent], None])

    @ws.on("gap")
    def gap(event: jetsocket.GapEvent) -> None:
        assert_type(event.size, int)

    @ws.on("reconnected")
    def back(event: jetsocket.ReconnectedEvent) -> None:
        assert_type(event.downtime, float)

    ws.add_handler("error", lambda event: None)


# -- clients and subscriptions -------------------------------------------------------------------


async def client() -> None:
    async with Binance() as bn:
        assert_type(bn, Binance)
        trades = await bn.subscribe(Trades(symbol="btcusdt"))
        assert_type(trades, Stream[Trade])
        async for trade in trades:
            assert_type(trade, Trade)
        assert_type(await trades.recv(timeout=1.0), Trade)
        assert_type(trades.subscription, Subscription[Trade])
        async for message in bn:
            assert_type(message, Trade | Kline)
        assert_type(await bn.recv(), Trade | Kline)

        @bn.on(Trade)
        def count(trade: Trade) -> None:
            pass

        @bn.on("subscribed")
        def subscribed(event: jetsocket.SubscribedEvent) -> None:
            pass

    overridden = Binance(uri="ws://127.0.0.1:8765/ws", heartbeat=5.0, send_rate=10.0)
    assert_type(overridden, Binance)


def sync_client() -> None:
    assert_type(Binance.sync(), SyncClient[Trade | Kline])
    assert_type(Binance.sync().subscribe(Trades(symbol="ethusdt")), SyncStream[Trade])
    with Binance.sync(uri="ws://127.0.0.1:8765/ws") as bn:
        stream = bn.subscribe(Trades(symbol="btcusdt"))
        assert_type(stream, SyncStream[Trade])
        for trade in stream:
            assert_type(trade, Trade)
        assert_type(stream.recv(timeout=1.0), Trade)
        assert_type(bn.recv(timeout=1.0), Trade | Kline)


# -- lines mypy must reject ------------------------------------------------------------------------


async def rejected(ws: jetsocket.WebSocket[Trade | Kline], bn: Binance) -> None:
    ws.on(Trade)(on_kline)  # E: arg-type
    bn.on(Kline)(on_trade)  # E: arg-type
    ws.on("gap")(on_connected)  # E: arg-type
    ws.on("conected")  # E: call-overload
    jetsocket.WebSocket(URI, heartbeat="20s")  # E: call-overload
    jetsocket.WebSocket(URI, raw=True, message_type=Trade)  # E: call-overload
    Binance(heartbeat="20s")  # E: arg-type
    Binance(send_rate="5/s")  # E: arg-type
    Binance(heartbeat_interval=20.0)  # E: call-arg
    Trades(symbol=1)  # E: arg-type
    Trades("btcusdt")  # E: call-arg
    Trades(symbol="btcusdt").symbol = "ethusdt"  # E: misc
    kline_stream: Stream[Kline] = await bn.subscribe(Trades(symbol="btcusdt"))  # E: arg-type
    trade: Trade = await bn.recv()  # E: assignment
    print(kline_stream, trade)
