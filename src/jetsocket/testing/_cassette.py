"""Session cassettes: a recorded WebSocket session, its file format and its recorder.

A cassette is a UTF-8 text file of JSON lines (``.jsonl``), version 1:

* **line 1, the header**: ``{"format": "jetsocket-cassette", "version": 1, "url": ...,
  "recorded_at": ..., "handshake": H}`` where ``url`` is redacted and ``H`` describes the
  opening handshake of the first connection: ``{"status": 101, "path": ..., "request_headers":
  [[name, value], ...], "response_headers": [...], "subprotocol": ..., "extensions": ...}``
  (``"body"`` too when the server refused the upgrade);
* **one line per frame**, in the order they crossed the wire: ``{"t": 0.0123, "from":
  "server", "text": "..."}``; ``t`` is seconds since that connection's handshake, ``from`` is
  ``"client"`` or ``"server"``, and exactly one payload member says what the frame was:
  ``"text"`` (the text itself), ``"binary"`` (base64), ``"ping"`` / ``"pong"`` (base64
  payload) or ``"close"`` (the code, null for none, with ``"reason"``). Fragmented and
  compressed messages are recorded as the complete, inflated message;
* ``{"t": 1.5, "end": "closed" | "dropped"}`` when a connection ended (the TCP connection
  closed after a closing handshake, or without one);
* ``{"connection": 1, "handshake": H}`` when a further connection opened (a reconnect);
  the lines of connection ``n > 0`` carry ``"c": n`` (connections may overlap, e.g. during
  a rotation, so their lines can interleave).

Unknown members are ignored (later versions may add some); a different ``version`` is
refused with a clear error.

**No credential is written.** URL query values and user info, the values of secret-looking
headers (``Authorization``, ``Cookie``, ``X-Api-Key``...), JSON members named like a
credential (``apiKey``, ``sign``, ``token``, ``passphrase``...), every argument of a login
message (``{"op": "auth", "args": [key, expires, signature]}``), and every secret the user
declares are replaced by ``***`` in every frame, both ways. A replay treats ``***`` in a
client message as "any value".

The recorder needs nothing from the engine: it implements the protocol layer's
:class:`~jetsocket._protocol._listener.WireTap` (``open_connection(tap=...)``) and sees the
bytes exactly as they crossed the socket, from which it rebuilds the frames itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as _dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

import msgspec

from jetsocket._engine._context import CloseContext
from jetsocket._protocol._listener import WireTap
from jetsocket.testing._cassette_redact import CassetteRedactor
from jetsocket.testing._wire_frames import FrameKind, FrameRebuilder, deflate_params, http_head

__all__ = [
    "CASSETTE_FORMAT",
    "CASSETTE_VERSION",
    "Cassette",
    "CassetteError",
    "CassetteFrame",
    "CassetteRedactor",
    "CassetteHandshake",
    "Recorder",
    "CassetteSession",
]

CASSETTE_FORMAT: Final = "jetsocket-cassette"
CASSETTE_VERSION: Final = 1

Sender = Literal["client", "server"]
SessionEnd = Literal["open", "closed", "dropped"]

_PAYLOAD_KEYS: Final = ("text", "binary", "ping", "pong", "close")
# Headers of the handshake that say nothing a replay needs: per-connection nonces
# (RFC 6455 4.1) and hop-by-hop framing.
_SKIPPED_HEADERS: Final = frozenset({"sec-websocket-key", "sec-websocket-accept"})
_MAX_BODY: Final = 4096  # refused handshakes: body excerpt kept

_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode


class CassetteError(ValueError):
    """A cassette file is unreadable: not a cassette, another version, a bad line."""


# -- the recorded session ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CassetteFrame:
    """One recorded frame.

    Attributes:
        t: Seconds since its connection's opening handshake completed.
        sender: ``"client"`` or ``"server"``.
        kind: ``"text"``, ``"binary"``, ``"ping"``, ``"pong"`` or ``"close"``.
        text: The text of a text frame, the reason of a close frame.
        data: The payload of a binary, ping or pong frame.
        code: The code of a close frame (None: the frame had no code).
    """

    t: float
    sender: Sender
    kind: FrameKind
    text: str = ""
    data: bytes = b""
    code: int | None = None

    @property
    def is_data(self) -> bool:
        """A text or binary message (not a control frame)."""
        return self.kind in ("text", "binary")

    @property
    def payload(self) -> str | bytes:
        """The message: ``str`` for text, ``bytes`` for binary (and control frames)."""
        return self.text if self.kind == "text" else self.data


@dataclass(frozen=True, slots=True)
class CassetteHandshake:
    """The opening handshake of one recorded connection (redacted).

    Attributes:
        status: HTTP status of the response (101: accepted).
        path: Request path, query values redacted.
        request_headers: Request headers, secret values redacted.
        response_headers: Response headers, secret values redacted.
        subprotocol: The negotiated subprotocol.
        extensions: The negotiated ``Sec-WebSocket-Extensions`` value.
        body: Body excerpt of a refused handshake.
    """

    status: int = 101
    path: str = "/"
    request_headers: tuple[tuple[str, str], ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    subprotocol: str | None = None
    extensions: str | None = None
    body: str = ""

    def to_json(self) -> dict[str, Any]:
        """The handshake as written in the cassette."""
        out: dict[str, Any] = {
            "status": self.status,
            "path": self.path,
            "request_headers": [list(h) for h in self.request_headers],
            "response_headers": [list(h) for h in self.response_headers],
            "subprotocol": self.subprotocol,
            "extensions": self.extensions,
        }
        if self.body:
            out["body"] = self.body
        return out

    @classmethod
    def from_json(cls, obj: Any) -> CassetteHandshake:
        """Read a handshake object (raises ``TypeError``/``ValueError`` when malformed)."""
        if not isinstance(obj, dict):
            raise TypeError("handshake must be an object")

        def headers(key: str) -> tuple[tuple[str, str], ...]:
            items = obj.get(key) or []
            return tuple((str(n), str(v)) for n, v in items)

        status = obj.get("status", 101)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"bad handshake status {status!r}")
        return cls(
            status=status,
            path=str(obj.get("path", "/")),
            request_headers=headers("request_headers"),
            response_headers=headers("response_headers"),
            subprotocol=obj.get("subprotocol"),
            extensions=obj.get("extensions"),
            body=str(obj.get("body", "")),
        )


@dataclass(frozen=True, slots=True)
class CassetteSession:
    """One recorded connection.

    Attributes:
        handshake: Its opening handshake.
        frames: Its frames in wire order (both directions).
        end: ``"closed"`` (TCP closed after a closing handshake), ``"dropped"`` (without
            one) or ``"open"`` (still open when the recording stopped).
        duration: Seconds from the handshake to the end (last frame when ``"open"``).
    """

    handshake: CassetteHandshake
    frames: tuple[CassetteFrame, ...] = ()
    end: SessionEnd = "open"
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class Cassette:
    """A recorded session: the connections and their frames.

    Attributes:
        url: The URL recorded (redacted), or None when unknown.
        recorded_at: When the recording started (ISO 8601, UTC).
        sessions: One per connection, in the order they opened.
        version: The file format version.
    """

    url: str | None
    recorded_at: str
    sessions: tuple[CassetteSession, ...]
    version: int = CASSETTE_VERSION

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a cassette file.

        Raises:
            CassetteError: Not a cassette, another version, or a malformed line.
            OSError: The file cannot be read.
        """
        text = Path(path).read_text(encoding="utf-8")
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "<cassette>") -> Cassette:
        """Read a cassette from its text (see the module docstring for the format).

        Raises:
            CassetteError: Not a cassette, another version, or a malformed line.
        """
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if not lines:
            raise CassetteError(f"{source}: empty file, not a jetsocket cassette")
        number, first = lines[0]
        header = _json_line(first, source, number)
        if header.get("format") != CASSETTE_FORMAT:
            raise CassetteError(f"{source}:{number}: not a jetsocket cassette (no format header)")
        version = header.get("version")
        if version != CASSETTE_VERSION:
            raise CassetteError(
                f"{source}:{number}: cassette version {version!r}; this jetsocket reads "
                f"version {CASSETTE_VERSION}"
            )
        builders: dict[int, _SessionBuilder] = {}
        try:
            if header.get("handshake") is not None:
                builders[0] = _SessionBuilder(CassetteHandshake.from_json(header["handshake"]))
            for number, line in lines[1:]:
                _read_line(_json_line(line, source, number), builders)
        except (TypeError, ValueError, KeyError, IndexError, binascii.Error) as exc:
            if isinstance(exc, CassetteError):
                raise
            raise CassetteError(f"{source}:{number}: {exc}") from None
        url = header.get("url")
        return cls(
            url=None if url is None else str(url),
            recorded_at=str(header.get("recorded_at", "")),
            sessions=tuple(builders[i].build() for i in sorted(builders)),
        )


