"""``MessageQueue[T]``: the one consumer queue of the engine, every stream and the sync facade.

A producer on the event-loop thread appends whole batches (``push_batch``: one ``extend``
and one wake per batch); consumers pop from the same deque and only wait when it is empty:
no future, task or queue operation per message.

Consumers may be coroutines on the loop (``recv``, ``async for``, ``batches``) or threads
(``get``, ``iterate``: the sync facade), even several at once: every waiting coroutine has
its own future (one consumer's timeout or cancellation never disturbs another) and threads
wait on one condition that the loop notifies once per batch, only when a thread waits.

An error that belongs to a position in the stream (a message that failed to decode, an
overflow under the ``error`` policy) is stored *in* the deque as a :class:`Failure` and
raised when a consumer reaches it, so it never hides the messages around it and never
hangs a consumer. The end of the stream (a close, a fatal error) is raised once the
messages before it are consumed.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar

from jetsocket._engine._config import OverflowPolicy
from jetsocket._exceptions import (
    BufferOverflowError,
    ConnectionClosedError,
    InvalidStateError,
    TimeoutError,
)
from jetsocket._protocol._closecodes import CLEAN_CLOSE_CODES
from jetsocket._protocol._reader import QUEUE_ITER, TAKE_BATCH

# Module globals (tests swap them): the compiled take_batch and async iterator of
# _speedups.c, or None (pure Python).
_take_batch = TAKE_BATCH
_queue_iter = QUEUE_ITER

__all__ = [
    "Failure",
    "MessageQueue",
    "ends_iteration",
    "is_clean_end",
]

T = TypeVar("T")

_now = time.monotonic


class Failure:
    """An error stored in a queue at the position where it happened."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def is_clean_end(end: BaseException) -> bool:
    """True when ``end`` ends iteration quietly: we closed, or the peer closed normally."""
    return isinstance(end, ConnectionClosedError) and (
        not end.by_server or end.code in CLEAN_CLOSE_CODES
    )


def ends_iteration(end: BaseException, stop: type[Exception]) -> BaseException:
    """The exception an iterator raises at ``end``: ``stop`` for a clean end, else ``end``."""
    return stop() if is_clean_end(end) else end


class _Threads:
    """Wakes consumer threads blocked on an empty queue (created on first thread use)."""

    __slots__ = ("cond", "waiting")

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.waiting = 0

    def notify(self) -> None:
        # Called on the loop thread once per batch (and at the end), only if a thread waits.
        if self.waiting:
            with self.cond:
                self.cond.notify_all()


