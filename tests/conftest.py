"""Shared fixtures: servers on 127.0.0.1 started by the tests themselves."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.sync import server as sync_server

Handler = Callable[[ServerConnection], Awaitable[None]]


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