@dataclass
class _SessionBuilder:
    handshake: CassetteHandshake
    frames: list[CassetteFrame] = field(default_factory=list)
    end: SessionEnd = "open"
    duration: float = 0.0

    def build(self) -> CassetteSession:
        duration = self.duration
        if self.end == "open" and self.frames:
            duration = self.frames[-1].t
        return CassetteSession(self.handshake, tuple(self.frames), self.end, duration)


def _json_line(line: str, source: str, number: int) -> dict[str, Any]:
    try:
        obj = _decode_json(line)
    except msgspec.DecodeError as exc:
        raise CassetteError(f"{source}:{number}: not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CassetteError(f"{source}:{number}: expected a JSON object")
    return obj


def _read_line(obj: dict[str, Any], builders: dict[int, _SessionBuilder]) -> None:
    if "connection" in obj:
        index = int(obj["connection"])
        if index in builders:
            raise ValueError(f"connection {index} opened twice")
        builders[index] = _SessionBuilder(CassetteHandshake.from_json(obj["handshake"]))
        return
    index = int(obj.get("c", 0))
    builder = builders.get(index)
    if builder is None:
        raise ValueError(f"frame of connection {index} before its handshake")
    t = float(obj["t"])
    if "end" in obj:
        end = obj["end"]
        if end not in ("closed", "dropped"):
            raise ValueError(f"bad end {end!r}")
        builder.end = end
        builder.duration = t
        return
    sender = obj.get("from")
    if sender not in ("client", "server"):
        raise ValueError(f'"from" must be "client" or "server", got {sender!r}')
    kinds = [key for key in _PAYLOAD_KEYS if key in obj]
    if len(kinds) != 1:
        raise ValueError(f"a frame needs exactly one of {', '.join(_PAYLOAD_KEYS)}")
    kind = kinds[0]
    value = obj[kind]
    if kind == "text":
        frame = CassetteFrame(t, sender, "text", text=str(value))
    elif kind == "close":
        code = None if value is None else int(value)
        frame = CassetteFrame(t, sender, "close", text=str(obj.get("reason", "")), code=code)
    else:
        data = base64.b64decode(str(value), validate=True)
        frame = CassetteFrame(t, sender, kind, data=data)
    builder.frames.append(frame)


# -- the wire tap --------------------------------------------------------------------------


class _Tap:
    """The :class:`WireTap` of one connection: bytes in, cassette lines out."""

    def __init__(self, recorder: Recorder, index: int) -> None:
        self._recorder = recorder
        self._index = index
        self._out = FrameRebuilder()
        self._in = FrameRebuilder()
        self._request: tuple[str, list[tuple[str, str]]] | None = None
        self._response: tuple[int, list[tuple[str, str]]] | None = None
        self._body = bytearray()
        self._opened: float | None = None
        self._out_head = bytearray()
        self._in_head = bytearray()
        self._closing = False
        self._done = False
        self._server_messages = 0

    def on_wire(self, data: bytes, sent: bool) -> None:
        if self._done:
            return
        if self._request is None and not self._out_head:
            self._recorder.connected(self._index)  # the first bytes: the request
        try:
            if sent:
                self._sent(data)
            else:
                self._received(data)
        except Exception as exc:
            # A tap must never break the connection it watches: stop recording it instead.
            self._done = True
            self._recorder.errors.append(f"connection {self._index}: recording stopped: {exc!r}")

    def on_wire_lost(self) -> None:
        self._recorder.lost(self._index)
        if self._done:
            return
        self._done = True
        if self._response is not None and self._response[0] != 101:
            self._write_handshake()
            return
        if self._opened is not None:
            self._recorder.end(self._index, self._t(), "closed" if self._closing else "dropped")

    def _t(self) -> float:
        return time.monotonic() - (self._opened or 0.0)

    def _sent(self, data: bytes) -> None:
        if self._request is None:
            got = _after_head(self._out_head, data)
            if got is None:
                return
            self._request, data = got
            if not data:
                return
        if self._opened is None:
            # Frames written before the 101 arrived (none today): keep them for later.
            self._out_head += data
            return
        self._frames(self._out.feed(data), "client")

    def _received(self, data: bytes) -> None:
        if self._response is None:
            got = _after_head(self._in_head, data)
            if got is None:
                return
            (start, headers), data = got
            parts = start.split(" ", 2)
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            self._response = (status, headers)
            if status != 101:
                self._body += data[:_MAX_BODY]
                return
            self._opened = time.monotonic()
            self._write_handshake()
            if self._out_head:
                early, self._out_head = bytes(self._out_head), bytearray()
                self._frames(self._out.feed(early), "client")
        elif self._opened is None:
            self._body += data[: _MAX_BODY - len(self._body)]
            return
        if data:
            self._frames(self._in.feed(data), "server")

    def _write_handshake(self) -> None:
        assert self._response is not None
        status, response_headers = self._response
        start, request_headers = self._request or ("GET / HTTP/1.1", [])
        parts = start.split(" ")
        path = parts[1] if len(parts) > 1 else "/"
        subprotocol = _header(response_headers, "sec-websocket-protocol")
        extensions = _header(response_headers, "sec-websocket-extensions")
        deflate = deflate_params(extensions) if status == 101 else None
        if deflate is not None:
            server_nct, client_nct = deflate
            self._in.use_deflate(server_nct)
            self._out.use_deflate(client_nct)
        red = self._recorder.redactor
        handshake = CassetteHandshake(
            status=status,
            path=red.path(path),
            request_headers=_headers(request_headers, red),
            response_headers=_headers(response_headers, red),
            subprotocol=subprotocol,
            extensions=extensions,
            body=red.text(bytes(self._body).decode("utf-8", "replace"), "server"),
        )
        self._recorder.open(self._index, handshake)

    def _frames(self, frames: list[tuple[FrameKind, bytes, int | None]], sender: Sender) -> None:
        if not frames:
            return
        t = self._t()
        recorder = self._recorder
        limit = recorder.max_messages
        for kind, payload, code in frames:
            if kind == "close":
                self._closing = True
            elif sender == "server" and kind in ("text", "binary"):
                if limit is not None and self._server_messages >= limit:
                    continue  # past the limit (arrived in the same read): not recorded
                self._server_messages += 1
            recorder.frame(self._index, t, sender, kind, payload, code=code)


def _after_head(
    buf: bytearray, data: bytes
) -> tuple[tuple[str, list[tuple[str, str]]], bytes] | None:
    """Add ``data`` to ``buf``; once it holds a whole HTTP head: the head and what follows.

    ``buf`` is emptied then (the bytes after the head are the first frames).
    """
    buf += data
    head = http_head(buf)
    if head is None:
        return None
    rest = bytes(buf)
    buf.clear()
    return head, rest


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _headers(headers: list[tuple[str, str]], red: CassetteRedactor) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, red.header(name, value))
        for name, value in headers
        if name.lower() not in _SKIPPED_HEADERS
    )


