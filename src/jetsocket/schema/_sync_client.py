"""Blocking facades of :class:`Client` and :class:`Stream` (``Binance.sync()``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jetsocket._sync import SyncWebSocket, iter_queue

if TYPE_CHECKING:
    from jetsocket.schema._client import Client
    from jetsocket.schema._stream import Stream
    from jetsocket.schema._subscription import Subscription

__all__ = ["SyncClient", "SyncStream"]

T = TypeVar("T")
M = TypeVar("M")


class SyncStream(Generic[M]):
    """Blocking iterator over one subscription's messages (from ``SyncClient.subscribe``).

    Thread-safe like :class:`jetsocket.SyncWebSocket`: messages cross from the loop thread
    in batches, iteration ends after :meth:`unsubscribe` or when the client closes.
    """

    def __init__(self, client: SyncClient[Any], stream: Stream[M]) -> None:
        self._client = client
        self._stream = stream

    @property
    def subscription(self) -> Subscription[M]:
        """The subscription this stream delivers."""
        return self._stream.subscription

    def __repr__(self) -> str:
        return f"Sync{self._stream!r}"

    def recv(self, timeout: float | None = None) -> M:
        """The next message, blocking up to ``timeout`` seconds.

        Raises:
            TimeoutError: Nothing within ``timeout`` (also a builtin ``TimeoutError``).
            ConnectionClosedError: The stream ended.
        """
        return self._client._take(self._stream.queue, timeout, iterating=False)

    def _next(self, timeout: float | None, *, iterating: bool) -> M:
        return self._client._take(self._stream.queue, timeout, iterating=iterating)

    def __iter__(self) -> Iterator[M]:
        self._client._check_thread()
        return self._stream.queue.iterate()

    def __next__(self) -> M:
        return self._next(None, iterating=True)

    def iter_messages(self, timeout: float | None = None) -> Iterator[M]:
        """Iterate; stop when the stream ends or when ``timeout`` passes without a message."""
        return iter_queue(self._next, timeout)

    @property
    def received(self) -> int:
        """Messages routed to this stream."""
        return self._stream.received

    @property
    def dropped(self) -> int:
        """Messages discarded by the overflow policy."""
        return self._stream.dropped

    @property
    def conflated(self) -> int:
        """Messages replaced by a newer one of their key (``Subscription.conflate_key``)."""
        return self._stream.conflated

    @property
    def gaps(self) -> int:
        """Sequence gaps detected."""
        return self._stream.gaps

    @property
    def last_sequence(self) -> int | None:
        """The highest sequence id seen, or None."""
        return self._stream.last_sequence

    def unsubscribe(self) -> None:
        """Unsubscribe (blocking); iteration ends after the buffered messages."""
        self._client.unsubscribe(self._stream.subscription)


class SyncClient(SyncWebSocket[T]):
    """The blocking facade of a :class:`Client` (built by ``MyClient.sync()``).

    Every method of :class:`jetsocket.SyncWebSocket` plus :meth:`subscribe` and
    :meth:`unsubscribe`; iterating the client yields the messages no subscription claimed.
    Handlers (``on(Trade)``, ``on("connected")``) run on the loop thread.
    """

    def __init__(self, client: Client[T]) -> None:
        self._client = client
        self._setup(client.websocket, client)

    @property
    def client(self) -> Client[T]:
        """The async client this facade drives (use it only from handlers)."""
        return self._client

    def subscribe(self, subscription: Subscription[M]) -> SyncStream[M]:
        """Subscribe (blocking until acknowledged when declared); return its stream.

        Raises:
            SubscriptionError: Refused, or not acknowledged within ``ack_timeout``.
        """
        timeout = type(self._client).ack_timeout + self._connect_timeout
        stream = self._call(self._client.subscribe(subscription), timeout)
        return SyncStream(self, stream)

    def unsubscribe(self, subscription: Subscription[Any]) -> None:
        """Unsubscribe (blocking)."""
        self._call(self._client.unsubscribe(subscription), self._close_timeout)
