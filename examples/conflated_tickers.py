"""A slow dashboard over a fast quote feed: conflation keeps it showing fresh prices.

Runs offline in about three seconds against the embedded exchange simulator::

    python examples/conflated_tickers.py

Two clients subscribe to the same best bid/ask streams (three symbols, 300 quotes per
second each) and feed the same slow "dashboard" (it takes 20 ms to draw a quote). The
plain stream queues every quote, so what it draws is older and older; the conflated one
(``Subscription.conflate_key`` returns the symbol) keeps only the newest waiting quote per
symbol, so what it draws stays fresh. Skipped quotes are counted as *conflated*, never as
dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable
from typing import Any

from jetsocket.schema import Ack, Client, Stream, Subscription
from jetsocket.testing import BookTicker, ExchangeSimulator

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
DRAW = 0.02  # seconds the dashboard needs per quote: it cannot keep up with 900/s
RUN = 1.5  # seconds of drawing per client


class Quotes(Subscription[BookTicker]):
    """Best bid/ask of some symbols (the simulator's ``<symbol>@bookTicker`` streams)."""

    symbols: tuple[str, ...]

    def subscribe_message(self, request_id: int) -> object:
        params = [f"{s.lower()}@bookTicker" for s in self.symbols]
        return {"method": "SUBSCRIBE", "params": params, "id": request_id}

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        if isinstance(msg, dict) and msg.get("id") == request_id:
            return Ack(ok="error" not in msg, reason=str(msg.get("error", "")))
        return None

    def matches(self, msg: BookTicker) -> bool:
        return msg.symbol in self.symbols


class LatestQuotes(Quotes):
    """The same streams, conflated: the newest waiting quote per symbol."""

    def conflate_key(self, msg: BookTicker) -> Hashable:
        return msg.symbol


class Simulator(Client[BookTicker]):
    uri = "ws://127.0.0.1:1/"  # replaced by the simulator's address


async def dashboard(stream: Stream[BookTicker], name: str) -> tuple[int, float]:
    """Draw quotes for RUN seconds; return how many and the age of the last one (ms)."""
    drawn, age_ms = 0, 0.0
    deadline = time.monotonic() + RUN
    async for quote in stream:
        age_ms = time.time() * 1e3 - quote.event_time
        drawn += 1
        if drawn % 16 == 0:
            print(f"  {name}: {quote.symbol} {quote.bid}/{quote.ask}, {age_ms:5.0f} ms old")
        await asyncio.sleep(DRAW)  # the dashboard's drawing time (a slow consumer)
        if time.monotonic() >= deadline:
            break
    return drawn, age_ms


async def run(sim: ExchangeSimulator, sub: Quotes, name: str) -> tuple[float, bool]:
    async with Simulator(uri=sim.uri) as client:
        stream = await client.subscribe(sub)
        drawn, age_ms = await dashboard(stream, name)
        waiting = len(stream.queue)
        print(
            f"{name}: received {stream.received}, drawn {drawn}, conflated "
            f"{stream.conflated}, dropped {stream.dropped}, still queued {waiting}; "
            f"last quote drawn was {age_ms:.0f} ms old"
        )
        # Every quote is accounted for: drawn, replaced by a newer one, or still waiting.
        balanced = stream.received == drawn + stream.conflated + stream.dropped + waiting
        return age_ms, balanced


async def main() -> int:
    async with ExchangeSimulator(symbols=SYMBOLS, rate=300, seed=11) as sim:
        plain_age, plain_ok = await run(sim, Quotes(symbols=SYMBOLS), "plain    ")
        fresh_age, fresh_ok = await run(sim, LatestQuotes(symbols=SYMBOLS), "conflated")
    print(f"last quote drawn: {plain_age:.0f} ms old (plain), {fresh_age:.0f} ms old (conflated)")
    return 0 if plain_ok and fresh_ok and fresh_age < plain_age else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
