"""Shared by the fake-venue unit tests: read JSON messages from a plain websockets client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

__all__ = ["T", "drain", "recv", "recv_until"]

T = 5.0  # seconds any single read may take


async def recv(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), T))


async def drain(ws: ClientConnection) -> tuple[list[Any], ConnectionClosed]:
    """Every message until the connection ends, and how it ended."""
    got: list[Any] = []
    while True:
        try:
            got.append(await recv(ws))
        except ConnectionClosed as closed:
            return got, closed


async def recv_until(ws: ClientConnection, pred: Callable[[Any], bool]) -> Any:
    """The first message satisfying ``pred`` (the ones before it are skipped)."""
    while True:
        msg = await recv(ws)
        if pred(msg):
            return msg
