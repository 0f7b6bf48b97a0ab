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

:class:`ConflatingQueue` keeps only the newest waiting message per key (tickers, marks):
a subclass, so a plain queue pays nothing per message for the feature.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Hashable, Iterator
from typing import Any, Generic, TypeVar, cast, overload

from jetsocket._engine._config import OverflowChoice, check_choice
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
    "ConflatingQueue",
    "Failure",
    "MessageQueue",
    "ends_iteration",
    "is_clean_end",
    "new_queue",
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


# What a consumer thread's pop found in an empty deque. The wait happens after the
# ``except IndexError`` block, so the errors it raises (a timeout, the end) are not
# chained to an internal IndexError.
_EMPTY: Any = object()


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
        "conflated",
        "dropped",
        "items",
        "low_water",
        "paused",
        "policy",
    )

    def __init__(
        self,
        capacity: int,
        policy: OverflowChoice = "block",
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
        check_choice("overflow_policy", policy, OverflowChoice)
        # A compatibility constant (OverflowPolicy.ERROR) is kept as its plain string.
        self.policy: OverflowChoice = cast(OverflowChoice, str(policy))
        self.paused = False
        self.dropped = 0
        self.conflated = 0  # replaced by a newer message of their key (ConflatingQueue)
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
        if self._waiters or self._threads is not None:
            self.wake()  # once per read chunk; nobody waits while a consumer is busy

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
        if policy == "block":
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
        self._discard(excess, oldest=self.policy == "drop_oldest")
        if self.policy == "error" and marker is None:
            self._marker = Failure(
                BufferOverflowError(
                    f"{self._what} full ({self.capacity} messages): newer messages dropped"
                )
            )
            items.append(self._marker)
        return excess

    def _discard(self, count: int, *, oldest: bool) -> None:
        """Drop ``count`` entries from the head (``oldest``) or the tail of the deque."""
        drop = self.items.popleft if oldest else self.items.pop
        for _ in range(count):
            drop()

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

    @overload
    def _arm(self, stop: None) -> asyncio.Future[None]: ...
    @overload
    def _arm(self, stop: type[Exception] | None) -> asyncio.Future[None] | None: ...
    def _arm(self, stop: type[Exception] | None) -> asyncio.Future[None] | None:
        """A new future to await until the next wake; None at a clean end (``stop``).

        Raises the end otherwise (an error; or, with ``stop`` None, any end).
        """
        end = self._end_error(stop)
        if end is not None:
            if stop is not None and end.__class__ is stop:
                return None
            raise end
        if self.paused:
            self._resume()
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        return waiter

    def _disarm(self, waiter: asyncio.Future[None]) -> None:
        # Only this consumer gave up (timeout, cancel): the others keep their own futures.
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    async def wait(self, stop: type[Exception] | None) -> bool:
        """Wait until an item is queued (True) or iteration ends cleanly (False).

        Raises the end otherwise (an error; or, with ``stop`` None, any end).
        """
        items = self.items
        while not items:
            waiter = self._arm(stop)
            if waiter is None:
                return False
            try:
                await waiter
            except asyncio.CancelledError:
                self._disarm(waiter)
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

    async def batches(self) -> AsyncGenerator[list[T], None]:
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
                # wait(None) and the common case of _arm, inlined: the echo path's only
                # await (no coroutine layer, no call but the future's creation).
                while not items:
                    loop = self._loop
                    if self._end is not None or not self._started or loop is None:
                        waiter = self._arm(None)  # raises the end, or the not-started error
                    else:
                        if self.paused:
                            self._resume()
                        waiter = loop.create_future()
                        self._waiters.append(waiter)
                    try:
                        await waiter
                    except asyncio.CancelledError:
                        self._disarm(waiter)
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
            item = _EMPTY
        if item is _EMPTY:  # waited for outside the handler: no chained IndexError
            item = self._wait_thread(timeout, iterating=iterating)
        if item.__class__ is Failure:
            raise item.exc
        if self.paused and len(items) <= self.low_water:
            self._resume_soon()
        return item  # type: ignore[no-any-return]

    def iterate(self) -> Iterator[T]:
        """Yield every item to another thread until the end (the sync ``for m in ws``).

        Per message: one C call and one class check; a paused producer is resumed from a
        check every 64 messages. Only an empty deque goes through :meth:`_take_thread`.
        """
        items = self.items
        popleft = items.popleft
        count = 0
        while (item := self._take_thread()) is not _EMPTY:
            while True:
                if item.__class__ is Failure:
                    raise item.exc
                count += 1
                if not count & 63 and self.paused and len(items) <= self.low_water:
                    self._resume_soon()
                yield item
                try:
                    item = popleft()
                except IndexError:
                    break

    def iterate_batches(self) -> Generator[list[T], None, None]:
        """Yield every item queued so far as one list to another thread, until the end.

        The sync counterpart of :meth:`batches`: a stored failure ends the batch before
        it and is raised on the next step.
        """
        items = self.items
        popleft = items.popleft
        while (first := self._take_thread()) is not _EMPTY:
            if first.__class__ is Failure:
                raise first.exc
            batch: list[Any] = [first]
            append = batch.append
            while True:
                try:  # not `while items`: another consumer thread may take the last one
                    item = popleft()
                except IndexError:
                    break
                if item.__class__ is Failure:
                    items.appendleft(item)
                    break
                append(item)
            if self.paused and len(items) <= self.low_water:
                self._resume_soon()
            yield batch

    def _take_thread(self) -> Any:
        # The next item for a thread consumer, blocking without limit; _EMPTY at a clean
        # end. Called once per wake-up (or batch), never per message.
        try:
            return self.items.popleft()
        except IndexError:
            pass
        try:  # waited for outside the handler: no chained IndexError
            return self._wait_thread(None, iterating=True)
        except StopIteration:
            return _EMPTY

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


# -- conflation ----------------------------------------------------------------------------


class _Slot(list[Any]):
    """The place of one key in a conflating queue: a list holding its newest message.

    A list because its two operations are atomic under the GIL (and locked per object on
    free-threaded builds): the producer replaces the message with ``slot[0] = msg``, which
    raises ``IndexError`` once a consumer claimed it with ``slot.pop()``. So a consumer
    thread and the loop never both get (or both lose) a message, without a lock.
    """

    __slots__ = ("key",)

    key: Hashable


class ConflatingQueue(MessageQueue[T]):
    """A :class:`MessageQueue` that keeps only the newest waiting message of each key.

    While a message of key ``k`` waits in the queue, a newer message of ``k`` replaces it
    *in place* (it keeps the position of the first one) and counts in :attr:`conflated`,
    not in :attr:`dropped`. A consumer that keeps up sees every message; one that lags
    sees, for each key, the newest value, in the order in which the keys first became
    pending. Keeping the position (rather than moving the key to the end) means a key
    never waits longer than it would have without conflation, a busy key is not pushed
    behind quiet ones, and no stale entries are left in the deque: every step is O(1).

    A message whose key is None is queued as is (never conflated). A :class:`Failure`
    is a barrier: messages after it never replace messages before it.

    Args:
        capacity: See :class:`MessageQueue` (here: distinct waiting keys plus unkeyed
            messages).
        policy: See :class:`MessageQueue`.
        key: Returns the key of a message (hashable), or None to never conflate it.
        on_key_error: Called (loop thread) with the exception when ``key`` raised or
            returned an unhashable value; the message is then queued unconflated.
        **kwargs: The other :class:`MessageQueue` arguments.

    Raises:
        TypeError: ``key`` is not callable.
    """

    __slots__ = ("_key", "_on_key_error", "_waiting", "key_errors")

    def __init__(
        self,
        capacity: int,
        policy: OverflowChoice = "block",
        *,
        key: Callable[[Any], Hashable | None],
        on_key_error: Callable[[BaseException], None] | None = None,
        **kwargs: Any,
    ) -> None:
        if not callable(key):
            raise TypeError(f"conflation key must be callable, got {type(key).__name__}")
        super().__init__(capacity, policy, **kwargs)
        self._key = key
        self._on_key_error = on_key_error
        # key -> the slot of that key still in the deque (loop thread writes; a consumer
        # removes the slot it claimed, if it is still the current one).
        self._waiting: dict[Hashable, _Slot] = {}
        self.key_errors = 0

    # -- producer side (loop thread) -----------------------------------------------------

    def push_batch(self, batch: list[Any]) -> None:
        """Conflate a batch into the waiting slots; append only new keys (and failures)."""
        key_of = self._key
        waiting = self._waiting
        out: list[Any] = []
        append = out.append
        replaced = 0
        for msg in batch:
            if msg.__class__ is Failure:
                waiting.clear()  # a barrier: nothing after it replaces anything before it
                append(msg)
                continue
            try:
                key = key_of(msg)
                if key is None:
                    append(msg)
                    continue
                slot = waiting.get(key)
            except Exception as exc:
                self._key_failed(exc)
                append(msg)
                continue
            if slot is not None:
                try:
                    slot[0] = msg
                except IndexError:
                    pass  # a consumer thread claimed it meanwhile: the key starts anew
                else:
                    replaced += 1
                    continue
            slot = _Slot((msg,))
            slot.key = key
            waiting[key] = slot
            append(slot)
        if replaced:
            self.conflated += replaced
        if out:
            super().push_batch(out)
        # Only replacements: consumers already have something to take (nothing to wake).

    def _key_failed(self, exc: BaseException) -> None:
        self.key_errors += 1
        if self._on_key_error is not None:
            self._on_key_error(exc)

    def _discard(self, count: int, *, oldest: bool) -> None:
        # A dropped slot must never be written again (its message would be lost).
        drop = self.items.popleft if oldest else self.items.pop
        waiting = self._waiting
        for _ in range(count):
            item = drop()
            if item.__class__ is _Slot:
                item.clear()
                if waiting.get(item.key) is item:
                    del waiting[item.key]

    # -- consumer side: every path takes what the base class pops, then claims it --------

    def _claim(self, item: Any) -> Any:
        if item.__class__ is not _Slot:
            return item
        msg = item.pop()  # from now on the producer opens a new slot for this key
        waiting = self._waiting
        if waiting.get(item.key) is item:
            # From a consumer thread the slot may be replaced right after this look; then
            # the new slot is forgotten: it is still delivered, only not conflated into.
            waiting.pop(item.key, None)
        return msg

    def _pop(self) -> Any:
        return self._claim(super()._pop())

    async def recv(self, timeout: float | None = None) -> T:
        """See :meth:`MessageQueue.recv` (claiming is idempotent: safe if it used _pop)."""
        return self._claim(await super().recv(timeout))  # type: ignore[no-any-return]

    async def iterate_async(self) -> AsyncIterator[T]:
        """Yield every item until the end, each key's newest message at its position."""
        claim = self._claim
        async for item in super().iterate_async():
            yield claim(item)

    async def batches(self) -> AsyncGenerator[list[T], None]:
        """Yield what is queued as one list (each key once, with its newest message)."""
        claim = self._claim
        async for batch in super().batches():
            yield [claim(item) for item in batch]

    def get(self, timeout: float | None, *, iterating: bool) -> T:
        """See :meth:`MessageQueue.get`."""
        return self._claim(super().get(timeout, iterating=iterating))  # type: ignore[no-any-return]

    def iterate(self) -> Iterator[T]:
        """See :meth:`MessageQueue.iterate`."""
        claim = self._claim
        for item in super().iterate():
            yield claim(item)


def new_queue(
    capacity: int,
    policy: OverflowChoice = "block",
    *,
    conflate_key: Callable[[Any], Hashable | None] | None = None,
    on_key_error: Callable[[BaseException], None] | None = None,
    **kwargs: Any,
) -> MessageQueue[Any]:
    """A :class:`ConflatingQueue` when ``conflate_key`` is given, else a plain queue.

    Args:
        capacity: See :class:`MessageQueue`.
        policy: See :class:`MessageQueue`.
        conflate_key: See :class:`ConflatingQueue` (``key``); None: no conflation, and
            no cost for it.
        on_key_error: See :class:`ConflatingQueue`.
        **kwargs: The other :class:`MessageQueue` arguments.
    """
    if conflate_key is None:
        return MessageQueue(capacity, policy, **kwargs)
    return ConflatingQueue(capacity, policy, key=conflate_key, on_key_error=on_key_error, **kwargs)
