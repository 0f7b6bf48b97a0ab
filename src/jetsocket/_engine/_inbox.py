"""The receive side of the engine: decode batches, buffer them, hand them to consumers.

The hot path: the wire connection hands every complete message of one read chunk to
:meth:`Inbox._on_messages` as one list; it is decoded with one ``map`` over the list,
``extend``-ed onto a deque, and the waiting consumer (if any) is woken once. Consumers pop
from the deque and only await when it is empty: no future, task or queue operation per
message.

A message that fails to decode is stored in the deque *at its position* as a ``_Failure``
and raised from ``recv()``/the iterator when reached (strict mode), so an invalid message
never hangs a consumer and never hides the valid messages around it.
"""

from __future__ import annotations

import asyncio
import builtins
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar, cast

from jetsocket._engine._config import BufferConfig, OverflowPolicy, ReplayConfig
from jetsocket._engine._events import (
    BufferOverflowEvent,
    ErrorEvent,
    EventRegistry,
    GapEvent,
    MessageEvent,
)
from jetsocket._engine._sequence import SequenceTracker
from jetsocket._engine._state import ConnectionState
from jetsocket._exceptions import (
    BufferOverflowError,
    ConnectionClosedError,
    InvalidStateError,
    MessageDecodeError,
    TimeoutError,
)
from jetsocket._protocol._connection import WireConnection

__all__ = [
    "CLEAN_CODES",
    "Failure",
    "Inbox",
    "ends_iteration",
    "is_clean_end",
    "trim_overflow",
]

T = TypeVar("T")
# 1005: the peer's close frame carried no code (RFC 6455 7.1.5), still an orderly close.
CLEAN_CODES = frozenset({1000, 1001, 1005})


