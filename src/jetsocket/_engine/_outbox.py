"""The send side of the engine: encoding, rate limiting, sending while reconnecting."""

from __future__ import annotations

import asyncio
import builtins
from collections import deque
from collections.abc import Callable
from typing import Any

from jetsocket._engine._config import ReplayConfig, ReplayMode
from jetsocket._engine._ratelimit import TokenBucket
from jetsocket._engine._state import ConnectionState
from jetsocket._exceptions import ConnectionClosedError, InvalidStateError, TimeoutError
from jetsocket._protocol._connection import WireConnection

__all__ = ["Outbox"]

_S = ConnectionState


class Outbox:
    """Sending (a base of ``WebSocket``; the attributes below are set by its ``__init__``)."""

    _conn: WireConnection | None
    _hook_conn: WireConnection | None
    _hook_task: asyncio.Task[Any] | None
    _state: ConnectionState
    _end: BaseException | None
    _replay: ReplayConfig | None
    _send_mode: str
    _send_timeout: float
    _connected: asyncio.Event | None
    _pending_sends: deque[tuple[bytes, bool]]
    _bucket: TokenBucket | None
    _n_out: int
    _serialize: Callable[[Any], bytes | str]
    _text_frames: bool

    # -- sending ------------------------------------------------------------------------

    def _encode(self, obj: Any) -> tuple[bytes, bool]:
        if isinstance(obj, str):
            return obj.encode(), True
        if isinstance(obj, bytes | bytearray | memoryview):
            return bytes(obj), False
        data = self._serialize(obj)
        if isinstance(data, str):
            return data.encode(), True
        return data, self._text_frames

    async def _live_conn(self) -> WireConnection | None:
        """The connection to send on; None when the message was queued for replay."""
        conn = self._conn
        if conn is not None and self._state is _S.CONNECTED:
            if conn.is_open:
                return conn
            # Closing (we failed it, or the close handshake runs): say so precisely.
            raise conn.closed_error()
        hook_conn = self._hook_conn
        # Only the on_open hooks (login, resubscription) may use a connection that is not
        # declared connected yet: other senders must not overtake the login.
        if (
            hook_conn is not None
            and hook_conn.is_open
            and asyncio.current_task() is self._hook_task
        ):
            return hook_conn
        state = self._state
        if state is _S.IDLE:
            raise InvalidStateError("not connected: call connect() first")
        if state in (_S.RECONNECTING, _S.CONNECTING):
            replay = self._replay
            if replay is not None and replay.mode is ReplayMode.FULL_BUFFER:
                return None
            # CONNECTING means a connection is being opened (its on_open hooks may be
            # running, and messages that came with the 101 are already readable): a reply
            # waits for it to be declared connected, whatever send_while_reconnecting says.
            wait = self._send_mode == "wait" or state is _S.CONNECTING
            if wait and self._connected is not None:
                try:
                    async with asyncio.timeout(self._send_timeout):
                        await self._connected.wait()
                except builtins.TimeoutError:
                    raise TimeoutError(
                        f"not reconnected within send_timeout={self._send_timeout}s"
                    ) from None
                return await self._live_conn()
            raise InvalidStateError(f"cannot send while {state.value}")
        end = self._end
        if isinstance(end, ConnectionClosedError):
            raise ConnectionClosedError(end.code, end.reason, by_server=end.by_server)
        raise InvalidStateError(f"cannot send while {state.value}")

    def _hold(self, payload: bytes, text: bool) -> None:
        replay = self._replay
        if replay is None or replay.mode is not ReplayMode.FULL_BUFFER:
            raise InvalidStateError("messages are held only in replay mode full_buffer")
        limit = replay.max_pending_sends
        if len(self._pending_sends) >= limit:
            raise InvalidStateError(f"{limit} messages already held for replay while reconnecting")
        self._pending_sends.append((payload, text))

    async def send(self, message: Any) -> None:
        """Send a message.

        ``str`` is sent as a text frame and ``bytes`` as a binary frame, unchanged; any
        other object is encoded by the serializer (JSON with msgspec by default: dicts,
        lists, msgspec Structs, dataclasses) and sent as a text frame (binary when
        ``text_frames=False``). While reconnecting, the message is held and sent after the
        reconnect (replay mode ``full_buffer``), waits (``send_while_reconnecting="wait"``)
        or raises.

        Raises:
            InvalidStateError: Not connected.
            ConnectionClosedError: The connection is closed.
            TimeoutError: Waited ``send_timeout`` for a reconnect.
            TypeError: The serializer cannot encode the object.
        """
        payload, text = self._encode(message)
        await self._send_frame(payload, text)

    async def _send_frame(self, payload: bytes, text: bool) -> None:
        if self._bucket is not None:
            await self._bucket.acquire()
        conn = self._conn
        if conn is None or self._state is not _S.CONNECTED or not conn.is_open:
            conn = await self._live_conn()
            if conn is None:
                self._hold(payload, text)
                return
        conn.send_message(payload, text)
        self._n_out += 1
        if conn.write_paused:
            await conn.drain()

    async def send_raw(self, data: bytes | str, *, binary: bool | None = None) -> None:
        """Send ``data`` unchanged in one frame.

        Args:
            data: The payload.
            binary: Frame type; by default binary for ``bytes`` and text for ``str``.
                Text frames must carry valid UTF-8 (checked).

        Raises:
            InvalidStateError: Not connected.
            ConnectionClosedError: The connection is closed.
            ValueError: A text frame with invalid UTF-8.
            TypeError: ``data`` is neither bytes nor str.
        """
        payload, text = self._encode_raw(data, binary)
        await self._send_frame(payload, text)

    @staticmethod
    def _encode_raw(data: bytes | str, binary: bool | None) -> tuple[bytes, bool]:
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

    # -- from other threads (the sync facade) ---------------------------------------------

    def _can_send_nowait(self) -> bool:
        """True when a send needs no waiting: connected, no rate limit, no backpressure.

        Read from another thread: a stale answer only means the message is written by
        :meth:`_send_nowait` after all (or reported there), never reordered.
        """
        conn = self._conn
        return (
            self._bucket is None
            and self._state is _S.CONNECTED
            and conn is not None
            and conn.is_open
            and not conn.write_paused
        )

    def _send_nowait(self, payload: bytes, text: bool) -> None:
        """Write one frame now (loop thread); scheduled by the sync facade's fast path.

        The caller did not wait, so a connection lost in between cannot raise to it: the
        message is held for replay (``full_buffer``) or reported as an ``error`` event.
        """
        conn = self._conn
        if conn is not None and conn.is_open and self._state is _S.CONNECTED:
            conn.send_message(payload, text)
            self._n_out += 1
            return
        replay = self._replay
        if replay is not None and replay.mode is ReplayMode.FULL_BUFFER:
            try:
                self._hold(payload, text)
                return
            except InvalidStateError as exc:
                error: BaseException = exc
        else:
            error = InvalidStateError(f"message not sent: connection {self._state.value}")
        self._send_lost(error)

    def _send_lost(self, error: BaseException) -> None:
        """Overridden by the engine: report a message that could not be sent."""
