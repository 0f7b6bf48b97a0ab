"""``WebSocket[T]``: the async engine users talk to.

One client owns at most one *current* wire connection, and composes explicit parts: a
:class:`Receiver` (decoding and per-message features), a :class:`MessageQueue` (what
consumers read), an :class:`Outbox` (sending), a :class:`Reconnector` (reconnect and
rotation, the only task, and only while it works) and a :class:`Heartbeat` (timer handles).
The engine itself holds the state machine and the current connection.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Generic, overload

from typing_extensions import TypeVar, Unpack

from jetsocket._engine._codec import choose_decoder
from jetsocket._engine._context import ConnectContext
from jetsocket._engine._events import (
    BufferOverflowEvent,
    ClosedEvent,
    ConnectedEvent,
    ConnectingEvent,
    DisconnectedEvent,
    ErrorEvent,
    EventRegistry,
    EventSource,
    PingEvent,
    PongEvent,
    share_registry,
)
from jetsocket._engine._forms import DecodedForm, RawForm
from jetsocket._engine._heartbeat import Heartbeat
from jetsocket._engine._link import Link
from jetsocket._engine._liveness import Liveness
from jetsocket._engine._options import Settings, WebSocketOptions, resolve
from jetsocket._engine._outbox import Outbox, encode_raw
from jetsocket._engine._queue import MessageQueue, new_queue
from jetsocket._engine._receiver import Fallback, Receiver, Router
from jetsocket._engine._reconnect import (
    EngineHooks,
    OverlapWatch,
    Reconnector,
    abort_connection,
    replay_after_reconnect,
    retire_connection,
)
from jetsocket._engine._state import ConnectionState, check_transition
from jetsocket._engine._stats import ConnectionStats
from jetsocket._exceptions import ConnectionClosedError, InvalidStateError
from jetsocket._protocol._closecodes import CLEAN_CLOSE_CODES, check_close
from jetsocket._protocol._connection import WireConnection
from jetsocket._protocol._open import open_connection
from jetsocket._protocol._redact import Redactor
from jetsocket._protocol._validate import validate_uri

__all__ = ["OnOpen", "WebSocket", "connect"]

logger = logging.getLogger("jetsocket")

# Without message_type or deserializer a client yields decoded JSON: WebSocket[Any].
T = TypeVar("T", default=Any)

_S = ConnectionState

OnOpen = Callable[["WebSocket[Any]"], Awaitable[None]]


class WebSocket(ConnectContext, EventSource, Generic[T]):
    """An async WebSocket client that yields typed messages and stays connected.

    Example:
        >>> async with WebSocket("wss://stream.example.com/ws", message_type=Trade) as ws:
        ...     await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        ...     async for trade in ws:
        ...         print(trade.price)

    Iteration and ``recv()`` continue across reconnects. Iteration ends when the client is
    closed (or the server closes with 1000/1001 and ``reconnect=False``); it raises
    :class:`ConnectionClosedError` after an abnormal close that is not retried, and the
    error that made the client give up when reconnecting fails for good. Several tasks may
    consume at once (each message goes to one of them).

    Args:
        uri: ``ws://`` or ``wss://`` URI. Credentials in it (query values, user info,
            declared ``secrets``) are redacted in ``repr``, logs, events and errors.
        raw: Deliver messages undecoded: ``str`` for text, ``bytes`` for binary.
        message_type: Decode every message into this type (msgspec Struct, dataclass,
            TypedDict, union, plain type, or pydantic model). The decoder is built once.
        deserializer: Custom ``Callable[[bytes], T]`` decoder (instead of message_type).
        **options: The options of :class:`WebSocketOptions` (connection, wire, reconnect,
            heartbeat, receive and send groups); the options reference lists each with
            its default.

    Raises:
        TypeError: An unknown option or a value of the wrong type (the option is named).
        ValueError: A value out of range.
    """

    # Two forms, because only a literal ``raw=True`` can pick the ``str | bytes`` type;
    # ``message_type`` (a TypeForm, so ``Trade | Kline`` is the union) or ``deserializer``
    # pick ``T`` in the other, and ``T`` defaults to Any without either. The sync facade
    # repeats these two short lines (mypy takes a class's type from its own __init__).
    @overload
    def __init__(self: WebSocket[str | bytes], uri: str, **options: Unpack[RawForm]) -> None: ...
    @overload
    def __init__(self, uri: str, **options: Unpack[DecodedForm[T]]) -> None: ...
    def __init__(
        self,
        uri: str,
        *,
        raw: bool = False,
        message_type: object = None,
        deserializer: Callable[[bytes], Any] | None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None:
        validate_uri(uri)  # TypeError/ValueError here, never later on the loop
        settings = resolve(options, raw=raw)
        self._uri = uri
        self._settings = settings
        self._redactor = Redactor(settings.connect.secrets)
        # Shown in repr, logs and events: credentials and declared secrets hidden.
        self._shown_uri = self._redactor.uri(uri)
        decode, errors = choose_decoder(raw, message_type, deserializer)
        self._events = EventRegistry(self.report_error)
        self._events.configure_liveness(settings.loop_block_threshold, settings.time_handlers)
        self._liveness = Liveness(settings.loop_block_threshold)  # the loop-lag probe
        self._state = _S.IDLE
        buffer = settings.buffer
        self._queue: MessageQueue[T] = new_queue(
            buffer.capacity,
            buffer.overflow_policy,
            what="receive buffer",
            on_pause=self._queue_full,
            on_resume=self._queue_drained,
            on_drop=self._queue_dropped,
            started=False,
            conflate_key=settings.conflate_key,
            on_key_error=lambda exc: self.report_error(exc, "conflate_key"),
        )
        hb = settings.heartbeat
        self._receiver = Receiver(
            decode=decode,
            decode_errors=errors,
            message_type=message_type,
            strict=settings.strict,
            replay=settings.replay,
            dedup=buffer.enable_dedup,
            dedup_window=buffer.dedup_window,
            pong_matcher=hb.pong_matcher if hb is not None else None,
            on_app_pong=self._on_app_pong,
            events=self._events,
            queue=self._queue,
        )
        self._outbox = Outbox(
            settings.send,
            state=lambda: self._state,
            end=lambda: self._queue.end,  # the end is the queue's (one place)
        )
        # Built on first need (a loss or a rotation): an idle connection costs none of it.
        self._reconnector_: Reconnector | None = None
        self._overlap_watch: OverlapWatch | None = None
        self._heartbeat: Heartbeat | None = None
        self._link: Link | None = None
        self._conn: WireConnection | None = None
        # The connection whose on_open hooks are running (tests look at it).
        self._hook_conn: WireConnection | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._on_open: list[OnOpen] = []
        self._finish_hooks: list[Callable[[BaseException], None]] = []
        self._pausers: set[int] = set()
        self._pauses = 0
        self._errors = 0
        self._last_seq: int | None = None
        self._connected_at = 0.0
        self._bytes_in_closed = 0
        self._bytes_out_closed = 0

    # -- properties ---------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """The URI this client connects to."""
        return self._uri

    @property
    def settings(self) -> Settings:
        """The validated options of this client (frozen)."""
        return self._settings

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

    @property
    def queue(self) -> MessageQueue[T]:
        """The queue consumers read (``recv``, iteration, the sync facade)."""
        return self._queue

    @property
    def outbox(self) -> Outbox:
        """The send side (the sync facade's fire-and-forget path uses it)."""
        return self._outbox

    def __repr__(self) -> str:
        try:
            return f"{type(self).__name__}(uri={self._shown_uri!r}, state={self._state.value})"
        except Exception:  # repr never raises, even on a half-built object
            return f"<{type(self).__name__}>"

    def _set_state(self, new: ConnectionState) -> None:
        check_transition(self._state, new)
        self._state = new

    @property
    def _reconnector(self) -> Reconnector:
        reconnector = self._reconnector_
        if reconnector is None:
            settings = self._settings
            reconnector = self._reconnector_ = Reconnector(
                settings.backoff,
                settings.is_retriable,
                self._events,
                EngineHooks(
                    state=lambda: self._state,
                    set_state=self._set_state,
                    open=self._open,
                    declare_connected=self._declare_connected,
                    give_up=self._give_up,
                    after_reconnect=lambda: replay_after_reconnect(
                        settings.replay, self._last_seq, self._outbox, self._events
                    ),
                    current=lambda: self._conn,
                    abandon=abort_connection,
                    # Late-bound: set_overlap_watch() may come after this is built.
                    watch_overlap=lambda: (self._overlap_watch or self._receiver.watch_meeting)(),  # noqa: PLW0108
                    retire=functools.partial(
                        retire_connection, overlap_timeout=settings.rotation_overlap
                    ),
                    describe=lambda: self._shown_uri,
                    redact=self._redactor,
                ),
            )
        return reconnector

    # -- what the upper layers use -------------------------------------------------------

    def add_on_open(self, hook: OnOpen) -> None:
        """Run ``await hook(ws)`` after every (re)connect, before delivery resumes.

        Used for login and resubscription; the hook may call :meth:`send`. Messages that
        arrive meanwhile reach typed handlers and the schema layer's routing at once, and
        ``recv()``/iteration once every hook finished. A failing hook fails that
        connection attempt (and is retried like any connection failure).
        """
        self._on_open.append(hook)

    def add_finish_hook(self, hook: Callable[[BaseException], None]) -> None:
        """Call ``hook(end)`` once, when the stream of messages ends (close or give up)."""
        self._finish_hooks.append(hook)

    def set_router(self, router: Router, fallback: Fallback | None = None) -> None:
        """Route every decoded batch through ``router`` (the schema layer's streams).

        Args:
            router: Takes a batch, returns what this engine's queue should still see.
            fallback: Turns a payload the typed decoder rejected into a value (acks,
                unknown messages), or raises to report it as a decode failure.
        """
        self._receiver.router = router
        if fallback is not None:
            self._receiver.set_fallback(fallback, (Exception,))

    def set_overlap_watch(self, watch: OverlapWatch) -> None:
        """Set how a rotation sees the new connection carry the stream (:data:`OverlapWatch`).

        Default: the ``ReplayConfig.sequence_extractor`` ids of both connections meet.
        """
        self._overlap_watch = watch

    def share_handlers(self, other: WebSocket[Any]) -> None:
        """Deliver this engine's events to ``other``'s handlers (one client, many shards)."""
        if self._state is not _S.IDLE:
            raise InvalidStateError("share_handlers() must be called before connect()")
        share_registry(other, self)
        self._receiver.use_events(other._events)
        if self._reconnector_ is not None:
            self._reconnector_.use_events(other._events)

    def pause_reading(self, owner: object) -> None:
        """Stop reading the socket until every owner that paused it resumed it."""
        if not self._pausers:
            self._pauses += 1
            if self._conn is not None:
                self._conn.pause_reading()
        self._pausers.add(id(owner))

    def resume_reading(self, owner: object) -> None:
        """Withdraw ``owner``'s pause; reading resumes when no owner is left."""
        self._pausers.discard(id(owner))
        if not self._pausers and self._conn is not None:
            self._conn.resume_reading()

    def drop_connection(self) -> None:
        """Abort the current connection (the engine reconnects as after any loss)."""
        if self._conn is not None:
            self._conn.abort()

    def report_error(self, exc: BaseException, context: str) -> None:
        """Count ``exc`` and emit it as an ``error`` event (never raises)."""
        self._errors += 1
        self._events.emit("error", ErrorEvent(error=exc, context=context))

    # -- the receive queue's callbacks ---------------------------------------------------

    def _queue_full(self) -> None:
        self.pause_reading(self._queue)

    def _queue_drained(self) -> None:
        self.resume_reading(self._queue)

    def _queue_dropped(self, count: int) -> None:
        queue = self._queue
        self._events.emit(
            "buffer_overflow",
            BufferOverflowEvent(dropped=count, policy=queue.policy, capacity=queue.capacity),
        )

    def _on_messages(self, messages: list[Any]) -> None:
        # What a live connection delivers (tests feed batches through here too).
        self._receiver.deliver(messages)

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
        self._queue.start(asyncio.get_running_loop())
        self._liveness.start(self._events)
        self._events.emit("connecting", ConnectingEvent(uri=self._shown_uri))
        logger.info("jetsocket: %s: connecting", self._shown_uri)
        try:
            await self._open()
        except BaseException as exc:
            self._set_state(_S.FAILED)
            self._finish(exc)  # consumers waiting on recv() get the failure
            self._outbox.release()  # and senders waiting for the connection wake up
            self._errors += 1
            if isinstance(exc, Exception):
                logger.warning(
                    "jetsocket: %s: connect failed: %s", self._shown_uri, self._redactor(str(exc))
                )
                self._events.emit("error", ErrorEvent(error=exc, fatal=True, context="connect"))
            raise
        self._set_state(_S.CONNECTED)
        self._declare_connected()

    def _describe_conn(self) -> str:
        conn = self._conn
        if conn is None:
            return ""
        parts = [type(e).__name__ for e in conn.extensions]
        if conn.subprotocol:
            parts.append(f"subprotocol {conn.subprotocol}")
        return f" ({', '.join(parts)})" if parts else ""

    async def _open(self) -> WireConnection:
        """Open a connection, run the on_open hooks on it, make it current; return it."""
        link = Link(
            receiver=self._receiver,
            on_ping=self._on_ping,
            on_pong=self._on_pong,
            on_lost=self._on_lost,
        )
        if self._conn is not None and self._receiver.sequenced:
            link.start_joining()  # a rotation: see Link.start_joining
        c = self._settings.connect
        try:
            conn = await open_connection(
                self._uri,
                link,
                text_as_str=c.text_as_str,
                max_message_size=c.max_message_size,
                compress=c.compress,
                compression_threshold=c.compression_threshold,
                extra_headers=c.extra_headers,
                subprotocols=list(c.subprotocols),
                ssl_context=c.ssl_context,
                connect_timeout=c.connect_timeout,
                close_timeout=c.close_timeout,
                proxy=c.proxy,
                proxy_ssl_context=c.proxy_ssl_context,
                secrets=self._redactor,
                tap=c.wire_tap(self._uri) if c.wire_tap is not None else None,
            )
        except BaseException:
            link.abandon_joining()
            raise
        link.conn = conn
        if self._pausers:
            conn.pause_reading()
        self._hook_conn = conn
        try:
            with self._outbox.hooks_running(conn):
                for hook in self._on_open:
                    await hook(self)
        except BaseException:
            link.abandon_joining()
            conn.abort()
            raise
        finally:
            self._hook_conn = None
        previous = self._conn
        if previous is not None:
            self._detach(previous)
        self._link = link
        self._conn = conn
        return conn

    def _declare_connected(self) -> None:
        conn = self._conn
        link = self._link
        if conn is None or link is None:
            return
        self._connected_at = time.monotonic()
        self._cancel_timers()
        loop = asyncio.get_running_loop()
        settings = self._settings
        if settings.heartbeat is not None:
            if self._heartbeat is None:
                self._heartbeat = Heartbeat(
                    settings.heartbeat, self._on_dead_peer, self._send_app_ping
                )
            self._heartbeat.start(conn, self._liveness.monitor)
        if settings.max_connection_age is not None:
            self._timers.append(
                loop.call_later(settings.max_connection_age, self._reconnector.start_rotation)
            )
        if settings.idle_timeout is not None:
            self._timers.append(loop.call_later(settings.idle_timeout, self._check_idle))
        self._outbox.attach(conn)
        link.go_live()
        self._events.emit(
            "connected",
            ConnectedEvent(
                uri=self._shown_uri,
                subprotocol=conn.subprotocol,
                extensions=tuple(type(e).__name__ for e in conn.extensions),
            ),
        )
        logger.info("jetsocket: %s: connected%s", self._shown_uri, self._describe_conn())
        if link.lost is not None:
            # The connection ended while it was being opened: handle it now, as a normal
            # disconnect (reconnect or end), after the messages that came before it.
            self._on_lost(link, link.lost)

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def _finish(self, end: BaseException) -> None:
        if self._queue.finish(end):
            self._liveness.stop()
            for hook in self._finish_hooks:
                hook(end)

    def _give_up(self, exc: BaseException) -> None:
        logger.error("jetsocket: %s: giving up: %s", self._shown_uri, self._redactor(str(exc)))
        self._errors += 1
        self._events.emit("error", ErrorEvent(error=exc, fatal=True, context="reconnect"))
        self._set_state(_S.FAILED)
        self._finish(exc)
        self._outbox.release()

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
        check_close(code, reason)
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
        if self._reconnector_ is not None:
            self._reconnector_.cancel()
        self._outbox.detach()
        conn = self._conn
        if conn is not None:
            await conn.close(code, reason)
            self._detach(conn)
        self._finish(ConnectionClosedError(code, reason, by_server=False))
        self._set_state(_S.CLOSED)
        self._outbox.release()  # wake senders waiting for a connection
        self._events.emit("closed", ClosedEvent(code=code, reason=reason))
        logger.info("jetsocket: %s: closed (code %d)", self._shown_uri, code)
        await self._events.drain(self._settings.connect.close_timeout)

    def _detach(self, conn: WireConnection) -> None:
        # Counted once: close() and connection_lost may both get here for one connection.
        if self._conn is conn:
            self._bytes_in_closed += conn.bytes_received
            self._bytes_out_closed += conn.bytes_sent
            self._conn = None
            self._link = None
            self._outbox.detach()

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
        latency = None
        if self._heartbeat is not None:
            self._heartbeat.app_pong()
            latency = self._heartbeat.last_ms
        if self._events.has("pong"):
            self._events.emit("pong", PongEvent(payload=b"", latency_ms=latency))

    def _send_app_ping(self) -> None:
        config = self._settings.heartbeat
        if config is None:
            return
        payload = config.payload() if callable(config.payload) else config.payload
        self._outbox.send_control(*self._outbox.encode(payload))

    def _on_dead_peer(self, conn: WireConnection) -> None:
        logger.warning("jetsocket: %s: no pong in time, dropping", self._shown_uri)
        conn.abort(1011, "heartbeat timeout")  # as websockets reports a keepalive timeout

    def _check_idle(self) -> None:
        conn = self._conn
        timeout = self._settings.idle_timeout
        if conn is None or timeout is None or self._state is not _S.CONNECTED:
            return
        idle = time.monotonic() - max(conn.last_received, self._connected_at)
        if conn.reading_paused:
            idle = 0.0  # we stopped reading (backpressure): the peer is not silent
        if idle >= timeout:  # time the loop could not run is not the peer's silence either
            idle = self._liveness.discount(idle, timeout)
        if idle >= timeout:
            logger.warning("jetsocket: %s: idle for %.1fs, dropping", self._shown_uri, idle)
            conn.abort(1011, "idle timeout")
            return
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(timeout - idle, self._check_idle))

    def _on_lost(self, link: Link, exc: ConnectionClosedError) -> None:
        if not link.live:
            link.lost = exc  # still opening: _declare_connected (or the failed open) decides
            return
        if self._receiver.joiner is not None:  # a rotation's new connection: nothing to
            self._receiver.joiner.end_joining()  # wait for once either connection ended
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
        if exc.code not in CLEAN_CLOSE_CODES:
            self._errors += 1
        lived = time.monotonic() - self._connected_at
        retry = self._settings.reconnect and not self._reconnector.is_fatal(exc)
        logger.log(
            logging.INFO if exc.code in CLEAN_CLOSE_CODES else logging.WARNING,
            "jetsocket: %s: disconnected after %.1fs: %s; %s",
            self._shown_uri,
            lived,
            self._redactor(str(exc)),
            "reconnecting" if retry else "not reconnecting",
        )
        self._events.emit(
            "disconnected",
            DisconnectedEvent(
                code=exc.code, reason=exc.reason, by_server=exc.by_server, will_reconnect=retry
            ),
        )
        if not retry:
            fatal = self._settings.reconnect  # we wanted to retry but must not
            if fatal:
                self._events.emit("error", ErrorEvent(error=exc, fatal=True, context="closed"))
            if self._reconnector_ is not None:
                self._reconnector_.cancel()
            self._finish(exc)
            self._set_state(_S.FAILED if fatal else _S.CLOSED)
            self._outbox.release()
            if not fatal:
                self._events.emit("closed", ClosedEvent(code=exc.code, reason=exc.reason))
            return
        self._reconnector.connection_lasted(lived)
        self._last_seq = self._receiver.last_sequence
        self._set_state(_S.RECONNECTING)
        self._reconnector.start(exc)

    # -- sending ------------------------------------------------------------------------

    def send(self, message: Any) -> Coroutine[Any, Any, None]:
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

        Returns:
            An awaitable: ``await ws.send(message)``.
        """
        # A plain method returning the outbox's coroutine: no coroutine layer of its own.
        outbox = self._outbox
        if message.__class__ is str:
            return outbox.send(message.encode(), True)  # Outbox.encode's first case, inlined
        return outbox.send(*outbox.encode(message))

    def send_raw(
        self, data: bytes | str, *, binary: bool | None = None
    ) -> Coroutine[Any, Any, None]:
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

        Returns:
            An awaitable: ``await ws.send_raw(data)``.
        """
        # A plain method returning the outbox's coroutine, like send().
        return self._outbox.send(*encode_raw(data, binary))

    # -- receiving ----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[T]:
        return self._queue.iterate_async()

    async def __anext__(self) -> T:
        """The next message (``anext(ws)``); iteration uses a faster generator."""
        return await self._queue.anext()

    def batches(self) -> AsyncGenerator[list[T], None]:
        """Iterate over messages a batch at a time (every message received so far).

        The fastest way to consume a high-rate stream: one step per read from the socket
        instead of one per message. A decode failure (strict mode) ends the batch before
        it and is raised on the next step.

        Returns:
            An async iterator of non-empty lists of messages, in order.
        """
        return self._queue.batches()

    def recv(self, timeout: float | None = None) -> Coroutine[Any, Any, T]:
        """Return the next message.

        Messages received before a close stay readable; once they are consumed ``recv()``
        raises :class:`ConnectionClosedError`. Several tasks may wait at once; a timeout
        or cancellation of one never affects the others.

        Args:
            timeout: Seconds to wait; None waits for ever.

        Raises:
            TimeoutError: No message within ``timeout`` (also a builtin ``TimeoutError``).
            ConnectionClosedError: The connection is closed and every received message
                was consumed.
            MessageDecodeError: The next message did not match the declared type
                (strict mode).
            BufferOverflowError: Messages were dropped under the ``error`` policy.
            InvalidStateError: ``connect()`` was never called.

        Returns:
            An awaitable of the message: ``await ws.recv()``.
        """
        return self._queue.recv(timeout)  # no coroutine layer of its own

    # -- stats --------------------------------------------------------------------------

    def stats(self) -> ConnectionStats:
        """Return an immutable snapshot of the counters."""
        conn = self._conn
        hb = self._heartbeat
        receiver = self._receiver
        queue = self._queue
        reconnector = self._reconnector_
        lag_ms, max_lag_ms = self._liveness.lag_ms()
        return ConnectionStats(
            state=self._state,
            uptime=time.monotonic() - self._connected_at if conn is not None else 0.0,
            messages_received=receiver.received,
            messages_sent=self._outbox.sent,
            bytes_received=self._bytes_in_closed + (conn.bytes_received if conn else 0),
            bytes_sent=self._bytes_out_closed + (conn.bytes_sent if conn else 0),
            reconnect_count=reconnector.reconnects if reconnector is not None else 0,
            last_reconnect=reconnector.last_reconnect if reconnector is not None else None,
            latency_ms=hb.last_ms if hb is not None else None,
            avg_latency_ms=hb.avg_ms if hb is not None else None,
            errors=self._errors
            + receiver.errors
            + (reconnector.errors if reconnector is not None else 0),
            validation_errors=receiver.validation_errors,
            handler_errors=self._events.handler_errors,
            buffer_size=len(queue),
            buffer_capacity=queue.capacity,
            messages_dropped=queue.dropped + receiver.duplicates,
            messages_conflated=queue.conflated,
            duplicates=receiver.duplicates,
            gaps=receiver.gaps,
            paused_reading=self._pauses,
            pending_sends=len(self._outbox.held),
            loop_lag_ms=lag_ms,
            loop_lag_max_ms=max_lag_ms,
            loop_blocked=self._events.loop_blocks,
        )


#: ``jetsocket.connect(uri, ...)`` is :class:`WebSocket` itself (as in websockets): every
#: constructor form is accepted and typed the same way. Use ``async with connect(uri)``.
connect = WebSocket
