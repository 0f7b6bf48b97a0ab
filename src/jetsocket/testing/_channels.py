"""The simulator's ``sequence="stream"`` mode: one producer, one sequence and history per stream.

In this mode a stream (a *channel* here) exists once for the whole simulator, not once per
connection: it is created by its first subscription and from then on produces ``rate``
messages per second whether or not anybody is subscribed (the market does not wait for a
client that reconnects). Every message gets the channel's next sequence number and is kept
in a bounded history, from which a connection that resumes is replayed. Connections read
the channels they subscribed to through a :class:`Cursor` (the next sequence to send).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Sequence

from jetsocket.testing._market import Market, StreamSpec

__all__ = ["Channel", "Cursor", "Paced", "SharedFeed", "wait_due"]

_log = logging.getLogger("jetsocket.testing")

# Messages produced before the producer yields to the event loop (see _simulator._BATCH).
_BATCH = 512
# A stream further behind its schedule than this (slow client, busy loop) skips the
# missed slots instead of catching up with an unbounded burst: they never existed, so
# this is no gap.
_MAX_LAG = 1.0


class Paced:
    """A stream of one market with its place in a paced schedule (``rate`` per second).

    Shared by both sequence modes: a connection's own streams (``sequence="connection"``)
    and the simulator-wide channels (``sequence="stream"``).
    """

    __slots__ = ("market", "period", "slot", "spec", "start")

    def __init__(self, spec: StreamSpec, market: Market, rate: float, now: float) -> None:
        self.spec = spec
        self.market = market
        self.period = 1.0 / rate if rate > 0 else 0.0
        self.start = now
        self.slot = 0

    def due(self) -> float:
        """Loop time of the next scheduled message."""
        # start + slot * period rather than a running sum: no accumulated float drift, so
        # streams with the same rate stay exactly tied and interleave deterministically.
        return self.start + self.slot * self.period

    def next_slot(self, now: float) -> float:
        """Move on to the next slot (forgetting the missed ones when too late); its due time."""
        self.slot += 1
        if self.due() < now - _MAX_LAG:
            self.start, self.slot = now, 0
        return self.due()

    def render(self, seq: int, now_ms: int) -> bytes:
        """Advance the market and build the stream's next message, numbered ``seq``."""
        market = self.market
        market.trade()
        kind = self.spec.kind
        if kind == "trade":
            return market.trade_message(seq, now_ms)
        if kind == "kline":
            return market.kline_message(self.spec, seq, now_ms)
        if kind == "book":
            return market.book.delta_message(seq, now_ms)
        return market.book_message(seq, now_ms)


async def wait_due(heap: Sequence[tuple[float, int, Paced]], wakeup: asyncio.Event) -> float | None:
    """The loop time if the first stream of ``heap`` is due; else wait for it or ``wakeup``.

    None after waiting: the caller looks again (a wake-up may have changed the schedule).
    """
    if not heap:
        await wakeup.wait()
        return None
    loop = asyncio.get_running_loop()
    now = loop.time()
    due = heap[0][0]
    if due <= now:
        return now
    handle = loop.call_at(due, wakeup.set)
    try:
        await wakeup.wait()
    finally:
        handle.cancel()
    return None


class Channel(Paced):
    """One stream of the simulator: its sequence, schedule, history and subscribers.

    Attributes:
        spec: The stream.
        seq: Sequence number of the last message produced (0: none yet).
        base: Sequence number of the oldest message still in the history.
        withhold: Messages still to withhold from live delivery (an injected gap).
        withheld: Sequence numbers (still in the history) withheld from live delivery.
        subscribers: Wake-up events of the connections reading the channel.
    """

    __slots__ = ("base", "bursts", "history", "log", "seq", "subscribers", "withheld", "withhold")

    def __init__(
        self, spec: StreamSpec, market: Market, rate: float, now: float, history: int
    ) -> None:
        super().__init__(spec, market, rate, now)
        self.bursts = 0
        self.history = history
        self.seq = 0
        self.base = 1
        self.log: list[bytes] = []
        self.withhold = 0
        self.withheld: set[int] = set()
        self.subscribers: dict[object, asyncio.Event] = {}
        if spec.kind == "book":
            _ = market.book  # the book exists from the channel's start: version == seq

    def produce(self, now_ms: int) -> None:
        """Produce the next message: advance the market, number it, keep it."""
        self.seq += 1
        seq = self.seq
        self.log.append(self.render(seq, now_ms))
        if self.withhold:
            self.withhold -= 1
            self.withheld.add(seq)
        # Trimmed in chunks (amortised O(1) per message) to between history and 2 x history.
        if len(self.log) >= 2 * self.history:
            drop = len(self.log) - self.history
            del self.log[:drop]
            self.base += drop
            if self.withheld:
                self.withheld = {s for s in self.withheld if s >= self.base}

    def entry(self, seq: int) -> bytes:
        """The message numbered ``seq`` (``base <= seq <= self.seq``)."""
        return self.log[seq - self.base]

    def snapshot(self, now_ms: int) -> bytes:
        """A book snapshot numbered with the channel's last sequence (book channels only)."""
        return self.market.book.snapshot_message(self.seq, now_ms)

    def wake(self) -> None:
        """Tell the subscribed connections that there is something to send."""
        for event in self.subscribers.values():
            event.set()


