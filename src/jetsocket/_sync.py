"""``SyncWebSocket[T]``: the blocking facade over :class:`jetsocket.WebSocket`.

One background thread runs an event loop (the *portal*, in the manner of anyio's
``from_thread``); every blocking method is a call into that loop, so there is no second
implementation of any client logic here.

Messages cross threads without a queue operation per message: the engine appends whole
decoded batches to its deque on the loop thread; consumer threads pop from that same deque
(``deque.popleft`` is atomic) and only block on a condition variable when it is empty. The
loop thread notifies that condition once per batch, and only when a consumer is waiting.

Event handlers registered on the facade run **on the loop thread**: they must be
thread-safe and quick (a slow handler delays every message of the connection).
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextlib
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, Self, TypeVar, overload

from typing_extensions import Unpack

from jetsocket._engine._events import EventSource
from jetsocket._engine._inbox import Failure, ends_iteration
from jetsocket._engine._state import ConnectionState
from jetsocket._engine._stats import ConnectionStats
from jetsocket._engine._websocket import WebSocket, WebSocketOptions
from jetsocket._exceptions import (
    ConnectionClosedError,
    InvalidStateError,
    TimeoutError,
)

__all__ = ["SyncWebSocket"]

T = TypeVar("T")
M = TypeVar("M")
R = TypeVar("R")

# Extra time given to a portal call beyond the engine's own timeouts, so that the engine
# (which knows what went wrong) reports the failure rather than the portal.
_GRACE = 5.0


class _Portal:
    """An event loop running on a daemon thread, and blocking calls into it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                tasks = asyncio.all_tasks(self.loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    def call(self, coro: Coroutine[Any, Any, R], timeout: float | None) -> R:
        """Run ``coro`` on the loop and wait for its result in the calling thread."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise InvalidStateError("blocking call from the loop thread (inside a handler)")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"operation did not complete within {timeout}s") from None

    def soon(self, callback: Callable[..., object], *args: Any) -> None:
        """Schedule ``callback(*args)`` on the loop thread without waiting."""
        self.loop.call_soon_threadsafe(callback, *args)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop the loop and join the thread."""
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # loop already closed
                self.loop.call_soon_threadsafe(self.loop.stop)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout=10.0)


class _Signal:
    """Wakes consumer threads blocked on an empty receive deque.

    The engine references this object, not the facade, so an unclosed facade can still be
    garbage collected (and warn) while its loop thread runs.
    """

    __slots__ = ("cond", "waiting")

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.waiting = 0

    def __call__(self) -> None:
        # Called on the loop thread once per received batch (and at the end).
        if self.waiting:
            with self.cond:
                self.cond.notify_all()


class _PortalBox:
    """Holds the current portal; shared by a facade and its readers without a cycle."""

    __slots__ = ("portal",)

    def __init__(self) -> None:
        self.portal: _Portal | None = None

    def get(self) -> _Portal | None:
        return self.portal


class _Target(Protocol):
    """What the facade drives on the loop thread (an engine or a schema Client)."""

    async def connect(self) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...
    async def send(self, message: Any) -> None: ...


class _Source(Protocol):
    """What a :class:`_ThreadReader` drains: the engine's inbox or a schema ``Stream``."""

    _inbox: deque[Any]
    _end: BaseException | None
    _notify: Callable[[], None] | None

    def _needs_resume(self) -> bool: ...
    def _resume_if_paused(self) -> None: ...


class _ThreadReader(Generic[T]):
    """Blocking, thread-safe consumption of a deque that the loop thread fills.

    ``deque.popleft`` is atomic, so consumers pop without a lock; only an empty deque makes
    a consumer take the condition lock and wait for the loop thread's once-per-batch
    notify. Resuming a paused socket is scheduled on the loop thread.
    """

    __slots__ = ("_portal", "_signal", "_source")

    def __init__(self, source: _Source, box: _PortalBox) -> None:
        self._source = source
        self._portal = box.get
        self._signal = _Signal()
        source._notify = self._signal

    def wake(self) -> None:
        """Wake every blocked consumer (they re-check the end state)."""
        self._signal()

    def next(self, timeout: float | None, *, iterating: bool) -> T:
        """Pop the next item, blocking up to ``timeout``; raise failures and the end."""
        source = self._source
        try:
            item = source._inbox.popleft()
        except IndexError:
            item = self._wait(timeout, iterating=iterating)
        if item.__class__ is Failure:
            raise item.exc
        if source._needs_resume():
            portal = self._portal()
            if portal is not None:
                portal.soon(source._resume_if_paused)
        return item  # type: ignore[no-any-return]

    def iterate(self) -> Iterator[T]:
        """Yield every item until the end (the fast path of ``for m in ws``).

        A generator with the deque's ``popleft`` bound locally: per message, one C call
        and one class check; resuming a paused socket is checked every 64 messages.
        """
        source = self._source
        inbox = source._inbox
        popleft = inbox.popleft
        count = 0
        while True:
            try:
                item = popleft()
            except IndexError:
                try:
                    item = self._wait(None, iterating=True)
                except StopIteration:
                    return
            if item.__class__ is Failure:
                raise item.exc
            count += 1
            if not count & 63 and source._needs_resume():
                portal = self._portal()
                if portal is not None:
                    portal.soon(source._resume_if_paused)
            yield item

    def _wait(self, timeout: float | None, *, iterating: bool) -> Any:
        source = self._source
        inbox = source._inbox
        deadline = None if timeout is None else _now() + timeout
        signal = self._signal
        with signal.cond:
            signal.waiting += 1
            try:
                while True:
                    # The flag is raised before looking at the deque, so a batch appended
                    # after this look is always followed by a notify.
                    if inbox:
                        return inbox.popleft()
                    portal = self._portal()
                    end = source._end
                    if end is not None or portal is None:
                        raise _end_error(source, end, iterating=iterating)
                    if source._needs_resume():
                        portal.soon(source._resume_if_paused)
                    if deadline is None:
                        signal.cond.wait()
                    else:
                        left = deadline - _now()
                        if left <= 0:
                            raise TimeoutError(f"no message received within {timeout}s")
                        signal.cond.wait(left)
            finally:
                signal.waiting -= 1


