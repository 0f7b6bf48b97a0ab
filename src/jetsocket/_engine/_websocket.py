"""``WebSocket[T]``: the async engine users talk to.

One client owns at most one *current* wire connection. A supervisor task exists only while
reconnecting or rotating; an established connection costs no task at all (heartbeat and
rotation are timer handles). Receiving, decoding and consumption live in
:class:`~jetsocket._engine._inbox.Inbox`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypedDict, TypeVar, overload

import msgspec
from typing_extensions import Unpack

from jetsocket._engine._codec import build_decoder
from jetsocket._engine._config import (
    BackoffConfig,
    BufferConfig,
    HeartbeatConfig,
    ReplayConfig,
    ReplayMode,
)
from jetsocket._engine._events import (
    ClosedEvent,
    ConnectedEvent,
    ConnectingEvent,
    DisconnectedEvent,
    ErrorEvent,
    EventRegistry,
    EventSource,
    PingEvent,
    PongEvent,
)
from jetsocket._engine._heartbeat import Heartbeat
from jetsocket._engine._inbox import CLEAN_CODES, Inbox
from jetsocket._engine._outbox import Outbox
from jetsocket._engine._ratelimit import TokenBucket
from jetsocket._engine._retry import Backoff, is_fatal
from jetsocket._engine._state import ConnectionState, check_transition
from jetsocket._engine._stats import ConnectionStats
from jetsocket._engine._supervisor import Supervisor
from jetsocket._exceptions import (
    ConnectionClosedError,
    InvalidStateError,
)
from jetsocket._protocol._connection import WireConnection, open_connection, redact_uri

__all__ = ["WebSocket", "WebSocketOptions", "connect"]

logger = logging.getLogger("jetsocket")

T = TypeVar("T")
M = TypeVar("M")
E = TypeVar("E")
H = TypeVar("H", bound=Callable[..., Any])

_S = ConnectionState
_DEFAULT_CAPACITY = 10_000
_VALID_CLOSE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})

OnOpen = Callable[["WebSocket[Any]"], Awaitable[None]]


class WebSocketOptions(TypedDict, total=False):
    """Keyword options shared by :class:`WebSocket`, :func:`connect` and the sync facade.

    See :class:`WebSocket` for their meaning.
    """

    reconnect: bool
    backoff: BackoffConfig | None
    max_connection_age: float | None
    heartbeat: float | HeartbeatConfig | None
    idle_timeout: float | None
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
    send_while_reconnecting: Literal["raise", "wait"]
    send_timeout: float
    is_retriable: Callable[[BaseException], bool | None] | None
    send_rate: float | None
    send_burst: int
    proxy: str | bool | None
    proxy_ssl_context: ssl.SSLContext | None


class _Link:
    """Listener of one wire connection; forwards to the engine.

    ``on_messages`` is the engine's bound method itself, so the hot path pays no extra call.
    """

    __slots__ = ("_ws", "conn", "live", "lost", "on_messages")

    def __init__(self, ws: WebSocket[Any]) -> None:
        self._ws = ws
        self.on_messages = ws._on_messages
        self.conn: WireConnection | None = None
        # Not live until the engine declared it connected. A loss before that (e.g. a
        # close frame in the same chunk as the 101) is kept and handled once it is live.
        self.live = False
        self.lost: ConnectionClosedError | None = None

    def on_ping(self, payload: bytes) -> None:
        self._ws._on_ping(payload)

    def on_pong(self, payload: bytes) -> None:
        self._ws._on_pong(payload)

    def on_connection_lost(self, exc: ConnectionClosedError) -> None:
        self._ws._on_lost(self, exc)


_NO_SENDS: deque[tuple[bytes, bool]] = deque(maxlen=0)


def _encode_json(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


class WebSocket(Inbox[T], Outbox, Supervisor, EventSource):
    """An async WebSocket client that yields typed messages and stays connected.

    Example:
        >>> async with WebSocket("wss://stream.example.com/ws", message_type=Trade) as ws:
        ...     await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        ...     async for trade in ws:
        ...         print(trade.price)

    Iteration and ``recv()`` continue across reconnects. Iteration ends when the client is
    closed (or the server closes with 1000/1001 and ``reconnect=False``); it raises
    :class:`ConnectionClosedError` after an abnormal close that is not retried, and the
    error that made the client give up when reconnecting fails for good.

    Args:
        uri: ``ws://`` or ``wss://`` URI. Credentials in its query string are redacted in
            ``repr``, logs and errors.
        raw: Deliver messages undecoded: ``str`` for text, ``bytes`` for binary.
        message_type: Decode every message into this type (msgspec Struct, dataclass,
            TypedDict, union, plain type, or pydantic model). The decoder is built once.
        deserializer: Custom ``Callable[[bytes], T]`` decoder (instead of message_type).
        reconnect: Reconnect automatically after an unexpected disconnect.
        backoff: Backoff between reconnect attempts.
        max_connection_age: Rotate the connection after this many seconds, opening the
            new connection before closing the old one.
        heartbeat: Ping interval in seconds, or a :class:`HeartbeatConfig`.
        idle_timeout: Reconnect when no frame arrived for this many seconds.
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
        strict: Raise decode failures from the iterator (True), or emit an ``error``
            event, count them and skip the message (False).
        send_while_reconnecting: ``"raise"`` (default) or ``"wait"`` for the connection
            (up to ``send_timeout``).
        send_timeout: Bound in seconds for ``"wait"``.
        is_retriable: Hook reclassifying a failure: True retriable, False fatal, None
            default (HTTP 401/403/404 and close 1008 are fatal).
        send_rate: Most messages per second sent (token bucket over every data frame
            sent with ``send``/``send_raw``, including replays), None for no limit.
        send_burst: Messages that may be sent at once before ``send_rate`` applies.
        proxy: Proxy URL: ``http://`` or ``https://`` (HTTP ``CONNECT``; ``https`` means
            TLS to the proxy), ``socks5://``, ``socks5h://`` (python-socks, the ``socks``
            extra); credentials as ``scheme://user:password@host:port``. True or None
            (default): from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``, honouring
            ``NO_PROXY``; False or ``""``: connect directly.
        proxy_ssl_context: TLS settings for an ``https://`` proxy (default: verified with
            system CAs).
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
        unknown = set(options) - set(WebSocketOptions.__annotations__)
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        self._uri = uri
        self._raw = raw
        self._options = options
        decode: Callable[[Any], Any] | None
        errors: tuple[type[BaseException], ...]
        if raw:
            decode, errors = None, ()
        elif deserializer is not None:
            decode, errors = deserializer, (Exception,)
        else:
            decode, err = build_decoder(message_type)
            errors = (err, UnicodeDecodeError)
        hb = options.get("heartbeat")
        if hb is not None and not isinstance(hb, HeartbeatConfig):
            hb = HeartbeatConfig(interval=float(hb), timeout=min(float(hb), 10.0))
        self._heartbeat_config: HeartbeatConfig | None = hb
        buf = options.get("buffer")
        if buf is None:
            buf = BufferConfig(capacity=_DEFAULT_CAPACITY)
        elif not isinstance(buf, BufferConfig):
            buf = BufferConfig(capacity=buf)
        replay = options.get("replay")
        self._replay = replay
        if buf.enable_dedup and (replay is None or replay.sequence_extractor is None):
            raise ValueError(
                "BufferConfig(enable_dedup=True) needs ReplayConfig.sequence_extractor"
            )
        self._events = EventRegistry(self._handler_failed)
        self._init_inbox(
            decode=decode,
            decode_errors=errors,
            message_type=message_type,
            strict=bool(options.get("strict", True)),
            buffer=buf,
            replay=replay,
            pong_matcher=hb.pong_matcher if hb is not None else None,
        )
        self._serialize: Callable[[Any], bytes | str] = options.get("serializer") or _encode_json
        self._text_frames = bool(options.get("text_frames", True))
        self._reconnect = bool(options.get("reconnect", True))
        self._backoff = Backoff(options.get("backoff") or BackoffConfig())
        self._reset_after = (options.get("backoff") or BackoffConfig()).reset_after
        self._classifier = options.get("is_retriable")
        self._max_age = options.get("max_connection_age")
        self._idle_timeout = options.get("idle_timeout")
        self._send_mode = options.get("send_while_reconnecting", "raise")
        if self._send_mode not in ("raise", "wait"):
            raise ValueError("send_while_reconnecting must be 'raise' or 'wait'")
        self._send_timeout = float(options.get("send_timeout", 10.0))
        rate = options.get("send_rate")
        self._bucket = TokenBucket(rate, options.get("send_burst", 1)) if rate else None
        self._ssl_context = options.get("ssl_context")
        self._proxy = options.get("proxy")
        self._proxy_ssl_context = options.get("proxy_ssl_context")
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
            ("send_timeout", self._send_timeout),
            ("max_connection_age", 1 if self._max_age is None else self._max_age),
            ("idle_timeout", 1 if self._idle_timeout is None else self._idle_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if self._compression_threshold < 0:
            raise ValueError("compression_threshold must be >= 0")

        self._state = _S.IDLE
        self._link: _Link | None = None
        self._conn: WireConnection | None = None
        # The connection whose on_open hooks are running (they may send before the
        # connection is declared connected).
        self._hook_conn: WireConnection | None = None
        self._hook_task: asyncio.Task[Any] | None = None
        self._heartbeat: Heartbeat | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._connected: asyncio.Event | None = None
        self._on_open: list[OnOpen] = []
        # Only replay mode full_buffer ever holds sends: other clients share an empty deque
        # (idle connections are counted in KiB).
        full = replay is not None and ReplayMode(replay.mode) is ReplayMode.FULL_BUFFER
        self._pending_sends: deque[tuple[bytes, bool]] = deque() if full else _NO_SENDS
        self._connected_at = 0.0
        self._n_out = 0
        self._bytes_in_closed = 0
        self._bytes_out_closed = 0
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

    # -- events -------------------------------------------------------------------------

    def add_on_open(self, hook: OnOpen) -> None:
        """Run ``await hook(ws)`` after every (re)connect, before delivery resumes.

        Used for login and resubscription; the hook may call :meth:`send`. A failing hook
        fails that connection attempt (and is retried like any connection failure).
        """
        self._on_open.append(hook)

    def _send_lost(self, error: BaseException) -> None:
        self._errors += 1
        self._events.emit("error", ErrorEvent(error=error, context="send"))

    def _handler_failed(self, exc: BaseException, context: str) -> None:
        self._errors += 1
        self._events.emit("error", ErrorEvent(error=exc, context=context))

    # -- lifecycle ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the connection (TCP, TLS, opening handshake, ``on_open`` hooks).

        The first connection is not retried: its failure is raised here (reconnects
        happen after a connection was established once).

        Raises:
            InvalidStateError: Already connected, or closed (a closed client cannot be
                reused: create a new one).
            HandshakeError: The server refused the upgrade (status, headers, body).
            ConnectionError: The TCP or TLS connection failed.
            TimeoutError: ``connect_timeout`` elapsed.
        """
        if self._state is _S.CLOSED:
            raise InvalidStateError("this WebSocket is closed; create a new one to reconnect")
        if self._state not in (_S.IDLE, _S.FAILED):
            raise InvalidStateError(f"connect() called while {self._state.value}")
        self._set_state(_S.CONNECTING)
        self._end = None
        self._loop = asyncio.get_running_loop()
        self._connected = asyncio.Event()
        self._events.emit("connecting", ConnectingEvent(uri=redact_uri(self._uri)))
        logger.info("jetsocket: %s: connecting", redact_uri(self._uri))
        try:
            await self._open()
        except BaseException as exc:
            self._set_state(_S.FAILED)
            self._finish(exc)  # consumers waiting on recv() get the failure
            self._connected.set()  # and senders waiting for the connection wake up
            self._errors += 1
            if isinstance(exc, Exception):
                logger.warning("jetsocket: %s: connect failed: %s", redact_uri(self._uri), exc)
                self._events.emit("error", ErrorEvent(error=exc, fatal=True, context="connect"))
            raise
        self._set_state(_S.CONNECTED)
        self._after_connected()
        logger.info("jetsocket: %s: connected%s", redact_uri(self._uri), self._describe_conn())

    def _describe_conn(self) -> str:
        conn = self._conn
        if conn is None:
            return ""
        parts = [type(e).__name__ for e in conn.extensions]
        if conn.subprotocol:
            parts.append(f"subprotocol {conn.subprotocol}")
        return f" ({', '.join(parts)})" if parts else ""

    async def _open(self) -> WireConnection:
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
            proxy=self._proxy,
            proxy_ssl_context=self._proxy_ssl_context,
        )
        link.conn = conn
        previous = self._conn
        self._link = link
        self._conn = conn
        if self._read_paused:
            conn.pause_reading()
        self._hook_conn = conn
        self._hook_task = asyncio.current_task()
        try:
            for hook in self._on_open:
                await hook(self)
        except BaseException:
            self._conn = previous
            conn.abort()
            raise
        finally:
            self._hook_conn = None
            self._hook_task = None
        return conn

    def _after_connected(self) -> None:
        conn = self._conn
        link = self._link
        if conn is None or link is None:
            return
        link.live = True
        self._connected_at = time.monotonic()
        self._cancel_timers()
        loop = asyncio.get_running_loop()
        if self._heartbeat_config is not None:
            if self._heartbeat is None:
                self._heartbeat = Heartbeat(
                    self._heartbeat_config, self._on_dead_peer, self._send_app_ping
                )
            self._heartbeat.start(conn)
        if self._max_age is not None:
            self._timers.append(loop.call_later(self._max_age, self._start_rotation))
        if self._idle_timeout is not None:
            self._timers.append(loop.call_later(self._idle_timeout, self._check_idle))
        if self._connected is not None:
            self._connected.set()
        self._events.emit(
            "connected",
            ConnectedEvent(
                uri=redact_uri(self._uri),
                subprotocol=conn.subprotocol,
                extensions=tuple(type(e).__name__ for e in conn.extensions),
            ),
        )
        if link.lost is not None:
            # The connection ended while it was being opened: handle it now, as a normal
            # disconnect (reconnect or end), after the messages that came before it.
            self._on_lost(link, link.lost)

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (closing handshake bounded by ``close_timeout``).

        Idempotent. Messages already received stay readable: ``recv()`` and iteration
        return them, then iteration ends and ``recv()`` raises
        :class:`ConnectionClosedError`.

        Args:
            code: Close code (RFC 6455 section 7.4.1), 1000 by default.
            reason: Close reason (at most 123 bytes of UTF-8, RFC 6455 section 5.5).

        Raises:
            ValueError: Invalid close code or reason too long.
        """
        if code not in _VALID_CLOSE and not 3000 <= code <= 4999:
            raise ValueError(f"invalid close code {code}")
        if len(reason.encode()) > 123:
            raise ValueError("close reason longer than 123 bytes")
        if self._state in (_S.CLOSED, _S.CLOSING):
            return
        if self._state in (_S.IDLE, _S.FAILED):
            # Nothing is connected: closing only makes the end final (a failed client
            # keeps its failure as the end its consumers see).
            self._set_state(_S.CLOSED)
            self._finish(ConnectionClosedError(code, reason, by_server=False))
            self._events.emit("closed", ClosedEvent(code=code, reason=reason))
            return
        self._set_state(_S.CLOSING)
        self._cancel_timers()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        supervisor = self._supervisor
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
        conn = self._conn
        if conn is not None:
            await conn.close(code, reason)
            self._detach(conn)
        self._finish(ConnectionClosedError(code, reason, by_server=False))
        self._set_state(_S.CLOSED)
        if self._connected is not None:
            self._connected.set()  # wake senders waiting for a connection
        self._events.emit("closed", ClosedEvent(code=code, reason=reason))
        logger.info("jetsocket: %s: closed (code %d)", redact_uri(self._uri), code)
        await self._events.drain(self._close_timeout)

    def _detach(self, conn: WireConnection) -> None:
        # Counted once: close() and connection_lost may both get here for one connection.
        if self._conn is conn:
            self._bytes_in_closed += conn.bytes_received
            self._bytes_out_closed += conn.bytes_sent
            self._conn = None
            self._link = None

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

    # -- wire callbacks -----------------------------------------------------------------

    def _on_ping(self, payload: bytes) -> None:
        if self._events.has("ping"):
            self._events.emit("ping", PingEvent(payload=payload))

    def _on_pong(self, payload: bytes) -> None:
        latency = None
        if self._heartbeat is not None and self._heartbeat.pong(payload):
            latency = self._heartbeat.last_ms
        if self._events.has("pong"):
            self._events.emit("pong", PongEvent(payload=payload, latency_ms=latency))

    def _on_app_pong(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.app_pong()

    def _send_app_ping(self) -> None:
        config = self._heartbeat_config
        conn = self._conn
        if config is None or conn is None or not conn.is_open:
            return
        payload, text = self._encode(config.payload)
        conn.send_message(payload, text)

    def _on_dead_peer(self, conn: WireConnection) -> None:
        logger.warning("jetsocket: %s: no pong in time, dropping", redact_uri(self._uri))
        conn.abort()

    def _check_idle(self) -> None:
        conn = self._conn
        timeout = self._idle_timeout
        if conn is None or timeout is None or self._state is not _S.CONNECTED:
            return
        idle = time.monotonic() - max(conn.last_received, self._connected_at)
        if conn.reading_paused:
            idle = 0.0  # we stopped reading (backpressure): the peer is not silent
        if idle >= timeout:
            logger.warning("jetsocket: %s: idle for %.1fs, dropping", redact_uri(self._uri), idle)
            conn.abort()
            return
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(timeout - idle, self._check_idle))

    def _on_lost(self, link: _Link, exc: ConnectionClosedError) -> None:
        if not link.live:
            link.lost = exc  # still opening: _after_connected (or the failed open) decides
            return
        conn = link.conn
        if conn is None or self._conn is not conn or self._state is _S.CLOSED:
            if conn is not None:
                self._bytes_in_closed += conn.bytes_received
                self._bytes_out_closed += conn.bytes_sent
            return  # an older (rotated) connection
        self._detach(conn)
        if self._state is _S.CLOSING:
            return  # close() finishes the job
        self._cancel_timers()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if exc.code not in CLEAN_CODES:
            self._errors += 1
        lived = time.monotonic() - self._connected_at
        retry = self._reconnect and not is_fatal(exc, self._classifier)
        logger.log(
            logging.INFO if exc.code in CLEAN_CODES else logging.WARNING,
            "jetsocket: %s: disconnected after %.1fs: %s; %s",
            redact_uri(self._uri),
            lived,
            exc,
            "reconnecting" if retry else "not reconnecting",
        )
        self._events.emit(
            "disconnected",
            DisconnectedEvent(
                code=exc.code, reason=exc.reason, by_server=exc.by_server, will_reconnect=retry
            ),
        )
        if not retry:
            fatal = self._reconnect  # we wanted to retry but must not
            if fatal:
                self._events.emit("error", ErrorEvent(error=exc, fatal=True, context="closed"))
            self._finish(exc)
            self._set_state(_S.FAILED if fatal else _S.CLOSED)
            if not fatal:
                self._events.emit("closed", ClosedEvent(code=exc.code, reason=exc.reason))
            return
        if lived >= self._reset_after:
            self._backoff.reset()
        if self._supervisor is not None:
            self._supervisor.cancel()  # a rotation in progress: reconnect instead
        self._set_state(_S.RECONNECTING)
        self._connected = asyncio.Event()
        self._supervisor = asyncio.get_running_loop().create_task(self._reconnect_loop(exc))

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
            handler_errors=self._events.handler_errors,
            buffer_size=len(self._inbox),
            buffer_capacity=self._capacity,
            messages_dropped=self._dropped,
            duplicates=self._duplicates,
            gaps=self._gaps,
            paused_reading=self._pauses,
            pending_sends=len(self._pending_sends),
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
