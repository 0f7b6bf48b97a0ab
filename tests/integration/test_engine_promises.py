"""Regression tests: engine and facade promises that used to break (issues 11 and 14).

- concurrent ``recv()`` consumers: one's timeout or cancellation never hits the other;
- ``SyncWebSocket.send()`` racing ``close()`` from another thread raises a JetSocketError;
- closing while reconnecting never raises an illegal state transition;
- delivery is held until the ``on_open`` hooks finished (states.md, subscriptions.md);
- a blocking facade call from a handler (the loop thread) raises at once.
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import aclosing, suppress
from typing import Any

import pytest

import jetsocket
from jetsocket import BackoffConfig, ConnectionState, InvalidStateError, JetSocketError
from jetsocket.testing import (
    Drop,
    Echo,
    ScriptedServer,
    Send,
    Step,
    WaitForClientMessage,
    WaitUntil,
)

FAST = BackoffConfig(base=0.01, cap=0.05, seed=1)


async def test_one_consumers_timeout_leaves_the_other_waiting() -> None:
    gate = asyncio.Event()
    async with ScriptedServer([[WaitUntil(gate), Send("late")]]) as server:
        async with jetsocket.WebSocket(server.uri, raw=True) as ws:
            patient = asyncio.create_task(ws.recv())
            cancelled = asyncio.create_task(ws.recv())
            with pytest.raises(jetsocket.TimeoutError):
                await ws.recv(timeout=0.05)
            cancelled.cancel()
            gate.set()
            assert await asyncio.wait_for(patient, 5) == "late"
            assert cancelled.cancelled()


async def test_close_while_reconnecting_is_clean() -> None:
    # The server drops every connection: the client keeps reconnecting while we close.
    scripts: list[list[Step]] = [[Drop()] for _ in range(50)]
    async with ScriptedServer(scripts) as server:
        for _ in range(10):
            ws = jetsocket.WebSocket(server.uri, backoff=FAST)
            reconnecting = asyncio.Event()
            errors: list[BaseException] = []

            def on_reconnecting(
                _e: jetsocket.ReconnectingEvent, ev: asyncio.Event = reconnecting
            ) -> None:
                ev.set()

            def on_error(e: jetsocket.ErrorEvent, out: list[BaseException] = errors) -> None:
                out.append(e.error)

            ws.add_handler("reconnecting", on_reconnecting)
            ws.add_handler("error", on_error)
            await ws.connect()
            await asyncio.wait_for(reconnecting.wait(), 5)
            await ws.close()
            assert ws.state is ConnectionState.CLOSED
            assert not any(isinstance(e, RuntimeError) for e in errors)


async def test_delivery_waits_for_the_on_open_hooks() -> None:
    # The server answers before the hook finished; recv() must not return it while the
    # hook runs (the state is still CONNECTING then).
    hook_may_finish = asyncio.Event()
    scripts: list[list[Step]] = [[Send("hello"), Echo()]]
    async with ScriptedServer(scripts) as server:
        ws = jetsocket.WebSocket(server.uri, raw=True)
        seen_during_hook: list[Any] = []

        async def hook(socket: jetsocket.WebSocket[Any]) -> None:
            await socket.send("login")
            with suppress(TimeoutError, jetsocket.TimeoutError):
                seen_during_hook.append(await asyncio.wait_for(socket.recv(), 0.2))
            await hook_may_finish.wait()

        ws.add_on_open(hook)
        connecting = asyncio.create_task(ws.connect())
        reader = asyncio.create_task(ws.recv())
        await asyncio.sleep(0)
        assert not reader.done()
        hook_may_finish.set()
        await asyncio.wait_for(connecting, 5)
        assert ws.state is ConnectionState.CONNECTED
        assert await asyncio.wait_for(reader, 5) == "hello"
        assert await ws.recv(timeout=5) == "login"
        assert seen_during_hook == []
        await ws.close()


def test_sync_blocking_calls_on_the_loop_thread_raise() -> None:
    async def main() -> None:
        async with ScriptedServer([[Echo()]]) as server:
            await asyncio.to_thread(check, server.uri)

    def check(uri: str) -> None:
        with jetsocket.SyncWebSocket(uri, raw=True) as ws:
            outcome: list[BaseException | None] = []
            got = threading.Event()

            @ws.on("message")
            def handler(_event: jetsocket.MessageEvent) -> None:
                for call in (lambda: ws.recv(timeout=5), ws.close, lambda: next(iter(ws))):
                    try:
                        call()
                        outcome.append(None)
                    except InvalidStateError as exc:
                        outcome.append(exc)
                got.set()

            ws.send("ping")
            assert got.wait(5)
            assert len(outcome) == 3
            assert all(isinstance(e, InvalidStateError) for e in outcome)

    asyncio.run(main())


def test_sync_send_racing_close_raises_a_jetsocket_error() -> None:
    async def main() -> None:
        async with ScriptedServer([[WaitForClientMessage(10**9)] for _ in range(30)]) as server:
            await asyncio.to_thread(race, server.uri)

    def race(uri: str) -> None:
        for _ in range(30):
            ws = jetsocket.SyncWebSocket(uri, send_rate=10_000.0, send_burst=1)
            ws.connect()
            failures: list[BaseException] = []
            stop = threading.Event()

            def sender(
                socket: jetsocket.SyncWebSocket[Any] = ws,
                stop: threading.Event = stop,
                failures: list[BaseException] = failures,
            ) -> None:
                while not stop.is_set():
                    try:
                        socket.send("x")
                    except JetSocketError:
                        return
                    except BaseException as exc:  # the bug: CancelledError escaped
                        failures.append(exc)
                        return

            thread = threading.Thread(target=sender)
            thread.start()
            ws.close()
            stop.set()
            thread.join(5)
            assert failures == []

    asyncio.run(main())


async def test_iteration_with_aclosing_ends_after_close() -> None:
    async with ScriptedServer([[Send("a"), Send("b")]]) as server:
        ws = jetsocket.WebSocket(server.uri, raw=True)
        await ws.connect()
        got: list[Any] = []
        async with aclosing(ws.batches()) as batches:
            async for batch in batches:
                got.extend(batch)
                if len(got) == 2:
                    break
        await ws.close()
        assert got == ["a", "b"]
