"""The send side of the engine: encoding, rate limit, sending while reconnecting.

An :class:`Outbox` is built from the :class:`SendSettings` of one client. The engine tells
it which connection is current (:meth:`Outbox.attach` / :meth:`Outbox.detach`) and which
connection its ``on_open`` hooks may use before it is declared connected
(:meth:`Outbox.hooks_running`); the outbox asks the engine nothing but its state.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from jetsocket._engine._options import SendSettings
from jetsocket._engine._ratelimit import TokenBucket
from jetsocket._engine._state import ConnectionState
from jetsocket._exceptions import ConnectionClosedError, InvalidStateError, TimeoutError
from jetsocket._protocol._connection import WireConnection
from jetsocket._protocol._threadwrites import ThreadSends

__all__ = ["Outbox", "encode_raw"]

_S = ConnectionState
# Only replay mode full_buffer ever holds sends: other clients share this empty deque
# (idle connections are counted in KiB).
_NO_SENDS: deque[tuple[bytes, bool]] = deque(maxlen=0)


def _encode_json(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


def encode_raw(data: bytes | str, binary: bool | None) -> tuple[bytes, bool]:
    """``send_raw``'s payload and frame type (text frames must be valid UTF-8).

    Raises:
        TypeError: ``data`` is neither bytes nor str.
        ValueError: A text frame with invalid UTF-8.
    """
    if isinstance(data, str):
        return data.encode(), not binary if binary is not None else True
    if isinstance(data, bytes | bytearray | memoryview):
        payload = bytes(data)
        text = binary is False
        if text:
            try:
                payload.decode()
            except UnicodeDecodeError:
                raise ValueError("text frames must be valid UTF-8") from None
        return payload, text
    raise TypeError(f"send_raw() takes bytes or str, got {type(data).__name__}")


class Outbox:
    """Sends frames on the current connection, or holds, waits or refuses while there is none.

    Args:
        settings: The send settings.
        state: The engine's current state.
        end: Why the engine ended (None while it has not).
    """

    __slots__ = (
        "_bucket",
        "_conn",
        "_connected",
        "_end",
        "_hook_conn",
        "_hook_task",
        "_sent",
        "_serialize",
        "_settings",
        "_state",
        "_switched",
        "_threads",
        "held",
    )

    def __init__(
        self,
        settings: SendSettings,
        *,
        state: Callable[[], ConnectionState],
        end: Callable[[], BaseException | None],
    ) -> None:
        self._settings = settings
        self._state = state
        self._end = end
        self._serialize: Callable[[Any], bytes | str] = settings.serializer or _encode_json
        self._bucket = TokenBucket(settings.rate, settings.burst) if settings.rate else None
        self._conn: WireConnection | None = None
        self._hook_conn: WireConnection | None = None
        self._hook_task: asyncio.Task[Any] | None = None
        self._connected: asyncio.Event | None = None
        # Set when the on_open hooks of a rotation's new connection end (see _live_conn).
        self._switched: asyncio.Event | None = None
        self.held: deque[tuple[bytes, bool]] = deque() if settings.hold_for_replay else _NO_SENDS
        self._sent = 0
        # Set once a thread sent (the sync facade): every connection then takes writes
        # from threads (see send_from_thread).
        self._threads: ThreadSends | None = None

    @property
    def sent(self) -> int:
        """Messages sent (by the loop and by threads)."""
        threads = self._threads
        return self._sent if threads is None else self._sent + threads.sent

    # -- the engine's side -----------------------------------------------------------------

    def attach(self, conn: WireConnection) -> None:
        """``conn`` is declared connected: send on it and wake waiting senders."""
        if self._threads is not None:
            conn.enable_thread_writes(self._threads)
        self._conn = conn
        if self._connected is not None:
            self._connected.set()

    def detach(self) -> None:
        """The current connection is gone: later senders wait, hold or raise."""
        self._conn = None
        if self._connected is not None and self._connected.is_set():
            self._connected = asyncio.Event()

    def release(self) -> None:
        """Wake every waiting sender so it re-checks the state (close, give up)."""
        if self._connected is not None:
            self._connected.set()

    @contextlib.contextmanager
    def hooks_running(self, conn: WireConnection) -> Iterator[None]:
        """While the ``on_open`` hooks of ``conn`` run, their task (only) may send on it."""
        self._hook_conn = conn
        self._hook_task = asyncio.current_task()
        try:
            yield
        finally:
            self._hook_conn = None
            self._hook_task = None
            switched, self._switched = self._switched, None
            if switched is not None:
                switched.set()  # its waiters run after the engine made the switch

    # -- encoding ------------------------------------------------------------------------

    def encode(self, obj: Any) -> tuple[bytes, bool]:
        """A message's payload and frame type (``str`` text, ``bytes`` binary, else serialized)."""
        if isinstance(obj, str):
            return obj.encode(), True
        if isinstance(obj, bytes | bytearray | memoryview):
            return bytes(obj), False
        data = self._serialize(obj)
        if isinstance(data, str):
            return data.encode(), True
        return data, self._settings.text_frames

    # -- sending (loop thread) -----------------------------------------------------------

    async def send(self, payload: bytes, text: bool) -> None:
        """Send one frame: now, after waiting for the connection, or held for replay."""
        if self._bucket is not None:
            await self._bucket.acquire()
        conn = self._conn
        if conn is None or self._hook_conn is not None:
            # No connection, or on_open hooks run: during a rotation their messages (login,
            # resubscription) belong to the new connection, not the current one.
            conn = await self._live_conn()
            if conn is None:
                self._hold(payload, text)
                return
        # A current connection that is closing raises its closed_error() here, exactly as
        # _live_conn would.
        conn.send_message(payload, text)
        self._sent += 1
        if conn.write_paused:
            await conn.drain()

    async def _live_conn(self) -> WireConnection | None:
        """The connection to send on; None when the message must be held for replay."""
        while True:
            hook_conn = self._hook_conn
            # Only the on_open hooks (login, resubscription) may use a connection that is
            # not declared connected yet: other senders must not overtake the login. They
            # use it even while a current connection exists (a rotation's new connection).
            if hook_conn is not None:
                if asyncio.current_task() is self._hook_task:
                    if hook_conn.is_open:
                        return hook_conn
                elif self._conn is not None:
                    # A rotation: other senders wait until the hooks ran, then use the
                    # connection that stays (an answer on the retired one would be lost).
                    await self._wait_switched()
                    continue
            conn = self._conn
            if conn is not None:
                if conn.is_open:
                    return conn
                # Closing (we failed it, or the close handshake runs): say so precisely.
                raise conn.closed_error()
            state = self._state()
            if state is _S.IDLE:
                raise InvalidStateError("not connected: call connect() first")
            if state not in (_S.RECONNECTING, _S.CONNECTING):
                end = self._end()
                if isinstance(end, ConnectionClosedError):
                    raise ConnectionClosedError(end.code, end.reason, by_server=end.by_server)
                raise InvalidStateError(f"cannot send while {state.value}")
            if self._settings.hold_for_replay:
                return None
            # CONNECTING means a connection is being opened (its on_open hooks may be
            # running): a reply waits for it, whatever send_while_reconnecting says.
            if not (self._settings.wait_while_reconnecting or state is _S.CONNECTING):
                raise InvalidStateError(f"cannot send while {state.value}")
            await self._wait_connected()

    async def _wait_switched(self) -> None:
        event = self._switched
        if event is None:
            event = self._switched = asyncio.Event()
        await event.wait()

    async def _wait_connected(self) -> None:
        event = self._connected
        if event is None or event.is_set():
            event = self._connected = asyncio.Event()
        timeout = self._settings.timeout
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
        except builtins.TimeoutError:
            raise TimeoutError(f"not reconnected within send_timeout={timeout}s") from None

    def _hold(self, payload: bytes, text: bool) -> None:
        if not self._settings.hold_for_replay:
            raise InvalidStateError("messages are held only in replay mode full_buffer")
        limit = self._settings.max_held
        if len(self.held) >= limit:
            raise InvalidStateError(f"{limit} messages already held for replay while reconnecting")
        self.held.append((payload, text))

    async def replay_held(self) -> int:
        """Send the messages held while reconnecting, in order; return how many were sent."""
        replayed = 0
        held = self.held
        conn = self._conn
        while held and conn is not None and conn.is_open:
            if self._bucket is not None:
                await self._bucket.acquire()
            payload, text = held.popleft()
            conn.send_message(payload, text)
            self._sent += 1
            replayed += 1
            if conn.write_paused:
                await conn.drain()
        return replayed

    def send_control(self, payload: bytes, text: bool) -> None:
        """Write an engine message (an application ping) now if connected, else drop it."""
        conn = self._conn
        if conn is not None and conn.is_open:
            conn.send_message(payload, text)

    # -- from other threads (the sync facade) --------------------------------------------

    def can_send_nowait(self) -> bool:
        """True when a send needs no waiting: connected, no rate limit, no backpressure.

        Read from another thread: a stale answer is caught by :meth:`send_from_thread`,
        which then declines (the caller sends through the loop), never reordered.
        """
        conn = self._conn
        return self._bucket is None and conn is not None and conn.is_open and not conn.write_paused

    def send_from_thread(self, payload: bytes, text: bool) -> bool:
        """Send one frame from a thread other than the loop's, without waiting for it.

        Written on the socket by the calling thread when nothing waits before it (see
        :meth:`WireConnection.write_from_thread`), else handed to the loop in order.
        False when this cannot be done now (not connected, a rate limit, backpressure,
        thread writes not enabled yet): the caller then sends through the loop
        (:meth:`send_enabling_threads`) and waits.
        """
        conn = self._conn
        if conn is None or self._bucket is not None or self._hook_conn is not None:
            return False  # (a rotation's hooks run: the loop path waits for the switch)
        return conn.write_from_thread(payload, text)

    async def send_enabling_threads(self, payload: bytes, text: bool) -> None:
        """:meth:`send` on the loop, after letting threads write on every connection.

        The sync facade's slow path: once it ran, :meth:`send_from_thread` works on the
        current connection and on every later one. Enabled on the loop thread, from a
        call the sending thread waits for, so its earlier messages are already written.
        """
        if self._threads is None:
            self._threads = ThreadSends()
            conn = self._conn
            if conn is not None:
                conn.enable_thread_writes(self._threads)
        await self.send(payload, text)
