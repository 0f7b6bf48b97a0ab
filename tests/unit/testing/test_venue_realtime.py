"""The OpenAI Realtime fake under faults: a kill mid-response, malformed and unknown events."""

from __future__ import annotations

import asyncio
import json

import pytest
from _wire import T, drain, recv
from websockets.asyncio.client import connect

from jetsocket.testing import RealtimeVenue


async def test_kill_mid_response_and_a_fresh_session_after_it() -> None:
    async with RealtimeVenue() as venue:
        async with connect(venue.uri) as ws:
            created = await recv(ws)
            assert created["type"] == "session.created"
            await ws.send(json.dumps({"type": "session.update", "session": {"instructions": "Hi"}}))
            await recv(ws)
            await ws.send(json.dumps({"type": "response.create"}))
            assert (await recv(ws))["type"] == "response.created"
            await venue.kill_all()
            events, _ = await drain(ws)
            kinds = {e["type"] for e in events}
            tail = {"response.text.delta", "response.text.done", "response.done"}
            assert kinds <= tail | {"rate_limits.updated"}
        async with connect(venue.uri) as ws:
            again = await recv(ws)
            assert again["session"]["id"] != created["session"]["id"]
            assert again["session"]["instructions"] == ""  # nothing survives a reconnect
            assert await venue.send_unknown() == 1
            unknown = await recv(ws)
            assert unknown["type"] not in ("error", "session.created")
            assert await venue.send_malformed() == 1
            with pytest.raises(json.JSONDecodeError):
                json.loads(await asyncio.wait_for(ws.recv(), T))


async def test_ga_event_names() -> None:
    async with RealtimeVenue(event_names="ga") as venue, connect(venue.uri) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "session.update", "session": {}}))
        await recv(ws)
        await ws.send(json.dumps({"type": "response.create"}))
        kinds: list[str] = []
        while not kinds or kinds[-1] != "response.done":
            kinds.append((await recv(ws))["type"])
        assert "response.output_text.delta" in kinds
        assert "response.output_text.done" in kinds
        assert "response.text.delta" not in kinds
