"""Serving cassettes (:class:`ReplayServer`) and recording them through a proxy.

:class:`ReplayServer` plays a :class:`~jetsocket.testing.Cassette` to every client that
connects: it answers the opening handshake as recorded (status, subprotocol), sends the
server's frames with the recorded timing (or faster), and where the recording shows the
client sending a message, expects that message: the server's later frames wait for it, and
a message the cassette does not expect is a *mismatch*: the connection is closed with 1008
(policy violation) and the mismatch is kept for :meth:`ReplayServer.check`.

:class:`RecordingProxy` is the other half, for any client: a WebSocket server on loopback
that opens a connection to the real URL for every client connection, relays messages both
ways, and records the upstream connection's wire through a
:class:`~jetsocket.testing.Recorder` tap. The client under test only changes its URL.
"""

from __future__ import annotations

import abc
import asyncio
import email.utils
import http
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
from websockets.asyncio.server import Server, ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from jetsocket._exceptions import ConnectionClosedError, HandshakeError, JetSocketError, excerpt
from jetsocket._protocol._closecodes import is_receivable_close_code
from jetsocket._protocol._connection import WireConnection, redact_uri
from jetsocket._protocol._open import open_connection
from jetsocket.testing._cassette import Cassette, CassetteFrame, CassetteSession, Recorder
from jetsocket.testing._lifecycle import LocalServer

__all__ = ["CassetteMismatchError", "RecordingProxy", "ReplayServer"]

_log = logging.getLogger("jetsocket.testing")

_MASKED: Final = "***"
_EXCERPT: Final = 200
_decode_json = msgspec.json.Decoder().decode
# CassetteHandshake headers a proxy must not forward: its own connection's (RFC 6455 4.1, RFC 9110
# 7.6.1 hop-by-hop) and the ones open_connection sets itself.
_NOT_FORWARDED: Final = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "content-length",
        "transfer-encoding",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)
_MAX_MESSAGE: Final = 64 * 1024 * 1024

Ignore = Callable[[str | bytes], bool]


class CassetteMismatchError(AssertionError):
    """A client did not send what the cassette expects (see ``ReplayServer.mismatches``)."""


# -- matching ------------------------------------------------------------------------------


def _matches(expected: CassetteFrame, got: str | bytes) -> bool:
    """Whether a client message is the recorded one; ``***`` (redacted) matches anything."""
    if expected.kind == "text":
        if not isinstance(got, str):
            return False
        want = expected.text
        if got == want:
            return True
        if _MASKED not in want:
            return False
        try:
            return _same_json(_decode_json(want), _decode_json(got))
        except msgspec.DecodeError:
            pattern = ".*?".join(re.escape(part) for part in want.split(_MASKED))
            return re.fullmatch(pattern, got, re.DOTALL) is not None
    if not isinstance(got, bytes):
        return False
    if got == expected.data:
        return True
    if _MASKED.encode() not in expected.data:
        return False
    parts = expected.data.split(_MASKED.encode())
    return re.fullmatch(b".*?".join(map(re.escape, parts)), got, re.DOTALL) is not None


def _same_json(want: Any, got: Any) -> bool:
    if want == _MASKED:
        return True
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and want.keys() == got.keys()
            and all(_same_json(v, got[k]) for k, v in want.items())
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(want) == len(got)
            and all(_same_json(w, g) for w, g in zip(want, got, strict=True))
        )
    return bool(want == got and type(want) is type(got))


def _show(message: str | bytes) -> str:
    return excerpt(message, _EXCERPT)


# -- replay --------------------------------------------------------------------------------


class _Play:
    """One client connection being served one recorded session."""

    def __init__(self, index: int, session: CassetteSession, ignore: Ignore | None) -> None:
        self.index = index
        self.session = session
        self.expected = [
            f
            for f in session.frames
            if f.sender == "client" and f.is_data and not (ignore and ignore(f.payload))
        ]
        self.matched = 0
        self.gone = False
        self.mismatch: str | None = None
        self._changed = asyncio.Event()

    def changed(self) -> None:
        self._changed.set()

    async def wait_matched(self, count: int) -> None:
        """Wait until ``count`` client messages matched, or the client left or deviated."""
        while self.matched < count and not self.gone:
            self._changed.clear()
            await self._changed.wait()


