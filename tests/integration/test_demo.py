"""End-to-end tests of the command line: ``python -m jetsocket demo`` and ``connect``."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import jetsocket
from jetsocket.testing import ExchangeSimulator

try:
    from jetsocket import WebSocket  # noqa: F401
except ImportError:  # the client is not written yet
    HAVE_CLIENT = False
else:
    HAVE_CLIENT = True

pytestmark = pytest.mark.skipif(not HAVE_CLIENT, reason="jetsocket.WebSocket not importable")

TIMEOUT = 60.0


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jetsocket", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


async def run_cli_async(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run the CLI while this event loop keeps serving (e.g. a simulator)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jetsocket",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            out, err = await proc.communicate(stdin.encode())
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_demo_runs_and_reports_no_gap() -> None:
    result = run_cli("demo", "--duration", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    summary = [line for line in lines if line.startswith("summary:")]
    assert len(summary) == 1, result.stdout
    assert summary[0].startswith("summary: OK:")
    assert "0 sequence gaps" in summary[0]
    assert any(line.startswith("subscribed to 6 streams") for line in lines)
    assert any("msg/s" in line and line.startswith("[") for line in lines)  # progress
    assert any(line.startswith("client stats") for line in lines)
    assert any(line.strip().startswith("messages_received") for line in lines)
    assert "Traceback" not in result.stderr


def test_demo_options() -> None:
    result = run_cli(
        "demo", "--duration", "1", "--rate", "5", "--symbols", "solusdt", "--burst", "0"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "subscribed to 3 streams: solusdt@trade" in result.stdout
    assert "burst:" not in result.stdout


def test_demo_output_is_deterministic() -> None:
    def first_messages() -> list[str]:
        out = run_cli("demo", "--duration", "0.5", "--burst", "0", "--seed", "3").stdout
        return [line for line in out.splitlines() if line.startswith("  #")]

    first = first_messages()
    assert len(first) == 6
    assert first == first_messages()


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from jetsocket.__main__ import main  # noqa: PLC0415 - needs the client (skip above)

    for argv in (["demo", "--duration", "-1"], [], ["nope"], ["demo", "--rate", "x"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_console_script_entry_point() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == jetsocket.__version__


async def test_connect_sends_stdin_lines_and_prints_messages() -> None:
    async with ExchangeSimulator(rate=0, burst=5, seed=1) as sim:
        request = json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
        code, out, err = await run_cli_async(
            "connect", sim.uri, "--raw", "--linger", "2", stdin=request + "\n\n"
        )
        assert code == 0, out + err
        lines = out.splitlines()
        assert lines[0] == '{"result":null,"id":1}'
        assert len(lines) == 6
        assert [json.loads(line)["seq"] for line in lines[1:]] == [1, 2, 3, 4, 5]
        assert "connected to" in err


async def test_connect_url_shorthand_pretty_json() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim:
        request = '{"method": "LIST_SUBSCRIPTIONS", "id": 7}'
        code, out, err = await run_cli_async(sim.uri, "--linger", "2", stdin=request + "\n")
        assert code == 0, out + err
        assert out.splitlines() == ['{"result":[],"id":7}']


async def test_connect_reports_server_close() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim:
        proc = asyncio.create_task(run_cli_async("connect", sim.uri, "--linger", "30"))
        await sim.wait_for_connections(1, timeout=TIMEOUT)
        await sim.close_all(1011, "boom")
        code, _, err = await proc
        assert code == 1
        assert "1011" in err


def test_connect_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    result = run_cli("connect", f"ws://127.0.0.1:{port}/")
    assert result.returncode == 1
    assert "connect failed" in result.stderr


def test_example_simulator_feed_runs() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "simulator_feed.py"
    result = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "over 2 connections, 0 gaps" in result.stdout
