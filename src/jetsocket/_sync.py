"""``SyncWebSocket[T]``: the blocking facade over :class:`jetsocket.WebSocket`.

One background thread runs an event loop (the *portal*, in the manner of anyio's
``from_thread``); every blocking method is a call into that loop, so there is no second
implementation of any client logic here.

Messages cross threads without a queue operation per message: the engine appends whole
decoded batches to its :class:`~jetsocket._engine._queue.MessageQueue` on the loop thread;
consumer threads pop from that same queue (``deque.popleft`` is atomic) and only block on a
condition variable when it is empty, notified once per batch and only when one waits.

Event handlers registered on the facade run **on the loop thread**: they must be
thread-safe and quick (a slow handler delays every message of the connection).
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextlib
import inspect
import threading
import warnings
from collections.abc import Callable, Coroutine, Generator, Iterable, Iterator
from typing import Any, Generic, Protocol, Self, cast, overload

from typing_extensions import TypeVar, Unpack

from jetsocket._engine._context import CloseContext
from jetsocket._engine._events import EventSource, share_registry
from jetsocket._engine._forms import DecodedForm, RawForm
from jetsocket._engine._options import Settings
from jetsocket._engine._outbox import encode_raw
from jetsocket._engine._queue import MessageQueue
from jetsocket._engine._state import ConnectionState
from jetsocket._engine._stats import ConnectionStats
from jetsocket._engine._websocket import OnOpen, WebSocket
from jetsocket._exceptions import (
    ConnectionClosedError,
    InvalidStateError,
    TimeoutError,
)
from jetsocket._forward import Forward
from jetsocket._protocol._closecodes import check_close

__all__ = ["QueueReader", "SyncWebSocket"]

T = TypeVar("T", default=Any)
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
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop was closed by a concurrent close()
            coro.close()
            raise ConnectionClosedError(1000, "closed", by_server=False) from None
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"operation did not complete within {timeout}s") from None
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            # The loop stopped under us (a concurrent close()): a JetSocketError, never a
            # BaseException that ``except Exception`` would miss.
            raise ConnectionClosedError(1000, "closed", by_server=False) from None

    def soon(self, callback: Callable[..., object], *args: Any) -> bool:
        """Schedule ``callback(*args)`` on the loop thread; False if the loop is closed."""
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            return False
        return True

    def on_loop_thread(self) -> bool:
        """True when called from the loop thread (a handler)."""
        return threading.current_thread() is self._thread

    def refuse_loop_thread(self) -> None:
        """Raise when called from the loop thread: a blocking read there would deadlock."""
        if threading.current_thread() is self._thread:
            raise InvalidStateError("blocking call from the loop thread (inside a handler)")

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


def _anywhere() -> None:
    """The read guard before the loop thread exists: every thread may block."""


class _Target(Protocol):
    """What the facade drives on the loop thread (an engine or a schema Client)."""

    async def connect(self) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...
    async def send(self, message: Any) -> None: ...


class QueueReader(Generic[M]):
    """Blocking reads of one message queue from user threads: recv, iteration, batches.

    The facade (its queue: the messages no subscription claimed) and each sync stream
    read this way. Messages cross from the loop thread in batches; a blocking read from
    the loop thread itself (a handler) raises, since it would wait for the thread it
    blocks.
    """

    def _read_from(self, queue: MessageQueue[M], guard: Callable[[], None]) -> None:
        """Read ``queue``; ``guard`` raises when called from the loop thread."""
        self._queue = queue
        self._guard = guard

    def _next(self, timeout: float | None, *, iterating: bool) -> M:
        self._guard()
        return self._queue.get(timeout, iterating=iterating)

    def recv(self, timeout: float | None = None) -> M:
        """Return the next message, blocking.

        Args:
            timeout: Seconds to wait; None waits for ever.

        Raises:
            TimeoutError: No message within ``timeout`` (also a builtin ``TimeoutError``).
            ConnectionClosedError: Closed (a stream: unsubscribed) and every received
                message consumed.
            MessageDecodeError: The next message did not match the declared type.
            InvalidStateError: ``connect()`` was never called, or called from a handler.
        """
        return self._next(timeout, iterating=False)

    def __iter__(self) -> Iterator[M]:
        self._guard()
        return self._queue.iterate()

    def __next__(self) -> M:
        return self._next(None, iterating=True)

    def batches(self) -> Generator[list[M], None, None]:
        """Iterate over messages a batch at a time (every message received so far).

        See :meth:`jetsocket.WebSocket.batches`: one step per batch the loop thread
        handed over instead of one per message.

        Returns:
            An iterator of non-empty lists of messages, in order.
        """
        self._guard()
        return self._queue.iterate_batches()

    def iter_messages(self, timeout: float | None = None) -> Iterator[M]:
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


class SyncWebSocket(QueueReader[T], EventSource, CloseContext):
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

    # The two forms of WebSocket.__init__ (see there); the keywords are declared once.
    @overload
    def __init__(
        self: SyncWebSocket[str | bytes], uri: str, **options: Unpack[RawForm]
    ) -> None: ...
    @overload
    def __init__(self, uri: str, **options: Unpack[DecodedForm[T]]) -> None: ...
    def __init__(self, uri: str, **options: Any) -> None:
        # Built here, in the caller's thread, so bad arguments raise at the call site.
        ws: WebSocket[T] = WebSocket(uri, **options)
        self._setup(ws, ws)

    def _setup(self, ws: WebSocket[T], target: _Target) -> None:
        """Bind the facade to an engine (``ws``) driven through ``target``.

        ``target`` is the engine itself, or a schema ``Client`` whose connect/close/send
        wrap its engines: the facade has no client logic of its own.
        """
        self._ws = ws
        self._target = target
        self._read_from(ws.queue, _anywhere)  # until connect() starts the loop thread
        self._outbox = ws.outbox
        connect_settings = ws.settings.connect
        self._connect_timeout = connect_settings.connect_timeout
        self._close_timeout = connect_settings.close_timeout
        self._portal: _Portal | None = None
        self._lock = threading.Lock()
        share_registry(ws, self)
        self._closed = False

    # -- properties ---------------------------------------------------------------------

    uri = Forward[str]("_ws")
    """The URI this client connects to."""

    state = Forward[ConnectionState]("_ws")
    """The current :class:`jetsocket.ConnectionState`."""

    is_connected = Forward[bool]("_ws")
    """True while connected."""

    latency_ms = Forward[float | None]("_ws")
    """Last heartbeat round trip in milliseconds, or None."""

    subprotocol = Forward[str | None]("_ws")
    """The subprotocol the server selected, if any."""

    settings = Forward[Settings]("_ws")
    """The validated options of this client (frozen)."""

    @property
    def websocket(self) -> WebSocket[T]:
        """The async engine this facade drives (use it only from handlers)."""
        return self._ws

    def __repr__(self) -> str:
        return f"Sync{self._ws!r}"

    def stats(self) -> ConnectionStats:
        """Return an immutable snapshot of the counters."""
        return self._ws.stats()

    def add_on_open(self, hook: Callable[[], Iterable[Any] | None] | OnOpen) -> None:
        """Run ``hook`` after every (re)connect, before delivery resumes (login, subscribe).

        A plain function runs on the loop thread and may return messages, which are sent
        in order before any message is delivered; a coroutine function is called with the
        async engine (see :meth:`jetsocket.WebSocket.add_on_open`). Register hooks before
        :meth:`connect` so the first connection runs them too.
        """
        if inspect.iscoroutinefunction(hook):
            self._ws.add_on_open(hook)
            return
        plain = cast(Callable[[], Iterable[Any] | None], hook)

        async def run(ws: WebSocket[Any]) -> None:
            for message in plain() or ():
                await ws.send(message)

        self._ws.add_on_open(run)

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

        Handlers registered before this call see the first ``connecting`` and
        ``connected`` events.

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
            self._portal = portal = _Portal(f"jetsocket-loop-{id(self):x}")
            # The guard is the portal's, not this facade's: no reference cycle, so an
            # unclosed facade is still collected (and warns) as soon as it is dropped.
            self._read_from(self._queue, portal.refuse_loop_thread)
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
            InvalidStateError: Called from a handler (the loop thread).
        """
        portal = self._portal
        if portal is not None and portal.on_loop_thread():
            raise InvalidStateError("close() from a handler (the loop thread) would deadlock")
        check_close(code, reason)  # in the caller's thread, before the loop stops
        with self._lock:
            if self._closed:
                return
            self._closed = True
            portal = self._portal
        try:
            if portal is not None and portal.alive:
                with contextlib.suppress(TimeoutError):
                    self._call(self._target.close(code, reason), self._close_timeout + _GRACE)
        finally:
            with self._lock:
                self._portal = None
            if portal is not None:
                portal.stop()
            # Consumer threads still blocked (e.g. the close timed out) see the end.
            self._queue.end_from_thread(ConnectionClosedError(code, reason, by_server=False))

    def __enter__(self) -> Self:  # ``__exit__`` (CloseContext) closes
        self.connect()
        return self

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        portal = getattr(self, "_portal", None)
        if portal is not None and portal.alive:
            _warn(f"unclosed {self!r}", ResourceWarning, stacklevel=1)
            portal.stop()

    # -- sending ------------------------------------------------------------------------

    def send(self, message: Any) -> None:
        """Send a message (see :meth:`jetsocket.WebSocket.send`).

        When connected, with no rate limit and no write backpressure, the frame is built
        in the calling thread and written on the socket at once (plain TCP; over TLS or
        uvloop it is handed to the loop thread), under a lock shared with the loop's own
        writes: frames are never interleaved and keep the order of the calls. Otherwise
        the call blocks until the engine has sent (or held) it.

        Raises:
            InvalidStateError: Not connected.
            ConnectionClosedError: The connection is closed.
        """
        if not self._hand_over(self._outbox.encode, message):
            self._call(self._target.send(message), None)

    def send_raw(self, data: bytes | str, *, binary: bool | None = None) -> None:
        """Send ``data`` unchanged (see :meth:`jetsocket.WebSocket.send_raw`).

        Raises:
            InvalidStateError: Not connected.
            ConnectionClosedError: The connection is closed.
        """
        if not self._hand_over(encode_raw, data, binary):
            self._call(self._ws.send_raw(data, binary=binary), None)

    def _hand_over(self, encode: Callable[..., tuple[bytes, bool]], *args: Any) -> bool:
        """The fast path: build the frame here and write it on the socket from this thread.

        Only when connected, with no rate limit and no write backpressure; frames share one
        lock with the loop's writes (never interleaved, in call order). False otherwise.
        """
        outbox = self._outbox
        if self._portal is None or not outbox.can_send_nowait():
            return False
        payload, text = encode(*args)
        if not outbox.send_from_thread(payload, text):
            # The first send from a thread: the loop turns on the shared write lock first.
            self._call(outbox.send_enabling_threads(payload, text), None)
        return True