class _CassetteServer(LocalServer[Server], abc.ABC):
    """What :class:`ReplayServer` and :class:`RecordingProxy` share.

    A `websockets` server whose handshake answer and subprotocol the subclass decides,
    with no pings of its own (only recorded or relayed ones) and no message size limit.
    """

    async def start(self) -> None:
        """Start listening."""
        await self._serve(
            self._handler,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            ping_interval=None,
            max_size=None,
        )

    @property
    def uri(self) -> str:
        """``ws://host:port/`` of this server."""
        return self.uri_for("/")

    def uri_for(self, path: str = "/") -> str:
        """``ws://host:port<path>`` of this server."""
        return self._ws_uri(path)

    @abc.abstractmethod
    def _process_request(
        self, conn: ServerConnection, request: Request
    ) -> Response | Awaitable[Response | None] | None: ...

    @abc.abstractmethod
    def _select_subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None: ...

    @abc.abstractmethod
    async def _handler(self, conn: ServerConnection) -> None: ...


class ReplayServer(_CassetteServer):
    """A WebSocket server on loopback that plays a recorded session to every client.

    Connection ``i`` plays the cassette's session ``min(i, sessions - 1)``: a cassette of
    one connection is served to every client alike; one recorded across reconnects is
    replayed connection by connection.

    Args:
        cassette: A :class:`Cassette` or the path of a cassette file.
        host: Interface to listen on.
        port: Port (0: a free one).
        speed: 1 plays the recorded timing, 2 twice as fast..., ``"max"`` (or
            ``math.inf``) sends without waiting. Server frames that followed a client
            message in the recording are timed from that message's arrival.
        ignore: Client messages for which this returns True are neither expected nor
            checked (e.g. application pings whose count depends on timing).

    Attributes:
        mismatches: What went wrong, one line per deviation of a client.
        played: Server frames sent, all connections.
        matched: Client messages that matched the cassette, all connections.
        ended: Connections over (refused ones included).

    Each connection and mismatch is logged on the ``jetsocket.testing`` logger.
    """

    def __init__(
        self,
        cassette: Cassette | str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float | Literal["max"] = 1.0,
        ignore: Ignore | None = None,
    ) -> None:
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        if not self.cassette.sessions:
            raise ValueError("the cassette recorded no connection: nothing to replay")
        if speed == "max":
            speed = math.inf
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0:
            raise ValueError(f'speed must be > 0 or "max", got {speed!r}')
        super().__init__(host=host, port=port)
        self._speed = float(speed)
        self._ignore = ignore
        self._pending: dict[ServerConnection, _Play] = {}
        self._plays: list[_Play] = []
        self.mismatches: list[str] = []
        self.played = 0
        self.matched = 0
        self.ended = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=False)
        for conn in list(server.connections):
            conn.transport.abort()
        await server.wait_closed()

    # -- properties ---------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        """False: this serves a cassette (:class:`RecordingProxy` records one)."""
        return False

    @property
    def finished(self) -> int:
        """Connections whose client sent every message its session expects."""
        return sum(1 for p in self._plays if p.matched == len(p.expected))

    def check(self) -> None:
        """Raise :class:`CassetteMismatchError` if any client deviated from the cassette."""
        if self.mismatches:
            raise CassetteMismatchError(
                "the client deviated from the cassette:\n" + "\n".join(self.mismatches)
            )

    # -- connections --------------------------------------------------------------------

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        sessions = self.cassette.sessions
        index = len(self._plays)
        number = min(index, len(sessions) - 1)
        play = _Play(index, sessions[number], self._ignore)
        self._plays.append(play)
        self._connected()  # one connection per play: `connections` counts the plays
        hs = play.session.handshake
        _log.info("replay: connection %d: %s, session %d", index, request.path, number)
        if hs.status != 101:
            # The recording was a refused upgrade: refuse the same way.
            self.ended += 1
            _log.info("replay: connection %d: refused with HTTP %d as recorded", index, hs.status)
            return _refusal(hs.status, hs.body.encode())
        self._pending[conn] = play
        return None

    def _select_subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        play = self._pending.get(conn)
        wanted = None if play is None else play.session.handshake.subprotocol
        return Subprotocol(wanted) if wanted is not None and wanted in offered else None

    async def _handler(self, conn: ServerConnection) -> None:
        play = self._pending.pop(conn)
        reader = asyncio.create_task(self._read(conn, play))
        try:
            await self._play(conn, play)
            # The session is over: hold the connection until the client leaves (a message
            # it still sends is a mismatch, found by the reader).
            await conn.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            self.ended += 1
            _log.info(
                "replay: connection %d: ended, %d/%d client messages matched",
                play.index,
                play.matched,
                len(play.expected),
            )
            self._notify()

    async def _read(self, conn: ServerConnection, play: _Play) -> None:
        try:
            async for message in conn:
                if self._ignore is not None and self._ignore(message):
                    continue
                if play.matched >= len(play.expected):
                    self._mismatch(
                        play, f"unexpected message after the cassette's end: {_show(message)}"
                    )
                elif not _matches(play.expected[play.matched], message):
                    want = play.expected[play.matched].payload
                    self._mismatch(
                        play,
                        f"client message #{play.matched + 1} differs from the cassette\n"
                        f"    expected: {_show(want)}\n    received: {_show(message)}",
                    )
                else:
                    play.matched += 1
                    self.matched += 1
                    play.changed()
                    self._notify()
                    continue
                await conn.close(1008, "message not in the cassette")
                return
        except ConnectionClosed:
            pass
        finally:
            play.gone = True
            play.changed()

    def _mismatch(self, play: _Play, text: str) -> None:
        play.mismatch = text
        self.mismatches.append(f"connection {play.index}: {text}")
        _log.warning("replay: connection %d: %s", play.index, text)
        play.changed()
        self._notify()

    async def _play(self, conn: ServerConnection, play: _Play) -> None:
        loop = asyncio.get_running_loop()
        speed = self._speed
        anchor_wall, anchor_t = loop.time(), 0.0
        waited = 0  # client messages waited for so far
        for frame in play.session.frames:
            if frame.sender == "client":
                if frame.kind == "close":
                    return  # the client closed here: wait for it to
                if frame.is_data and waited < len(play.expected):
                    if frame is not play.expected[waited]:
                        continue  # an ignored message
                    waited += 1
                    await play.wait_matched(waited)
                    if play.matched < waited:
                        return  # the client left or deviated
                    anchor_wall, anchor_t = loop.time(), frame.t
                continue  # client pings and pongs: websockets answers and ignores them
            if speed != math.inf:
                delay = anchor_wall + (frame.t - anchor_t) / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)  # the recorded pace
            if not await self._send(conn, frame):
                return
        if play.session.end == "dropped":
            if speed != math.inf:
                delay = anchor_wall + (play.session.duration - anchor_t) / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            conn.transport.abort()

    async def _send(self, conn: ServerConnection, frame: CassetteFrame) -> bool:
        """Send one recorded server frame; False once the session is over."""
        if frame.kind == "text":
            await conn.send(frame.text)
        elif frame.kind == "binary":
            await conn.send(frame.data)
        elif frame.kind == "ping":
            await conn.ping(frame.data)
        elif frame.kind == "close":
            code = frame.code if frame.code is not None else 1000
            await conn.close(code, frame.text)
            return False
        else:
            return True  # a pong answered a client ping: websockets answers them itself
        self.played += 1
        self._notify()
        return True


