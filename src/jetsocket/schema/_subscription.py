"""``Subscription[M]`` (declared, re-sent after every reconnect) and its ``Stream[M]``.

A subscription declares a stream of ``M`` messages; its stream delivers them as an async
(or blocking) iterator.
The two live together: a stream reads its subscription's class-level declarations, and a
subscription's ``resync`` hook works on its stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import types
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Sequence,
)
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    Union,
    get_args,
    get_origin,
    is_typeddict,
)

from typing_extensions import dataclass_transform

from jetsocket._engine._config import OverflowChoice
from jetsocket._engine._events import GapEvent
from jetsocket._engine._queue import MessageQueue, new_queue
from jetsocket._exceptions import InvalidStateError
from jetsocket._forward import Forward

__all__ = [
    "Ack",
    "AckMode",
    "GapAction",
    "Overlap",
    "Stream",
    "Subscription",
    "SubscriptionOf",
    "error_text",
    "message_types_of",
    "read_id_ack",
]

logger = logging.getLogger("jetsocket")

M = TypeVar("M")
M_co = TypeVar("M_co", covariant=True)
T_co = TypeVar("T_co", covariant=True)


#: How acks are matched to pending requests (``Subscription.ack``).
AckMode = Literal["id", "topic", "all", "order"]
_ACK_MODES = ("id", "topic", "all", "order")
#: What the client does when a subscription's sequence jumps (``Subscription.on_gap``).
GapAction = Literal["report", "resubscribe", "reconnect", "resync"]
_GAP_ACTIONS = ("report", "resubscribe", "reconnect", "resync")


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's answer to a subscribe or unsubscribe request.

    Attributes:
        ok: The request succeeded (for every topic not listed in ``failed_topics``).
        reason: The server's explanation when it failed.
        failed_topics: Topics the server refused while accepting the others (e.g. Bybit's
            per-topic fail list).
        request_id: The request id the answer carries (``ack = "id"``), or None.
        topics: The topics this answer concerns (``ack = "topic"``: the topic it
            confirms; ``ack = "all"``: every topic now subscribed; with ``"id"``: only
            these subscriptions of the request, when the venue acks a batch topic by
            topic). Empty: the whole request.
        channel: A channel id assigned by the venue (Bitfinex ``chanId``): the
            subscription's later messages carry it (see ``Subscription.channel_of``).
        complete: This is the request's only answer: its subscriptions whose topic is
            not in ``topics`` (all of them, when it is empty) were refused (Deribit's
            ``public/subscribe`` result leaves refused channels out).
    """

    ok: bool
    reason: str = ""
    failed_topics: tuple[str, ...] = ()
    request_id: int | str | None = None
    topics: tuple[str, ...] = ()
    channel: Hashable | None = None
    complete: bool = False


def error_text(value: Any) -> str:
    """The text of a venue's error: its ``msg``, ``message`` or ``reason``, else itself."""
    if isinstance(value, dict):
        for key in ("msg", "message", "reason"):
            if value.get(key):
                return str(value[key])
    return str(value)


def read_id_ack(msg: Any, field: str) -> Ack | None:
    """The default ``read_ack`` of ``ack = "id"``: a dict answer carrying ``field``.

    Understands the usual shapes: Binance ``{"result": null, "id": 1}`` and
    ``{"error": {"code": 2, "msg": "..."}, "id": 1}``; Kraken v2 and Bybit
    ``{"req_id": 1, "success": false, "error"|"ret_msg": "..."}``; JSON-RPC 2.0
    ``{"id": 1, "result": ...}`` / ``{"id": 1, "error": {"code": ..., "message": "..."}}``.
    """
    if not isinstance(msg, dict):
        return None
    request_id = msg.get(field)
    if request_id is None or isinstance(request_id, (dict, list, bool)):
        return None
    error = msg.get("error")
    ok = not error and msg.get("success") is not False
    reason = ""
    if not ok:
        reason = error_text(error) if error else str(msg.get("ret_msg") or msg.get("message") or "")
    return Ack(ok=ok, reason=reason or ("" if ok else "refused"), request_id=request_id)


def message_types_of(tp: Any) -> tuple[type, ...]:
    """Flatten ``A | B`` (or a single class) into a tuple of classes."""
    if tp is Any:
        return (object,)
    if is_typeddict(tp):
        return (dict,)  # TypedDicts decode to plain dicts
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        out: list[type] = []
        for arg in get_args(tp):
            out.extend(message_types_of(arg))
        return tuple(out)
    if isinstance(tp, type):
        return (tp,)
    return (origin,) if isinstance(origin, type) else (object,)


