"""A scripted fake WebSocket server for resilience tests.

:class:`ScriptedServer` plays a list of :class:`Step` objects on every connection it
accepts: send these messages, wait for the client, then drop the TCP connection, close with
a given code, stop answering pings or refuse the opening handshake with an HTTP status. It
runs `websockets`' asyncio server on ``127.0.0.1`` (a free port by default) and records
what happened (connection count and times, requests, messages received from clients), so
a test can assert on the server side too::

    from jetsocket.testing import CloseWith, Drop, Reject, ScriptedServer, Send

    async with ScriptedServer(
        [
            [Send({"seq": 1}), Drop()],  # connection 0: one message, then a TCP reset
            [Reject(429, headers={"Retry-After": "1"})],  # connection 1: refused
            [Send({"seq": 2}), CloseWith(1008, "bad key")],  # connection 2 and later
        ]
    ) as server:
        async with jetsocket.WebSocket(server.uri) as ws:
            ...
        assert server.connections == 3

A single script (a list of steps) is played on every connection; a list of scripts is
played one per successive connection, the last one repeating. When a script ends the
connection stays open (answering pings) until the client closes it; when the client goes
away the script is cancelled. Every message the client sends is recorded
(:attr:`ScriptedServer.received`), whatever step is running.

Besides the scripts, a test can act on the server directly: :meth:`ScriptedServer.drop_all`
(TCP reset), :meth:`ScriptedServer.close_all` (close frame with any code),
:meth:`ScriptedServer.kill` then :meth:`ScriptedServer.start` (a crash and a restart on the
same port), and wait for what the server saw with :meth:`ScriptedServer.wait_for`,
:meth:`ScriptedServer.wait_for_connections` and :meth:`ScriptedServer.wait_for_received`
instead of sleeping.

Typing tip: mypy infers ``list[object]`` for a nested list of different steps kept in a
variable; annotate it (``scripts: list[list[Step]] = [...]``) or pass it inline.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeAlias

import msgspec
from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from jetsocket.testing._lifecycle import LocalServer, close_all

__all__ = [
    "Call",
    "CloseWith",
    "Drop",
    "Echo",
    "Gate",
    "Pause",
    "Reject",
    "Script",
    "ScriptedServer",
    "Send",
    "SendMany",
    "Step",
    "StopPongs",
    "WaitForClientMessage",
    "WaitUntil",
]

_log = logging.getLogger("jetsocket.testing")

# Messages sent before the sender yields to the event loop, so a long SendMany never
# starves the other connections or the reader of client messages.
_BATCH = 256
_encode_json = msgspec.json.Encoder().encode


def _encode(message: Any) -> str | bytes:
    """``str`` is sent as a text frame, ``bytes`` as a binary frame, the rest as JSON text."""
    if isinstance(message, str | bytes):
        return message
    if isinstance(message, bytearray | memoryview):
        return bytes(message)
    return _encode_json(message).decode()


# -- steps --------------------------------------------------------------------------------


class Step:
    """Base class of the steps a :class:`ScriptedServer` plays on a connection."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Send(Step):
    """Send one message: ``str`` as text, ``bytes`` as binary, anything else as JSON text.

    Attributes:
        message: The message.
    """

    message: Any


@dataclass(frozen=True, slots=True)
class SendMany(Step):
    """Send many messages, optionally paced.

    Attributes:
        messages: An iterable of messages, or a function called with ``0, 1, 2, ...``
            returning the message with that index.
        count: How many messages to send (None: until ``messages`` is exhausted, or for
            ever for a function).
        rate: Messages per second (None: as fast as the connection accepts them). The
            pace follows a fixed schedule: a late sender catches up in a burst.
    """

    messages: Iterable[Any] | Callable[[int], Any]
    count: int | None = None
    rate: float | None = None

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be > 0, got {self.rate}")


@dataclass(frozen=True, slots=True)
class CloseWith(Step):
    """Run the closing handshake with ``code`` and ``reason``; the script ends.

    Attributes:
        code: Close code (RFC 6455 section 7.4.1), e.g. 1011 or 1008.
        reason: Close reason.
    """

    code: int = 1000
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Drop(Step):
    """Abort the TCP connection without a close frame (a crash: the client sees 1006)."""