# -- the recorder --------------------------------------------------------------------------


class Recorder(CloseContext):
    """Writes a cassette: one :meth:`tap` per connection, lines written as frames pass.

    Give its :meth:`tap` to a client as the ``wire_tap`` option
    (``WebSocket(uri, wire_tap=recorder.tap)``, a ``Client`` too), to the protocol layer
    (``open_connection(uri, listener, tap=recorder.tap(uri), ...)``), or record any client
    from outside with a :class:`~jetsocket.testing.RecordingProxy`.

    Args:
        path: The cassette file (overwritten).
        url: The URL recorded (written redacted; default: the first tap's).
        headers: Handshake headers the client sends: secret-looking values are redacted
            wherever they appear.
        secrets: Values never to write (API keys, tokens, passphrases...).
        redact: A hook applied to every text message before it is written.
        max_messages: Write at most this many server messages per connection (the ones
            that arrived in the same read as the last one are left out).

    Attributes:
        errors: Problems met while recording (the recording of that connection stopped).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        redact: Callable[[str], str] | None = None,
        max_messages: int | None = None,
    ) -> None:
        if isinstance(secrets, str):
            raise TypeError("secrets must be an iterable of str, not one str")
        self.path = Path(path)
        self._url = url
        self._headers = dict(headers or {})
        self._secrets = list(secrets)
        self._hook = redact
        if max_messages is not None and max_messages < 0:
            raise ValueError(f"max_messages must be >= 0, got {max_messages}")
        self.max_messages = max_messages
        self.redactor = CassetteRedactor(
            url, headers=self._headers, secrets=self._secrets, redact=redact
        )
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        self._started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        self._taps = 0
        self._opened: set[int] = set()
        self._ended: set[int] = set()
        self._first: int | None = None  # tap index of the first connection recorded
        self._live: set[int] = set()  # taps whose TCP connection is not lost yet
        self._idle: asyncio.Event | None = None
        self.frames = 0
        self.errors: list[str] = []

    def tap(self, uri: str | None = None) -> WireTap:
        """A tap for the next connection (pass it to ``open_connection(tap=)``).

        Args:
            uri: The URI this connection goes to (redacted before it is written); its
                credentials are redacted from the frames too.
        """
        if self._file is None:
            raise RuntimeError("the recorder is closed")
        if uri is not None and self._url is None:
            self._url = uri
            # The URL's own secrets (query values, user info) are now known too.
            self.redactor = CassetteRedactor(
                uri, headers=self._headers, secrets=self._secrets, redact=self._hook
            )
        index = self._taps
        self._taps += 1
        return _Tap(self, index)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until every tapped connection is lost (its end written); False on timeout."""
        if not self._live:
            return True
        self._idle = asyncio.Event()
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def connected(self, index: int) -> None:
        """Connection ``index`` sent its first bytes (called by its tap)."""
        self._live.add(index)

    def lost(self, index: int) -> None:
        """Connection ``index`` is gone (called by its tap)."""
        self._live.discard(index)
        if not self._live and self._idle is not None:
            self._idle.set()

    @property
    def connections(self) -> int:
        """Connections recorded (opening handshakes answered)."""
        return len(self._opened)

    # -- called by the taps --------------------------------------------------------------

    def open(self, index: int, handshake: CassetteHandshake) -> None:
        """Write the opening of connection ``index``."""
        if self._first is None:
            # Numbered from the first connection recorded (earlier taps failed to open).
            self._first = index
            self._write(self._header(handshake.to_json()))
        else:
            self._write({"connection": self._number(index), "handshake": handshake.to_json()})
        self._opened.add(index)

    def frame(
        self,
        index: int,
        t: float,
        sender: Sender,
        kind: FrameKind,
        payload: bytes,
        *,
        code: int | None = None,
    ) -> None:
        """Write one frame of connection ``index``."""
        obj: dict[str, Any] = {"t": round(t, 6), "from": sender}
        red = self.redactor
        if kind == "text":
            obj["text"] = red.text(payload.decode("utf-8", "replace"), sender)
        elif kind == "close":
            obj["close"] = code
            obj["reason"] = red.text(payload.decode("utf-8", "replace"), sender)
        else:
            obj[kind] = base64.b64encode(red.binary(payload)).decode("ascii")
        number = self._number(index)
        if number:
            obj["c"] = number
        self.frames += 1
        self._write(obj)

    def end(self, index: int, t: float, how: SessionEnd) -> None:
        """Write the end of connection ``index``."""
        if index not in self._opened or index in self._ended:
            return
        self._ended.add(index)
        obj: dict[str, Any] = {"t": round(t, 6), "end": how}
        number = self._number(index)
        if number:
            obj["c"] = number
        self._write(obj)
        if self._file is not None:
            self._file.flush()

    def _number(self, index: int) -> int:
        return index - (self._first or 0)

    def _header(self, handshake: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "format": CASSETTE_FORMAT,
            "version": CASSETTE_VERSION,
            "url": None if self._url is None else self.redactor.url(self._url),
            "recorded_at": self._started,
            "handshake": handshake,
        }

    def _write(self, obj: dict[str, Any]) -> None:
        if self._file is None:
            return
        self._file.write(_encode_json(obj).decode() + "\n")

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the file (connections still open are recorded as ``"open"``)."""
        file, self._file = self._file, None
        if file is None:
            return
        try:
            if self._first is None:
                # Nothing was answered: still a valid cassette, with no connection.
                file.write(_encode_json(self._header(None)).decode() + "\n")
        finally:
            file.close()

    def __repr__(self) -> str:
        state = "closed" if self._file is None else "recording"
        counts = f"{self.connections} connections, {self.frames} frames"
        return f"<Recorder {self.path} {state}: {counts}>"
