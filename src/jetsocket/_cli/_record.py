"""``jetsocket record URL -o FILE`` and ``jetsocket replay FILE``: session cassettes.

``record`` opens one connection through the protocol layer with a
:class:`~jetsocket.testing.Recorder` tap (no reconnect: a cassette records what one
connection saw), sends the ``--send`` messages, and stops after ``--count`` server
messages, ``--duration`` seconds, the server's close, or Ctrl-C; in every case it closes
the connection properly, so the cassette ends with the closing handshake.

``replay`` serves a cassette with :class:`~jetsocket.testing.ReplayServer` and reports each
connection and each deviation of a client on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from jetsocket._cli._connect import Redactor, configure_logging
from jetsocket._exceptions import ConnectionClosedError, HandshakeError, JetSocketError
from jetsocket._protocol._open import open_connection
from jetsocket.testing._cassette import Cassette, CassetteError, Recorder
from jetsocket.testing._replay import ReplayServer

__all__ = ["RecordOptions", "run_record", "run_replay"]

_MAX_MESSAGE = 64 * 1024 * 1024
_LINGER = 5.0  # seconds to wait for the closing handshake and the last bytes


@dataclass
class RecordOptions:
    """Options of ``jetsocket record`` (see ``jetsocket record --help``).

    Attributes:
        url: The ``ws://`` or ``wss://`` URL.
        output: The cassette file.
        headers: Extra handshake headers.
        subprotocols: Subprotocols to offer.
        proxy: Proxy URL, "" for none, None for the environment's.
        send: Text messages sent once connected, in order.
        count: Stop after this many server messages.
        duration: Stop after this many seconds.
        secrets: Values never written.
        verbose: 1 logs the library's lifecycle lines, 2 also its frames.
    """

    url: str
    output: str
    headers: dict[str, str] = field(default_factory=dict)
    subprotocols: list[str] = field(default_factory=list)
    proxy: str | None = None
    send: list[str] = field(default_factory=list)
    count: int | None = None
    duration: float | None = None
    secrets: list[str] = field(default_factory=list)
    verbose: int = 0


class _Counter:
    """The connection's listener: counts server messages, says when to stop."""

    def __init__(self, count: int | None) -> None:
        self.count = count
        self.received = 0
        self.done = asyncio.Event()
        self.lost: ConnectionClosedError | None = None

    def on_messages(self, messages: list[bytes | str]) -> None:
        self.received += len(messages)
        if self.count is not None and self.received >= self.count:
            self.done.set()

    def on_ping(self, payload: bytes) -> None:
        pass

    def on_pong(self, payload: bytes) -> None:
        pass

    def on_connection_lost(self, exc: ConnectionClosedError) -> None:
        self.lost = exc
        self.done.set()


def _say(err: TextIO, redact: Callable[[str], str], text: str) -> None:
    with contextlib.suppress(BrokenPipeError, ValueError):
        err.write(redact(text) + "\n")
        err.flush()


