"""pytest fixtures for testing WebSocket clients against scripted faults.

Enable them in your ``conftest.py``::

    pytest_plugins = ["jetsocket.testing.fixtures"]

Two fixtures are provided; each is a factory, so a test can start several servers or
proxies, and everything is stopped when the test ends (even when it fails):

``scripted_server``
    ``await scripted_server(script, **options)`` starts a
    :class:`~jetsocket.testing.ScriptedServer` on 127.0.0.1 and returns it.

``fault_proxy``
    ``await fault_proxy(target)`` starts a :class:`~jetsocket.testing.FaultProxy` in
    front of ``target`` (a started server, a ``ws://`` URI or ``(host, port)``).

Example::

    import jetsocket
    from jetsocket import BackoffConfig
    from jetsocket.testing import Drop, Send, WaitForClientMessage

    async def test_my_client_survives_a_reset(scripted_server, fault_proxy):
        server = await scripted_server(
            [
                [Send({"n": 1}), WaitForClientMessage(), Drop()],  # connection 0
                [Send({"n": 2})],  # connection 1 and later
            ]
        )
        proxy = await fault_proxy(server)
        async with jetsocket.WebSocket(proxy.uri, backoff=BackoffConfig(base=0.05)) as ws:
            assert await ws.recv(timeout=5) == {"n": 1}
            await ws.send("ack")  # the server drops the connection now
            assert await ws.recv(timeout=5) == {"n": 2}  # after the reconnect
            proxy.blackhole()  # half-open: only a heartbeat notices

The fixtures are ``async``: they need an asyncio pytest plugin. With ``pytest-asyncio`` they
work in both ``auto`` and ``strict`` mode (they are declared with
``pytest_asyncio.fixture``; your tests still need ``@pytest.mark.asyncio`` in strict mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import pytest

from jetsocket.testing._proxy import FaultProxy
from jetsocket.testing._scripted import Script, ScriptedServer

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - another async plugin (anyio, ...) runs them
    _async_fixture = pytest.fixture  # type: ignore[assignment]

__all__ = ["FaultProxyFactory", "ScriptedServerFactory", "fault_proxy", "scripted_server"]


class ScriptedServerFactory(Protocol):
    """Type of the ``scripted_server`` fixture: starts a server, returns it."""

    def __call__(
        self, script: Script | Sequence[Script] = (), **options: Any
    ) -> Awaitable[ScriptedServer]:
        """Start a :class:`ScriptedServer` playing ``script`` (see its arguments)."""
        ...


class FaultProxyFactory(Protocol):
    """Type of the ``fault_proxy`` fixture: starts a proxy in front of a target."""

    def __call__(self, target: Any, **options: Any) -> Awaitable[FaultProxy]:
        """Start a :class:`FaultProxy` in front of ``target`` (see its arguments)."""
        ...


S = TypeVar("S", ScriptedServer, FaultProxy)


@contextlib.asynccontextmanager
async def _factory(
    make: Callable[..., S], end: Callable[[S], Awaitable[None]]
) -> AsyncIterator[Callable[..., Awaitable[S]]]:
    """A function that makes and starts an ``S``; every one is ended on exit, newest first."""
    started: list[S] = []

    async def start(*args: Any, **options: Any) -> S:
        server = make(*args, **options)
        await server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            await end(server)


@_async_fixture
async def scripted_server() -> AsyncIterator[ScriptedServerFactory]:
    """Factory starting scripted servers, all killed at the end of the test.

    Example: ``server = await scripted_server([Send({"a": 1}), Drop()])``.
    """
    async with _factory(ScriptedServer, ScriptedServer.kill) as start:
        yield start


@_async_fixture
async def fault_proxy() -> AsyncIterator[FaultProxyFactory]:
    """Factory starting fault proxies, all stopped at the end of the test.

    Example: ``proxy = await fault_proxy(server)``, then ``proxy.blackhole()``.
    """
    async with _factory(FaultProxy, FaultProxy.stop) as start:
        yield start
