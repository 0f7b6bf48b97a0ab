"""Rotation of a schema client: the old connection hands its streams over without a hole.

The venue starts a connection's stream some time after its subscription (200 messages,
about 40 ms, later): a rotation that closed the old connection at the new one's ack would
lose those. The client keeps the old connection until each sequenced stream received a
message again on the new one.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests._binance import SeqTrades, Trade
from tests.conftest import ws_server
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

import jetsocket
from jetsocket.schema import Client


class LateVenue:
    """Publishes one BTC trade sequence at 5 000 msg/s; late subscriptions start late."""

    def __init__(self, late_by: int, per_tick: int = 50, tick: float = 0.01) -> None:
        self.late_by = late_by
        self.per_tick = per_tick
        self.tick = tick
        self.next_seq = 0
        self.subscribers: set[ServerConnection] = set()
        self.progress = asyncio.Condition()
        self.stopped = asyncio.Event()
        self.subscribed_once = asyncio.Event()
        self.late_joins = 0

    async def handler(self, ws: ServerConnection) -> None:
        try:
            async for raw in ws:
                req = json.loads(raw)
                await ws.send(json.dumps({"result": None, "id": req["id"]}))
                if req["method"] == "SUBSCRIBE":
                    await self._join(ws)
        finally:
            self.subscribers.discard(ws)

    async def _join(self, ws: ServerConnection) -> None:
        if self.subscribed_once.is_set():
            target = self.next_seq + self.late_by
            async with self.progress:
                await self.progress.wait_for(
                    lambda: self.next_seq >= target or self.stopped.is_set()
                )
            self.late_joins += 1
        self.subscribers.add(ws)
        self.subscribed_once.set()

    async def run(self) -> None:
        await self.subscribed_once.wait()
        start = time.monotonic()
        ticks = 0
        while not self.stopped.is_set():
            batch = [
                json.dumps({"e": "trade", "s": "BTC", "p": 1.0, "seq": self.next_seq + i})
                for i in range(self.per_tick)
            ]
            self.next_seq += self.per_tick
            for conn in list(self.subscribers):
                try:
                    for payload in batch:
                        await conn.send(payload)
                except ConnectionClosed:
                    self.subscribers.discard(conn)
            ticks += 1
            async with self.progress:
                self.progress.notify_all()
            delay = start + ticks * self.tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing of the feed, not synchronisation

    async def stop(self) -> None:
        self.stopped.set()
        async with self.progress:
            self.progress.notify_all()


class DedupTrades(SeqTrades):
    dedup = True


class Rotating(Client[Trade]):
    heartbeat = None
    max_connection_age = 0.5
    backoff = jetsocket.BackoffConfig(base=0.01, cap=0.05, seed=1)


async def test_rotation_hands_every_sequenced_stream_over_without_a_hole() -> None:
    venue = LateVenue(late_by=200)
    reconnected: list[Any] = []
    got: list[int] = []
    async with ws_server(venue.handler) as uri:
        feeder = asyncio.create_task(venue.run())
        try:
            async with asyncio.timeout(15), Rotating(uri=uri) as client:
                client.on("reconnected")(reconnected.append)
                stream = await client.subscribe(DedupTrades(symbol="btc"))
                while True:
                    got.append((await stream.recv(timeout=5)).seq)
                    if len(reconnected) >= 3 and not venue.stopped.is_set():
                        await venue.stop()
                        await feeder
                    if venue.stopped.is_set() and got[-1] >= venue.next_seq - 1:
                        break
                duplicates, gaps = stream.duplicates, stream.gaps
        finally:
            await venue.stop()
            await feeder
    assert all(e.rotation for e in reconnected)
    assert venue.late_joins >= 3
    assert len(got) == len(set(got)), "a trade was delivered twice"
    lost = set(range(got[0], venue.next_seq)) - set(got)
    assert not lost, f"{len(lost)} trades lost across {len(reconnected)} rotations"
    assert duplicates > 0  # the overlap was seen, and removed
    assert gaps == 0
