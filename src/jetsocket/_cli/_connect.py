"""``jetsocket connect URL``: an interactive client.

In the spirit of ``python -m websockets``: every line typed (or piped) on stdin is sent as
a text message, every message received is printed on stdout, connection events are printed
on stderr as they happen.

Nothing printed ever shows a credential: URLs are shown through ``redact_uri`` and every
secret found in the URL (query values, user info) or in a secret-looking header is replaced
by ``***`` in all output, stdout included.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

import msgspec

import jetsocket
from jetsocket._protocol._connection import redact_uri
from jetsocket._protocol._redact import SECRET_WORDS, url_secrets

__all__ = [
    "ConnectOptions",
    "MessagePrinter",
    "Redactor",
    "configure_logging",
    "run_connect",
]

# Secrets shorter than this are not searched in the output: replacing "1" or "en"
# everywhere would garble it, and such values are not credentials anyway.
_MIN_SECRET = 4
# One list of secret name words for the whole library (jetsocket._protocol._redact).
_SECRET_HEADER_WORDS = SECRET_WORDS
_BINARY_EXCERPT = 64

# ANSI colours of the pretty JSON output (terminals only; NO_COLOR disables them).
_RESET = "\x1b[0m"
_KEY = "\x1b[34;1m"
_STRING = "\x1b[32m"
_NUMBER = "\x1b[36m"
_LITERAL = "\x1b[35m"
_DIM = "\x1b[2m"
_RED = "\x1b[31m"
# Tokens of already formatted (valid) JSON: a string (a key when a colon follows), a
# number or a literal. Scanning left to right, a string is consumed whole, so digits or
# "true" inside strings are never matched on their own.
_JSON_TOKEN = re.compile(
    r'(?P<str>"(?:[^"\\]|\\.)*")(?P<colon>\s*:)?'
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<lit>true|false|null)"
)


# -- connect ----------------------------------------------------------------------------


@dataclass
class ConnectOptions:
    """Options of ``jetsocket connect`` (see ``jetsocket connect --help``).

    Attributes:
        url: The ``ws://`` or ``wss://`` URL.
        headers: Extra handshake headers.
        subprotocols: Subprotocols to offer.
        raw: Print text messages exactly as received (binary as hex).
        heartbeat: Ping interval in seconds, or None for no heartbeat.
        reconnect: Reconnect after an unexpected disconnect.
        proxy: Proxy URL, "" for none, None for the environment's.
        linger: Seconds to keep receiving after end of input (``inf``: until closed).
        verbose: 1 logs the library's lifecycle lines, 2 also its frames.
        pretty: Pretty-print JSON (default: when stdout is a terminal).
        color: Colour the pretty JSON (default: on a terminal, unless ``NO_COLOR``).
    """

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    subprotocols: list[str] = field(default_factory=list)
    raw: bool = False
    heartbeat: float | None = None
    reconnect: bool = True
    proxy: str | None = None
    linger: float = 0.0
    verbose: int = 0
    pretty: bool | None = None
    color: bool | None = None


class Redactor:
    """Hides the credentials of one connection in every line printed.

    The URL itself is shown as ``redact_uri`` shows it; its query values and user info, the
    proxy URL's credentials and the values of secret-looking headers (``Authorization``,
    ``X-Api-Key``, ...) are replaced by ``***`` wherever they appear (error messages,
    echoed messages, ...).
    """

    def __init__(
        self, url: str, headers: dict[str, str] | None = None, proxy: str | None = None
    ) -> None:
        self._url = url
        self._shown = redact_uri(url)
        secrets: set[str] = set()
        for address in (url, proxy):
            if address:
                secrets.update(url_secrets(address))
        for name, value in (headers or {}).items():
            if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
                secrets.add(value)
                secrets.update(value.split())  # "Bearer <token>": the token alone too
        # Longest first, so that a secret containing another is replaced whole.
        self._secrets = sorted((s for s in secrets if len(s) >= _MIN_SECRET), key=len, reverse=True)

    @property
    def url(self) -> str:
        """The URL as it may be shown."""
        return self._shown

    def __call__(self, text: str) -> str:
        """Return ``text`` without any credential of this connection."""
        if not self._secrets:
            return text
        if self._url in text:
            text = text.replace(self._url, self._shown)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


class MessagePrinter:
    """Formats received messages for stdout.

    Args:
        raw: Text exactly as received, binary as hex.
        pretty: Indented JSON (else one compact line per message).
        color: ANSI colours in the pretty JSON.
    """

    def __init__(self, *, raw: bool, pretty: bool, color: bool) -> None:
        self._raw = raw
        self._pretty = pretty
        self._color = color and pretty

    def format(self, message: str | bytes) -> str:
        """Return the text printed for one message (no trailing newline)."""
        if isinstance(message, bytes | bytearray | memoryview):
            data = bytes(message)
            if self._raw:
                return data.hex()
            more = "..." if len(data) > _BINARY_EXCERPT else ""
            return f"<binary, {len(data)} bytes> {data[:_BINARY_EXCERPT].hex()}{more}"
        if self._raw:
            return message
        try:
            # msgspec.json.format keeps the original text of every number and string
            # (no float round trip), unlike decoding and encoding again.
            formatted = msgspec.json.format(message, indent=2 if self._pretty else -1)
        except msgspec.DecodeError:
            # Not JSON: shown as is, but on one line when the output is not a terminal.
            if self._pretty:
                return message
            return message.replace("\r", "\\r").replace("\n", "\\n")
        return _colorize(formatted) if self._color else formatted


def _colorize(formatted: str) -> str:
    def paint(match: re.Match[str]) -> str:
        if match.group("str") is not None:
            colon = match.group("colon")
            if colon is not None:
                return f"{_KEY}{match.group('str')}{_RESET}{colon}"
            return f"{_STRING}{match.group('str')}{_RESET}"
        if match.group("num") is not None:
            return f"{_NUMBER}{match.group('num')}{_RESET}"
        return f"{_LITERAL}{match.group('lit')}{_RESET}"

    return _JSON_TOKEN.sub(paint, formatted)


class _Console:
    """stdout for messages, stderr for events; both redacted, both tolerant of a closed pipe."""

    def __init__(self, redact: Redactor, out: TextIO, err: TextIO, *, color: bool) -> None:
        self._redact = redact
        self._out = out
        self._err = err
        self._color = color
        self.broken = False

    def messages(self, lines: list[str]) -> None:
        if self.broken:
            return
        try:
            self._out.write("".join(self._redact(line) + "\n" for line in lines))
            self._out.flush()
        except BrokenPipeError:
            # `jetsocket connect URL | head`: the reader is gone, stop printing quietly.
            self.broken = True
            _silence_stdout()

    def event(self, text: str, *, error: bool = False) -> None:
        line = self._redact(text)
        if self._color:
            line = f"{_RED if error else _DIM}{line}{_RESET}"
        try:
            self._err.write(line + "\n")
            self._err.flush()
        except (BrokenPipeError, ValueError):
            pass  # stderr closed: events are informative only


def _silence_stdout() -> None:
    # Python flushes stdout again at exit and would complain about the broken pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def _watch_events(ws: jetsocket.WebSocket[Any], console: _Console) -> None:
    """Print connection events on stderr as they happen."""

    @ws.on("connecting")
    def connecting(event: jetsocket.ConnectingEvent) -> None:
        attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        console.event(f"connecting to {event.uri}{attempt}")

    @ws.on("connected")
    def connected(event: jetsocket.ConnectedEvent) -> None:
        extras = list(event.extensions)
        if event.subprotocol:
            extras.append(f"subprotocol {event.subprotocol}")
        console.event(f"connected to {event.uri}" + (f" ({', '.join(extras)})" if extras else ""))

    @ws.on("disconnected")
    def disconnected(event: jetsocket.DisconnectedEvent) -> None:
        reason = f" ({event.reason})" if event.reason else ""
        who = "server" if event.by_server else "client"
        then = "will reconnect" if event.will_reconnect else "not reconnecting"
        console.event(
            f"disconnected: code {event.code}{reason}, by {who}; {then}",
            error=event.code not in (1000, 1001),
        )

    @ws.on("reconnecting")
    def reconnecting(event: jetsocket.ReconnectingEvent) -> None:
        cause = f" after: {event.error}" if event.error is not None else ""
        console.event(f"reconnecting in {event.delay:.2f} s (attempt {event.attempt}){cause}")

    @ws.on("reconnected")
    def reconnected(event: jetsocket.ReconnectedEvent) -> None:
        tries = "attempt" if event.attempts == 1 else "attempts"
        console.event(f"reconnected after {event.downtime:.2f} s ({event.attempts} {tries})")

    @ws.on("closed")
    def closed(event: jetsocket.ClosedEvent) -> None:
        reason = f" ({event.reason})" if event.reason else ""
        console.event(f"closed: code {event.code}{reason}")

    @ws.on("error")
    def error(event: jetsocket.ErrorEvent) -> None:
        if event.context == "connect":
            return  # the first connection's failure is raised and printed by run_connect
        where = f" [{event.context}]" if event.context else ""
        fatal = "fatal " if event.fatal else ""
        console.event(f"{fatal}error{where}: {event.error}", error=True)


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Feed stdin lines to ``queue`` from a daemon thread; None marks the end of input.

    A thread works for terminals, pipes and regular files alike (``connect_read_pipe``
    refuses files). It reads the file descriptor with ``os.read``, not ``sys.stdin``: a
    daemon thread blocked inside the buffered reader holds its lock, and the interpreter
    aborts ("could not acquire lock ... at interpreter shutdown") when it exits meanwhile.
    """

    def put(item: str | None) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            return False  # the loop is closed: the command is over
        return True

    def pump() -> None:
        try:
            fd = sys.stdin.fileno()
        except (AttributeError, OSError, ValueError):
            put(None)  # no usable stdin: nothing to send
            return
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break  # stdin closed under us: same as end of input
            if not chunk:
                break
            *complete, pending = (pending + chunk).split(b"\n")
            for raw in complete:
                if not put(raw.rstrip(b"\r").decode("utf-8", "replace")):
                    return
        if pending and not put(pending.rstrip(b"\r").decode("utf-8", "replace")):
            return
        put(None)

    threading.Thread(target=pump, name="jetsocket-stdin", daemon=True).start()


