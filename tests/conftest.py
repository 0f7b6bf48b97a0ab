"""Shared fixtures: servers on 127.0.0.1 started by the tests themselves; reader paths."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.sync import server as sync_server

from jetsocket._protocol import _reader

Handler = Callable[[ServerConnection], Awaitable[None]]

# Set before the module global can be swapped by a test.
COMPILED_SCAN = _reader._SCAN
# Why the compiled path cannot run here (pure install, no compiler, stale build).
COMPILED_MISSING = None if COMPILED_SCAN is not None else _reader._SCAN_STATUS


@pytest.fixture(params=["compiled", "pure"])
def reader_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the compiled scanner, then with the pure-Python reader.

    ``FrameReader`` reads the module global ``_reader._SCAN`` when it is constructed, so
    swapping it for the duration of a test selects the path of every reader (and every
    connection) the test builds: the same switch as ``JETSOCKET_PURE=1``, in-process.
    """
    if request.param == "compiled" and COMPILED_SCAN is None:
        pytest.skip(f"compiled frame scanner unavailable: {COMPILED_MISSING}")
    saved = _reader._SCAN
    _reader._SCAN = COMPILED_SCAN if request.param == "compiled" else None
    try:
        yield request.param
    finally:
        _reader._SCAN = saved


@asynccontextmanager
async def ws_server(handler: Handler, **kwargs: Any) -> AsyncIterator[str]:
    """Run a websockets server on 127.0.0.1 (free port); yield its ws:// URI."""
    server: Server = await serve(handler, "127.0.0.1", 0, **kwargs)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.close()
        await server.wait_closed()


@contextmanager
def sync_ws_server(
    handler: Callable[[sync_server.ServerConnection], None], **kwargs: Any
) -> Iterator[str]:
    """Run a websockets.sync server on 127.0.0.1 (free port) in a thread; yield its URI."""
    with sync_server.serve(handler, "127.0.0.1", 0, **kwargs) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        finally:
            server.shutdown()
    thread.join(5)


@pytest.fixture
def server() -> Callable[..., Any]:
    """Factory: ``async with server(handler, **kw) as uri``."""
    return ws_server
