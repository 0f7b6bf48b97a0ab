"""``WebSocket[T]``: the async engine users talk to.

Delivery path (the hot path): the wire connection hands every complete message of one
read chunk to :meth:`WebSocket._on_messages` as one list; it is decoded in one
``map`` over the list, ``extend``-ed onto a deque and the single waiting consumer (if any) is
woken once. Consumers pop from the deque and only await when it is empty: there is no
future, task or queue operation per message.

A message that fails to decode is stored in the deque *at its position* as a ``_Failure``
and raised from ``recv()``/the iterator when reached, so an invalid message never hangs a
consumer and never hides the valid messages around it.
"""

from __future__ import annotations

import asyncio
import builtins
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypedDict, TypeVar, overload

import msgspec
from typing_extensions import Unpack

from jetsocket._engine._codec import build_decoder
from jetsocket._engine._config import (
    BackoffConfig,
    BufferConfig,
    HeartbeatConfig,
    OverflowPolicy,
    ReplayConfig,
)
from jetsocket._engine._heartbeat import Heartbeat
from jetsocket._engine._state import ConnectionState, check_transition
from jetsocket._engine._stats import ConnectionStats
from jetsocket._exceptions import (
    BufferOverflowError,
    ConnectionClosedError,
    InvalidStateError,
    MessageDecodeError,
    TimeoutError,
)
from jetsocket._protocol._connection import WireConnection, open_connection, redact_uri

__all__ = ["WebSocket", "WebSocketOptions", "connect"]

T = TypeVar("T")
M = TypeVar("M")

_S = ConnectionState
_DEFAULT_CAPACITY = 10_000
_CLEAN_CODES = frozenset({1000, 1001})


class WebSocketOptions(TypedDict, total=False):
    """Keyword options shared by :class:`WebSocket`, :func:`connect` and the sync facade.

    See :class:`WebSocket` for their meaning.
    """

    reconnect: bool
    backoff: BackoffConfig | None
    max_connection_age: float | None
    heartbeat: float | HeartbeatConfig | None
    buffer: int | BufferConfig | None
    replay: ReplayConfig | None
    serializer: Callable[[Any], bytes | str] | None
    text_frames: bool
    ssl_context: ssl.SSLContext | None
    extra_headers: Mapping[str, str] | None
    subprotocols: Sequence[str] | None
    compress: bool
    compression_threshold: int
    connect_timeout: float
    close_timeout: float
    max_message_size: int
    strict: bool


