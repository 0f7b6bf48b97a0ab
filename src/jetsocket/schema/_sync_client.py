"""Blocking facades of :class:`Client` and :class:`Stream` (``Binance.sync()``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Protocol, TypeVar

from jetsocket._engine._events import GapEvent
from jetsocket._engine._websocket import WebSocket
from jetsocket._forward import Forward
from jetsocket._sync import _GRACE, QueueReader, SyncWebSocket
from jetsocket.schema._subscription import Stream, Subscription, SubscriptionOf

__all__ = ["AsyncClient", "SyncClient", "SyncStream"]

T = TypeVar("T")
M = TypeVar("M")


class AsyncClient(Protocol[T]):
    """What a :class:`SyncClient` drives: a schema ``Client[T]`` (this facade's own view).

    Declared here so the facade depends on what it uses, not on the client module (which
    builds facades with ``Client.sync()``).
    """

    @property
    def websocket(self) -> WebSocket[T]: ...
    @property
    def subscriptions(self) -> tuple[Subscription[Any], ...]: ...
    @property
    def unmatched_count(self) -> int: ...
    @property
    def _ack_timeout(self) -> float: ...
    async def connect(self) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...
    async def send(self, message: Any) -> None: ...
    def subscribe(self, subscription: SubscriptionOf[T, M]) -> Coroutine[Any, Any, Stream[M]]: ...
    async def unsubscribe(self, subscription: Subscription[Any]) -> None: ...
    async def expect(self, predicate: Callable[[Any], bool], timeout: float = ...) -> Any: ...
    async def request(
        self, message: Any, predicate: Callable[[Any], bool], timeout: float = ...
    ) -> Any: ...


class SyncStream(QueueReader[M]):
    """Blocking iterator over one subscription's messages (from ``SyncClient.subscribe``).

    Thread-safe like :class:`jetsocket.SyncWebSocket`: messages cross from the loop thread
    in batches, iteration ends after :meth:`unsubscribe` or when the client closes.
    """

    def __init__(self, client: SyncClient[Any], stream: Stream[M]) -> None:
        self._client = client
        self._stream = stream
        self._read_from(stream.queue, client._guard)

    @property
    def subscription(self) -> Subscription[M]:
        """The subscription this stream delivers."""
        return self._stream.subscription

    def __repr__(self) -> str:
        return f"Sync{self._stream!r}"

    received = Forward[int]("_stream")
    """Messages routed to this stream."""

    dropped = Forward[int]("_stream")
    """Messages discarded by the overflow policy."""

    conflated = Forward[int]("_stream")
    """Messages replaced by a newer one of their key (``Subscription.conflate_key``)."""

    gaps = Forward[int]("_stream")
    """Sequence gaps detected."""

    last_sequence = Forward[int | None]("_stream")
    """The highest sequence id seen, or None."""

    duplicates = Forward[int]("_stream")
    """Messages dropped as already delivered (``dedup``)."""

    gaps_detected = Forward[int]("_stream")
    """Gaps detected when the messages arrived (ahead of the consumer)."""

    gap = Forward[GapEvent | None]("_stream")
    """The gap right before the message taken last, or None."""

    @property
    def sequences(self) -> dict[Hashable, int]:
        """The last sequence number per ``sequence_key``."""
        return dict(self._stream.sequences)

    @property
    def channel(self) -> Hashable | None:
        """The channel id the venue's ack assigned, or None."""
        return self._stream.channel

    def resubscribe(self) -> None:
        """Re-send the subscription (blocking until acknowledged)."""
        self._client._call(self._stream.resubscribe(), self._client._ack_bound())

    def deliver(
        self, messages: list[M], *, sequence: int | None = None, key: Hashable = None
    ) -> None:
        """Put ``messages`` (e.g. a REST snapshot) into the stream, on the loop thread."""
        stream = self._stream

        async def deliver() -> None:
            stream.deliver(messages, sequence=sequence, key=key)

        self._client._call(deliver(), self._client._ack_bound())

    def unsubscribe(self) -> None:
        """Unsubscribe (blocking); iteration ends after the buffered messages."""
        self._client.unsubscribe(self._stream.subscription)


class SyncClient(SyncWebSocket[T]):
    """The blocking facade of a :class:`Client` (built by ``MyClient.sync()``).

    Every method of :class:`jetsocket.SyncWebSocket` plus those of :class:`Client`
    (:meth:`subscribe`, :meth:`unsubscribe`, :attr:`subscriptions`, :meth:`expect`,
    :meth:`request`), blocking; iterating the client yields the messages no subscription
    claimed.
    Handlers (``on(Trade)``, ``on("connected")``) run on the loop thread.
    """

    def __init__(self, client: AsyncClient[T]) -> None:
        self._client = client
        self._setup(client.websocket, client)

    @property
    def client(self) -> AsyncClient[T]:
        """The async client this facade drives (use it only from handlers)."""
        return self._client

    def _ack_bound(self) -> float:
        # The client bounds the wait itself (its own ack_timeout, this instance's, not the
        # class's); the portal's bound only sits behind it, never in front.
        return self._client._ack_timeout + self._connect_timeout + _GRACE

    def subscribe(self, subscription: SubscriptionOf[T, M]) -> SyncStream[M]:
        """Subscribe (blocking until acknowledged when declared); return its stream.

        Raises:
            SubscriptionError: Refused, or not acknowledged within ``ack_timeout``.
            InvalidStateError: Not connected, or called from a handler.
        """
        stream = self._call(self._client.subscribe(subscription), self._ack_bound())
        return SyncStream(self, stream)

    def unsubscribe(self, subscription: Subscription[Any]) -> None:
        """Unsubscribe (blocking; waits for the ack when the subscription declares one)."""
        self._call(self._client.unsubscribe(subscription), self._ack_bound())

    unmatched_count = Forward[int]("_client")
    """Messages that matched no declared type, no pending ack and no ``expect()``."""

    subscriptions = Forward[tuple[Subscription[Any], ...]]("_client")
    """The active subscriptions."""

    def expect(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """Block until a message satisfying ``predicate`` arrives (see ``Client.expect``).

        ``predicate`` runs on the loop thread. The message is consumed.

        Raises:
            TimeoutError: Nothing matched within ``timeout``.
        """
        return self._call(self._client.expect(predicate, timeout), timeout + _GRACE)

    def request(self, message: Any, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        """Send ``message`` and block for the answer satisfying ``predicate``.

        The predicate is registered before sending (see ``Client.request``).

        Raises:
            TimeoutError: No answer within ``timeout``.
        """
        coro = self._client.request(message, predicate, timeout)
        # Sending may wait for a reconnect (send_while_reconnecting="wait") first.
        return self._call(coro, timeout + self.settings.send.timeout + _GRACE)
