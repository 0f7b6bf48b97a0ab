"""``Stream[M]``: the messages of one subscription, as an async (or blocking) iterator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jetsocket._engine._queue import MessageQueue, new_queue

if TYPE_CHECKING:
    from jetsocket.schema._subscription import Subscription

__all__ = ["Stream"]

logger = logging.getLogger("jetsocket")


def _subscription_base() -> type[Subscription[Any]]:
    from jetsocket.schema._subscription import Subscription  # noqa: PLC0415 - import cycle

    return Subscription


M = TypeVar("M")


class Stream(Generic[M]):
    """The messages of one subscription, in order, across reconnects.

    Returned by ``await client.subscribe(sub)``. Iterating it yields exactly the messages
    that belong to ``sub``; a reconnect is invisible (the client re-subscribes and keeps
    feeding the same stream). Iteration ends after :meth:`unsubscribe` or when the client
    closes; it raises the error that made the client give up.

    Attributes:
        subscription: The subscription this stream delivers.
        received: Messages routed to this stream.
        gaps: Sequence gaps detected (when the subscription declares ``sequence``).
        last_sequence: The highest sequence id seen (when declared), or None.
    """

    def __init__(
        self,
        subscription: Subscription[M],
        unsubscribe: Callable[[Subscription[M]], Awaitable[None]],
        on_block: Callable[[Stream[Any], bool], None],
    ) -> None:
        self.subscription = subscription
        self._unsubscribe = unsubscribe
        cls = type(subscription)
        self.queue: MessageQueue[M] = new_queue(
            cls.buffer,
            cls.overflow_policy,
            what=f"stream {subscription!r}",
            on_pause=lambda: on_block(self, True),
            on_resume=lambda: on_block(self, False),
            conflate_key=subscription.conflate_key if cls.declares_conflation() else None,
            on_key_error=self._conflate_key_failed,
        )
        with contextlib.suppress(RuntimeError):  # outside a loop (tests): found when waiting
            self.queue.start(asyncio.get_running_loop())
        self.received = 0
        self.gaps = 0
        self.last_sequence: int | None = None
        self.last_message_at = 0.0
        # When the subscription was (re)sent: staleness counts from here or the last message.
        self.subscribed_at = time.monotonic()
        # Messages routed from the current batch, pushed at once by _flush().
        self._batch: list[Any] = []
        base = _subscription_base()
        self._plain = cls.matches is base.matches and cls.sequence is base.sequence

    def __repr__(self) -> str:
        return f"Stream({self.subscription!r}, buffered={len(self.queue)})"

    @property
    def dropped(self) -> int:
        """Messages discarded by the overflow policy."""
        return self.queue.dropped

    @property
    def conflated(self) -> int:
        """Messages replaced by a newer one of their key (``Subscription.conflate_key``)."""
        return self.queue.conflated

    def _conflate_key_failed(self, exc: BaseException) -> None:
        # Loop thread; the message was queued unconflated (never lost).
        logger.error("jetsocket: %r: conflate_key() raised %r", self.subscription, exc)

    # -- producer side (loop thread) -----------------------------------------------------

    def _flush(self) -> None:
        batch = self._batch
        self._batch = []
        self.last_message_at = time.monotonic()
        self.received += len(batch)
        self.queue.push_batch(batch)

    def _finish(self, end: BaseException) -> None:
        self.queue.finish(end)

    # -- consumer side ------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[M]:
        return self.queue.iterate_async()

    async def __anext__(self) -> M:
        return await self.queue.anext()

    def batches(self) -> AsyncIterator[list[M]]:
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
