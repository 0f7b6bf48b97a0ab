"""``Client[T]``: a typed client definition (URI, message union, options, subscriptions).

A subclass declares a venue once::

    class Binance(Client[Trade | Kline]):
        uri = "wss://stream.binance.com:9443/ws"
        heartbeat = 20.0
        send_rate = 5.0
        max_topics_per_message = 200
        max_streams_per_connection = 1024

Instances own one engine connection per *shard* (a new shard is opened when a venue caps
the streams per connection). Every shard runs :meth:`Client.on_connect` and re-sends its
subscriptions after each (re)connect, before delivery resumes, so ``Stream`` consumers never
see a reconnect.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator, Callable, Hashable
from typing import (
    Any,
    ClassVar,
    Generic,
    Literal,
    ParamSpec,
    TypeVar,
    get_args,
    get_origin,
)

import msgspec
from typing_extensions import Unpack

from jetsocket._engine._codec import build_decoder
from jetsocket._engine._config import BackoffConfig, BufferConfig, HeartbeatConfig, ReplayConfig
from jetsocket._engine._context import ConnectContext
from jetsocket._engine._events import (
    ErrorEvent,
    EventSource,
    GapEvent,
    ResubscribedEvent,
    SubscribedEvent,
    UnsubscribedEvent,
    share_registry,
)
from jetsocket._engine._options import OPTION_NAMES, WebSocketOptions
from jetsocket._engine._state import ConnectionState
from jetsocket._engine._stats import ConnectionStats
from jetsocket._engine._websocket import WebSocket
from jetsocket._exceptions import (
    ConnectionClosedError,
    InvalidStateError,
    SubscriptionError,
    TimeoutError,
)
from jetsocket._forward import Forward
from jetsocket.schema._acks import AckBook, PendingRequest
from jetsocket.schema._routing import Router, Unmatched
from jetsocket.schema._subscription import (
    Overlap,
    Stream,
    Subscription,
    SubscriptionOf,
    error_text,
)
from jetsocket.schema._sync_client import SyncClient

__all__ = ["Client", "Unmatched"]

T = TypeVar("T")
M = TypeVar("M")
P = ParamSpec("P")

_OPTION_NAMES = OPTION_NAMES


class _Shard:
    __slots__ = ("index", "queued", "subs", "ws")

    def __init__(self, index: int, ws: WebSocket[Any]) -> None:
        self.index = index
        self.ws = ws
        self.subs: list[Subscription[Any]] = []
        # subscribe() calls of one loop iteration, sent together (batched like a resubscribe).
        self.queued: list[tuple[Subscription[Any], asyncio.Future[SubscriptionError | None]]] = []


class Client(ConnectContext, EventSource, Generic[T]):
    """Base class of typed client definitions.

    Class attributes declare the venue; any of them (and any :class:`jetsocket.WebSocket`
    option) can be overridden per instance: ``Binance(heartbeat=5.0)``.

    Attributes:
        uri: The venue's WebSocket URI.
        message_type: The message union; by default the ``T`` of ``Client[T]``.
        unknown_messages: What to do with messages matching no declared type and no
            pending ack: ``"error"`` (strict: raise from the iterator), ``"ignore"``
            (count them), ``"deliver"`` (yield them as :class:`Unmatched`).
        send_rate: Venue limit on outgoing messages per second (all frames we send).
        max_topics_per_message: Batch subscriptions, this many topics per message (needs
            :meth:`batch_subscribe_message`).
        max_streams_per_connection: Beyond this many subscriptions, open another
            connection (shard) and subscribe there.
        ack_timeout: Seconds to wait for a subscription's ack.
    """

    # Not a ClassVar: ``Venue(uri=...)`` sets the instance's own (``venue.uri`` reads it).
    uri: str = ""
    message_type: ClassVar[Any] = None
    unknown_messages: ClassVar[Literal["error", "ignore", "deliver"]] = "error"
    max_topics_per_message: ClassVar[int | None] = None
    max_streams_per_connection: ClassVar[int | None] = None
    ack_timeout: ClassVar[float] = 10.0
    # Engine options as class attributes (None: the engine's default).
    reconnect: ClassVar[bool | None] = None
    backoff: ClassVar[BackoffConfig | None] = None
    heartbeat: ClassVar[float | HeartbeatConfig | None] = None
    idle_timeout: ClassVar[float | None] = None
    max_connection_age: ClassVar[float | None] = None
    buffer: ClassVar[int | BufferConfig | None] = None
    replay: ClassVar[ReplayConfig | None] = None
    send_rate: ClassVar[float | None] = None
    send_burst: ClassVar[int | None] = None
    extra_headers: ClassVar[dict[str, str] | None] = None
    subprotocols: ClassVar[list[str] | None] = None
    max_message_size: ClassVar[int | None] = None
    strict: ClassVar[bool | None] = None

    _declared_type: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is Client:
                (arg,) = get_args(base)
                if not isinstance(arg, TypeVar):
                    cls._declared_type = arg

    def __init__(
        self,
        *,
        uri: str | None = None,
        unknown_messages: Literal["error", "ignore", "deliver"] | None = None,
        ack_timeout: float | None = None,
        max_topics_per_message: int | None = None,
        max_streams_per_connection: int | None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None:
        cls = type(self)
        self.uri = self._uri = uri or cls.uri
        self._unknown_policy = unknown_messages or cls.unknown_messages
        if self._unknown_policy not in ("error", "ignore", "deliver"):
            raise ValueError("unknown_messages must be 'error', 'ignore' or 'deliver'")
        self._ack_timeout = float(ack_timeout if ack_timeout is not None else cls.ack_timeout)
        self._max_topics = max_topics_per_message or cls.max_topics_per_message
        self._max_streams = max_streams_per_connection or cls.max_streams_per_connection
        if not self._uri:
            raise ValueError(f"{cls.__name__} declares no uri; pass uri=...")
        merged: dict[str, Any] = {}
        for name in _OPTION_NAMES:
            value = getattr(cls, name, None)
            if value is not None:
                merged[name] = value
        merged.update(options)
        if "buffer" not in merged:
            # Messages no stream claims must never stall the streams: by default the
            # client-level queue drops its oldest entries (counted) instead of pausing.
            merged["buffer"] = BufferConfig(capacity=10_000, overflow_policy="drop_oldest")
        heartbeat = merged.get("heartbeat")
        if isinstance(heartbeat, HeartbeatConfig) and heartbeat.pong_matcher is not None:
            matcher = heartbeat.pong_matcher

            def unwrapped(msg: Any) -> bool:
                # Pongs usually match no declared type: give the matcher their JSON.
                return matcher(msg.data if msg.__class__ is Unmatched else msg)

            merged["heartbeat"] = dataclasses.replace(heartbeat, pong_matcher=unwrapped)
        self._options = merged
        msg_type = cls.message_type if cls.message_type is not None else cls._declared_type
        self._message_type = msg_type
        typed, typed_error = build_decoder(msg_type)
        generic = msgspec.json.Decoder().decode

        def fallback(payload: bytes | str, exc: BaseException) -> Unmatched:
            # Off the fast path (the engine maps the typed decoder over each batch): acks,
            # login answers and unknown messages become Unmatched for the router.
            try:
                data = generic(payload)
            except msgspec.DecodeError:
                # Not JSON at all (e.g. a text "pong"): hand over the text itself.
                text = payload.decode(errors="replace") if isinstance(payload, bytes) else payload
                return Unmatched(text, payload, exc, valid_json=False)
            return Unmatched(data, payload, exc)

        def decode(payload: bytes | str) -> Any:
            """Typed message, or Unmatched (what the engine's two steps amount to)."""
            try:
                return typed(payload)
            except typed_error as exc:
                return fallback(payload, exc)

        self._typed = typed
        self._decode = decode
        self._decode_errors = typed_error
        self._fallback = fallback
        self._shards: list[_Shard] = []
        self._streams: dict[Subscription[Any], Stream[Any]] = {}
        self._acks = AckBook(self._assign_channel, self._report)
        self._pending = self._acks.pending
        self._expect: list[tuple[Callable[[Any], bool], asyncio.Future[Any]]] = []
        self._ids = itertools.count(1)
        self._gaps = 0
        self._stale_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._router = Router(self, msg_type)
        self._route = self._router.route
        self._route_cache = self._router.cache
        self._expected = self._router.expected
        self._primary: WebSocket[T] = self._new_engine(0)
        share_registry(self._primary, self)  # client and shards: one set of handlers

    # -- engines ------------------------------------------------------------------------

    def _new_engine(self, index: int) -> WebSocket[Any]:
        options = dict(self._options)
        if index and "buffer" not in options:
            options["buffer"] = BufferConfig(capacity=1)  # shards forward everything
        ws: WebSocket[Any] = WebSocket(self._uri, deserializer=self._typed, **options)
        shard = _Shard(index, ws)
        if index:
            ws.share_handlers(self._primary)  # one registry: handlers see every shard
            ws.set_router(self._router.route_to_primary, self._fallback)
        else:
            ws.set_router(self._route, self._fallback)
        ws.add_on_open(lambda _ws: self._on_open(shard))
        ws.add_finish_hook(lambda end: self._end_streams(shard, end))
        # A rotation keeps the old connection until the shard's sequenced streams saw
        # messages again (no hole between the two connections).
        ws.set_overlap_watch(
            lambda: Overlap.watch(st for sub in shard.subs if (st := self._streams.get(sub)))
        )
        self._shards.append(shard)
        return ws

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def websocket(self) -> WebSocket[T]:
        """The primary connection's engine."""
        return self._primary

    state = Forward[ConnectionState]("_primary")
    """The primary connection's state."""

    @property
    def is_connected(self) -> bool:
        """True while every shard is connected."""
        return all(s.ws.is_connected for s in self._shards)

    def stats(self) -> ConnectionStats:
        """The primary connection's counters, with the schema layer's own.

        ``validation_errors`` and ``errors`` include messages that matched no declared
        type or failed validation (see ``unknown_messages``); ``duplicates``,
        ``messages_dropped`` and ``gaps`` include the subscriptions' dedup and gaps.
        """
        base = self._primary.stats()
        router = self._router
        return dataclasses.replace(
            base,
            errors=base.errors + router.decode_failures,
            validation_errors=base.validation_errors + router.decode_failures,
            duplicates=base.duplicates + router.duplicates,
            messages_dropped=base.messages_dropped + router.duplicates,
            gaps=base.gaps + self._gaps,
        )

    unmatched_count = Forward[int]("_router", "unknown")
    """Messages that matched no declared type, no pending ack and no ``expect()``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._primary!r}, subscriptions={len(self._streams)})"

    async def connect(self) -> None:
        """Connect the primary connection (runs :meth:`on_connect`)."""
        await self._primary.connect()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close every shard and end every stream."""
        if self._stale_timer is not None:
            self._stale_timer.cancel()
            self._stale_timer = None
        for task in tuple(self._tasks):
            task.cancel()
        for shard in reversed(self._shards):
            await shard.ws.close(code, reason)
        end = ConnectionClosedError(code, reason, by_server=False)
        for stream in self._streams.values():
            stream._finish(end)

    def _end_streams(self, shard: _Shard, end: BaseException) -> None:
        # The shard's engine gave up (or closed): its streams end with the same reason.
        for sub in shard.subs:
            stream = self._streams.get(sub)
            if stream is not None:
                stream._finish(end)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._primary.__aiter__()

    async def recv(self, timeout: float | None = None) -> T:
        """The next message no subscription claimed (see ``WebSocket.recv``)."""
        return await self._primary.recv(timeout)

    async def send(self, message: Any) -> None:
        """Send on the primary connection (rate limited by ``send_rate``)."""
        await self._primary.send(message)

    # -- hooks for subclasses ---------------------------------------------------------------

    async def on_connect(self, ws: WebSocket[Any]) -> None:
        """Run after every (re)connect of every shard, before subscriptions are re-sent.

        Override for login: send with ``await ws.send(...)`` and wait for the answer with
        :meth:`expect`. Build credentials here (not in ``__init__``) so every reconnect
        signs a fresh login.
        """

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object | None:
        """One message subscribing to several subscriptions' topics, or None (no batching).

        Used with ``max_topics_per_message``, for the first subscribe and every resubscribe
        alike; the batch's acks are read with the first subscription's ack declaration
        (with ``ack = "topic"`` one answer per topic is expected).
        """
        return None

    def venue_error(self, msg: Any) -> str | None:
        """The reason, if ``msg`` (the JSON of an unmatched message) is a venue error.

        The default recognises a ``"type"`` (Coinbase) or ``"event"`` (OKX, Bitfinex)
        equal to ``"error"``, and a non-empty ``"error"`` field (Binance, JSON-RPC). A
        venue error is reported as an ``error`` event (context ``"decode"``) and counted
        in every ``unknown_messages`` mode. Override for other shapes.
        """
        if not isinstance(msg, dict):
            return None
        if msg.get("type") == "error" or msg.get("event") == "error":
            text = msg.get("message") or msg.get("msg") or msg.get("reason") or msg
            return error_text(text)
        error = msg.get("error")
        if error and not isinstance(error, bool):
            return error_text(error)
        return None

    async def expect(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """Wait for a message (typed, or the JSON of an unmatched one) satisfying ``predicate``.

        The message is consumed (not delivered elsewhere). Use it in :meth:`on_connect`
        to await a login answer.

        Raises:
            TimeoutError: Nothing matched within ``timeout``.
        """
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._expect.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except builtins.TimeoutError:
            raise TimeoutError(f"no expected message within {timeout}s") from None
        finally:
            if entry in self._expect:
                self._expect.remove(entry)

    async def request(
        self, message: Any, predicate: Callable[[Any], bool], timeout: float = 10.0
    ) -> Any:
        """Send ``message`` and wait for the answer satisfying ``predicate``.

        The predicate is registered before sending, so a fast answer cannot be missed
        (unlike ``send`` followed by :meth:`expect`).

        Raises:
            TimeoutError: No answer within ``timeout``.
        """
        waiter = asyncio.ensure_future(self.expect(predicate, timeout))
        await asyncio.sleep(0)  # let expect() register its predicate
        try:
            await self._primary.send(message)
        except BaseException:
            waiter.cancel()
            raise
        return await waiter

    # -- subscriptions ------------------------------------------------------------------

    async def subscribe(self, subscription: SubscriptionOf[T, M]) -> Stream[M]:
        """Subscribe and return the stream of that subscription's messages.

        Sends the subscription (rate limited, awaiting the ack when the subscription
        declares one). Subscriptions made in the same loop iteration (e.g. with
        ``asyncio.gather``) are sent together, batched exactly as after a reconnect.
        Subscribing twice returns the same stream.

        Raises:
            SubscriptionError: The server refused it, or no ack within ``ack_timeout``.
            InvalidStateError: The client is not connected.
        """
        if not isinstance(subscription, Subscription):
            raise TypeError(f"expected a Subscription, got {type(subscription).__name__}")
        existing = self._streams.get(subscription)
        if existing is not None:
            return existing
        shard = await self._shard_for_new()
        stream: Stream[M] = Stream(
            subscription, self.unsubscribe, self._block, self._resubscribe_one
        )
        self._streams[subscription] = stream
        shard.subs.append(subscription)
        self._changed()
        try:
            error = await self._queue_subscription(shard, subscription)
            if error is not None:
                raise error
        except BaseException:
            self._forget(subscription)
            raise
        if type(subscription).stale_after is not None:
            self._arm_stale_watch()
        return stream

    async def _queue_subscription(
        self, shard: _Shard, subscription: Subscription[Any]
    ) -> SubscriptionError | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SubscriptionError | None] = loop.create_future()
        shard.queued.append((subscription, future))
        if len(shard.queued) == 1:
            loop.call_soon(self._flush_queued, shard)
        return await future

    def _flush_queued(self, shard: _Shard) -> None:
        items, shard.queued = shard.queued, []
        self._spawn(self._send_queued(shard, items))

    async def _send_queued(
        self,
        shard: _Shard,
        items: list[tuple[Subscription[Any], asyncio.Future[SubscriptionError | None]]],
    ) -> None:
        subs = [sub for sub, future in items if not future.done()]
        try:
            failed = await self._send_subscriptions(shard.ws, subs) if subs else []
        except BaseException as exc:
            for _, future in items:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        errors = {e.subscription: e for e in failed}
        for sub, future in items:
            if not future.done():
                future.set_result(errors.get(sub))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _waits_for_unsubscribe_ack(self, subscription: Subscription[Any]) -> bool:
        # Topic and "all" answers to an unsubscribe cannot be told from a subscribe's
        # answers reliably: those are consumed when they come, without waiting.
        cls = type(subscription)
        return cls.declares_ack() and cls.ack in (None, "id", "order")

    async def unsubscribe(self, subscription: Subscription[Any]) -> None:
        """Unsubscribe; the stream ends once its buffered messages are consumed."""
        stream = self._streams.get(subscription)
        if stream is None:
            return
        shard = self._shard_of(subscription)
        request_id = next(self._ids)
        message = subscription.unsubscribe_message(request_id)
        self._forget(subscription)
        if message is not None and shard is not None and shard.ws.is_connected:
            await self._send_unsubscribe(shard.ws, subscription, request_id, message, wait=True)
        stream._finish(ConnectionClosedError(1000, "unsubscribed", by_server=False))
        self._events.emit(
            "unsubscribed", UnsubscribedEvent(subscription=subscription, request_id=request_id)
        )

    async def _send_unsubscribe(
        self,
        ws: WebSocket[Any],
        subscription: Subscription[Any],
        request_id: int,
        message: object,
        *,
        wait: bool,
    ) -> PendingRequest | None:
        """Send an unsubscribe; with ``wait``, consume its answer (at most ``ack_timeout``)."""
        if not self._waits_for_unsubscribe_ack(subscription):
            await ws.send(message)
            return None
        loop = asyncio.get_running_loop()
        request = PendingRequest(request_id, [subscription], loop.create_future(), unsubscribe=True)
        self._acks.add(request)
        try:
            await ws.send(message)
            if not wait:
                return request  # the caller removes it once the resubscribe is answered
            await asyncio.wait([request.future], timeout=self._ack_timeout)
        except BaseException:
            self._acks.remove(request)
            raise
        self._acks.remove(request)
        return None

    @property
    def subscriptions(self) -> tuple[Subscription[Any], ...]:
        """The active subscriptions."""
        return tuple(self._streams)

    def _changed(self) -> None:
        self._router.changed()

    def _forget(self, subscription: Subscription[Any]) -> None:
        self._streams.pop(subscription, None)
        for shard in self._shards:
            if subscription in shard.subs:
                shard.subs.remove(subscription)
        self._changed()

    def _shard_of(self, subscription: Subscription[Any]) -> _Shard | None:
        for shard in self._shards:
            if subscription in shard.subs:
                return shard
        return None

    async def _shard_for_new(self) -> _Shard:
        limit = self._max_streams
        if self._primary.state is ConnectionState.IDLE:
            raise InvalidStateError("not connected: use `async with` or connect() first")
        for shard in self._shards:
            if limit is None or len(shard.subs) < limit:
                if shard.ws.state is ConnectionState.IDLE:
                    await shard.ws.connect()
                return shard
        ws = self._new_engine(len(self._shards))
        await ws.connect()
        return self._shards[-1]

    async def _on_open(self, shard: _Shard) -> None:
        """Login, then re-send the shard's subscriptions (after every (re)connect)."""
        # Answers awaited on the old connection never come: settle those requests first,
        # so none of them takes an answer meant for the login or the resubscribe.
        self._acks.supersede(list(shard.subs))
        await self.on_connect(shard.ws)
        subs = list(shard.subs)
        if not subs:
            return
        for sub in subs:
            stream = self._streams.get(sub)
            if stream is not None:
                stream.channel = None  # channel ids are per connection: the acks reassign
        failed = await self._send_subscriptions(shard.ws, subs)
        now = time.monotonic()
        for sub in subs:
            stream = self._streams.get(sub)
            if stream is not None:
                stream.subscribed_at = now
        for error in failed:
            self._events.emit("error", ErrorEvent(error=error, context="resubscribe"))
        self._events.emit(
            "resubscribed",
            ResubscribedEvent(count=len(subs), failed=tuple(e.subscription for e in failed)),
        )

    async def _send_subscriptions(
        self, ws: WebSocket[Any], subs: list[Subscription[Any]]
    ) -> list[SubscriptionError]:
        """Send (batched when declared), await acks; return the failures.

        The one path of first subscribes and resubscribes: every request is registered
        before it is sent, all are sent (rate limited by the engine), then each is awaited
        until ``ack_timeout`` after its own send.
        """
        batch = self._max_topics
        batching = bool(batch) and self.batch_subscribe_message(subs[:1], 0) is not None
        groups: list[list[Subscription[Any]]]
        if batching and batch:
            groups = [subs[i : i + batch] for i in range(0, len(subs), batch)]
        else:
            groups = [[s] for s in subs]
        loop = asyncio.get_running_loop()
        waits: list[tuple[PendingRequest, float]] = []
        created: list[PendingRequest] = []
        try:
            for group in groups:
                request_id = next(self._ids)
                if not batching:
                    message = group[0].subscribe_message(request_id)
                else:
                    message = self.batch_subscribe_message(group, request_id)
                request = None
                if type(group[0]).declares_ack():
                    request = PendingRequest(request_id, group, loop.create_future())
                    self._acks.add(request)
                    created.append(request)
                await ws.send(message)
                if request is None:
                    for sub in group:
                        self._events.emit(
                            "subscribed", SubscribedEvent(subscription=sub, request_id=request_id)
                        )
                else:
                    waits.append((request, loop.time() + self._ack_timeout))
            failed: list[SubscriptionError] = []
            for request, deadline in waits:
                if request.live:
                    await asyncio.wait([request.future], timeout=max(0.0, deadline - loop.time()))
                failed.extend(request.errors("no ack (timeout)"))
                for sub in request.subs:
                    if sub in request.results and request.results[sub] is None:
                        self._events.emit(
                            "subscribed",
                            SubscribedEvent(subscription=sub, request_id=request.request_id),
                        )
            return failed
        finally:
            for request in created:
                self._acks.remove(request)

    def _report(self, exc: BaseException, context: str) -> None:
        self._primary.report_error(exc, context)

    def _assign_channel(self, subscription: Subscription[Any], channel: Hashable) -> None:
        stream = self._streams.get(subscription)
        if stream is not None:
            stream.channel = channel

    def _block(self, stream: Stream[Any], blocked: bool) -> None:
        # A stream with the "block" policy is full: pause reading every shard until it
        # drained (each stream is one owner of the pause).
        for shard in self._shards:
            if blocked:
                shard.ws.pause_reading(stream)
            else:
                shard.ws.resume_reading(stream)

    # -- staleness, gaps and resync -------------------------------------------------------

    def _arm_stale_watch(self) -> None:
        limits = [stale for sub in self._streams if (stale := type(sub).stale_after) is not None]
        if not limits or self._stale_timer is not None:
            return
        period = max(0.05, min(limits) / 4)
        self._stale_timer = asyncio.get_running_loop().call_later(period, self._check_stale)

    def _check_stale(self) -> None:
        """Resubscribe (or reconnect) subscriptions silent for longer than stale_after."""
        self._stale_timer = None
        now = time.monotonic()
        for sub, stream in list(self._streams.items()):
            stale = type(sub).stale_after
            shard = self._shard_of(sub)
            if stale is None or shard is None or not shard.ws.is_connected:
                continue
            silent = now - max(stream.last_message_at, stream.subscribed_at)
            if silent < stale:
                continue
            stream.subscribed_at = now  # one action per stale period
            error = SubscriptionError(sub, f"stale: no message for {silent:.1f}s")
            self._events.emit("error", ErrorEvent(error=error, context="stale"))
            if type(sub).on_stale == "reconnect":
                shard.ws.drop_connection()  # the engine reconnects, resubscribes everything
            else:
                self._spawn(self._resubscribe_reporting(sub, "stale resubscribe"))
        self._arm_stale_watch()

    async def _resubscribe_reporting(self, sub: Subscription[Any], context: str) -> None:
        try:
            await self._resubscribe_one(sub)
        except SubscriptionError as exc:
            self._events.emit("error", ErrorEvent(error=exc, context=context))
        except (ConnectionClosedError, InvalidStateError) as exc:
            self._events.emit("error", ErrorEvent(error=exc, context=context))

    async def _resubscribe_one(self, sub: Subscription[Any]) -> None:
        """Unsubscribe then subscribe ``sub`` again on its connection (same stream).

        Raises:
            SubscriptionError: The venue refused it, or did not answer in time.
            InvalidStateError: ``sub`` is not an active subscription.
        """
        shard = self._shard_of(sub)
        if shard is None:
            raise InvalidStateError(f"{sub!r} is not subscribed")
        request_id = next(self._ids)
        message = sub.unsubscribe_message(request_id)
        unsub = None
        if message is not None:
            unsub = await self._send_unsubscribe(shard.ws, sub, request_id, message, wait=False)
        try:
            failed = await self._send_subscriptions(shard.ws, [sub])
        finally:
            if unsub is not None:
                self._acks.remove(unsub)
        stream = self._streams.get(sub)
        if stream is not None:
            stream.subscribed_at = time.monotonic()
        if failed:
            raise failed[0]

    def _on_gap(self, stream: Stream[Any], gap: GapEvent) -> None:
        self._gaps += 1
        self._events.emit("gap", gap)
        sub = stream.subscription
        action = type(sub).on_gap
        if action == "report":
            return
        if action == "reconnect":
            shard = self._shard_of(sub)
            if shard is not None:
                shard.ws.drop_connection()  # every subscription of it is re-sent
            return
        if stream._resyncing:
            return  # one resync at a time per subscription
        stream._resyncing = True
        self._spawn(self._resync(stream, gap, action))

    async def _resync(self, stream: Stream[Any], gap: GapEvent, action: str) -> None:
        sub = stream.subscription
        try:
            if action == "resubscribe":
                await self._resubscribe_one(sub)
            else:
                await sub.resync(gap, stream)
        except Exception as exc:
            self._primary.report_error(exc, f"{type(sub).__name__} resync")
        finally:
            stream._resyncing = False

    # -- sync facade ----------------------------------------------------------------------

    @classmethod
    def sync(cls: Callable[P, Client[M]], *args: P.args, **kwargs: P.kwargs) -> SyncClient[M]:
        """The blocking facade of this client: ``with Binance.sync() as bn: ...``.

        Takes exactly what the client's constructor takes (``Binance.sync(ack_timeout=3,
        heartbeat=5.0)``; mypy checks them against ``__init__``, a subclass's own included).
        Runs the client on one background event-loop thread (see
        :class:`jetsocket.SyncWebSocket`); every feature is the same.
        """
        return SyncClient(cls(*args, **kwargs))
