"""Shared by the integration tests: an event recorder that tests await, and small helpers."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any

import jetsocket
from jetsocket import ConnectionState
from jetsocket._engine._events import EventName

__all__ = ["Recorder", "seqs", "state_of", "until"]


class Recorder:
    """Records a client's events with their ``time.monotonic()``; tests await them."""

    def __init__(self, ws: jetsocket.WebSocket[Any], *names: EventName) -> None:
        self.events: dict[str, list[Any]] = {name: [] for name in names}
        self.times: dict[str, list[float]] = {name: [] for name in names}
        self._changed = asyncio.Event()
        for name in names:
            ws.add_handler(name, functools.partial(self._record, name))

    def _record(self, name: str, event: Any) -> None:
        self.events[name].append(event)
        self.times[name].append(time.monotonic())
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, name: str, count: int = 1, timeout: float = 5.0) -> Any:
        """Wait for the ``count``-th ``name`` event and return it."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.events[name]) < count:
                    await self._changed.wait()
        except TimeoutError:
            seen = {k: len(v) for k, v in self.events.items()}
            raise AssertionError(f"{count} x {name!r} not seen in {timeout}s: {seen}") from None
        return self.events[name][count - 1]


async def until(predicate: Callable[[], bool], recorder: Recorder, timeout: float = 5.0) -> None:
    """Wait until ``predicate()``, re-checked after each event the recorder sees."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await recorder._changed.wait()


def state_of(ws: jetsocket.WebSocket[Any]) -> ConnectionState:
    """The state, through a call so mypy does not narrow it across awaits."""
    return ws.state


def seqs(messages: list[Any], key: str = "n") -> list[int]:
    return [m[key] for m in messages]
