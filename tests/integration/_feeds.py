"""A paced feed of one global sequence, pushed to every subscribed server connection.

Used to test rotations: ``late_by`` makes every subscriber after the first start only
after that many more messages were published (a venue that subscribes a connection some
time after its handshake or its subscribe request), so a rotation that drops the old
connection too early loses those messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

__all__ = ["SequenceFeed"]


class SequenceFeed:
    """``rate`` messages per second in ticks of ``tick`` seconds, numbered from 0."""

    def __init__(
        self,
        render: Callable[[int], str] = lambda n: f'{{"seq":{n}}}',
        *,
        rate: int = 5000,
        tick: float = 0.01,
        late_by: int = 0,
    ) -> None:
        self.render = render
        self.subscribers: set[ServerConnection] = set()
        self.per_tick = int(rate * tick)
        self.tick = tick
        self.late_by = late_by
        self.next_seq = 0
        self.stopped = asyncio.Event()
        self.first_subscriber = asyncio.Event()
        self.progress = asyncio.Condition()
        self.late_joins = 0

    async def add(self, conn: ServerConnection) -> None:
        """Subscribe ``conn`` (after ``late_by`` more messages, unless it is the first)."""
        if self.late_by and self.first_subscriber.is_set():
            target = self.next_seq + self.late_by
            async with self.progress:
                await self.progress.wait_for(
                    lambda: self.next_seq >= target or self.stopped.is_set()
                )
            self.late_joins += 1
        self.subscribers.add(conn)
        self.first_subscriber.set()

    async def join(self, conn: ServerConnection) -> None:
        """A whole connection handler: subscribed from its handshake until it closes."""
        await self.add(conn)
        try:
            await conn.wait_closed()
        finally:
            self.subscribers.discard(conn)

    async def run(self) -> None:
        """Publish until :meth:`stop` (started before the first subscriber is fine)."""
        await self.first_subscriber.wait()
        start = time.monotonic()
        ticks = 0
        while not self.stopped.is_set():
            batch = [self.render(self.next_seq + i) for i in range(self.per_tick)]
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
        """Stop publishing and release the late subscribers still waiting."""
        self.stopped.set()
        async with self.progress:
            self.progress.notify_all()

    @property
    def last(self) -> int:
        """The last sequence number published."""
        return self.next_seq - 1
