"""``Stream[M]``: the messages of one subscription, as an async iterator."""

from __future__ import annotations

import asyncio
import builtins
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jetsocket._engine._config import OverflowPolicy
from jetsocket._engine._inbox import Failure, ends_iteration, trim_overflow
from jetsocket._exceptions import ConnectionClosedError, TimeoutError

if TYPE_CHECKING:
    from jetsocket.schema._subscription import Subscription

__all__ = ["Stream"]


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
        dropped: Messages discarded by the overflow policy.
        gaps: Sequence gaps detected (when the subscription declares ``sequence``).
    """

    def __init__(
        self,
        subscription: Subscription[M],
        unsubscribe: Callable[[Subscription[M]], Awaitable[None]],
        on_block: Callable[[bool], None],
    ) -> None:
        self.subscription = subscription
        self._unsubscribe = unsubscribe
        self._on_block = on_block
        self._inbox: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._notify: Callable[[], None] | None = None
        self._end: BaseException | None = None
        self._capacity = type(subscription).buffer
        self._policy = OverflowPolicy(type(subscription).overflow_policy)
        self._blocking = False
        self._overflow_marker: Failure | None = None
        self.received = 0
        self.dropped = 0
        self.gaps = 0
        self.last_sequence: int | None = None
        self.last_message_at = 0.0
        # When the subscription was (re)sent: staleness counts from here or the last message.
        self.subscribed_at = time.monotonic()
        # Messages routed from the current batch, pushed at once by _flush().
        self._batch: list[Any] = []
        cls = type(subscription)
        base = _subscription_base()
        self._plain = cls.matches is base.matches and cls.sequence is base.sequence

    def __repr__(self) -> str:
        return f"Stream({self.subscription!r}, buffered={len(self._inbox)})"

    # -- producer side (loop thread) -----------------------------------------------------

    def _flush(self) -> None:
        batch = self._batch
        self._batch = []
        self.last_message_at = time.monotonic()
        dq = self._inbox
        dq.extend(batch)
        self.received += len(batch)
        if len(dq) > self._capacity:
            self._overflow()
        self._wake()

    def _overflow(self) -> None:
        dq = self._inbox
        policy = self._policy
        if policy is OverflowPolicy.BLOCK:
            if not self._blocking:
                self._blocking = True
                self._on_block(True)
            return
        dropped, self._overflow_marker = trim_overflow(
            dq, self._capacity, policy, self._overflow_marker, f"stream {self.subscription!r}"
        )
        self.dropped += dropped

    def _finish(self, end: BaseException) -> None:
        if self._end is None:
            self._end = end
        self._wake()

    def _wake(self) -> None:
        # The async consumer (one future, shared) and the sync facade's threads.
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self._notify is not None:
            self._notify()

    def _needs_resume(self) -> bool:
        return self._blocking and len(self._inbox) <= self._capacity // 2

    def _resume_if_paused(self) -> None:
        if self._needs_resume():
            self._blocking = False
            self._on_block(False)

    # -- consumer side ------------------------------------------------------------------

    def __aiter__(self) -> Stream[M]:
        return self

    async def __anext__(self) -> M:
        while True:
            dq = self._inbox
            if dq:
                item = dq.popleft()
                if self._blocking:
                    self._resume_if_paused()
                if item.__class__ is Failure:
                    raise item.exc
                return item  # type: ignore[no-any-return]
            end = self._end
            if end is not None:
                raise ends_iteration(end, StopAsyncIteration)
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = asyncio.get_running_loop().create_future()
                self._waiter = waiter
            await waiter

    async def recv(self, timeout: float | None = None) -> M:
        """Return the next message of this subscription.

        Raises:
            TimeoutError: Nothing within ``timeout`` seconds.
            ConnectionClosedError: The stream ended (unsubscribed or client closed).
        """
        try:
            async with asyncio.timeout(timeout):
                return await self.__anext__()
        except StopAsyncIteration:
            end = self._end
            raise end if end is not None else ConnectionClosedError(1000, by_server=False) from None
        except builtins.TimeoutError:
            raise TimeoutError(f"no message within {timeout}s") from None

    async def unsubscribe(self) -> None:
        """Unsubscribe; iteration ends once the buffered messages are consumed."""
        await self._unsubscribe(self.subscription)
