"""Promises the documentation makes that the engine does not keep yet (issue 14, part 3).

They are the lead's engine changes; each test states the documented behaviour and is marked
``xfail(strict=True)``: when the engine keeps the promise the test passes, the strict
marker turns that into a failure, and the marker must go.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import jetsocket
from jetsocket.schema import Client, Message
from jetsocket.testing import Drop, ScriptedServer, Send, Step, WaitForClientMessage

FAST = jetsocket.BackoffConfig(base=0.01, cap=0.05, seed=1)


@pytest.mark.xfail(
    strict=True,
    reason="issue 14: events.md/sync.md say a blocking facade call from a handler raises "
    "InvalidStateError at once; recv() blocks the loop thread (then TimeoutError)",
)
async def test_blocking_recv_from_a_sync_handler_raises_at_once() -> None:
    async with ScriptedServer([Send({"n": 1}), Send({"n": 2})]) as server:
        outcome: list[tuple[type[BaseException], float]] = []
        done = threading.Event()
        ws: jetsocket.SyncWebSocket[Any] = jetsocket.SyncWebSocket(server.uri, reconnect=False)

        @ws.on("connected")
        def on_connected(event: jetsocket.ConnectedEvent) -> None:
            started = time.monotonic()
            try:
                ws.recv(timeout=1.0)
            except BaseException as exc:
                outcome.append((type(exc), time.monotonic() - started))
            done.set()

        await asyncio.to_thread(ws.connect)
        try:
            assert await asyncio.to_thread(done.wait, 5.0)
        finally:
            await asyncio.to_thread(ws.close)
        (kind, elapsed) = outcome[0]
        assert issubclass(kind, jetsocket.InvalidStateError)
        assert elapsed < 0.5


@pytest.mark.xfail(
    strict=True,
    reason="issue 14: states.md and concepts/subscriptions.md say delivery resumes only "
    "after the on_open hooks; recv() returns the new connection's messages before",
)
async def test_delivery_waits_for_the_on_open_hooks_after_a_reconnect() -> None:
    scripts: list[list[Step]] = [
        [Send({"n": 1}), WaitForClientMessage(), Drop()],
        [Send({"n": 2})],
    ]
    async with ScriptedServer(scripts) as server:
        opened = 0
        hook_started = asyncio.Event()
        release = asyncio.Event()

        async def hook(ws: jetsocket.WebSocket[Any]) -> None:
            nonlocal opened
            opened += 1
            if opened == 2:  # the reconnect
                hook_started.set()
                await release.wait()

        ws = jetsocket.WebSocket(server.uri, backoff=FAST)
        ws.add_on_open(hook)
        async with ws:
            assert await ws.recv(timeout=5) == {"n": 1}
            await ws.send("go")  # the server drops the connection now
            await asyncio.wait_for(hook_started.wait(), timeout=5)
            try:
                with pytest.raises(jetsocket.TimeoutError):
                    await ws.recv(timeout=0.3)  # held while the hook runs
            finally:
                release.set()
            assert await ws.recv(timeout=5) == {"n": 2}


class Tick(Message):
    price: float


class Venue(Client[Tick]):
    uri = "wss://stream.example.com/ws"


@pytest.mark.xfail(
    strict=True,
    reason="issue 14: venue-limits.md overrides uri per instance; Venue(uri=...).uri still "
    "returns the class value",
)
def test_uri_given_to_a_client_is_its_uri() -> None:
    venue = Venue(uri="ws://127.0.0.1:8765/ws")
    assert venue.uri == "ws://127.0.0.1:8765/ws"
