"""Integration tests run on both asyncio's default loop and uvloop (where installed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest

_new_uvloop: Callable[[], asyncio.AbstractEventLoop] | None = None
try:
    import uvloop

    _new_uvloop = uvloop.new_event_loop
except ImportError:  # pragma: no cover - uvloop is in the dev extra on Linux
    pass


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]] | None:
    """Parametrize every async integration test over the available event loops."""
    factories: dict[str, Callable[[], Any]] = {"asyncio": asyncio.new_event_loop}
    if _new_uvloop is not None:
        factories["uvloop"] = _new_uvloop
    return factories
