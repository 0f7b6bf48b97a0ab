"""The pytest plugin users enable with ``pytest_plugins = ["jetsocket.testing.fixtures"]``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from jetsocket.testing import ScriptedServer, Send, WaitForClientMessage

TEST = """
import jetsocket
from jetsocket import BackoffConfig
from jetsocket.testing import Drop, Send, WaitForClientMessage

pytest_plugins = ["jetsocket.testing.fixtures"]


async def test_survives_a_reset(scripted_server, fault_proxy):
    server = await scripted_server(
        [[Send({"n": 1}), WaitForClientMessage(), Drop()], [Send({"n": 2})]]
    )
    proxy = await fault_proxy(server)
    async with jetsocket.WebSocket(proxy.uri, backoff=BackoffConfig(base=0.01, seed=1)) as ws:
        assert await ws.recv(timeout=5) == {"n": 1}
        await ws.send("ack")
        assert await ws.recv(timeout=5) == {"n": 2}
"""


def test_user_suite_with_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(TEST)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            str(tmp_path / "test_user.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


# -- the cassette fixture -------------------------------------------------------------------

CASSETTE_TESTS = """
import os

import pytest

import jetsocket

URL = os.environ.get("VENUE_URL", "ws://127.0.0.1:9/unused")


async def test_feed(cassette):
    server = await cassette("cassettes/feed.jsonl", url=URL, secrets=["my-key-1234"])
    async with jetsocket.WebSocket(server.uri, reconnect=False) as ws:
        await ws.send({"op": "subscribe", "args": ["BTC"], "key": "my-key-1234"})
        assert await ws.recv(timeout=5) == {"subscribed": "BTC"}
        assert await ws.recv(timeout=5) == {"price": 1}


async def test_client_deviates(cassette):
    server = await cassette("cassettes/feed.jsonl", url=URL)
    async with jetsocket.WebSocket(server.uri, reconnect=False) as ws:
        await ws.send({"op": "subscribe", "args": ["ETH"], "key": "x"})
        with pytest.raises(jetsocket.ConnectionClosedError):
            await ws.recv(timeout=5)


async def test_never_recorded(cassette):
    await cassette("cassettes/missing.jsonl")
"""


def run_user_suite(path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            *args,
            str(path),
        ],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return result.stdout + result.stderr


async def test_cassette_fixture_records_on_demand_then_replays_offline(tmp_path: Path) -> None:
    test_file = tmp_path / "test_user_cassettes.py"
    test_file.write_text(CASSETTE_TESTS)
    # In the root conftest.py (as documented): --record-cassettes is known to pytest.
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["jetsocket.testing.fixtures"]\n')
    script = [WaitForClientMessage(), Send({"subscribed": "BTC"}), Send({"price": 1})]
    # Offline without a cassette: fails with a hint.
    output = await asyncio.to_thread(run_user_suite, test_file, "-k", "feed")
    assert "1 failed" in output, output
    assert "record it once with `pytest --record-cassettes`" in output
    async with ScriptedServer(script) as venue:
        env = {"VENUE_URL": venue.uri, "JETSOCKET_RECORD": "1"}
        output = await asyncio.to_thread(run_user_suite, test_file, "-k", "feed", env=env)
        assert "1 passed" in output, output
        assert venue.connections == 1
    cassette = tmp_path / "cassettes" / "feed.jsonl"
    assert "my-key-1234" not in cassette.read_text()
    # The venue is gone: the same test passes from the cassette; a deviation fails clearly.
    output = await asyncio.to_thread(run_user_suite, test_file)
    # test_client_deviates passes its own assertions, then errors at teardown.
    assert "1 failed, 2 passed, 1 error" in output, output
    assert "ERROR at teardown of test_client_deviates" in output
    assert "client message #1 differs from the cassette" in output
    assert '"ETH"' in output
    assert "cassettes/missing.jsonl not found" in output
    # --record-cassettes records too (the flag, not only the environment variable).
    async with ScriptedServer(script) as venue:
        output = await asyncio.to_thread(
            run_user_suite,
            test_file,
            "--record-cassettes",
            "-k",
            "feed",
            env={"VENUE_URL": venue.uri},
        )
        assert "1 passed" in output, output
        assert venue.connections == 1