class Failure:
    """An error stored in the receive deque at the position where it happened."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def is_clean_end(end: BaseException) -> bool:
    """True when ``end`` ends iteration quietly: we closed, or the peer closed normally."""
    return isinstance(end, ConnectionClosedError) and (not end.by_server or end.code in CLEAN_CODES)


def ends_iteration(end: BaseException, stop: type[Exception]) -> BaseException:
    """The exception an iterator raises at ``end``: ``stop`` for a clean end, else ``end``.

    One rule for every consumer (async and sync iteration over clients and streams).
    """
    return stop() if is_clean_end(end) else end


def trim_overflow(
    items: deque[Any],
    capacity: int,
    policy: OverflowPolicy,
    marker: Failure | None,
    what: str,
) -> tuple[int, Failure | None]:
    """Bring ``items`` back to ``capacity`` under a dropping policy (not ``block``).

    Shared by the engine's receive buffer and the schema layer's streams. Under ``error``,
    the newest messages are dropped and one pending ``BufferOverflowError`` marker is
    placed after the last kept message; while it is unconsumed it neither counts as a
    message nor is dropped, and no second marker is added.

    Returns:
        The number of messages dropped, and the pending marker (or None).
    """
    if marker is not None and not any(item is marker for item in items):
        marker = None  # consumed since
    excess = len(items) - capacity - (marker is not None)
    if excess <= 0:
        return 0, marker
    if policy is OverflowPolicy.DROP_OLDEST:
        for _ in range(excess):
            items.popleft()
        return excess, marker
    for _ in range(excess):
        items.pop()
    if policy is OverflowPolicy.ERROR and marker is None:
        marker = Failure(
            BufferOverflowError(f"{what} full ({capacity} messages): newer messages dropped")
        )
        items.append(marker)
    return excess, marker


class Inbox(Generic[T]):
    """Receive buffer, decoding and consumption (the base of ``WebSocket``)."""

    _state: ConnectionState
    _conn: WireConnection | None
    _events: EventRegistry

    def _init_inbox(
        self,
        *,
        decode: Callable[[Any], Any] | None,
        decode_errors: tuple[type[BaseException], ...],
        message_type: object,
        strict: bool,
        buffer: BufferConfig,
        replay: ReplayConfig | None,
        pong_matcher: Callable[[Any], bool] | None,
    ) -> None:
        self._decode = decode
        self._decode_errors = decode_errors
        self._message_type = message_type
        self._strict = strict
        self._inbox: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        # Cached at connect: asyncio.get_running_loop() costs a getpid() call on 3.11.
        self._loop: asyncio.AbstractEventLoop = cast(asyncio.AbstractEventLoop, None)
        # Set by the sync facade: called on the loop thread after each batch and at the end.
        self._notify: Callable[[], None] | None = None
        # Set by the schema layer's Client: takes each decoded batch (after sequence
        # tracking), feeds streams and typed handlers, returns what the client-level
        # iterator should still see.
        self._router: Callable[[list[Any]], list[Any]] | None = None
        # Set by the schema layer: called for a payload the typed decoder rejected.
        self._decode_fallback: Callable[[Any, BaseException], Any] | None = None
        self._end: BaseException | None = None
        # Called once with the end of the stream (the schema layer ends its Streams).
        self._finish_hooks: list[Callable[[BaseException], None]] = []
        self._capacity = buffer.capacity
        self._low_water = max(1, buffer.capacity // 2)
        self._policy = OverflowPolicy(buffer.overflow_policy)
        self._read_paused = False
        self._overflow_marker: Failure | None = None
        extractor = replay.sequence_extractor if replay is not None else None
        self._seq_extract: Callable[[Any], int | None] | None = extractor
        self._dedup = buffer.enable_dedup and extractor is not None
        self._seq = SequenceTracker(buffer.dedup_window) if extractor is not None else None
        self._pong_matcher = pong_matcher
        self._n_in = 0
        self._errors = 0
        self._validation_errors = 0
        self._dropped = 0
        self._duplicates = 0
        self._gaps = 0
        self._pauses = 0

    @property
    def _slow(self) -> bool:
        # Per-message work is needed only for these features; otherwise the batch is
        # delivered with no per-message Python code at all.
        events = self._events
        return (
            self._seq_extract is not None
            or self._pong_matcher is not None
            or events.has_typed
            or events.has("message")
        )

    # -- producer side (loop thread) -----------------------------------------------------

    def _on_messages(self, messages: list[Any]) -> None:
        self._n_in += len(messages)
        decode = self._decode
        if decode is not None:
            try:
                messages = list(map(decode, messages))
            except Exception:
                messages = self._decode_each(messages)
        if self._slow:
            messages = self._per_message(messages)
        router = self._router
        if router is not None:
            messages = router(messages)
        inbox = self._inbox
        inbox.extend(messages)
        if len(inbox) >= self._capacity:
            self._overflow()
        self._wake()

    def _decode_each(self, messages: list[Any]) -> list[Any]:
        # Slow path, only after a failure: find which messages fail, keep the others.
        decode = self._decode
        if decode is None:
            return messages
        out: list[Any] = []
        fallback = self._decode_fallback
        for payload in messages:
            try:
                out.append(decode(payload))
            except self._decode_errors as exc:
                if fallback is not None:
                    # The schema layer turns acks, pongs and unknown messages into
                    # Unmatched values instead of failures (off the fast path).
                    try:
                        out.append(fallback(payload, exc))
                        continue
                    except Exception:
                        pass
                self._validation_errors += 1
                self._errors += 1
                err = MessageDecodeError(str(exc), payload, self._message_type)
                err.__cause__ = exc
                if self._strict:
                    out.append(Failure(err))
                else:
                    self._events.emit("error", ErrorEvent(error=err, context="decode"))
        return out

    def _per_message(self, messages: list[Any]) -> list[Any]:
        out: list[Any] = []
        extract = self._seq_extract
        seq_tracker = self._seq
        matcher = self._pong_matcher
        events = self._events
        emit_messages = events.has("message")
        typed = events.has_typed
        for msg in messages:
            if msg.__class__ is Failure:
                out.append(msg)
                continue
            if matcher is not None and matcher(msg):
                self._on_app_pong()
                continue
            if extract is not None and seq_tracker is not None:
                seq = extract(msg)
                if seq is not None:
                    duplicate, gap = seq_tracker.observe(seq)
                    if duplicate and self._dedup:
                        self._duplicates += 1
                        self._dropped += 1
                        continue
                    if gap is not None:
                        self._gaps += 1
                        self._events.emit(
                            "gap", GapEvent(first_missing=gap[0], last_missing=gap[1])
                        )
            if typed:
                events.dispatch(msg)
            if emit_messages:
                events.emit("message", MessageEvent(data=msg))
            out.append(msg)
        return out

    def _on_app_pong(self) -> None:
        """Overridden by the engine: an application-level pong was recognised."""

    def _overflow(self) -> None:
        inbox = self._inbox
        policy = self._policy
        if policy is OverflowPolicy.BLOCK:
            if not self._read_paused:
                # Backpressure: stop reading the socket; TCP flow control slows the server.
                self._read_paused = True
                self._pauses += 1
                if self._conn is not None:
                    self._conn.pause_reading()
            return
        excess, self._overflow_marker = trim_overflow(
            inbox, self._capacity, policy, self._overflow_marker, "receive buffer"
        )
        if excess <= 0:
            return
        self._dropped += excess
        self._events.emit(
            "buffer_overflow",
            BufferOverflowEvent(dropped=excess, policy=policy.value, capacity=self._capacity),
        )

    def _finish(self, end: BaseException) -> None:
        if self._end is None:
            self._end = end
            for hook in self._finish_hooks:
                hook(end)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self._notify is not None:
            self._notify()

    def _needs_resume(self) -> bool:
        return self._read_paused and len(self._inbox) <= self._low_water

    def _resume_if_paused(self) -> None:
        if self._read_paused and len(self._inbox) <= self._low_water:
            self._resume()

    def _resume(self) -> None:
        self._read_paused = False
        if self._conn is not None:
            self._conn.resume_reading()

    # -- consumer side ------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        # An async generator: its per-item step is C code (no coroutine object per
        # message, unlike an ``async def __anext__``), and it only awaits when the deque
        # is empty.
        inbox = self._inbox
        popleft = inbox.popleft
        while True:
            while inbox:
                item = popleft()
                if item.__class__ is Failure:
                    raise item.exc
                if self._read_paused and len(inbox) <= self._low_water:
                    self._resume()
                yield item
            if not await self._wait_nonempty(iterating=True):
                return

    async def __anext__(self) -> T:
        """The next message (``anext(ws)``); iteration uses a faster generator."""
        inbox = self._inbox
        if not inbox and not await self._wait_nonempty(iterating=True):
            raise StopAsyncIteration
        return self._pop()

    def _pop(self) -> T:
        inbox = self._inbox
        item = inbox.popleft()
        if item.__class__ is Failure:
            raise item.exc
        if self._read_paused and len(inbox) <= self._low_water:
            self._resume()
        return item  # type: ignore[no-any-return]

    async def batches(self) -> AsyncIterator[list[T]]:
        """Iterate over messages a batch at a time (every message received so far).

        The fastest way to consume a high-rate stream: one step per read from the socket
        instead of one per message. A decode failure (strict mode) ends the batch before
        it and is raised on the next step.

        Yields:
            Non-empty lists of messages, in order.
        """
        inbox = self._inbox
        while True:
            if inbox:
                batch: list[Any] = []
                append = batch.append
                popleft = inbox.popleft
                while inbox:
                    item = popleft()
                    if item.__class__ is Failure:
                        if batch:
                            inbox.appendleft(item)
                            break
                        raise item.exc
                    append(item)
                if self._read_paused:
                    self._resume()
                yield batch
            elif not await self._wait_nonempty(iterating=True):
                return

    async def recv(self, timeout: float | None = None) -> T:
        """Return the next message.

        Messages received before a close stay readable; once they are consumed ``recv()``
        raises :class:`ConnectionClosedError`.

        Args:
            timeout: Seconds to wait; None waits for ever.

        Raises:
            TimeoutError: No message within ``timeout`` (also a builtin ``TimeoutError``).
            ConnectionClosedError: The connection is closed and every received message
                was consumed.
            MessageDecodeError: The next message did not match the declared type
                (strict mode).
            BufferOverflowError: Messages were dropped under the ``error`` policy.
            InvalidStateError: ``connect()`` was never called.
        """
        if self._inbox:
            return self._pop()
        if timeout is None:
            await self._wait_nonempty(iterating=False)
            return self._pop()
        try:
            async with asyncio.timeout(timeout):
                await self._wait_nonempty(iterating=False)
        except builtins.TimeoutError:
            raise TimeoutError(f"no message received within {timeout}s") from None
        return self._pop()

    def _end_error(self, *, iterating: bool) -> BaseException | None:
        """What a consumer gets once the deque is empty (None: keep waiting)."""
        end = self._end
        if end is None:
            if self._state is ConnectionState.IDLE:
                return InvalidStateError("not connected: call connect() first")
            return None
        return ends_iteration(end, StopAsyncIteration) if iterating else end

    async def _wait_nonempty(self, *, iterating: bool) -> bool:
        """Wait until the deque has an item (True) or iteration ends cleanly (False).

        Raises the end of the stream otherwise (an error, or the close for ``recv``).
        """
        inbox = self._inbox
        while not inbox:
            end = self._end_error(iterating=iterating)
            if end is not None:
                if end.__class__ is StopAsyncIteration:
                    return False
                raise end
            if self._read_paused:
                self._resume()
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._loop.create_future()
                self._waiter = waiter
            await waiter
        return True