class SubscriptionOf(Protocol[T_co, M_co]):
    """Typing only: a ``Subscription[M]`` whose ``M`` lies within a client's type ``T``.

    ``Client[T].subscribe`` takes a ``SubscriptionOf[T, M]`` and returns a ``Stream[M]``:
    mypy infers ``M`` from the subscription and rejects one whose messages the client
    never decodes (``M`` not a subtype of ``T``, e.g. ``Subscription[Ticker]`` on a
    ``Client[Trade | Kline]``; with ``Client[Any]`` every subscription is accepted).
    """

    def _within(self) -> T_co: ...
    def _delivers(self) -> M_co: ...


@dataclass_transform(
    kw_only_default=True, frozen_default=True, field_specifiers=(dataclasses.field,)
)
class Subscription(Generic[M]):
    """Declares what to send to subscribe, and which messages come back.

    Subclasses are frozen, keyword-only dataclasses (hashable: the client keeps them in a
    set). Override :meth:`subscribe_message` (required) and whichever of the other hooks the
    venue needs. Class attributes (assigned without an annotation, so they are not fields)
    declare the venue's behaviour.

    Example:
        >>> from jetsocket.schema import Message, field
        >>> class Trade(Message, tag="trade", tag_field="e"):
        ...     symbol: str = field(name="s")
        >>> class Trades(Subscription[Trade]):
        ...     ack = "id"  # answers carry the request id: {"result": null, "id": 7}
        ...     symbol: str
        ...
        ...     @property
        ...     def topic(self) -> str:  # the venue's name; the default is the class name
        ...         return f"{self.symbol.lower()}@trade"
        ...
        ...     def subscribe_message(self, request_id: int) -> object:
        ...         return {"method": "SUBSCRIBE", "params": [self.topic], "id": request_id}
        ...
        ...     def matches(self, msg: Trade) -> bool:
        ...         return msg.symbol == self.symbol.upper()
        >>> Trades(symbol="BTCUSDT").subscribe_message(request_id=7)
        {'method': 'SUBSCRIBE', 'params': ['btcusdt@trade'], 'id': 7}

    Attributes:
        ack: How the venue acknowledges a subscribe request, so ``subscribe()`` (and every
            resubscribe) waits for it: ``"id"`` (the answer carries the request id, in
            ``ack_field``), ``"topic"`` (one answer per topic, naming it), ``"all"`` (one
            answer listing every topic now subscribed), ``"order"`` (answers carry no
            identity: they come in the order of the requests). None: no ack, unless
            :meth:`parse_ack` is overridden (the older, per-request form).
        ack_field: The field holding the request id with ``ack = "id"``.
        stale_after: Seconds without a message after which the subscription is considered
            stale (None: never).
        on_stale: What to do then: re-send the subscription or reconnect.
        dedup: Drop messages whose :meth:`sequence` (or :meth:`dedup_key`) was already
            delivered, e.g. the snapshot a venue replays on every resubscribe.
        dedup_window: How many recent :meth:`dedup_key` values are remembered.
        on_gap: What to do when :meth:`sequence` jumps: ``"report"`` (a ``gap`` event),
            ``"resubscribe"``, ``"reconnect"``, or ``"resync"`` (run :meth:`resync`).
        buffer: Capacity of the subscription's :class:`Stream` queue.
        overflow_policy: ``drop_oldest`` (default), ``drop_newest``, ``error`` or ``block``
            (pauses the whole connection until the stream is consumed).
    """

    ack: ClassVar[AckMode | None] = None
    ack_field: ClassVar[str] = "id"
    stale_after: ClassVar[float | None] = None
    on_stale: ClassVar[Literal["resubscribe", "reconnect"]] = "resubscribe"
    dedup: ClassVar[bool] = False
    dedup_window: ClassVar[int] = 10_000
    on_gap: ClassVar[GapAction] = "report"
    buffer: ClassVar[int] = 10_000
    overflow_policy: ClassVar[OverflowChoice] = "drop_oldest"
    _message_types: ClassVar[tuple[type, ...]] = (object,)

    if TYPE_CHECKING:
        # Typing only, read through SubscriptionOf: both give M, once to be checked
        # against the client's message type and once to be inferred.
        def _within(self) -> M: ...
        def _delivers(self) -> M: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Subscription[Trade], or an intermediate generic base: VenueTopic[Trade].
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Subscription):
                args = get_args(base)
                if len(args) == 1 and not isinstance(args[0], TypeVar):
                    cls._message_types = message_types_of(args[0])
        _check_declarations(cls)
        dataclass(frozen=True, kw_only=True)(cls)

    @property
    def topic(self) -> str:
        """The venue's topic name (batching, ``Ack.topics``); defaults to the class name."""
        return type(self).__name__

    def subscribe_message(self, request_id: int) -> object:
        """The message that subscribes (sent with the client's serializer)."""
        raise NotImplementedError(f"{type(self).__name__} must define subscribe_message()")

    def unsubscribe_message(self, request_id: int) -> object | None:
        """The message that unsubscribes, or None when the venue has none."""
        return None

    def matches(self, msg: M) -> bool:
        """True if ``msg`` (already of type M) belongs to this subscription."""
        return True

    # -- acks ---------------------------------------------------------------------------

    def read_ack(self, msg: Any) -> Ack | None:
        """Recognise an ack (or a refusal) of this kind of subscription, or return None.

        Used with :attr:`ack`. ``msg`` is a typed message (when the venue's ack or error
        type is declared in the client's union) or the JSON of a message that matched no
        declared type. Fill in what identifies the answer: ``request_id`` (``"id"``),
        ``topics`` (``"topic"``, ``"all"``), ``channel`` (an id the venue assigns). The
        client matches it to a pending request whose answer is still awaited. The default
        understands the usual ``"id"`` shapes (see :func:`read_id_ack`).
        """
        if type(self).ack == "id":
            return read_id_ack(msg, type(self).ack_field)
        return None

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        """Recognise the ack of request ``request_id`` (the per-request form).

        Override (instead of declaring :attr:`ack`) to make :meth:`Client.subscribe` wait
        for the ack. ``msg`` is a typed message or the JSON of a message that matched none
        of the client's types; it is offered to pending requests oldest first. Return None
        if ``msg`` is not that ack.
        """
        return None

    def conflate_key(self, msg: M) -> Hashable | None:
        """Override to conflate: the key (symbol, instrument) of a latest-value message.

        When overridden, the stream keeps only the newest waiting message per key while
        its consumer lags (a newer one replaces it in place, counted in
        :attr:`Stream.conflated`); a consumer that keeps up still sees every message.
        Return None for messages that must never be conflated. See the conflation guide.
        """
        return None

    @classmethod
    def declares_conflation(cls) -> bool:
        """True if the subclass overrides :meth:`conflate_key`."""
        return cls.conflate_key is not Subscription.conflate_key

    @classmethod
    def declares_ack(cls) -> bool:
        """True if ``subscribe()`` waits for an ack (``ack`` declared or ``parse_ack``)."""
        return cls.ack is not None or cls.parse_ack is not Subscription.parse_ack

    def channel_of(self, msg: M) -> Hashable | None:
        """The channel id ``msg`` carries, when the venue assigns one in its ack.

        Override for venues such as Bitfinex v2 (data arrays ``[chanId, ...]``): the
        client then routes messages by the channel id the ack assigned (``Ack.channel``),
        which changes on every reconnect, instead of by the symbol.
        """
        return None

    # -- sequences, gaps, duplicates ----------------------------------------------------

    def sequence(self, msg: M) -> int | tuple[int, int] | None:
        """The message's sequence number, for gap detection and dedup (None: not sequenced).

        A message carrying several items returns the ``(first, last)`` range of their
        sequence numbers (e.g. Kraken's trade arrays with their trade ids).
        """
        return None

    def sequence_key(self, msg: M) -> Hashable:
        """Which sequence ``msg`` belongs to (e.g. its product); one per subscription by default."""
        return None

    def dedup_key(self, msg: M) -> Hashable | None:
        """An identity for dedup of messages without a sequence (e.g. a trade id), or None."""
        return None

    def trim(self, msg: M, seen_through: int) -> M | None:
        """Drop the items of a batched message already delivered (with :attr:`dedup`).

        Called when ``msg``'s sequence range starts at or before ``seen_through`` and ends
        after it: return the message without its items up to ``seen_through`` (or None to
        drop it). The default keeps the message whole.
        """
        return msg

    async def resync(self, gap: GapEvent, stream: Stream[M]) -> None:
        """Recover from a gap (with ``on_gap = "resync"``); runs as a task.

        The default re-sends the subscription (``await stream.resubscribe()``). Override
        to fetch a REST snapshot and hand it over with ``stream.deliver(messages,
        sequence=...)``. Gaps of this subscription found while it runs start no other.
        """
        await stream.resubscribe()

    # -- classification (class-level, used by the client) -----------------------------------

    @classmethod
    def _overrides(cls, hook: str) -> bool:
        """True if the subclass overrides ``hook`` (default hooks are not called)."""
        return getattr(cls, hook) is not getattr(Subscription, hook)

    @classmethod
    def _hooks(cls) -> tuple[bool, bool, bool]:
        """(matches overridden, tracked, routed by channel)."""
        base = Subscription
        tracked = cls.sequence is not base.sequence or cls.dedup_key is not base.dedup_key
        return cls.matches is not base.matches, tracked, cls.channel_of is not base.channel_of


