"""A handler that blocks the event loop is reported, and not mistaken for a dead peer.

Runs offline in about three seconds against the embedded exchange simulator::

    python examples/blocked_loop.py

The client pings every 0.3 s and wants a pong within 0.2 s. About once a second a trade
handler does 0.5 s of synchronous work (more than twice the timeout): nothing can be read
while it runs, so the pong waits. jetsocket measures the event loop's lag, does not count
it against the peer (no reconnect), and emits ``loop_blocked`` naming the handler
(``time_handlers=True``). A peer that really stops answering is still declared dead
within ``interval + timeout`` of running loop (see tests/integration/test_liveness.py).

Never block the loop in real code: run CPU work in a thread or process
(``await asyncio.to_thread(work)``); this shows what happens when it slips through.
"""

from __future__ import annotations

import asyncio
import time

import jetsocket
from jetsocket.testing import ExchangeSimulator, Trade, decode_message

INTERVAL, TIMEOUT = 0.3, 0.2
WORK = 0.5  # seconds of blocking work in the handler: 2.5 x the pong timeout
EVERY = 0.6  # seconds of normal running between two such calls


async def main() -> int:
    async with ExchangeSimulator(symbols=("BTCUSDT",), rate=200, seed=5) as sim:
        ws = jetsocket.WebSocket(
            sim.uri,
            deserializer=decode_message,
            heartbeat=jetsocket.HeartbeatConfig(
                interval=INTERVAL, timeout=TIMEOUT, any_message_is_alive=False
            ),
            reconnect=False,  # a disconnect would end the run: there must be none
            time_handlers=True,  # so that loop_blocked names the handler
        )
        trades = 0
        next_work = time.monotonic() + EVERY
        blocks: list[jetsocket.LoopBlockedEvent] = []
        lost = asyncio.Event()

        @ws.on(Trade)
        def risk_check(trade: Trade) -> None:
            nonlocal trades, next_work
            trades += 1
            if time.monotonic() >= next_work:
                time.sleep(WORK)  # synchronous work that blocks the loop (the mistake)
                next_work = time.monotonic() + EVERY

        @ws.on("loop_blocked")
        def report(event: jetsocket.LoopBlockedEvent) -> None:
            blocks.append(event)
            print(f"loop blocked {event.blocked_ms:.0f} ms by {event.handler} ({event.handling})")

        @ws.on("disconnected")
        def on_lost(event: jetsocket.DisconnectedEvent) -> None:
            lost.set()

        async with ws:
            await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
            async with asyncio.timeout(20):
                while len(blocks) < 3:
                    await ws.recv()  # the consumer: trades (and the subscribe reply)
            survived = not lost.is_set()
            stats = ws.stats()
            print(
                f"{trades} trades, {stats.loop_blocked} blocks of {WORK}s with a "
                f"{TIMEOUT}s pong timeout: {'still connected' if survived else 'DROPPED'}, "
                f"max loop lag {stats.loop_lag_max_ms or 0:.0f} ms, "
                f"last round trip {stats.latency_ms or 0:.1f} ms"
            )
    return 0 if survived and stats.reconnect_count == 0 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
