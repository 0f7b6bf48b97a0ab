"""Consume a typed market feed from the embedded exchange simulator, across a network fault.

Runs offline in about three seconds::

    python examples/simulator_feed.py

What it shows:

* typed decoding: every message arrives as a msgspec Struct (``Trade``, ``BookTicker``) or
  the reply to a request (``Response``), via ``decode_message``;
* subscriptions that survive reconnects: the SUBSCRIBE request is sent from an ``on_open``
  hook, which jetsocket runs after every (re)connect;
* gap detection: the simulator numbers messages per connection (``seq``), so a jump within
  one connection means lost messages;
* a fault: halfway through, the simulator aborts every TCP connection; the client
  reconnects by itself and the stream resumes.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import jetsocket
from jetsocket.testing import BookTicker, ExchangeSimulator, Response, Trade, decode_message

STREAMS = ["btcusdt@trade", "btcusdt@bookTicker"]
TARGET = 400  # feed messages to consume before exiting


async def subscribe(ws: jetsocket.WebSocket[Any]) -> None:
    """Sent after every (re)connect: the simulator forgets subscriptions with the connection."""
    await ws.send({"method": "SUBSCRIBE", "params": STREAMS, "id": 1})


async def main() -> int:
    async with ExchangeSimulator(symbols=("BTCUSDT",), rate=100, seed=2024) as sim:
        backoff = jetsocket.BackoffConfig(base=0.05, cap=0.5, seed=1)
        ws = jetsocket.WebSocket(sim.uri, deserializer=decode_message, backoff=backoff)
        ws.add_on_open(subscribe)

        received = gaps = connections = 0
        last_seq = 0
        notional = volume = Decimal(0)
        spread_sum, quotes = Decimal(0), 0
        dropped = False
        async with ws:
            while received < TARGET:
                msg = await ws.recv(timeout=10.0)
                if isinstance(msg, Response):
                    connections += 1
                    print(f"subscribed (connection {connections}): {msg}")
                    last_seq = 0  # sequence numbers restart on every connection
                    continue
                if msg.seq != last_seq + 1:
                    gaps += 1
                last_seq = msg.seq
                received += 1
                if isinstance(msg, Trade):
                    notional += msg.price * msg.qty
                    volume += msg.qty
                elif isinstance(msg, BookTicker):
                    spread_sum += msg.ask - msg.bid
                    quotes += 1
                if received == TARGET // 2 and not dropped:
                    dropped = True
                    n = await sim.drop_all()
                    print(f"simulator dropped {n} connection(s) after {received} messages")
            stats = ws.stats()

    vwap = notional / volume if volume else Decimal(0)
    spread = spread_sum / quotes if quotes else Decimal(0)
    print(f"{received} messages over {connections} connections, {gaps} gaps within a connection")
    print(f"VWAP {vwap:.2f}, volume {volume}, average spread {spread:.4f}")
    print(f"client: {stats.messages_received} received, {stats.reconnect_count} reconnect(s)")
    return 0 if gaps == 0 and connections >= 2 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