class Cursor:
    """Where one connection is in one channel.

    Attributes:
        channel: The channel read.
        next: Sequence number of the next message to send.
        replay_to: Messages up to this number are a replay: sent even if withheld.
    """

    __slots__ = ("channel", "next", "replay_to")

    def __init__(self, channel: Channel, next_seq: int, replay_to: int = 0) -> None:
        self.channel = channel
        self.next = next_seq
        self.replay_to = replay_to


class SharedFeed:
    """The channels of a simulator in ``sequence="stream"`` mode and their producer task.

    Args:
        rate: Messages per second per channel.
        history: Messages kept per channel for replays.
        make_market: Returns the (shared) market of a symbol.
        notify: Called after every batch produced (the simulator's ``wait_for`` re-checks).
    """

    def __init__(
        self,
        rate: float,
        history: int,
        make_market: Callable[[str], Market],
        notify: Callable[[], None],
    ) -> None:
        self.rate = rate
        self.history = history
        self._make_market = make_market
        self._notify = notify
        self.channels: dict[str, Channel] = {}
        self._heap: list[tuple[float, int, Channel]] = []
        self._order = itertools.count()
        self._bursting: list[Channel] = []
        self._wakeup = asyncio.Event()
        self.produced = 0

    def channel(self, spec: StreamSpec) -> Channel:
        """The channel of ``spec``, created (and scheduled from now) on first use."""
        channel = self.channels.get(spec.name)
        if channel is None:
            now = asyncio.get_running_loop().time()
            market = self._make_market(spec.symbol)
            channel = Channel(spec, market, self.rate, now, self.history)
            self.channels[spec.name] = channel
            if channel.period:
                heapq.heappush(self._heap, (channel.due(), next(self._order), channel))
                self._wakeup.set()
        return channel

    def burst(self, channel: Channel, count: int) -> None:
        """Make ``channel`` produce ``count`` messages at once, ahead of its schedule."""
        if not channel.bursts:
            self._bursting.append(channel)
        channel.bursts += count
        self._wakeup.set()

    async def run(self) -> None:
        """Produce messages for ever (cancelled by the simulator's stop)."""
        while True:
            self._wakeup.clear()
            if self._bursting:
                self._produce_bursts()
                await asyncio.sleep(0)
                continue
            now = await wait_due(self._heap, self._wakeup)
            if now is not None:
                self._produce_due(now)
                await asyncio.sleep(0)

    def _produce_due(self, now: float) -> None:
        heap = self._heap
        touched: dict[int, Channel] = {}
        now_ms = time.time_ns() // 1_000_000
        produced = 0
        while heap and heap[0][0] <= now and produced < _BATCH:
            _, _, channel = heapq.heappop(heap)
            channel.produce(now_ms)
            produced += 1
            touched[id(channel)] = channel
            heapq.heappush(heap, (channel.next_slot(now), next(self._order), channel))
        self.produced += produced
        for channel in touched.values():
            channel.wake()
        self._notify()

    def _produce_bursts(self) -> None:
        now_ms = time.time_ns() // 1_000_000
        produced = 0
        touched = list(self._bursting)
        # Up to a batch per channel: each connection then sends a full batch per write.
        limit = _BATCH * len(touched)
        while self._bursting and produced < limit:
            # One round: one message per bursting channel, in the order the bursts began.
            for channel in self._bursting:
                channel.produce(now_ms)
                channel.bursts -= 1
                produced += 1
            self._bursting = [c for c in self._bursting if c.bursts > 0]
        self.produced += produced
        for channel in touched:
            channel.wake()
        self._notify()
