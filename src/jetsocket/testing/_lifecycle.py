"""What the test servers share: ``async with``, the address, connection records, waits.

The simulator, the fake venues, the scripted and hostile servers and the fault proxy:
entering starts, leaving stops; each listens on a local address and lets a test wait for a
condition on its state instead of sleeping.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve

from jetsocket._engine._context import StartContext

__all__ = ["Changes", "LocalServer", "ServerLifecycle", "close_all"]


class ServerLifecycle(StartContext):
    """Base class of the test servers: ``async with server:`` runs ``start()``, then ``stop()``.

    A subclass defines both coroutines (mypy checks it through the ``self`` type).
    """

    __slots__ = ()


class Changes:
    """Lets tests wait for a condition on a server's state, without polling.

    The server calls :meth:`notify` whenever its state changes (a connection opens or
    ends, a message arrives...); every waiter then re-checks its predicate.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        """Wake every waiter once (they wait on a fresh event afterwards)."""
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Return once ``predicate()`` is true.

        Raises:
            TimeoutError: Still false after ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    if self._event is None:
                        self._event = asyncio.Event()
                    await self._event.wait()
        except TimeoutError:
            raise TimeoutError(f"condition not met within {timeout}s") from None


class _Listener(Protocol):
    """What a test server listens with: ``asyncio.Server`` or `websockets`' ``Server``."""

    @property
    def sockets(self) -> tuple[socket.socket, ...]: ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


L = TypeVar("L", bound=_Listener)


class LocalServer(ServerLifecycle, Generic[L]):
    """A test server on a local address that records its connections and can be waited on.

    It listens with an ``L`` (:meth:`_listen`, :meth:`_unlisten`) that a subclass opens.

    Args:
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one, kept across restarts.

    Attributes:
        connection_times: ``time.monotonic()`` of each connection, in order (what counts
            as one is the subclass's to say: a TCP accept, an opening handshake...).
    """

    def __init__(self, *, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._changes = Changes()
        self._server: L | None = None
        self.connection_times: list[float] = []

    @property
    def port(self) -> int:
        """The port listened on (known once started).

        Raises:
            RuntimeError: Not started yet.
        """
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._port

    @property
    def is_running(self) -> bool:
        """True while listening."""
        return self._server is not None

    @property
    def connections(self) -> int:
        """Connections received so far (see :attr:`connection_times`)."""
        return len(self.connection_times)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true; checked after every change the server sees.

        Raises:
            TimeoutError: Not true within ``timeout`` seconds.
        """
        await self._changes.wait_for(predicate, timeout)

    async def wait_for_connections(self, count: int, *, timeout: float = 5.0) -> None:
        """Wait until ``count`` connections were received (see :attr:`connections`)."""
        await self.wait_for(lambda: self.connections >= count, timeout=timeout)

    async def _listen(self, open_server: Callable[[], Awaitable[L]]) -> L:
        """Listen with ``open_server()``; keep the port it got (0 asked for a free one).

        Raises:
            RuntimeError: Already running.
        """
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._server = server = await open_server()
        self._port = server.sockets[0].getsockname()[1]
        return server

    async def _serve(
        self: LocalServer[Server],
        handler: Callable[[ServerConnection], Awaitable[None]],
        **options: Any,
    ) -> Server:
        """:meth:`_listen` with a `websockets` server handing each connection to ``handler``.

        ``options`` go to ``websockets.asyncio.server.serve``.
        """
        return await self._listen(lambda: serve(handler, self._host, self._port, **options))

    def _unlisten(self) -> L | None:
        """Stop accepting connections; return the listener to wait on (None: not running)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        return server

    def _ws_uri(self, path: str = "/") -> str:
        """``ws://host:port`` followed by ``path`` (an IPv6 host in brackets)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"ws://{host}:{self.port}{path}"

    def _connected(self) -> int:
        """Record a new connection now; return its index (0 for the first)."""
        self.connection_times.append(time.monotonic())
        self._notify()
        return len(self.connection_times) - 1

    def _notify(self) -> None:
        self._changes.notify()


class _Closable(Protocol):
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


async def close_all(conns: Iterable[_Closable], code: int = 1001, reason: str = "") -> int:
    """Run the closing handshake with ``code`` on every connection at once; return how many."""
    conns = list(conns)
    await asyncio.gather(*(c.close(code, reason) for c in conns), return_exceptions=True)
    return len(conns)
