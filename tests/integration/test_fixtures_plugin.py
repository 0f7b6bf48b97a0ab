"""The pytest plugin users enable with ``pytest_plugins = ["jetsocket.testing.fixtures"]``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
