"""A TCP fault-injection proxy on loopback.

:class:`FaultProxy` sits between a client and a server and forwards bytes both ways until
told to misbehave::

    async with ScriptedServer([Echo()]) as server, FaultProxy(server) as proxy:
        async with jetsocket.WebSocket(proxy.uri_for("/"), heartbeat=1.0) as ws:
            proxy.blackhole()  # half-open: sockets stay up, nothing flows
            ...                # the heartbeat must notice within interval + timeout
            proxy.restore()

It works on raw TCP, below WebSocket framing, so it reproduces what networks do to long
lived connections: resets (:meth:`FaultProxy.drop`), silent black holes
(:meth:`FaultProxy.blackhole`), latency (:meth:`FaultProxy.delay`), low bandwidth
(:meth:`FaultProxy.throttle`) and a server that is down (:meth:`FaultProxy.refuse`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any
from urllib.parse import urlsplit

from jetsocket.testing._lifecycle import LocalServer

__all__ = ["FaultProxy"]

_READ = 64 * 1024
# Chunks held per direction (delay, throttle) before the proxy stops reading: the sender
# then feels TCP backpressure, as behind a real slow link, and memory stays bounded.
_MAX_QUEUED = 16
# Throttled data is written in slices of this many seconds' worth of bytes, so the rate
# holds at a fine grain instead of as bursts followed by long pauses.
_SLICE = 0.02


def _target(target: Any) -> tuple[str, int]:
    if isinstance(target, tuple):
        host, port = target
        return str(host), int(port)
    uri = target if isinstance(target, str) else getattr(target, "uri", None)
    if not isinstance(uri, str):
        raise TypeError(
            "target must be (host, port), a ws:// URI or an object with a .uri, "
            f"got {type(target).__name__}"
        )
    parts = urlsplit(uri)
    if parts.hostname is None:
        raise ValueError(f"no host in {uri!r}")
    default = 443 if parts.scheme in ("wss", "https") else 80
    return parts.hostname, parts.port or default


class _Pipe:
    """One direction of one proxied connection: read, hold (delay), write (throttle)."""

    __slots__ = ("_proxy", "bytes", "dst", "queue", "src")

    def __init__(
        self, proxy: FaultProxy, src: asyncio.StreamReader, dst: asyncio.StreamWriter
    ) -> None:
        self._proxy = proxy
        self.src = src
        self.dst = dst
        # (due time, data); None marks the end of the stream, b"" a reset.
        self.queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue(_MAX_QUEUED)
        self.bytes = 0

    async def read(self) -> None:
        try:
            while True:
                data = await self.src.read(_READ)
                if not data:
                    break
                if self._proxy._blackholed:
                    continue  # the bytes vanish, as in a network black hole
                await self.queue.put((time.monotonic() + self._proxy._delay, data))
        except OSError:
            await self.queue.put((0.0, b""))  # reset: passed on as a reset
            return
        await self.queue.put((0.0, None))

    async def write(self) -> None:
        proxy = self._proxy
        next_slot = 0.0
        while True:
            due, data = await self.queue.get()
            if data is None or not data:
                if proxy._blackholed:
                    return  # nothing crosses a black hole, not even the end of the stream
                if data is not None:
                    raise ConnectionResetError("the other side reset the connection")
                if self.dst.can_write_eof():
                    with contextlib.suppress(OSError):
                        self.dst.write_eof()
                return
            # Latency injection, not synchronisation; looped because a loop's timer may
            # fire a little early (uvloop's have millisecond resolution).
            while (wait := due - time.monotonic()) > 0:  # noqa: ASYNC110 - a delay, no event
                await asyncio.sleep(wait)
            if proxy._blackholed:
                continue
            rate = proxy._rate
            if rate is None:
                self.dst.write(data)
                self.bytes += len(data)
                proxy._bytes += len(data)
                await self.dst.drain()
                continue
            step = max(1, int(rate * _SLICE))
            for offset in range(0, len(data), step):
                chunk = data[offset : offset + step]
                # A slice leaves when a link of this bandwidth would have finished
                # transmitting it (serialisation delay), after the slices before it.
                next_slot = max(next_slot, time.monotonic()) + len(chunk) / rate
                wait = next_slot - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.dst.write(chunk)
                self.bytes += len(chunk)
                proxy._bytes += len(chunk)
                await self.dst.drain()


class _Link:
    """A proxied connection: the client side, the upstream side and their pumps."""

    __slots__ = ("client", "tasks", "upstream")

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream = upstream
        self.tasks: list[asyncio.Task[None]] = []

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy(LocalServer[asyncio.Server]):
    """A TCP proxy on loopback with fault injection.

    Faults apply to every connection, current and future, until :meth:`restore`:
    :meth:`blackhole`, :meth:`delay`, :meth:`throttle` and :meth:`refuse` are modes;
    :meth:`drop` is a one-off that resets the connections open now.

    Args:
        target: The server: ``(host, port)``, a ``ws://`` URI, or an object with a
            ``uri`` attribute (such as a :class:`~jetsocket.testing.ScriptedServer`).
        host: Interface to listen on.
        port: Port to listen on (0: a free port).

    Attributes:
        connection_times: ``time.monotonic()`` of each accepted client connection
            (refused ones included): :attr:`connections` counts them.
    """

    def __init__(self, target: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self._target_host, self._target_port = _target(target)
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._blackholed = False
        self._refusing = False
        self._delay = 0.0
        self._rate: float | None = None
        self._bytes = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening."""
        await self._listen(lambda: asyncio.start_server(self._accept, self._host, self._port))

    async def stop(self) -> None:
        """Stop listening and abort every proxied connection."""
        server = self._unlisten()
        if server is None:
            return
        self.drop()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    # -- addresses and counters ---------------------------------------------------------

    @property
    def uri(self) -> str:
        """``ws://host:port/`` of the proxy."""
        return self.uri_for("/")

    def uri_for(self, path: str = "/") -> str:
        """Return ``ws://host:port`` of the proxy followed by ``path``."""
        return self._ws_uri(path if path.startswith("/") else "/" + path)

    @property
    def active(self) -> int:
        """Proxied connections open now."""
        return len(self._links)

    @property
    def bytes_forwarded(self) -> int:
        """Bytes forwarded in both directions."""
        return self._bytes

    # -- faults -------------------------------------------------------------------------

    def drop(self) -> int:
        """Abort every open connection on both sides (TCP reset); return how many.

        New connections are proxied as usual.
        """
        links = list(self._links)
        for link in links:
            link.abort()
        self._links.clear()
        self._notify()
        return len(links)

    def blackhole(self) -> None:
        """Forward nothing, in either direction, on current and new connections.

        The sockets stay open: each side sees a live TCP connection whose peer went
        silent (a half-open connection), and new connections hang in the opening
        handshake.
        """
        self._blackholed = True

    def delay(self, seconds: float) -> None:
        """Add ``seconds`` of latency to every chunk forwarded from now on."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        self._delay = float(seconds)

    def throttle(self, bytes_per_second: float) -> None:
        """Limit each direction of each connection to ``bytes_per_second``."""
        if bytes_per_second <= 0:
            raise ValueError(f"bytes_per_second must be > 0, got {bytes_per_second}")
        self._rate = float(bytes_per_second)

    def refuse(self) -> None:
        """Reset new connections as soon as they are accepted (the server is down)."""
        self._refusing = True

    def restore(self) -> None:
        """Back to plain pass-through (bytes dropped while black-holed stay lost)."""
        self._blackholed = False
        self._refusing = False
        self._delay = 0.0
        self._rate = None

    # -- proxying -----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._proxy(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connected()
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self._target_host, self._target_port
            )
        except OSError:
            writer.transport.abort()  # the server is down: so is the proxy, for this client
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        self._notify()
        up = _Pipe(self, reader, up_writer)
        down = _Pipe(self, up_reader, writer)
        link.tasks = [
            asyncio.create_task(pipe_step())
            for pipe_step in (up.read, up.write, down.read, down.write)
        ]
        writers = (link.tasks[1], link.tasks[3])
        try:
            # The connection is over when both directions delivered their end of stream,
            # or as soon as one side fails (a reset on either side resets the other).
            done, _ = await asyncio.wait(writers, return_when=asyncio.FIRST_EXCEPTION)
            failed = any(t.cancelled() or t.exception() is not None for t in done)
            if failed or len(done) < len(writers):
                link.abort()
            else:
                writer.close()
                up_writer.close()
        finally:
            for t in link.tasks:
                t.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)
            self._links.discard(link)
            self._notify()