async def run_connect(options: ConnectOptions) -> int:
    """Interactive client: stdin lines are sent, received messages are printed.

    Args:
        options: What to connect to and how to print.

    Returns:
        0 after a normal close (end of input, or the server closed with 1000/1001), 1 after
        an error (connection refused, abnormal close without reconnect, fatal error).
    """
    redact = Redactor(options.url, options.headers, options.proxy)
    stdout_tty = sys.stdout.isatty()
    no_color = bool(os.environ.get("NO_COLOR"))
    pretty = stdout_tty if options.pretty is None else options.pretty
    color = (stdout_tty and not no_color) if options.color is None else options.color
    printer = MessagePrinter(raw=options.raw, pretty=pretty, color=color)
    console = _Console(redact, sys.stdout, sys.stderr, color=sys.stderr.isatty() and not no_color)
    configure_logging(options.verbose)
    try:
        ws = jetsocket.WebSocket(
            options.url,
            raw=True,
            reconnect=options.reconnect,
            extra_headers=options.headers,
            subprotocols=options.subprotocols or None,
            heartbeat=options.heartbeat,
            proxy=options.proxy,
            # A line typed while reconnecting waits for the new connection (bounded).
            send_while_reconnecting="wait",
            send_timeout=10.0,
        )
    except (ValueError, TypeError) as exc:
        console.event(f"jetsocket: {exc}", error=True)
        return 2
    _watch_events(ws, console)
    try:
        await ws.connect()
    except (jetsocket.JetSocketError, OSError) as exc:
        console.event(f"connect failed: {exc}", error=True)
        return 1

    async def receive() -> None:
        async for batch in ws.batches():
            console.messages([printer.format(message) for message in batch])

    receiving = asyncio.create_task(receive())
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    _stdin_lines(asyncio.get_running_loop(), lines)
    try:
        await _send_lines(ws, lines, receiving, options.linger, console)
    finally:
        await ws.close()
        try:
            await receiving
        except (jetsocket.JetSocketError, OSError) as exc:
            error: BaseException | None = exc
        else:
            error = None
    if error is not None:
        console.event(f"connection lost: {error}", error=True)
        return 1
    if ws.state is jetsocket.ConnectionState.FAILED:
        return 1
    return 0