@dataclass(frozen=True, slots=True)
class StopPongs(Step):
    """Stop answering pings on this connection; the TCP connection stays up.

    With no further steps the server then sends nothing at all: a half-open peer that
    still looks alive at the TCP level, which only a heartbeat detects.
    """


@dataclass(frozen=True, slots=True)
class Reject(Step):
    """Answer the opening handshake with an HTTP error instead of ``101``.

    Must be the first step of a script (after any :class:`Gate`); nothing follows it.

    Attributes:
        status: HTTP status code, e.g. 401, 429 or 503.
        headers: Extra response headers, e.g. ``{"Retry-After": "1"}``.
        body: Response body.
    """

    status: int = 403
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 599 or self.status == 101:
            raise ValueError(f"status must be an HTTP error status, got {self.status}")


@dataclass(frozen=True, slots=True)
class Gate(Step):
    """Hold the opening handshake until ``event`` is set (the client waits in CONNECTING).

    Must come before any step other than :class:`Gate`.

    Attributes:
        event: Released by the test.
    """

    event: asyncio.Event


@dataclass(frozen=True, slots=True)
class WaitForClientMessage(Step):
    """Wait until the client sent ``count`` more messages on this connection.

    The script ends if the client disconnects first.

    Attributes:
        count: Messages to wait for.
    """

    count: int = 1


@dataclass(frozen=True, slots=True)
class WaitUntil(Step):
    """Wait until ``event`` is set (synchronise the server with the test).

    Attributes:
        event: Set by the test.
    """

    event: asyncio.Event


@dataclass(frozen=True, slots=True)
class Pause(Step):
    """Do nothing for ``seconds`` (server-side pacing, not a synchronisation tool).

    Attributes:
        seconds: How long.
    """

    seconds: float


@dataclass(frozen=True, slots=True)
class Echo(Step):
    """Send every client message back, until the client disconnects."""


@dataclass(frozen=True, slots=True)
class Call(Step):
    """Run ``await func(connection)`` with the `websockets` server connection.

    The server keeps reading the client's messages (see :attr:`ScriptedServer.received`),
    so ``func`` may send and wait but must not call ``recv()`` itself.

    Attributes:
        func: Any coroutine function taking a
            :class:`websockets.asyncio.server.ServerConnection`.
    """

    func: Callable[[ServerConnection], Awaitable[None]]


Script: TypeAlias = Sequence[Step]

_HANDSHAKE_STEPS = (Gate, Reject)


def _check_script(script: Script) -> None:
    seen_other = False
    for i, step in enumerate(script):
        if not isinstance(step, Step):
            raise TypeError(f"a script holds Step objects, got {type(step).__name__}")
        if isinstance(step, _HANDSHAKE_STEPS):
            if seen_other:
                raise ValueError(f"{type(step).__name__} must come before the other steps")
            if isinstance(step, Reject) and i != len(script) - 1:
                raise ValueError("Reject must be the last step of its script")
        else:
            seen_other = True


# -- server -------------------------------------------------------------------------------


class _ClientGoneError(Exception):
    """The client went away while a step waited for it."""


class _Session:
    """One accepted connection: its script position and the client's messages."""

    __slots__ = ("conn", "inbox", "index")

    def __init__(self, index: int, conn: ServerConnection) -> None:
        self.index = index
        self.conn = conn
        # None marks the end of the client's messages (the connection closed).
        self.inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()

    async def next_message(self) -> str | bytes:
        msg = await self.inbox.get()
        if msg is None:
            self.inbox.put_nowait(None)  # later waits end too
            raise _ClientGoneError
        return msg