class MessageQueue(Generic[T]):
    """A bounded queue of messages with an overflow policy, an end, and consumers.

    Args:
        capacity: Messages kept before the overflow policy applies.
        policy: ``block`` calls ``on_pause`` (the producer should stop reading) and, once
            consumers brought the queue down to half, ``on_resume``; ``drop_oldest`` /
            ``drop_newest`` discard messages (counted in :attr:`dropped`); ``error`` drops
            the newest and places one :class:`jetsocket.BufferOverflowError` at the cut.
        what: How errors name this queue (``"receive buffer"``, ``"stream ..."``).
        on_pause: Called (loop thread) when a ``block`` queue is full.
        on_resume: Called (loop thread) when a paused queue drained to half.
        on_drop: Called (loop thread) with the number of messages dropped by an overflow.
        started: False while the producer was never started: consumers then get
            :class:`jetsocket.InvalidStateError` instead of waiting for ever.
    """

    __slots__ = (
        "_end",
        "_loop",
        "_marker",
        "_on_drop",
        "_on_pause",
        "_on_resume",
        "_started",
        "_threads",
        "_waiters",
        "_what",
        "capacity",
        "dropped",
        "items",
        "low_water",
        "paused",
        "policy",
    )

    def __init__(
        self,
        capacity: int,
        policy: OverflowPolicy | str = OverflowPolicy.BLOCK,
        *,
        what: str = "queue",
        on_pause: Callable[[], None] | None = None,
        on_resume: Callable[[], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
        started: bool = True,
    ) -> None:
        self.items: deque[Any] = deque()
        self.capacity = capacity
        self.low_water = max(1, capacity // 2)
        self.policy = OverflowPolicy(policy)
        self.paused = False
        self.dropped = 0
        self._what = what
        self._on_pause = on_pause
        self._on_resume = on_resume
        self._on_drop = on_drop
        self._marker: Failure | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._threads: _Threads | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._end: BaseException | None = None
        self._started = started

    def __len__(self) -> int:
        return len(self.items)

    @property
    def end(self) -> BaseException | None:
        """Why the queue ended (None while open)."""
        return self._end

    # -- producer side (loop thread) -----------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Mark the producer started (on ``loop``) and forget a previous end."""
        self._loop = loop
        self._started = True
        self._end = None

    def push_batch(self, batch: list[Any]) -> None:
        """Append a batch (messages and :class:`Failure` markers) and wake consumers once."""
        items = self.items
        items.extend(batch)
        if len(items) >= self.capacity:
            self._overflow()
        # wake(), inlined: once per read chunk.
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        threads = self._threads
        if threads is not None:
            threads.notify()

    def push(self, item: Any) -> None:
        """Append one item (off the hot path) and wake consumers."""
        self.push_batch([item])

    def finish(self, end: BaseException) -> bool:
        """End the queue with ``end`` (kept: the first end wins); return True if it was new."""
        new = self._end is None
        if new:
            self._end = end
        self.wake()
        return new

    def end_from_thread(self, end: BaseException) -> None:
        """End the queue from another thread once its loop has stopped (facade cleanup)."""
        if self._end is None:
            self._end = end
        threads = self._threads
        if threads is not None:
            threads.notify()

    def wake(self) -> None:
        """Wake every waiting consumer (coroutines and threads)."""
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        threads = self._threads
        if threads is not None:
            threads.notify()

    def _overflow(self) -> None:
        policy = self.policy
        if policy is OverflowPolicy.BLOCK:
            if not self.paused and len(self.items) >= self.capacity:
                # Backpressure: the producer stops reading; TCP flow control slows the peer.
                self.paused = True
                if self._on_pause is not None:
                    self._on_pause()
            return
        excess = self._trim()
        if excess > 0:
            self.dropped += excess
            if self._on_drop is not None:
                self._on_drop(excess)

    def _trim(self) -> int:
        # Under ``error`` one pending marker sits after the last kept message; while it is
        # unconsumed it neither counts as a message nor is dropped, and no second is added.
        items = self.items
        marker = self._marker
        if marker is not None and not any(item is marker for item in items):
            marker = self._marker = None  # consumed since
        excess = len(items) - self.capacity - (marker is not None)
        if excess <= 0:
            return 0
        if self.policy is OverflowPolicy.DROP_OLDEST:
            for _ in range(excess):
                items.popleft()
            return excess
        for _ in range(excess):
            items.pop()
        if self.policy is OverflowPolicy.ERROR and marker is None:
            self._marker = Failure(
                BufferOverflowError(
                    f"{self._what} full ({self.capacity} messages): newer messages dropped"
                )
            )
            items.append(self._marker)
        return excess

    def _resume(self) -> None:
        # Loop thread only.
        if self.paused and len(self.items) <= self.low_water:
            self.paused = False
            if self._on_resume is not None:
                self._on_resume()

    def _resume_soon(self) -> None:
        # From a consumer thread: the resume callback must run on the loop thread.
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nothing to resume
                loop.call_soon_threadsafe(self._resume)

    # -- what a consumer gets once the deque is empty ------------------------------------

    def _end_error(self, stop: type[Exception] | None) -> BaseException | None:
        """None: keep waiting. Else the exception to raise (``stop`` for a clean end)."""
        end = self._end
        if end is None:
            if not self._started:
                return InvalidStateError("not connected: call connect() first")
            return None
        return end if stop is None else ends_iteration(end, stop)

    # -- async consumers (loop thread) ---------------------------------------------------

    def _pop(self) -> Any:
        items = self.items
        item = items.popleft()
        if item.__class__ is Failure:
            raise item.exc
        if self.paused and len(items) <= self.low_water:
            self._resume()
        return item

    async def wait(self, stop: type[Exception] | None) -> bool:
        """Wait until an item is queued (True) or iteration ends cleanly (False).

        Raises the end otherwise (an error; or, with ``stop`` None, any end).
        """
        items = self.items
        while not items:
            end = self._end_error(stop)
            if end is not None:
                if stop is not None and end.__class__ is stop:
                    return False
                raise end
            if self.paused:
                self._resume()
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # Only this consumer gave up: the others keep their own futures.
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        return True

    def __aiter__(self) -> AsyncIterator[T]:
        return self.iterate_async()

    def iterate_async(self) -> AsyncIterator[T]:
        """Yield every item until the end.

        The compiled iterator (``_speedups.QueueIter``) pops plain items itself, with no
        async generator step per message, and hands every other step to
        :meth:`_next_slow`; without it, :meth:`_iterate_async` does the same.
        """
        make = _queue_iter
        if make is not None:
            return make(self, self.items, Failure, self._next_slow)  # type: ignore[no-any-return]
        return self._iterate_async()

    async def _next_slow(self, it: Any) -> T:
        # One step of _iterate_async for the compiled iterator (wait, failure, resume, end);
        # like a generator that raised, the iterator is finished once a step raised.
        try:
            if it.finished:
                raise StopAsyncIteration
            if not self.items and not await self.wait(StopAsyncIteration):
                raise StopAsyncIteration
            return self._pop()  # type: ignore[no-any-return]
        except BaseException:
            it.finish()
            raise

    async def _iterate_async(self) -> AsyncIterator[T]:
        # Pure Python: an async generator (its per-item step is C code).
        items = self.items
        popleft = items.popleft
        while True:
            while items:
                item = popleft()
                if item.__class__ is Failure:
                    raise item.exc
                if self.paused and len(items) <= self.low_water:
                    self._resume()
                yield item
            if not await self.wait(StopAsyncIteration):
                return

    async def anext(self) -> T:
        """The next item, or ``StopAsyncIteration`` at a clean end."""
        if not self.items and not await self.wait(StopAsyncIteration):
            raise StopAsyncIteration
        return self._pop()  # type: ignore[no-any-return]

    async def batches(self) -> AsyncIterator[list[T]]:
        """Yield every item queued so far as one list (non-empty), until the end.

        A stored failure ends the batch before it and is raised on the next step.
        """
        items = self.items
        take = _take_batch
        while True:
            if items:
                if take is not None:
                    # One C call takes every item before the first stored failure
                    # (atomically: thread consumers may pop from the same deque).
                    batch: list[Any] = take(items, Failure)
                    if not batch:
                        raise items.popleft().exc
                else:
                    batch = []
                    append = batch.append
                    popleft = items.popleft
                    while items:
                        item = popleft()
                        if item.__class__ is Failure:
                            if batch:
                                items.appendleft(item)
                                break
                            raise item.exc
                        append(item)
                if self.paused:
                    self._resume()
                yield batch
            elif not await self.wait(StopAsyncIteration):
                return

    async def recv(self, timeout: float | None = None) -> T:
        """The next item; raises the end once every item before it was consumed.

        Raises:
            TimeoutError: No message within ``timeout`` seconds.
        """
        items = self.items
        if not items:
            if timeout is not None:
                try:
                    async with asyncio.timeout(timeout):
                        await self.wait(None)
                except builtins.TimeoutError:
                    raise TimeoutError(f"no message received within {timeout}s") from None
            else:
                # wait(None), inlined: the echo path's only await (no coroutine layer).
                while not items:
                    if self._end is not None or not self._started:
                        end = self._end_error(None)
                        if end is not None:
                            raise end
                    if self.paused:
                        self._resume()
                    loop = self._loop
                    if loop is None:
                        loop = self._loop = asyncio.get_running_loop()
                    waiter = loop.create_future()
                    self._waiters.append(waiter)
                    try:
                        await waiter
                    except asyncio.CancelledError:
                        if waiter in self._waiters:
                            self._waiters.remove(waiter)
                        raise
        item = items.popleft()
        if item.__class__ is Failure:
            raise item.exc
        if self.paused and len(items) <= self.low_water:
            self._resume()
        return item  # type: ignore[no-any-return]

    # -- thread consumers (the sync facade) ----------------------------------------------

    def get(self, timeout: float | None, *, iterating: bool) -> T:
        """Pop the next item from another thread, blocking up to ``timeout`` seconds.

        Raises:
            StopIteration: The queue ended cleanly (``iterating`` only).
            TimeoutError: Nothing within ``timeout``.
        """
        items = self.items
        try:
            item = items.popleft()
        except IndexError:
            item = self._wait_thread(timeout, iterating=iterating)
        if item.__class__ is Failure:
            raise item.exc
        if self.paused and len(items) <= self.low_water:
            self._resume_soon()
        return item  # type: ignore[no-any-return]

    def iterate(self) -> Iterator[T]:
        """Yield every item to another thread until the end (the sync ``for m in ws``).

        Per message: one C call and one class check; a paused producer is resumed from a
        check every 64 messages.
        """
        items = self.items
        popleft = items.popleft
        count = 0
        while True:
            try:
                item = popleft()
            except IndexError:
                try:
                    item = self._wait_thread(None, iterating=True)
                except StopIteration:
                    return
            if item.__class__ is Failure:
                raise item.exc
            count += 1
            if not count & 63 and self.paused and len(items) <= self.low_water:
                self._resume_soon()
            yield item

    def _wait_thread(self, timeout: float | None, *, iterating: bool) -> Any:
        threads = self._threads
        if threads is None:
            threads = self._threads = _Threads()
        items = self.items
        deadline = None if timeout is None else _now() + timeout
        with threads.cond:
            threads.waiting += 1
            try:
                while True:
                    # ``waiting`` is raised before looking at the deque, so a batch appended
                    # after this look is always followed by a notify.
                    if items:
                        return items.popleft()
                    end = self._end_error(StopIteration if iterating else None)
                    if end is not None:
                        raise end
                    if self.paused:
                        self._resume_soon()
                    if deadline is None:
                        threads.cond.wait()
                    else:
                        left = deadline - _now()
                        if left <= 0:
                            raise TimeoutError(f"no message received within {timeout}s")
                        threads.cond.wait(left)
            finally:
                threads.waiting -= 1