def _end_error(source: object, end: BaseException | None, *, iterating: bool) -> BaseException:
    if end is None:
        if getattr(source, "_state", None) is ConnectionState.IDLE:
            return InvalidStateError("not connected: call connect() first")
        end = ConnectionClosedError(1000, "", by_server=False)
    return ends_iteration(end, StopIteration) if iterating else end


class SyncWebSocket(EventSource, Generic[T]):
    """A blocking WebSocket client with the features of :class:`jetsocket.WebSocket`.

    Example:
        >>> with SyncWebSocket("wss://stream.example.com/ws", message_type=Trade) as ws:
        ...     ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        ...     for trade in ws:
        ...         print(trade.price)

    Every method is thread-safe. ``close()`` from another thread wakes a blocked
    ``recv()`` or iteration. Messages received before ``close()`` remain readable; then
    iteration ends and ``recv()`` raises :class:`jetsocket.ConnectionClosedError`.
    A closed client cannot be reconnected: create a new one.

    Args:
        uri: ``ws://`` or ``wss://`` URI.
        raw: Deliver ``str``/``bytes`` undecoded.
        message_type: Decode every message into this type.
        deserializer: Custom decoder ``Callable[[bytes], T]``.
        **options: Every :class:`jetsocket.WebSocket` option (reconnect, heartbeat, buffer,
            ssl_context, extra_headers, timeouts, ...).
    """

    @overload
    def __init__(
        self: SyncWebSocket[Any],
        uri: str,
        *,
        raw: Literal[False] = False,
        message_type: None = None,
        deserializer: None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: SyncWebSocket[str | bytes],
        uri: str,
        *,
        raw: Literal[True],
        message_type: None = None,
        deserializer: None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: SyncWebSocket[M],
        uri: str,
        *,
        raw: Literal[False] = False,
        message_type: type[M],
        deserializer: None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: SyncWebSocket[M],
        uri: str,
        *,
        raw: Literal[False] = False,
        message_type: None = None,
        deserializer: Callable[[bytes], M],
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: SyncWebSocket[Any],
        uri: str,
        *,
        raw: Literal[False] = False,
        message_type: object,
        deserializer: None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    def __init__(
        self,
        uri: str,
        *,
        raw: bool = False,
        message_type: object = None,
        deserializer: Callable[[bytes], Any] | None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None:
        # Built here, in the caller's thread, so bad arguments raise at the call site.
        make: Any = WebSocket  # the overloads above already typed T
        ws: WebSocket[T] = make(
            uri, raw=raw, message_type=message_type, deserializer=deserializer, **options
        )
        self._setup(ws, ws)

    def _setup(self, ws: WebSocket[T], target: _Target) -> None:
        """Bind the facade to an engine (``ws``) driven through ``target``.

        ``target`` is the engine itself, or a schema ``Client`` whose connect/close/send
        wrap its engines: the facade has no client logic of its own.
        """
        self._ws = ws
        self._target = target
        self._connect_timeout = ws._connect_timeout
        self._close_timeout = ws._close_timeout
        self._box = _PortalBox()
        self._lock = threading.Lock()
        self._events = ws._events
        self._closed = False
        self._reader: _ThreadReader[T] = _ThreadReader(ws, self._box)

    # -- properties ---------------------------------------------------------------------

    @property
    def _portal(self) -> _Portal | None:
        return self._box.portal

    @_portal.setter
    def _portal(self, portal: _Portal | None) -> None:
        self._box.portal = portal

    @property
    def uri(self) -> str:
        """The URI this client connects to."""
        return self._ws.uri

    @property
    def state(self) -> ConnectionState:
        """The current :class:`jetsocket.ConnectionState`."""
        return self._ws.state

    @property
    def is_connected(self) -> bool:
        """True while connected."""
        return self._ws.is_connected

    @property
    def latency_ms(self) -> float | None:
        """Last heartbeat round trip in milliseconds, or None."""
        return self._ws.latency_ms

    @property
    def websocket(self) -> WebSocket[T]:
        """The async engine this facade drives (use it only from handlers)."""
        return self._ws

    def __repr__(self) -> str:
        return f"Sync{self._ws!r}"

    def stats(self) -> ConnectionStats:
        """Return an immutable snapshot of the counters."""
        return self._ws.stats()

    # -- lifecycle ----------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, R], timeout: float | None) -> R:
        portal = self._portal
        if portal is None:
            coro.close()
            if self._closed:
                raise InvalidStateError("this SyncWebSocket is closed; create a new one")
            raise InvalidStateError("not connected: call connect() first")
        return portal.call(coro, timeout)

    def connect(self) -> None:
        """Start the loop thread and connect; blocks until connected.

        Raises:
            InvalidStateError: Already connected, or closed (create a new client).
            HandshakeError: The server refused the upgrade.
            ConnectionError: The connection failed.
            TimeoutError: ``connect_timeout`` elapsed.
        """
        with self._lock:
            if self._closed:
                raise InvalidStateError("this SyncWebSocket is closed; create a new one")
            if self._portal is not None:
                raise InvalidStateError(f"connect() called while {self.state.value}")
            self._portal = _Portal(f"jetsocket-loop-{id(self):x}")
        try:
            self._call(self._target.connect(), self._connect_timeout + _GRACE)
        except BaseException:
            with self._lock:
                portal, self._portal = self._portal, None
            if portal is not None:
                portal.stop()
            raise

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and stop the loop thread. Idempotent.

        Raises:
            ValueError: Invalid close code or reason.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            portal = self._portal
        try:
            if portal is not None and portal.alive:
                self._call(self._target.close(code, reason), self._close_timeout + _GRACE)
        finally:
            with self._lock:
                self._portal = None
            if portal is not None:
                portal.stop()
            self._reader.wake()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        portal = getattr(self, "_portal", None)
        if portal is not None and portal.alive:
            _warn(f"unclosed {self!r}", ResourceWarning, stacklevel=1)
            portal.stop()

    # -- sending ------------------------------------------------------------------------

    def send(self, message: Any) -> None:
        """Send a message (see :meth:`jetsocket.WebSocket.send`).

        When connected, with no rate limit and no write backpressure, the frame is encoded
        in the calling thread and handed to the loop thread without waiting (order is kept:
        the loop runs hand-overs first in, first out). Otherwise the call blocks until the
        engine has sent (or held) it.

        Raises:
            InvalidStateError: Not connected.
            ConnectionClosedError: The connection is closed.
        """
        ws = self._ws
        portal = self._portal
        if portal is not None and ws._can_send_nowait():
            payload, text = ws._encode(message)
            portal.soon(ws._send_nowait, payload, text)
            return
        self._call(self._target.send(message), None)

    def send_raw(self, data: bytes | str, *, binary: bool | None = None) -> None:
        """Send ``data`` unchanged (see :meth:`jetsocket.WebSocket.send_raw`).

        Raises:
            InvalidStateError: Not connected.
            ConnectionClosedError: The connection is closed.
        """
        ws = self._ws
        portal = self._portal
        if portal is not None and ws._can_send_nowait():
            payload, text = ws._encode_raw(data, binary)
            portal.soon(ws._send_nowait, payload, text)
            return
        self._call(self._ws.send_raw(data, binary=binary), None)

    # -- receiving ----------------------------------------------------------------------

    def _next(self, timeout: float | None, *, iterating: bool) -> T:
        return self._reader.next(timeout, iterating=iterating)

    def recv(self, timeout: float | None = None) -> T:
        """Return the next message, blocking.

        Args:
            timeout: Seconds to wait; None waits for ever.

        Raises:
            TimeoutError: No message within ``timeout`` (also a builtin ``TimeoutError``).
            ConnectionClosedError: Closed and every received message consumed.
            MessageDecodeError: The next message did not match the declared type.
            InvalidStateError: ``connect()`` was never called.
        """
        return self._next(timeout, iterating=False)

    def __iter__(self) -> Iterator[T]:
        return self._reader.iterate()

    def __next__(self) -> T:
        return self._next(None, iterating=True)

    def iter_messages(self, timeout: float | None = None) -> Iterator[T]:
        """Iterate over messages; stop when closed or when ``timeout`` passes idle.

        Args:
            timeout: Stop iterating after this many seconds without a message
                (None: only when the connection is closed).

        Yields:
            Each message, in order.
        """
        while True:
            try:
                yield self._next(timeout, iterating=True)
            except StopIteration:
                return
            except builtins.TimeoutError:
                return


_now = time.monotonic