class ScriptedServer(LocalServer[Server]):
    """A WebSocket server on loopback that plays a script on every connection.

    Args:
        script: A list of steps played on every connection, or a list of such lists
            played one per successive connection (connection ``i`` plays
            ``scripts[min(i, len(scripts) - 1)]``). Empty: accept and hold the connection.
        host: Interface to listen on.
        port: Port (0: a free port, kept across :meth:`stop`/:meth:`start`).
        **serve_options: Passed to :func:`websockets.asyncio.server.serve`. By default
            the server sends no keepalive pings of its own (``ping_interval=None``, so
            client heartbeat tests see only the pongs the script allows), compresses
            with permessage-deflate and accepts messages of any size.

    Attributes:
        received: Every message received from clients, in order, over all connections.
        received_by_connection: The same, per connection index.
        requests: The opening handshake request of every connection (path, headers).
        connection_times: ``time.monotonic()`` when each opening handshake arrived
            (rejected ones included): :attr:`connections` counts them.
        errors: Exceptions raised by steps (a broken script), in order.
    """

    def __init__(
        self,
        script: Script | Sequence[Script] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **serve_options: Any,
    ) -> None:
        items: list[Any] = list(script)
        # One script for every connection, or one script per successive connection.
        single = not items or isinstance(items[0], Step)
        scripts: list[list[Step]] = [items] if single else [list(s) for s in items]
        for s in scripts:
            _check_script(s)
        super().__init__(host=host, port=port)
        self._scripts = scripts
        self._serve_options: dict[str, Any] = {
            "ping_interval": None,
            "max_size": None,
            **serve_options,
        }
        self._sessions: dict[ServerConnection, _Session] = {}
        self._pending: dict[ServerConnection, int] = {}
        self.received: list[str | bytes] = []
        self.received_by_connection: list[list[str | bytes]] = []
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self.rejected = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (again, on the same port after :meth:`stop` or :meth:`kill`)."""
        await self._serve(
            self._handler,
            process_request=self._process_request,
            **self._serve_options,
        )

    async def stop(self) -> None:
        """Stop listening and close every connection with 1001 (going away)."""
        server = self._unlisten()
        if server is not None:
            await server.wait_closed()

    async def kill(self) -> None:
        """Stop listening and abort every connection (a crashed server: no close frame)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=False)
        self.drop_all()
        for conn in list(self._pending):  # handshakes held by a Gate
            conn.transport.abort()
        await server.wait_closed()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.kill()

    # -- properties ---------------------------------------------------------------------

    @property
    def uri(self) -> str:
        """``ws://host:port/`` of this server."""
        return self._ws_uri()

    @property
    def active(self) -> int:
        """WebSocket connections open now."""
        return len(self._sessions)

    # -- fault injection and waiting ----------------------------------------------------

    def drop_all(self) -> int:
        """Abort every open connection (TCP reset, no close frame); return how many."""
        sessions = list(self._sessions.values())
        for session in sessions:
            session.conn.transport.abort()
        return len(sessions)

    async def close_all(self, code: int = 1001, reason: str = "") -> int:
        """Close every open connection with ``code``; return how many."""
        return await close_all((s.conn for s in self._sessions.values()), code, reason)

    async def wait_for_received(self, count: int, *, timeout: float = 5.0) -> None:
        """Wait until ``count`` client messages were received (all connections)."""
        await self.wait_for(lambda: len(self.received) >= count, timeout=timeout)

    # -- connection handling ------------------------------------------------------------

    def _script_for(self, index: int) -> Script:
        return self._scripts[min(index, len(self._scripts) - 1)]

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        self.received_by_connection.append([])
        index = self._pending[conn] = self._connected()
        for step in self._script_for(index):
            if isinstance(step, Gate):
                if not await _wait_unless_closed(step.event, conn):
                    self._pending.pop(conn, None)
                    return self._reject(Reject(503))
            elif isinstance(step, Reject):
                self.rejected += 1
                self._pending.pop(conn, None)
                return self._reject(step)
            else:
                break
        return None

    @staticmethod
    def _reject(step: Reject) -> Response:
        try:
            phrase = http.HTTPStatus(step.status).phrase
        except ValueError:
            phrase = "Error"
        headers = Headers(
            [
                ("Date", email.utils.formatdate(usegmt=True)),
                ("Connection", "close"),
                ("Content-Length", str(len(step.body))),
                ("Content-Type", "text/plain; charset=utf-8"),
            ]
        )
        for name, value in step.headers.items():
            headers[name] = value
        return Response(step.status, phrase, headers, step.body)

    async def _handler(self, conn: ServerConnection) -> None:
        index = self._pending.pop(conn)
        session = _Session(index, conn)
        self._sessions[conn] = session
        reader = asyncio.create_task(self._read(session))
        self._notify()
        script = asyncio.create_task(self._run_script(session))
        closed = asyncio.ensure_future(conn.wait_closed())
        try:
            # A step waiting on the test (WaitUntil, Pause...) must not outlive its
            # connection: the script is cancelled when the client goes away.
            await asyncio.wait((script, closed), return_when=asyncio.FIRST_COMPLETED)
            if script.done():
                await closed  # the script is over: hold the connection until it closes
        finally:
            for task in (script, closed, reader):
                task.cancel()
            await asyncio.gather(script, closed, reader, return_exceptions=True)
            self._sessions.pop(conn, None)
            self._notify()

    async def _run_script(self, session: _Session) -> None:
        conn = session.conn
        try:
            for step in self._script_for(session.index):
                if isinstance(step, _HANDSHAKE_STEPS):
                    continue
                if not await self._play(step, session):
                    return
        except (ConnectionClosed, _ClientGoneError):
            pass
        except Exception as exc:
            # A broken script: record it for the test and tell the client.
            _log.exception("scripted connection %d failed", session.index)
            self.errors.append(exc)
            await conn.close(1011, "scripted server error")

    async def _read(self, session: _Session) -> None:
        try:
            async for msg in session.conn:
                self.received.append(msg)
                self.received_by_connection[session.index].append(msg)
                session.inbox.put_nowait(msg)
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            session.inbox.put_nowait(None)

    async def _play(self, step: Step, session: _Session) -> bool:
        """Play one step; return False when the script ends here."""
        conn = session.conn
        if isinstance(step, Send):
            await conn.send(_encode(step.message))
        elif isinstance(step, SendMany):
            await self._send_many(conn, step)
        elif isinstance(step, CloseWith):
            await conn.close(step.code, step.reason)
            return False
        elif isinstance(step, Drop):
            conn.transport.abort()
            return False
        elif isinstance(step, StopPongs):
            _stop_pongs(conn)
        elif isinstance(step, WaitForClientMessage):
            for _ in range(step.count):
                await session.next_message()
        elif isinstance(step, WaitUntil):
            await step.event.wait()
        elif isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Echo):
            while True:
                await conn.send(await session.next_message())
        elif isinstance(step, Call):
            await step.func(conn)
        else:
            raise TypeError(f"unknown step {step!r}")
        return True

    @staticmethod
    async def _send_many(conn: ServerConnection, step: SendMany) -> None:
        source = step.messages
        messages: Iterator[Any]
        if callable(source):
            indices = range(step.count) if step.count is not None else itertools.count()
            messages = map(source, indices)
        else:
            messages = iter(source)
            if step.count is not None:
                messages = itertools.islice(messages, step.count)
        if step.rate is None:
            for i, message in enumerate(messages, 1):
                await conn.send(_encode(message))
                if i % _BATCH == 0:
                    await asyncio.sleep(0)
            return
        period = 1.0 / step.rate
        start = time.monotonic()
        for i, message in enumerate(messages):
            due = start + i * period
            wait = due - time.monotonic()
            if wait > 0.002:
                # Sleep to the next slot; messages already due go out back to back.
                await asyncio.sleep(wait)
            await conn.send(_encode(message))


async def _wait_unless_closed(event: asyncio.Event, conn: ServerConnection) -> bool:
    """Wait for ``event``; return False if ``conn`` was lost first (server killed)."""
    opened = asyncio.ensure_future(event.wait())
    closed = asyncio.ensure_future(conn.wait_closed())
    try:
        await asyncio.wait((opened, closed), return_when=asyncio.FIRST_COMPLETED)
    finally:
        opened.cancel()
        closed.cancel()
    return event.is_set()


def _stop_pongs(conn: ServerConnection) -> None:
    """Make ``conn`` swallow the pongs it owes (RFC 6455 5.5.2 says it MUST answer).

    `websockets` answers pings inside its Sans-I/O ``Protocol.recv_frame`` by calling
    ``send_frame``; wrapping that one method on this connection's protocol object drops
    the pongs and nothing else.
    """
    protocol = conn.protocol
    original = protocol.send_frame

    def send_frame(frame: Frame) -> None:
        if frame.opcode is Opcode.PONG:
            return
        original(frame)

    protocol.send_frame = send_frame  # type: ignore[method-assign]
