"""pytest fixtures for testing WebSocket clients against scripted faults.

Enable them in your ``conftest.py``::

    pytest_plugins = ["jetsocket.testing.fixtures"]

Three fixtures are provided; each is a factory, so a test can start several servers or
proxies, and everything is stopped when the test ends (even when it fails):

``scripted_server``
    ``await scripted_server(script, **options)`` starts a
    :class:`~jetsocket.testing.ScriptedServer` on 127.0.0.1 and returns it.

``fault_proxy``
    ``await fault_proxy(target)`` starts a :class:`~jetsocket.testing.FaultProxy` in
    front of ``target`` (a started server, a ``ws://`` URI or ``(host, port)``).

``cassette``
    ``await cassette("cassettes/trades.jsonl", url="wss://venue/ws")`` replays a recorded
    session offline (a :class:`~jetsocket.testing.ReplayServer`) and returns it; connect
    the client under test to its ``uri``. Run pytest with ``--record-cassettes`` (or with
    ``JETSOCKET_RECORD=1``) to record the cassette from ``url`` instead, through a
    :class:`~jetsocket.testing.RecordingProxy` at the same ``uri``. A client message the
    cassette does not expect fails the test; a missing cassette fails it with a hint.
    Relative paths are relative to the test file's folder.

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
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import pytest

from jetsocket.testing._proxy import FaultProxy
from jetsocket.testing._replay import Ignore, RecordingProxy, ReplayServer
from jetsocket.testing._scripted import Script, ScriptedServer

try:
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - another async plugin (anyio, ...) runs them
    _async_fixture = pytest.fixture  # type: ignore[assignment]

__all__ = [
    "CassetteFactory",
    "FaultProxyFactory",
    "ScriptedServerFactory",
    "cassette",
    "fault_proxy",
    "pytest_addoption",
    "scripted_server",
]

#: Environment variable that turns recording on, like ``--record-cassettes``.
RECORD_ENV = "JETSOCKET_RECORD"


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


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--record-cassettes`` (record from the real venues instead of replaying)."""
    group = parser.getgroup("jetsocket")
    group.addoption(
        "--record-cassettes",
        action="store_true",
        default=False,
        help="record the cassettes of the `cassette` fixture from the real URLs "
        f"(also: {RECORD_ENV}=1)",
    )


class CassetteFactory(Protocol):
    """Type of the ``cassette`` fixture: replays (or records) a cassette, returns the server."""

    def __call__(
        self,
        path: str | Path,
        *,
        url: str | None = None,
        secrets: Iterable[str] = (),
        speed: float | Literal["max"] = "max",
        ignore: Ignore | None = None,
        **connect_options: Any,
    ) -> Awaitable[ReplayServer | RecordingProxy]:
        """Serve ``path``; record it from ``url`` when recording is asked for.

        Args:
            path: The cassette file (relative: to the test file's folder).
            url: The real URL (needed to record).
            secrets: Values never written when recording (API keys, tokens...).
            speed: Replay pace: ``"max"`` (default) or a factor of the recorded timing.
            ignore: Client messages neither expected nor checked during replay.
            **connect_options: For the recording's upstream connection (``proxy``,
                ``extra_headers``, ``ssl_context``...).
        """
        ...


def _recording(config: pytest.Config) -> bool:
    if os.environ.get(RECORD_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        return bool(config.getoption("record_cassettes"))
    except ValueError:  # the option is not registered (plugin loaded late): env only
        return False


@_async_fixture
async def cassette(request: pytest.FixtureRequest) -> AsyncIterator[CassetteFactory]:
    """Factory replaying cassettes offline, or recording them with ``--record-cassettes``.

    Example::

        async def test_trades(cassette):
            server = await cassette("cassettes/btc.jsonl", url="wss://stream.binance.com/ws")
            async with Binance(uri=server.uri) as bn:
                ...
    """
    recording = _recording(request.config)
    base = Path(request.path).parent
    replays: list[ReplayServer] = []
    proxies: list[RecordingProxy] = []

    async def start(
        path: str | Path,
        *,
        url: str | None = None,
        secrets: Iterable[str] = (),
        speed: float | Literal["max"] = "max",
        ignore: Ignore | None = None,
        **connect_options: Any,
    ) -> ReplayServer | RecordingProxy:
        file = base / path
        if recording:
            if url is None:
                pytest.fail(f"cannot record {file}: give the real url= to the cassette fixture")
            file.parent.mkdir(parents=True, exist_ok=True)
            proxy = RecordingProxy(url, file, secrets=secrets, **connect_options)
            await proxy.start()
            proxies.append(proxy)
            return proxy
        if not file.exists():
            pytest.fail(
                f"cassette {file} not found: record it once with `pytest --record-cassettes` "
                f"(or {RECORD_ENV}=1) against the real venue",
                pytrace=False,
            )
        server = ReplayServer(file, speed=speed, ignore=ignore)
        await server.start()
        replays.append(server)
        return server

    try:
        yield start
    finally:
        problems: list[str] = []
        for proxy in reversed(proxies):
            await proxy.stop()
            problems += proxy.recorder.errors
        for server in reversed(replays):
            await server.stop()
            problems += server.mismatches
    if problems:
        pytest.fail("cassette: " + "\n".join(problems), pytrace=False)