def _check_declarations(cls: type[Subscription[Any]]) -> None:
    # Bad declarations fail when the class is defined, with a message naming it.
    name = cls.__name__
    if cls.ack is not None and cls.ack not in _ACK_MODES:
        raise ValueError(f"{name}.ack must be one of {_ACK_MODES} or None, got {cls.ack!r}")
    if cls.ack is not None and cls.parse_ack is not Subscription.parse_ack:
        raise TypeError(f"{name}: declare either `ack` (with read_ack) or parse_ack(), not both")
    if cls.ack in ("topic", "all", "order") and cls.read_ack is Subscription.read_ack:
        raise TypeError(f"{name}: ack = {cls.ack!r} needs a read_ack() override")
    if cls.on_gap not in _GAP_ACTIONS:
        raise ValueError(f"{name}.on_gap must be one of {_GAP_ACTIONS}, got {cls.on_gap!r}")
    if not isinstance(cls.dedup_window, int) or cls.dedup_window < 1:
        raise ValueError(f"{name}.dedup_window must be an int >= 1")


class Overlap:
    """A rotation's hand-over: resolved once every watched stream saw a message again.

    During a make-before-break rotation both connections deliver; once a stream received
    a message (a sequence id, or a ``dedup_key``) it already had, the new connection
    carries that stream without a hole. The engine closes the old connection when
    :attr:`future` is resolved (or its ``rotation_overlap`` bound expires).
    """

    __slots__ = ("future", "pending")

    def __init__(self, streams: Sequence[Stream[Any]]) -> None:
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending = set(streams)
        for stream in streams:
            stream._overlap = self
        self.future.add_done_callback(self._forget)

    @classmethod
    def watch(cls, streams: Iterable[Stream[Any]]) -> asyncio.Future[None] | None:
        """Watch the streams that can tell (sequence ids or dedup keys, and flowing).

        Returns the future to wait on, or None when no stream can tell.
        """
        telling = [s for s in streams if s._tracked and s.received]
        return cls(telling).future if telling else None

    def seen(self, stream: Stream[Any]) -> None:
        """``stream`` received a message again: it is handed over."""
        stream._overlap = None
        self.pending.discard(stream)
        if not self.pending and not self.future.done():
            self.future.set_result(None)

    def _forget(self, _: asyncio.Future[None]) -> None:
        for stream in self.pending:  # the bound expired, or the rotation ended
            if stream._overlap is self:
                stream._overlap = None
        self.pending = set()


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
        # Set during a rotation's hand-over: told when a message is seen again.
        self._overlap: Overlap | None = None

    def __repr__(self) -> str:
        return f"Stream({self.subscription!r}, buffered={len(self.queue)})"

    dropped = Forward[int]("queue")
    """Messages discarded by the overflow policy."""

    conflated = Forward[int]("queue")
    """Messages replaced by a newer one of their key (``Subscription.conflate_key``)."""

    def _conflate_key_failed(self, exc: BaseException) -> None:
        # Loop thread; the message was queued unconflated (never lost).
        logger.error("jetsocket: %r: conflate_key() raised %r", self.subscription, exc)

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
                if self._overlap is not None:
                    self._overlap.seen(self)
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
            if first <= prev and self._overlap is not None:
                self._overlap.seen(self)  # both connections delivered this id
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
        conflated = queue.conflated
        queue.push_batch(batch)
        # Messages that took an older one's place add no position (conflation).
        accepted = len(batch) - (queue.conflated - conflated)
        if queue.policy == "drop_newest":
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