class _Failure:
    """A decode failure stored in the receive deque at the failing message's position."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Link:
    """Listener of one wire connection; forwards to the engine.

    ``on_messages`` is the engine's bound method itself, so the hot path pays no extra call.
    """

    __slots__ = ("_ws", "conn", "on_messages")

    def __init__(self, ws: WebSocket[Any]) -> None:
        self._ws = ws
        self.on_messages = ws._on_messages
        self.conn: WireConnection | None = None

    def on_ping(self, payload: bytes) -> None:
        self._ws._on_ping(payload)

    def on_pong(self, payload: bytes) -> None:
        self._ws._on_pong(payload)

    def on_connection_lost(self, exc: ConnectionClosedError) -> None:
        self._ws._on_lost(self, exc)


def _encode_json(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


class WebSocket(Generic[T]):
    """An async WebSocket client that yields typed messages.

    Example:
        >>> async with WebSocket("wss://stream.example.com/ws", message_type=Trade) as ws:
        ...     await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        ...     async for trade in ws:
        ...         print(trade.price)

    Args:
        uri: ``ws://`` or ``wss://`` URI. Credentials in its query string are redacted in
            ``repr``, logs and errors.
        raw: Deliver messages undecoded: ``str`` for text, ``bytes`` for binary.
        message_type: Decode every message into this type (msgspec Struct, dataclass,
            TypedDict, union, plain type, or pydantic model). The decoder is built once.
        deserializer: Custom ``Callable[[bytes], T]`` decoder (instead of message_type).
        reconnect: Reconnect automatically after an unexpected disconnect.
        backoff: Backoff between reconnect attempts.
        max_connection_age: Rotate the connection after this many seconds.
        heartbeat: Ping interval in seconds, or a :class:`HeartbeatConfig`.
        buffer: Receive buffer capacity, or a :class:`BufferConfig` (default 10 000
            messages, policy ``block``: reading pauses until the consumer catches up).
        replay: Sequence tracking and replay settings.
        serializer: Encodes objects given to :meth:`send` (default: JSON with msgspec).
        text_frames: Send serialized objects as text frames (else binary).
        ssl_context: TLS settings for ``wss`` (default: verified with system CAs).
        extra_headers: Extra HTTP headers for the opening handshake.
        subprotocols: Subprotocols to offer.
        compress: Offer permessage-deflate.
        compression_threshold: Do not compress outgoing messages shorter than this.
        connect_timeout: Bound on TCP connect, TLS and the opening handshake.
        close_timeout: Bound on the closing handshake.
        max_message_size: Largest accepted message in bytes (after decompression).
        strict: Raise decode failures from the iterator (True) or count and skip them.
    """

    @overload
    def __init__(
        self: WebSocket[Any],
        uri: str,
        *,
        raw: Literal[False] = False,
        message_type: None = None,
        deserializer: None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: WebSocket[str | bytes],
        uri: str,
        *,
        raw: Literal[True],
        message_type: None = None,
        deserializer: None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: WebSocket[M],
        uri: str,
        *,
        raw: Literal[False] = False,
        message_type: type[M],
        deserializer: None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: WebSocket[M],
        uri: str,
        *,
        raw: Literal[False] = False,
        message_type: None = None,
        deserializer: Callable[[bytes], M],
        **options: Unpack[WebSocketOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: WebSocket[Any],
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
        if not isinstance(uri, str):
            raise TypeError(f"uri must be a str, got {type(uri).__name__}")
        if not uri.startswith(("ws://", "wss://")):
            raise ValueError(f"uri must start with ws:// or wss://, got {redact_uri(uri)!r}")
        if raw and (message_type is not None or deserializer is not None):
            raise ValueError("raw=True cannot be combined with message_type or deserializer")
        if message_type is not None and deserializer is not None:
            raise ValueError("give message_type or deserializer, not both")
        self._uri = uri
        self._raw = raw
        self._message_type = message_type
        self._options = options
        self._decode: Callable[[Any], Any] | None
        self._decode_error: tuple[type[BaseException], ...]
        if raw:
            self._decode, self._decode_error = None, ()
        elif deserializer is not None:
            self._decode, self._decode_error = deserializer, (Exception,)
        else:
            decode, err = build_decoder(message_type)
            self._decode, self._decode_error = decode, (err, UnicodeDecodeError)
        self._strict = bool(options.get("strict", True))
        self._serialize: Callable[[Any], bytes | str] = options.get("serializer") or _encode_json
        self._text_frames = bool(options.get("text_frames", True))
        self._reconnect = bool(options.get("reconnect", True))
        self._backoff = options.get("backoff") or BackoffConfig()
        self._max_age = options.get("max_connection_age")
        self._replay = options.get("replay")
        hb = options.get("heartbeat")
        if hb is not None and not isinstance(hb, HeartbeatConfig):
            hb = HeartbeatConfig(interval=float(hb), timeout=min(float(hb), 10.0))
        self._heartbeat_config: HeartbeatConfig | None = hb
        buf = options.get("buffer")
        if buf is None:
            buf = BufferConfig(capacity=_DEFAULT_CAPACITY)
        elif not isinstance(buf, BufferConfig):
            buf = BufferConfig(capacity=buf)
        self._buffer_config = buf
        self._capacity = buf.capacity
        self._low_water = max(1, buf.capacity // 2)
        self._policy = OverflowPolicy(buf.overflow_policy)
        self._ssl_context = options.get("ssl_context")
        self._extra_headers = dict(options.get("extra_headers") or {})
        self._subprotocols = list(options.get("subprotocols") or [])
        self._compress = bool(options.get("compress", True))
        self._compression_threshold = int(options.get("compression_threshold", 128))
        self._connect_timeout = float(options.get("connect_timeout", 10.0))
        self._close_timeout = float(options.get("close_timeout", 5.0))
        self._max_message_size = int(options.get("max_message_size", 64 * 1024 * 1024))
        for name, value in (
            ("connect_timeout", self._connect_timeout),
            ("close_timeout", self._close_timeout),
            ("max_message_size", self._max_message_size),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if self._compression_threshold < 0:
            raise ValueError("compression_threshold must be >= 0")

        self._state = _S.IDLE
        self._inbox: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._link: _Link | None = None
        self._conn: WireConnection | None = None
        self._end: ConnectionClosedError | BaseException | None = None
        self._read_paused = False
        self._heartbeat: Heartbeat | None = None
        self._connected_at = 0.0
        # Set by the sync facade: called on the loop thread after each batch and at the end.
        self._notify: Callable[[], None] | None = None
        # Counters (plain ints: incremented once per batch on the hot path).
        self._n_in = 0
        self._n_out = 0
        self._bytes_in_closed = 0
        self._bytes_out_closed = 0
        self._errors = 0
        self._validation_errors = 0
        self._dropped = 0
        self._pauses = 0
        self._reconnects = 0
        self._last_reconnect: float | None = None

    # -- properties ---------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """The URI this client connects to."""
        return self._uri

    @property
    def state(self) -> ConnectionState:
        """The current :class:`ConnectionState`."""
        return self._state

    @property
    def is_connected(self) -> bool:
        """True while connected and able to send."""
        return self._state is _S.CONNECTED

    @property
    def latency_ms(self) -> float | None:
        """Last heartbeat round trip in milliseconds, or None."""
        return self._heartbeat.last_ms if self._heartbeat is not None else None

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected, if any."""
        return self._conn.subprotocol if self._conn is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uri={redact_uri(self._uri)!r}, state={self._state.value})"

    def _set_state(self, new: ConnectionState) -> None:
        check_transition(self._state, new)
        self._state = new

    # -- lifecycle ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection (TCP, TLS, opening handshake).

        Raises:
            InvalidStateError: Already connected, or closed (a closed client cannot be
                reused: create a new one).
            HandshakeError: The server refused the upgrade.
            ConnectionError: The TCP or TLS connection failed.
            TimeoutError: ``connect_timeout`` elapsed.
        """
        if self._state is _S.CLOSED:
            raise InvalidStateError("this WebSocket is closed; create a new one to reconnect")
        if self._state not in (_S.IDLE, _S.FAILED):
            raise InvalidStateError(f"connect() called while {self._state.value}")
        self._set_state(_S.CONNECTING)
        try:
            await self._open()
        except BaseException:
            self._set_state(_S.FAILED)
            raise
        self._set_state(_S.CONNECTED)

    async def _open(self) -> None:
        link = _Link(self)
        conn = await open_connection(
            self._uri,
            link,
            text_as_str=self._raw,
            max_message_size=self._max_message_size,
            compress=self._compress,
            compression_threshold=self._compression_threshold,
            extra_headers=self._extra_headers,
            subprotocols=self._subprotocols,
            ssl_context=self._ssl_context,
            connect_timeout=self._connect_timeout,
            close_timeout=self._close_timeout,
        )
        link.conn = conn
        self._link = link
        self._conn = conn
        self._end = None
        self._connected_at = time.monotonic()
        if self._read_paused:
            conn.pause_reading()
        if self._heartbeat_config is not None:
            if self._heartbeat is None:
                self._heartbeat = Heartbeat(
                    self._heartbeat_config, self._on_dead_peer, self._send_app_ping
                )
            self._heartbeat.start(conn)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (closing handshake bounded by ``close_timeout``).

        Idempotent. Messages already received stay readable: ``recv()`` and iteration
        return them, then iteration ends and ``recv()`` raises
        :class:`ConnectionClosedError`.

        Args:
            code: Close code (RFC 6455 section 7.4), 1000 by default.
            reason: Close reason (at most 123 bytes of UTF-8).

        Raises:
            ValueError: Invalid close code or reason too long.
        """
        if not (
            code == 1000
            or 3000 <= code <= 4999
            or code in (1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011)
        ):
            raise ValueError(f"invalid close code {code}")
        if len(reason.encode()) > 123:
            raise ValueError("close reason longer than 123 bytes")
        if self._state in (_S.CLOSED, _S.CLOSING):
            return
        self._set_state(_S.CLOSING)
        if self._heartbeat is not None:
            self._heartbeat.stop()
        conn = self._conn
        if conn is not None:
            await conn.close(code, reason)
            self._detach(conn)
        self._finish(ConnectionClosedError(code, reason, by_server=False))
        self._set_state(_S.CLOSED)

    def _detach(self, conn: WireConnection) -> None:
        self._bytes_in_closed += conn.bytes_received
        self._bytes_out_closed += conn.bytes_sent
        if self._conn is conn:
            self._conn = None
            self._link = None

    def _finish(self, end: BaseException) -> None:
        if self._end is None:
            self._end = end
        self._wake()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- wire callbacks (hot path first) --------------------------------------------------

    def _on_messages(self, messages: list[Any]) -> None:
        self._n_in += len(messages)
        decode = self._decode
        if decode is not None:
            try:
                messages = list(map(decode, messages))
            except Exception:
                messages = self._decode_each(messages)
        inbox = self._inbox
        inbox.extend(messages)
        if len(inbox) >= self._capacity:
            self._overflow()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        notify = self._notify
        if notify is not None:
            notify()

    def _decode_each(self, messages: list[Any]) -> list[Any]:
        # Slow path, only after a failure: find which messages fail, keep the others.
        decode = self._decode
        assert decode is not None
        out: list[Any] = []
        for payload in messages:
            try:
                out.append(decode(payload))
            except self._decode_error as exc:
                self._validation_errors += 1
                self._errors += 1
                err = MessageDecodeError(str(exc), payload, self._message_type)
                err.__cause__ = exc
                if self._strict:
                    out.append(_Failure(err))
        return out

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
        excess = len(inbox) - self._capacity
        if excess <= 0:
            return
        self._dropped += excess
        if policy is OverflowPolicy.DROP_OLDEST:
            for _ in range(excess):
                inbox.popleft()
        elif policy is OverflowPolicy.DROP_NEWEST:
            for _ in range(excess):
                inbox.pop()
        else:
            for _ in range(excess):
                inbox.pop()
            inbox.append(_Failure(BufferOverflowError(f"receive buffer full ({excess} lost)")))

    def _on_ping(self, payload: bytes) -> None:
        pass

    def _on_pong(self, payload: bytes) -> None:
        if self._heartbeat is not None:
            self._heartbeat.pong(payload)

    def _send_app_ping(self) -> None:
        config = self._heartbeat_config
        conn = self._conn
        if config is None or conn is None or not conn.is_open:
            return
        payload, text = self._encode(config.payload)
        conn.send_message(payload, text)

    def _on_dead_peer(self, conn: WireConnection) -> None:
        self._errors += 1
        conn.abort()

    def _on_lost(self, link: _Link, exc: ConnectionClosedError) -> None:
        conn = link.conn
        if conn is None or self._conn is not conn:
            return  # an older (rotated) connection
        self._detach(conn)
        if self._state is _S.CLOSING:
            return  # close() finishes the job
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if exc.code not in _CLEAN_CODES:
            self._errors += 1
        self._finish(exc)
        self._set_state(_S.CLOSED)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self._notify is not None:
            self._notify()

    # -- consuming ----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        inbox = self._inbox
        if inbox:
            item = inbox.popleft()
            if item.__class__ is _Failure:
                raise item.exc
            if self._read_paused and len(inbox) <= self._low_water:
                self._resume()
            return item  # type: ignore[no-any-return]
        return await self._wait_next(iterating=True)

    async def recv(self, timeout: float | None = None) -> T:
        """Return the next message.

        Args:
            timeout: Seconds to wait; None waits for ever.

        Raises:
            TimeoutError: No message within ``timeout`` (a builtin ``TimeoutError`` too).
            ConnectionClosedError: The connection is closed and every received message
                was consumed.
            MessageDecodeError: The next message did not match the declared type.
            InvalidStateError: ``connect()`` was never called.
        """
        if self._inbox:
            return await self.__anext__()
        if timeout is None:
            return await self._wait_next(iterating=False)
        try:
            async with asyncio.timeout(timeout):
                return await self._wait_next(iterating=False)
        except builtins.TimeoutError:
            raise TimeoutError(f"no message received within {timeout}s") from None

    async def _wait_next(self, *, iterating: bool) -> T:
        inbox = self._inbox
        while True:
            if inbox:
                return await self.__anext__()
            end = self._end
            if end is not None:
                if (
                    iterating
                    and isinstance(end, ConnectionClosedError)
                    and (not end.by_server or end.code in _CLEAN_CODES)
                ):
                    raise StopAsyncIteration
                raise end
            if self._state is _S.IDLE:
                raise InvalidStateError("not connected: call connect() first")
            if self._read_paused:
                self._resume()
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = asyncio.get_running_loop().create_future()
                self._waiter = waiter
            await waiter

    def _resume_if_paused(self) -> None:
        if self._read_paused and len(self._inbox) <= self._low_water:
            self._resume()

    def _resume(self) -> None:
        self._read_paused = False
        if self._conn is not None:
            self._conn.resume_reading()

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

    def _live_conn(self) -> WireConnection:
        conn = self._conn
        if conn is None or not conn.is_open:
            if self._state is _S.IDLE:
                raise InvalidStateError("not connected: call connect() first")
            end = self._end
            if isinstance(end, ConnectionClosedError):
                raise ConnectionClosedError(end.code, end.reason, by_server=end.by_server)
            raise InvalidStateError(f"cannot send while {self._state.value}")
        return conn

    async def send(self, message: Any) -> None:
        """Send a message.

        ``str`` is sent as a text frame and ``bytes`` as a binary frame, unchanged; any
        other object is encoded by the serializer (JSON with msgspec by default: dicts,
        lists, msgspec Structs, dataclasses) and sent as a text frame (binary when
        ``text_frames=False``).

        Raises:
            InvalidStateError: Not connected.
            ConnectionClosedError: The connection is closed.
            TypeError: The serializer cannot encode the object.
        """
        conn = self._live_conn()
        payload, text = self._encode(message)
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
        """
        conn = self._live_conn()
        if isinstance(data, str):
            payload = data.encode()
            text = not binary if binary is not None else True
        elif isinstance(data, bytes | bytearray | memoryview):
            payload = bytes(data)
            text = binary is False
            if text:
                try:
                    payload.decode()
                except UnicodeDecodeError:
                    raise ValueError("text frames must be valid UTF-8") from None
        else:
            raise TypeError(f"send_raw() takes bytes or str, got {type(data).__name__}")
        conn.send_message(payload, text)
        self._n_out += 1
        if conn.write_paused:
            await conn.drain()

    # -- stats --------------------------------------------------------------------------

    def stats(self) -> ConnectionStats:
        """Return an immutable snapshot of the counters."""
        conn = self._conn
        hb = self._heartbeat
        return ConnectionStats(
            state=self._state,
            uptime=time.monotonic() - self._connected_at if conn is not None else 0.0,
            messages_received=self._n_in,
            messages_sent=self._n_out,
            bytes_received=self._bytes_in_closed + (conn.bytes_received if conn else 0),
            bytes_sent=self._bytes_out_closed + (conn.bytes_sent if conn else 0),
            reconnect_count=self._reconnects,
            last_reconnect=self._last_reconnect,
            latency_ms=hb.last_ms if hb is not None else None,
            avg_latency_ms=hb.avg_ms if hb is not None else None,
            errors=self._errors,
            validation_errors=self._validation_errors,
            buffer_size=len(self._inbox),
            buffer_capacity=self._capacity,
            messages_dropped=self._dropped,
            paused_reading=self._pauses,
        )


@overload
def connect(uri: str, **options: Unpack[WebSocketOptions]) -> WebSocket[Any]: ...
@overload
def connect(
    uri: str, *, message_type: type[M], **options: Unpack[WebSocketOptions]
) -> WebSocket[M]: ...
def connect(uri: str, *, message_type: Any = None, **options: Any) -> WebSocket[Any]:
    """Create a client, to be used as ``async with jetsocket.connect(uri) as ws:``.

    Args:
        uri: ``ws://`` or ``wss://`` URI.
        message_type: Decode messages into this type.
        **options: Any :class:`WebSocket` option.

    Returns:
        The (not yet connected) client; ``async with`` connects and closes it.
    """
    return WebSocket(uri, message_type=message_type, **options)