async def run_record(options: RecordOptions, *, err: TextIO | None = None) -> int:
    """Record one session into a cassette.

    Args:
        options: What to connect to, what to send, when to stop.
        err: Where progress lines go (default: stderr).

    Returns:
        0 once the cassette is written, 1 when the connection failed (a refused upgrade is
        still recorded), 2 for bad options.
    """
    stream = err if err is not None else sys.stderr
    shown = Redactor(options.url, options.headers, options.proxy)
    declared = sorted((s for s in options.secrets if s), key=len, reverse=True)

    def redact(text: str) -> str:
        # The progress lines hide the declared secrets too (--secret).
        text = shown(text)
        for secret in declared:
            text = text.replace(secret, "***")
        return text

    configure_logging(options.verbose)
    try:
        recorder = Recorder(
            options.output,
            url=options.url,
            headers=options.headers,
            secrets=options.secrets,
            max_messages=options.count,
        )
    except OSError as exc:
        _say(stream, redact, f"jetsocket: cannot write {options.output}: {exc}")
        return 2
    counter = _Counter(options.count)
    loop = asyncio.get_running_loop()
    with recorder:
        _say(stream, redact, f"recording {shown.url} into {options.output}")
        try:
            conn = await open_connection(
                options.url,
                counter,
                text_as_str=True,
                max_message_size=_MAX_MESSAGE,
                extra_headers=options.headers,
                subprotocols=options.subprotocols or None,
                proxy=options.proxy,
                tap=recorder.tap(options.url),
            )
        except HandshakeError as exc:
            await recorder.wait_idle(_LINGER)  # the refusal is recorded once TCP is gone
            _say(stream, redact, f"connect failed: {exc} (the refusal is recorded)")
            return 1
        except (JetSocketError, OSError, ValueError) as exc:
            _say(stream, redact, f"connect failed: {exc}")
            return 1
        started = loop.time()
        for text in options.send:
            conn.send_message(text.encode(), True)
        interrupted = _stop_on_interrupt(loop, counter.done)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(options.duration):
                    await counter.done.wait()
            why = "the server closed" if counter.lost is not None else "done"
        finally:
            interrupted()
            await conn.close(1000)
            await recorder.wait_idle(_LINGER)
        elapsed = loop.time() - started
    _say(
        stream,
        redact,
        f"{why}: {min(counter.received, options.count or counter.received)} messages "
        f"received in {elapsed:.1f} s; "
        f"{recorder.frames} frames written to {options.output}",
    )
    return 0


def _stop_on_interrupt(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> Callable[[], None]:
    """Ctrl-C stops the recording cleanly (the cassette gets its closing handshake)."""
    try:
        loop.add_signal_handler(signal.SIGINT, done.set)
    except (NotImplementedError, RuntimeError, ValueError):
        return lambda: None  # not the main thread, or no signals here: Ctrl-C aborts

    def restore() -> None:
        loop.remove_signal_handler(signal.SIGINT)

    return restore


async def run_replay(
    path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    once: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Serve a cassette until Ctrl-C (or after one client with ``once``).

    Args:
        path: The cassette file.
        host: Interface to listen on.
        port: Port (0: any free one).
        speed: 1 for the recorded timing, ``math.inf`` for as fast as possible.
        once: Stop after the first connection ended.
        out: Where the server's URL is printed (default: stdout).
        err: Where connections and mismatches are reported (default: stderr).

    Returns:
        0; with ``once``, 1 when the client deviated from the cassette; 2 for a file that
        is not a cassette.
    """
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    try:
        cassette = Cassette.load(path)
        server = ReplayServer(cassette, host=host, port=port, speed=speed)
    except (OSError, CassetteError, ValueError) as exc:
        stderr.write(f"jetsocket: {exc}\n")
        return 2
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("jetsocket.testing")
    log.addHandler(handler)
    previous = log.level
    log.setLevel(logging.INFO)
    try:
        async with server:
            pace = "as fast as possible" if math.isinf(speed) else f"speed {speed:g}"
            sessions = len(cassette.sessions)
            stderr.write(
                f"replaying {path} ({cassette.url or 'unknown URL'}, {sessions} "
                f"connection{'s' if sessions != 1 else ''} recorded), {pace}\n"
            )
            stdout.write(server.uri + "\n")
            stdout.flush()
            stderr.flush()
            done = asyncio.Event()
            interrupted = _stop_on_interrupt(asyncio.get_running_loop(), done)
            try:
                waiter = asyncio.ensure_future(done.wait())
                if once:
                    ended = asyncio.ensure_future(
                        server.wait_for(lambda: server.ended >= 1, timeout=math.inf)
                    )
                    await asyncio.wait({waiter, ended}, return_when=asyncio.FIRST_COMPLETED)
                    ended.cancel()
                else:
                    await waiter
                waiter.cancel()
            finally:
                interrupted()
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)
    if server.mismatches:
        stderr.write(f"{len(server.mismatches)} mismatch(es): the client deviated\n")
        return 1 if once else 0
    return 0
