"""EventRegistry: sync and async handlers, failure isolation, typed dispatch; event objects."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from jetsocket._engine._events import (
    EVENT_NAMES,
    ConnectedEvent,
    ErrorEvent,
    Event,
    EventRegistry,
    GapEvent,
    ReconnectingEvent,
)

ISSUE_EVENTS = {
    "connecting",
    "connected",
    "disconnected",
    "reconnecting",
    "reconnected",
    "message",
    "error",
    "closed",
    "ping",
    "pong",
    "buffer_overflow",
    "replay_started",
    "replay_completed",
    "gap",
}


class Failures:
    def __init__(self) -> None:
        self.calls: list[tuple[BaseException, str]] = []

    def __call__(self, exc: BaseException, context: str) -> None:
        self.calls.append((exc, context))


def connected() -> ConnectedEvent:
    return ConnectedEvent(uri="ws://127.0.0.1:1/")


def test_every_event_of_the_issue_exists() -> None:
    assert ISSUE_EVENTS <= EVENT_NAMES


def test_events_are_frozen_and_timestamped() -> None:
    before = time.time()
    event = connected()
    assert before <= event.timestamp <= time.time()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.uri = "x"  # type: ignore[misc]
    assert isinstance(event, Event)


def test_gap_event_size() -> None:
    assert GapEvent(first_missing=5, last_missing=9).size == 5
    assert GapEvent(first_missing=5, last_missing=5).size == 1


def test_sync_handlers_run_inline_in_registration_order() -> None:
    registry = EventRegistry()
    calls: list[tuple[str, Any]] = []
    event = connected()
    registry.add("connected", lambda e: calls.append(("a", e)))
    registry.add("connected", lambda e: calls.append(("b", e)))
    registry.emit("connected", event)
    assert calls == [("a", event), ("b", event)]
    registry.emit("closed", event)  # no handler: nothing happens
    assert len(calls) == 2


async def test_async_handlers_run_as_tasks() -> None:
    registry = EventRegistry()
    started = asyncio.Event()
    release = asyncio.Event()
    done: list[Any] = []

    async def slow(event: Any) -> None:
        started.set()
        await release.wait()
        done.append(event)

    registry.add("connected", slow)
    registry.emit("connected", connected())  # returns at once: the handler is a task
    assert done == []
    async with asyncio.timeout(5):
        await started.wait()
    release.set()
    await registry.drain(5)
    assert len(done) == 1


def test_failing_sync_handler_is_isolated_and_reported() -> None:
    failures = Failures()
    registry = EventRegistry(failures)
    calls: list[str] = []

    def bad(event: Any) -> None:
        raise ValueError("boom")

    registry.add("connected", lambda e: calls.append("before"))
    registry.add("connected", bad)
    registry.add("connected", lambda e: calls.append("after"))
    registry.emit("connected", connected())
    registry.emit("connected", connected())
    assert calls == ["before", "after", "before", "after"]
    assert registry.handler_errors == 2
    assert len(failures.calls) == 2
    exc, context = failures.calls[0]
    assert isinstance(exc, ValueError)
    assert "connected" in context
    assert "bad" in context


async def test_failing_async_handler_is_isolated_and_reported() -> None:
    failures = Failures()
    registry = EventRegistry(failures)

    async def bad(event: Any) -> None:
        await asyncio.sleep(0)
        raise KeyError("late")

    registry.add("gap", bad)
    registry.emit("gap", GapEvent(first_missing=1, last_missing=2))
    await registry.drain(5)
    assert registry.handler_errors == 1
    assert isinstance(failures.calls[0][0], KeyError)


def test_failing_error_handler_does_not_recurse() -> None:
    failures = Failures()
    registry = EventRegistry(failures)

    def bad(event: Any) -> None:
        raise RuntimeError("in the error handler")

    registry.add("error", bad)
    registry.emit("error", ErrorEvent(error=ValueError("x")))
    assert registry.handler_errors == 1
    assert failures.calls == []  # not re-emitted as another error event


def test_handler_may_remove_itself_while_emitting() -> None:
    registry = EventRegistry()
    calls: list[str] = []

    def once(event: Any) -> None:
        calls.append("once")
        registry.remove("connected", once)

    registry.add("connected", once)
    registry.add("connected", lambda e: calls.append("other"))
    registry.emit("connected", connected())
    registry.emit("connected", connected())
    assert calls == ["once", "other", "other"]


def test_unknown_event_name_is_a_value_error() -> None:
    registry = EventRegistry()
    with pytest.raises(ValueError, match="unknown event 'conected'"):
        registry.add("conected", print)


def test_handler_must_be_callable() -> None:
    registry = EventRegistry()
    with pytest.raises(TypeError):
        registry.add("connected", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        registry.add_type(int, 3)  # type: ignore[arg-type]


def test_remove_and_has() -> None:
    registry = EventRegistry()

    def handler(event: Any) -> None:
        pass

    assert not registry.has("connected")
    registry.add("connected", handler)
    assert registry.has("connected")
    assert registry.remove("connected", handler)
    assert not registry.has("connected")
    assert not registry.remove("connected", handler)
    assert not registry.remove("gap", handler)


async def test_drain_is_bounded() -> None:
    registry = EventRegistry()
    never = asyncio.Event()

    async def stuck(event: Any) -> None:
        await never.wait()

    registry.add("connected", stuck)
    registry.emit("connected", connected())
    started = time.monotonic()
    await registry.drain(0.05)
    assert time.monotonic() - started < 1.0
    never.set()
    await registry.drain(5)


# -- typed dispatch -----------------------------------------------------------------------


class Base:
    pass


class Child(Base):
    pass


def test_typed_dispatch_follows_the_class_hierarchy() -> None:
    registry = EventRegistry()
    calls: list[tuple[str, object]] = []
    registry.add_type(Base, lambda m: calls.append(("base", m)))
    registry.add_type(Child, lambda m: calls.append(("child", m)))
    assert registry.has_typed
    child, base = Child(), Base()
    registry.dispatch(child)
    registry.dispatch(base)
    registry.dispatch(3)  # no handler for int
    assert calls == [("child", child), ("base", child), ("base", base)]


def test_typed_handler_failure_is_isolated() -> None:
    failures = Failures()
    registry = EventRegistry(failures)
    calls: list[object] = []

    def bad(msg: object) -> None:
        raise ValueError("typed")

    registry.add_type(Base, bad)
    registry.add_type(Base, calls.append)
    registry.dispatch(Base())
    assert len(calls) == 1
    assert registry.handler_errors == 1
    assert "Base" in failures.calls[0][1]


def test_remove_typed_handler_invalidates_the_cache() -> None:
    registry = EventRegistry()
    calls: list[object] = []
    registry.add_type(Base, calls.append)
    registry.dispatch(Child())
    assert registry.remove_type(Base, calls.append)
    assert not registry.remove_type(Base, calls.append)
    registry.dispatch(Child())
    assert len(calls) == 1
    assert not registry.has_typed


def test_reconnecting_event_fields() -> None:
    err = OSError("refused")
    event = ReconnectingEvent(attempt=2, delay=0.25, error=err)
    assert (event.attempt, event.delay, event.error) == (2, 0.25, err)