async def _send_lines(
    ws: jetsocket.WebSocket[Any],
    lines: asyncio.Queue[str | None],
    receiving: asyncio.Task[None],
    linger: float,
    console: _Console,
) -> None:
    """Send stdin lines until end of input (then linger) or until the connection ends."""
    while not receiving.done():
        getter = asyncio.ensure_future(lines.get())
        await asyncio.wait({getter, receiving}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            return  # the connection ended first
        line = getter.result()
        if line is None:
            if linger > 0:
                timeout = None if math.isinf(linger) else linger
                await asyncio.wait({receiving}, timeout=timeout)
            return
        if not line:
            continue
        try:
            await ws.send_raw(line, binary=False)
        except jetsocket.ConnectionClosedError:
            return  # reported by the receiving side
        except jetsocket.JetSocketError as exc:
            console.event(f"not sent: {exc}", error=True)


def configure_logging(verbose: int) -> None:
    """Library log lines on stderr with -v/-vv; silent otherwise (events are printed)."""
    log = logging.getLogger("jetsocket")
    if verbose <= 0:
        # Without a handler Python's last-resort handler would print the library's
        # warnings, duplicating the events printed by this command.
        log.addHandler(logging.NullHandler())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    frames = logging.getLogger("jetsocket.frames")
    frames.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
