"""``Stream[M]``: the messages of one subscription, as an async (or blocking) iterator."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jetsocket._engine._events import GapEvent
from jetsocket._engine._queue import MessageQueue
from jetsocket._exceptions import InvalidStateError

if TYPE_CHECKING:
    from jetsocket.schema._subscription import Subscription

__all__ = ["Stream"]


M = TypeVar("M")


class Stream(Generic[M]):
    """The messages of one subscription, in order, across reconnects.

    Returned by ``await client.subscribe(sub)``. Iterating it yields exactly the messages
    that belong to ``sub``; a reconnect is invisible (the client re-subscribes and keeps
    feeding the same stream). Iteration ends after :meth:`unsubscribe` or when the client
    closes; it raises the error that made the client give up.

    Gaps are reported twice: at once (a ``gap`` event, and the subscription's ``on_gap``
    action), and *at the consumer's position*: :attr:`gaps` counts the gaps before the
    messages taken so far, and :attr:`gap` is the gap right before the message taken
    last (None if there was none), so a loop can tell exactly where data is missing.

    Attributes:
        subscription: The subscription this stream delivers.
        received: Messages routed to this stream.
        duplicates: Messages dropped as already delivered (``dedup``).
        gaps_detected: Gaps detected when the messages arrived (ahead of the consumer).
        last_sequence: The last sequence number seen (when ``sequence`` is declared).
        sequences: The last sequence number per ``sequence_key`` (e.g. per product).
        channel: The channel id the venue's ack assigned (``Ack.channel``), or None.
    """

    def __init__(
        self,
        subscription: Subscription[M],
        unsubscribe: Callable[[Subscription[M]], Awaitable[None]],
        on_block: Callable[[Stream[Any], bool], None],
        resubscribe: Callable[[Subscription[M]], Awaitable[None]] | None = None,
    ) -> None:
        self.subscription = subscription
        self._unsubscribe = unsubscribe
        self._resubscribe = resubscribe
        cls = type(subscription)
        self.queue: MessageQueue[M] = MessageQueue(
            cls.buffer,
            cls.overflow_policy,
            what=f"stream {subscription!r}",
            on_pause=lambda: on_block(self, True),
            on_resume=lambda: on_block(self, False),
        )
        with contextlib.suppress(RuntimeError):  # outside a loop (tests): found when waiting
            self.queue.start(asyncio.get_running_loop())
        self.received = 0
        self.duplicates = 0
        self.gaps_detected = 0
        self.last_sequence: int | None = None
        self.sequences: dict[Hashable, int] = {}
        self.channel: Hashable | None = None
        self.last_message_at = 0.0
        # When the subscription was (re)sent: staleness counts from here or the last message.
        self.subscribed_at = time.monotonic()
        # Messages routed from the current batch, pushed at once by _flush().
        self._batch: list[Any] = []
        matches, tracked, by_channel = cls._hooks()
        self._plain = not (matches or tracked or by_channel)
        self._tracked = tracked
        self._by_channel = by_channel
        self._dedup = cls.dedup
        # Hooks left at their defaults are not called per message.
        self._keyed = cls._overrides("dedup_key")
        self._sequenced = cls._overrides("sequence")
        self._per_key = cls._overrides("sequence_key")
        # Consumer-position gap accounting: (index of the message after the gap, event).
        self._pushed = 0
        self._marks: deque[tuple[int, GapEvent]] = deque()
        self._gaps_passed = 0
        self._last_passed: tuple[int, GapEvent] | None = None
        self._seen_keys: set[Hashable] = set()
        self._key_order: deque[Hashable] = deque()
        self._resyncing = False

    def __repr__(self) -> str:
        return f"Stream({self.subscription!r}, buffered={len(self.queue)})"

    @property
    def dropped(self) -> int:
        """Messages discarded by the overflow policy."""
        return self.queue.dropped

    # -- gaps at the consumer's position ---------------------------------------------------

    def _consumed(self) -> int:
        # Items that left the queue (taken by a consumer, or dropped from its front).
        pos = self._pushed - len(self.queue)
        marks = self._marks
        while marks and marks[0][0] < pos:
            self._last_passed = marks.popleft()
            self._gaps_passed += 1
        return pos

    @property
    def gaps(self) -> int:
        """Gaps before the messages the consumer has taken so far."""
        self._consumed()
        return self._gaps_passed

    @property
    def gap(self) -> GapEvent | None:
        """The gap right before the message taken last, or None."""
        pos = self._consumed()
        last = self._last_passed
        return last[1] if last is not None and last[0] == pos - 1 else None

    # -- producer side (loop thread) -----------------------------------------------------

    def _admit(self, msg: Any) -> tuple[Any, GapEvent | None]:
        """Sequence and dedup checks of one message: (message or None to drop, gap)."""
        sub = self.subscription
        key_id = sub.dedup_key(msg) if self._keyed else None
        if key_id is not None:
            seen = self._seen_keys
            if key_id in seen:
                self.duplicates += 1
                return None, None
            seen.add(key_id)
            order = self._key_order
            order.append(key_id)
            if len(order) > type(sub).dedup_window:
                seen.discard(order.popleft())
        if not self._sequenced:
            return msg, None
        seq = sub.sequence(msg)
        if seq is None:
            return msg, None
        if isinstance(seq, tuple):
            first, last = seq
        else:
            first = last = seq
        if self._per_key:
            key = sub.sequence_key(msg)
            prev = self.sequences.get(key)
        else:
            key = None
            prev = self.last_sequence
        gap = None
        if prev is not None and first != prev + 1:  # the usual case skips all of this
            if last <= prev:
                # Already delivered (a replayed snapshot) or late.
                if self._dedup:
                    self.duplicates += 1
                    return None, None
                return msg, None
            if first <= prev:
                if self._dedup:
                    msg = sub.trim(msg, prev)
                    if msg is None:
                        self.duplicates += 1
                        return None, None
            else:
                gap = GapEvent(
                    first_missing=prev + 1, last_missing=first - 1, subscription=sub, key=key
                )
                self.gaps_detected += 1
                self._marks.append((self._pushed + len(self._batch), gap))
        self.sequences[key] = last
        self.last_sequence = last
        return msg, gap

    def _flush(self) -> None:
        batch = self._batch
        self._batch = []
        self.last_message_at = time.monotonic()
        self.received += len(batch)
        queue = self.queue
        before = queue.dropped
        queue.push_batch(batch)
        accepted = len(batch)
        if queue.policy.value == "drop_newest":
            accepted -= queue.dropped - before  # never entered the queue
        self._pushed += accepted
        if len(self._marks) > 64:
            self._consumed()  # keep the marks bounded by what the consumer has not passed

    def _finish(self, end: BaseException) -> None:
        self.queue.finish(end)

    # -- resync helpers --------------------------------------------------------------------

    async def resubscribe(self) -> None:
        """Re-send the subscription (unsubscribe then subscribe, awaiting the ack)."""
        if self._resubscribe is None:
            raise InvalidStateError("this stream belongs to no client")
        await self._resubscribe(self.subscription)

    def deliver(
        self, messages: list[M], *, sequence: int | None = None, key: Hashable = None
    ) -> None:
        """Put ``messages`` (e.g. a REST snapshot) into the stream, after what it holds.

        Args:
            messages: Messages of this subscription's type, delivered as received ones.
            sequence: The sequence number the messages bring the stream up to: later
                messages continue from it (with ``dedup``, those up to it are dropped).
            key: The sequence key it concerns (with ``sequence_key``).
        """
        if sequence is not None:
            self.sequences[key] = sequence
            self.last_sequence = sequence
        if messages:
            self._batch.extend(messages)
            self._flush()

    # -- consumer side ------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[M]:
        return self.queue.iterate_async()

    async def __anext__(self) -> M:
        return await self.queue.anext()

    def batches(self) -> AsyncGenerator[list[M], None]:
        """Iterate a batch at a time (every message of this stream received so far)."""
        return self.queue.batches()

    async def recv(self, timeout: float | None = None) -> M:
        """Return the next message of this subscription.

        Raises:
            TimeoutError: Nothing within ``timeout`` seconds.
            ConnectionClosedError: The stream ended (unsubscribed or client closed).
        """
        return await self.queue.recv(timeout)

    async def unsubscribe(self) -> None:
        """Unsubscribe; iteration ends once the buffered messages are consumed."""
        await self._unsubscribe(self.subscription)
