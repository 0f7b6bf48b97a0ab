"""Conflation end to end: a lagging consumer gets the newest message per key.

The server pushes a burst of ticker messages for three symbols; the consumer reads only
once all of them arrived (a typed handler, which sees every message, says when), so it
lags by the whole burst: it must get one message per symbol, the newest, and the rest
counted as conflated, not dropped. Async client, sync facade and the plain engine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable

import jetsocket
from jetsocket.schema import Client, Message, Subscription, field
from jetsocket.testing import ScriptedServer, SendMany, WaitForClientMessage

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BURST = 3000


def ticker(i: int) -> dict[str, object]:
    return {"e": "ticker", "s": SYMBOLS[i % len(SYMBOLS)], "n": i}


LAST = {SYMBOLS[i % len(SYMBOLS)]: i for i in range(BURST)}


class Ticker(Message, tag="ticker", tag_field="e"):
    symbol: str = field(name="s")
    n: int = 0


class Tickers(Subscription[Ticker]):
    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": ["!ticker@arr"], "id": request_id}

    def conflate_key(self, msg: Ticker) -> Hashable:
        return msg.symbol


class Venue(Client[Ticker]):
    pass


def burst_server() -> ScriptedServer:
    return ScriptedServer([WaitForClientMessage(), SendMany(ticker, count=BURST)])


async def test_a_lagging_stream_gets_the_newest_ticker_per_symbol() -> None:
    async with burst_server() as server, Venue(uri=server.uri) as venue:
        seen = 0
        all_in = asyncio.Event()

        @venue.on(Ticker)
        def count(_: Ticker) -> None:
            nonlocal seen
            seen += 1
            if seen == BURST:
                all_in.set()

        stream = await venue.subscribe(Tickers())
        async with asyncio.timeout(10):
            await all_in.wait()
        assert len(stream.queue) == len(SYMBOLS)
        got = [await stream.recv(timeout=5) for _ in SYMBOLS]
        assert {t.symbol: t.n for t in got} == LAST
        assert [t.symbol for t in got] == list(SYMBOLS)  # the order keys first waited in
        assert stream.received == BURST
        assert stream.conflated == BURST - len(SYMBOLS)
        assert stream.dropped == 0


def test_the_sync_facade_conflates_the_same_way() -> None:
    async def serve(ready: threading.Event, stop: threading.Event, uri: list[str]) -> None:
        async with burst_server() as server:
            uri.append(server.uri)
            ready.set()
            await asyncio.to_thread(stop.wait, 30)

    ready, stop = threading.Event(), threading.Event()
    uri: list[str] = []
    thread = threading.Thread(target=asyncio.run, args=(serve(ready, stop, uri),))
    thread.start()
    try:
        assert ready.wait(10)
        all_in = threading.Event()
        seen = [0]
        with Venue.sync(uri=uri[0]) as venue:

            @venue.on(Ticker)
            def count(_: Ticker) -> None:  # runs on the loop thread
                seen[0] += 1
                if seen[0] == BURST:
                    all_in.set()

            stream = venue.subscribe(Tickers())
            assert all_in.wait(10)
            got = [stream.recv(timeout=5) for _ in SYMBOLS]
            assert {t.symbol: t.n for t in got} == LAST
            assert stream.conflated == BURST - len(SYMBOLS)
            assert stream.dropped == 0
    finally:
        stop.set()
        thread.join(10)


async def test_the_engine_option_conflates_the_websocket_queue() -> None:
    server = ScriptedServer([SendMany(ticker, count=BURST)])
    async with server:
        ws = jetsocket.WebSocket(server.uri, conflate_key=lambda m: m["s"])
        all_in = asyncio.Event()
        seen = 0

        @ws.on("message")
        def count(_: jetsocket.MessageEvent) -> None:
            nonlocal seen
            seen += 1
            if seen == BURST:
                all_in.set()

        async with asyncio.timeout(10), ws:
            await all_in.wait()
            batch = await anext(ws.batches())
            assert {m["s"]: m["n"] for m in batch} == LAST
            stats = ws.stats()
            assert stats.messages_conflated == BURST - len(SYMBOLS)
            assert stats.messages_dropped == 0
            assert stats.messages_received == BURST