# -- recording through a proxy -------------------------------------------------------------


class _Relay:
    """The upstream connection's listener: messages queued for the client, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[list[bytes | str] | None] = asyncio.Queue()
        self.lost: ConnectionClosedError | None = None

    def on_messages(self, messages: list[bytes | str]) -> None:
        self.queue.put_nowait(messages)

    def on_ping(self, payload: bytes) -> None:
        pass  # answered by the connection itself

    def on_pong(self, payload: bytes) -> None:
        pass

    def on_connection_lost(self, exc: ConnectionClosedError) -> None:
        self.lost = exc
        self.queue.put_nowait(None)


class RecordingProxy(_CassetteServer):
    """Records a real session for any client: a loopback server relaying to ``url``.

    Every client connection opens a connection to ``url`` (the client's request headers
    and subprotocols are passed on), messages are relayed both ways, and the upstream
    connection's wire is written to the cassette. A refused upgrade is answered to the
    client with the same status (and recorded). The client connects to :attr:`uri`, or to
    :meth:`uri_for` a path that replaces ``url``'s path and query.

    Args:
        url: The real ``ws://`` or ``wss://`` URL.
        recorder: A :class:`Recorder`, or the cassette path to record into (then this
            proxy owns the recorder and closes it when stopped).
        secrets: Values never to write (when ``recorder`` is a path).
        host: Interface to listen on.
        port: Port (0: a free one).
        **connect_options: Passed to the upstream connection (``proxy``,
            ``ssl_context``, ``extra_headers``, ``connect_timeout``...).
    """

    def __init__(
        self,
        url: str,
        recorder: Recorder | str | Path,
        *,
        secrets: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        **connect_options: Any,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ValueError("url must be a ws:// or wss:// URL")
        self._url = url
        self._owns = not isinstance(recorder, Recorder)
        self.recorder = (
            recorder
            if isinstance(recorder, Recorder)
            else Recorder(recorder, url=url, secrets=secrets)
        )
        super().__init__(host=host, port=port)
        self._extra: Mapping[str, str] = connect_options.pop("extra_headers", None) or {}
        self._max_size = connect_options.pop("max_message_size", _MAX_MESSAGE)
        self._options = connect_options
        self._upstream: dict[ServerConnection, tuple[WireConnection, _Relay]] = {}
        self.errors: list[str] = []

    async def stop(self) -> None:
        """Close every connection (1001 both ways), stop listening, finish the cassette."""
        server = self._unlisten()
        if server is not None:
            await server.wait_closed()
        for up, _ in list(self._upstream.values()):
            await up.close(1001)
        self._upstream.clear()
        if self._owns:
            self.recorder.close()

    @property
    def recording(self) -> bool:
        """True: this records a cassette."""
        return True

    def _target(self, path: str) -> str:
        if path in ("", "/"):
            return self._url
        scheme, _, rest = self._url.partition("://")
        authority = rest.split("/", 1)[0].split("?", 1)[0]
        return f"{scheme}://{authority}{path}"

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        headers = {
            name: value
            for name, value in request.headers.raw_items()
            if name.lower() not in _NOT_FORWARDED
        }
        headers.update(self._extra)
        offered = [
            p.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",")
            if p.strip()
        ]
        target = self._target(request.path)
        relay = _Relay()
        try:
            up = await open_connection(
                target,
                relay,
                text_as_str=True,
                max_message_size=self._max_size,
                extra_headers=headers,
                subprotocols=offered or None,
                tap=self.recorder.tap(target),
                **self._options,
            )
        except HandshakeError as exc:
            status = exc.status_code or 502
            self.errors.append(f"{redact_uri(target)}: {exc}")
            return _refusal(status, exc.body or b"")
        except (JetSocketError, OSError, ValueError) as exc:
            self.errors.append(f"{redact_uri(target)}: {exc}")
            return _refusal(502, b"upstream connection failed")
        self._upstream[conn] = (up, relay)
        return None

    def _select_subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        entry = self._upstream.get(conn)
        chosen = None if entry is None else entry[0].subprotocol
        return Subprotocol(chosen) if chosen is not None and chosen in offered else None

    async def _handler(self, conn: ServerConnection) -> None:
        up, relay = self._upstream[conn]
        to_server = asyncio.create_task(self._client_to_server(conn, up))
        try:
            while (batch := await relay.queue.get()) is not None:
                for message in batch:
                    await conn.send(message)
            # The server ended the session: end the client's the same way.
            lost = relay.lost
            if lost is not None and is_receivable_close_code(lost.code):
                await conn.close(lost.code, lost.reason)
            else:
                conn.transport.abort()
        except ConnectionClosed:
            pass
        finally:
            to_server.cancel()
            await asyncio.gather(to_server, return_exceptions=True)
            await up.close(1000)
            self._upstream.pop(conn, None)

    @staticmethod
    async def _client_to_server(conn: ServerConnection, up: WireConnection) -> None:
        try:
            async for message in conn:
                if isinstance(message, str):
                    up.send_message(message.encode(), True)
                else:
                    up.send_message(message, False)
                await up.drain()
        except (ConnectionClosed, ConnectionClosedError):
            pass
        code = conn.close_code
        # The client closed: close upstream with its code (1005/1006 are never sent).
        await up.close(code if code is not None and is_receivable_close_code(code) else 1000)


def _refusal(status: int, body: bytes) -> Response:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
        ]
    )
    return Response(status, phrase, headers, body)
