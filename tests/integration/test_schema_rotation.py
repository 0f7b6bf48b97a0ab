"""Rotation of a schema client: the old connection hands its streams over without a hole.

The venue starts a connection's stream some time after its subscription (200 messages,
about 40 ms, later): a rotation that closed the old connection at the new one's ack would
lose those. The client keeps the old connection until each sequenced stream received a
message again on the new one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from _feeds import SequenceFeed
from tests._binance import SeqTrades, Trade
from tests.conftest import ws_server
from websockets.asyncio.server import ServerConnection

import jetsocket
from jetsocket.schema import Client


class LateVenue:
    """Acks every request; a SUBSCRIBE joins the BTC trade feed (late, but the first)."""

    def __init__(self, late_by: int) -> None:
        self.feed = SequenceFeed(
            lambda n: json.dumps({"e": "trade", "s": "BTC", "p": 1.0, "seq": n}), late_by=late_by
        )

    async def handler(self, ws: ServerConnection) -> None:
        try:
            async for raw in ws:
                req = json.loads(raw)
                await ws.send(json.dumps({"result": None, "id": req["id"]}))
                if req["method"] == "SUBSCRIBE":
                    await self.feed.add(ws)
        finally:
            self.feed.subscribers.discard(ws)


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
        feeder = asyncio.create_task(venue.feed.run())
        try:
            async with asyncio.timeout(15), Rotating(uri=uri) as client:
                client.on("reconnected")(reconnected.append)
                stream = await client.subscribe(DedupTrades(symbol="btc"))
                while True:
                    got.append((await stream.recv(timeout=5)).seq)
                    if len(reconnected) >= 3 and not venue.feed.stopped.is_set():
                        await venue.feed.stop()
                        await feeder
                    if venue.feed.stopped.is_set() and got[-1] >= venue.feed.next_seq - 1:
                        break
                duplicates, gaps = stream.duplicates, stream.gaps
        finally:
            await venue.feed.stop()
            await feeder
    assert all(e.rotation for e in reconnected)
    assert venue.feed.late_joins >= 3
    assert len(got) == len(set(got)), "a trade was delivered twice"
    assert got == sorted(got), "trades delivered out of order"
    lost = set(range(got[0], venue.feed.next_seq)) - set(got)
    assert not lost, f"{len(lost)} trades lost across {len(reconnected)} rotations"
    assert duplicates > 0  # the overlap was seen, and removed
    assert gaps == 0
