"""Reconnector: the reconnect loop and rotation, against a fake engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from jetsocket import BackoffConfig, ConnectionClosedError, HandshakeError
from jetsocket._engine._events import EventRegistry
from jetsocket._engine._reconnect import EngineHooks, Reconnector
from jetsocket._engine._state import ConnectionState, check_transition

_S = ConnectionState
FAST = BackoffConfig(base=0.0, cap=0.0, seed=1)


class FakeEngine:
    """Opens fake connections; the n-th open fails with ``failures[n]`` if given."""

    def __init__(self, failures: list[BaseException | None]) -> None:
        self.state = _S.RECONNECTING
        self.failures = failures
        self.opened = 0
        self.current: object | None = "old"
        self.declared: list[object | None] = []
        self.gave_up: list[BaseException] = []
        self.retired: list[object] = []
        self.overlap: asyncio.Future[None] | None = None
        self.abandoned: list[object] = []
        self.done = asyncio.Event()

    def set_state(self, new: ConnectionState) -> None:
        check_transition(self.state, new)
        self.state = new

    async def open(self) -> object:
        index = self.opened
        self.opened += 1
        failure = self.failures[index] if index < len(self.failures) else None
        if failure is not None:
            raise failure
        self.current = f"conn{index}"
        return self.current

    def declare(self) -> None:
        self.declared.append(self.current)

    def give_up(self, exc: BaseException) -> None:
        self.gave_up.append(exc)
        self.set_state(_S.FAILED)
        self.done.set()

    async def after(self) -> None:
        self.done.set()

    def watch_overlap(self) -> asyncio.Future[None]:
        self.overlap = asyncio.get_running_loop().create_future()
        return self.overlap

    async def retire(self, conn: object, overlap: asyncio.Future[None] | None) -> None:
        assert overlap is not None  # handed over, still watched
        assert overlap is self.overlap
        assert not overlap.done()
        self.retired.append(conn)
        self.done.set()

    def hooks(self) -> EngineHooks:
        return EngineHooks(
            state=lambda: self.state,
            set_state=self.set_state,
            open=self.open,
            declare_connected=self.declare,
            give_up=self.give_up,
            after_reconnect=self.after,
            current=lambda: self.current,
            abandon=self.abandoned.append,
            watch_overlap=self.watch_overlap,
            retire=self.retire,
            describe=lambda: "ws://test/",
            redact=str,
        )


def reconnector(engine: FakeEngine, config: BackoffConfig = FAST) -> tuple[Reconnector, list[Any]]:
    events = EventRegistry()
    seen: list[Any] = []
    for name in ("reconnecting", "reconnected", "error", "connecting"):
        events.add(name, seen.append)
    return Reconnector(config, None, events, engine.hooks()), seen


async def test_retries_until_an_attempt_succeeds() -> None:
    engine = FakeEngine([OSError("refused"), OSError("refused"), None])
    rec, seen = reconnector(engine)
    rec.start(ConnectionClosedError(1006, "", by_server=True))
    await asyncio.wait_for(engine.done.wait(), 5)
    assert engine.state is _S.CONNECTED
    assert engine.declared == ["conn2"]
    assert rec.reconnects == 1
    assert rec.errors == 2
    names = [type(e).__name__ for e in seen]
    assert names.count("ReconnectingEvent") == 3
    assert names[-1] == "ReconnectedEvent"


async def test_fatal_failure_gives_up_at_once() -> None:
    refused = HandshakeError("unauthorized", status_code=401)
    engine = FakeEngine([refused])
    rec, _ = reconnector(engine)
    rec.start(ConnectionClosedError(1006, "", by_server=True))
    await asyncio.wait_for(engine.done.wait(), 5)
    assert engine.gave_up == [refused]
    assert engine.opened == 1


async def test_max_attempts_exhausted_gives_up() -> None:
    engine = FakeEngine([OSError("x")] * 10)
    rec, _ = reconnector(engine, BackoffConfig(base=0.0, cap=0.0, max_attempts=3, seed=1))
    rec.start(ConnectionClosedError(1006, "", by_server=True))
    await asyncio.wait_for(engine.done.wait(), 5)
    assert engine.opened == 3
    assert len(engine.gave_up) == 1


async def test_closed_during_the_backoff_stops_without_a_transition() -> None:
    engine = FakeEngine([])
    rec, _ = reconnector(engine, BackoffConfig(base=0.2, cap=0.2, jitter=False))
    rec.start(ConnectionClosedError(1006, "", by_server=True))
    await asyncio.sleep(0)
    engine.state = _S.CLOSED  # close() ran meanwhile
    rec.cancel()
    assert rec.task is None
    assert engine.opened == 0


async def test_rotation_opens_the_new_connection_before_retiring_the_old() -> None:
    engine = FakeEngine([])
    engine.state = _S.CONNECTED
    rec, seen = reconnector(engine)
    rec.start_rotation()
    await asyncio.wait_for(engine.done.wait(), 5)
    assert engine.declared == ["conn0"]
    assert engine.retired == ["old"]
    assert any(getattr(e, "rotation", False) for e in seen)
    await asyncio.wait_for(_until(lambda: rec.task is None), 5)
    assert engine.overlap is not None
    assert engine.overlap.cancelled()  # the watch ends with the rotation


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await asyncio.sleep(0)  # yields to the rotation task (no timing involved)
