"""End-to-end tests of the command line: ``python -m jetsocket demo`` and ``connect``.

The commands run as subprocesses (the way users run them); the servers they talk to run
in the test's event loop on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve

import jetsocket
from jetsocket._cli import MessagePrinter, Redactor, _demo_book, main
from jetsocket._cli._demo import Books, StreamStats, Trades, fault_plan, parse_book, run_demo
from jetsocket.testing import BookDelta, BookSnapshot, ExchangeSimulator, FaultProxy, Trade

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


class Cli:
    """``python -m jetsocket ...`` driven line by line while this loop serves."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.err: list[str] = []

    @classmethod
    async def start(cls, *args: str) -> Cli:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jetsocket",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def expect_err(self, text: str, timeout: float = TIMEOUT) -> str:
        """Read stderr lines until one contains ``text``; return it."""
        assert self.proc.stderr is not None
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.proc.stderr.readline()).decode()
                if not line:
                    raise AssertionError(f"stderr ended before {text!r}: {self.err}")
                self.err.append(line)
                if text in line:
                    return line

    async def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def finish(self, *, close_stdin: bool = True) -> tuple[int, str, str]:
        """Wait for exit (closing stdin first unless told not to); return code, out, err."""
        proc = self.proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        if close_stdin:
            proc.stdin.close()
        try:
            async with asyncio.timeout(TIMEOUT):
                out, rest = await asyncio.gather(proc.stdout.read(), proc.stderr.read())
                code = await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        return code, out.decode(), "".join(self.err) + rest.decode()


async def run_cli_async(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """Run the CLI with ``stdin`` while this event loop keeps serving."""
    cli = await Cli.start(*args)
    assert cli.proc.stdin is not None
    cli.proc.stdin.write(stdin.encode())
    return await cli.finish()


@asynccontextmanager
async def echo_server(**kwargs: object) -> AsyncIterator[str]:
    """First sends the request (path, headers, subprotocol) as JSON, then echoes.

    ``close 1011`` makes it close with 1011.
    """

    async def handler(conn: ServerConnection) -> None:
        request = conn.request
        assert request is not None
        await conn.send(
            json.dumps(
                {
                    "path": request.path,
                    "headers": dict(request.headers.raw_items()),
                    "subprotocol": conn.subprotocol,
                }
            )
        )
        async for message in conn:
            if message == "close 1011":
                await conn.close(1011, "boom")
                return
            await conn.send(message)

    async with serve(handler, "127.0.0.1", 0, **kwargs) as server:  # type: ignore[arg-type]
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


# -- demo -------------------------------------------------------------------------------


def test_demo_survives_resets_and_half_open() -> None:
    result = run_cli("demo", "--duration", "6", "--burst", "3000")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in result.stderr
    lines = out.splitlines()
    summary = [line for line in lines if line.startswith("summary:")]
    assert len(summary) == 1, out
    assert summary[0].startswith("summary: OK:"), out
    assert ", 0 gaps, 0 lost" in summary[0]
    assert "2 resets + 1 half-open" in summary[0]
    match = re.search(r"(\d+) reconnects", summary[0])
    assert match is not None, summary[0]
    assert int(match.group(1)) >= 1, summary[0]
    assert any(line.startswith("half-open: detected by the heartbeat after") for line in lines)
    assert out.count("all back and resubscribed") == 3, out
    assert any(re.match(r"\[\s*\d+\.\ds\]\s+\d+ msg/s", line) for line in lines), out
    assert "first trade, a typed msgspec Struct: Trade(" in out
    assert "burst: " in out
    assert "FAILED" not in out
    # Ten streams in the table (nine feeds and the book), each with gaps 0 and lost 0 in its
    # last two columns.
    rows = [line.split() for line in lines if re.match(r"[a-z]+usdt@", line)]
    assert len(rows) == 10, out
    assert all(row[-2:] == ["0", "0"] for row in rows), out
    # "lost 0" counts everything: each stream resumed after its last seq after every fault,
    # and everything the simulator produced up to the end was received.
    delivery = next(line for line in lines if line.startswith("delivery: "))
    produced, received, missing = (
        int(n.replace(",", ""))
        for n in re.findall(r"([\d,]+) (?:messages on|received|missing)", delivery)
    )
    assert produced == received > 0, delivery
    assert missing == 0, delivery
    replayed = next(line for line in lines if line.startswith("replayed: "))
    assert int(replayed.split()[1].replace(",", "")) > 0, replayed  # the faults cut messages
    # The order book survived the injected gap and equals the simulator's at the end.
    assert any(
        line.startswith("book BTCUSDT: live, best ") and "equal to the simulator's book" in line
        for line in lines
    ), out
    assert "book gap: 1 injected (3 deltas withheld), 1 detected by the BookSync" in out
    assert "book BTCUSDT: RESYNCING" in out
    assert re.search(r"book BTCUSDT: live again after [\d.]+ ms, from a fresh snapshot", out)


def test_demo_without_faults_and_options() -> None:
    result = run_cli(
        "demo",
        "--duration",
        "1.5",
        "--rate",
        "10",
        "--symbols",
        "solusdt",
        "--burst",
        "0",
        "--no-faults",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "subscribed: solusdt@trade solusdt@kline_1m solusdt@bookTicker solusdt@book" in out
    assert "0 resets + 0 half-open, 0 reconnects" in out
    assert "equal to the simulator's book" in out
    assert "book gap:" not in out  # --no-faults: no gap injected either
    assert "burst:" not in out
    assert "half-open:" not in out


async def test_demo_fails_on_a_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message missing inside one connection makes the demo report it and exit 1."""
    observe = StreamStats.observe

    def skip_seq_5(self: StreamStats, seq: int) -> int:
        if self.name == "btcusdt@trade" and seq >= 5:
            seq += 1  # as if message 5 of this connection never arrived
        return observe(self, seq)

    monkeypatch.setattr(StreamStats, "observe", skip_seq_5)
    out = io.StringIO()
    code = await run_demo(
        duration=1.0, rate=20, symbols=("BTCUSDT",), burst=0, faults=False, out=out
    )
    text = out.getvalue()
    assert code == 1, text
    assert "summary: FAILED:" in text
    assert ", 1 gaps, 1 lost" in text
    assert "GAP in btcusdt@trade: 1 message(s) missing" in text


def test_fault_plan() -> None:
    assert fault_plan(12) == [(3.0, "reset"), (6.0, "half-open"), (9.0, "network")]
    assert [kind for _, kind in fault_plan(6)] == ["reset", "half-open", "network"]
    assert fault_plan(2) == []
    long = fault_plan(60)
    assert [kind for _, kind in long].count("half-open") == 1
    assert all(at <= 60 - 1.5 for at, _ in long)


def test_stream_stats_one_sequence_across_reconnects() -> None:
    # Issue 13: the simulator keeps one sequence per stream and the client resumes, so a
    # restart at 1 is no longer normal (it was: "a reconnect restarts at 1, not a gap").
    stats = StreamStats("btcusdt@trade")
    for seq in (41, 42, 43):  # the stream existed before the subscription
        assert stats.observe(seq) == 0
    assert (stats.first_seq, stats.last_seq, stats.gaps) == (41, 43, 0)
    assert stats.observe(1) == 0  # back to 1: a gap, nothing missing
    assert stats.gaps == 1
    assert stats.observe(2) == 0
    assert stats.observe(5) == 2  # 3 and 4 missing
    assert stats.observe(5) == 0  # a repeat is a gap too, with nothing missing
    assert (stats.received, stats.gaps, stats.lost) == (7, 3, 2)
    stats.restart()  # a book resync: the next message starts the stream again
    assert stats.observe(100) == 0
    assert (stats.gaps, stats.lost) == (3, 2)


async def test_demo_book_survives_an_injected_gap() -> None:
    out = io.StringIO()
    code = await run_demo(duration=4.0, rate=40, symbols=("ETHUSDT",), burst=400, out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "summary: OK: 4 streams, 4 s, 1 resets + 0 half-open" in text
    assert ", 0 gaps, 0 lost" in text
    assert "book gap: 1 injected (3 deltas withheld), 1 detected by the BookSync" in text
    assert "book ETHUSDT: live, best " in text
    assert "equal to the simulator's book at version " in text
    assert ", 0 missing" in text


@pytest.mark.parametrize("checksums", [True, False])
async def test_demo_fails_when_the_book_goes_wrong(
    monkeypatch: pytest.MonkeyPatch, checksums: bool
) -> None:
    """A book that applies deltas wrongly makes the demo exit 1.

    With the venue's checksums, each wrong delta is caught at once (and the book resyncs);
    without them, the final comparison with the simulator's book catches the difference.
    """

    def lossy(msg: object) -> object:
        update = parse_book(msg)
        if update is None:
            return None
        if isinstance(msg, BookDelta) and msg.version % 7 == 0:
            update = dataclasses.replace(update, bids=(), asks=(), checksum=None)  # forgotten
        return update if checksums else dataclasses.replace(update, checksum=None)

    monkeypatch.setattr(_demo_book, "parse_book", lossy)
    out = io.StringIO()
    code = await run_demo(
        duration=1.5, rate=40, symbols=("BTCUSDT",), burst=0, faults=False, out=out
    )
    text = out.getvalue()
    assert code == 1, text
    assert "summary: FAILED:" in text
    if checksums:
        assert re.search(r"FAILED: \d+ book checksum failures", text), text
        assert "book BTCUSDT: checksum failed: checksum" in text
    else:
        assert "DIFFERENT from the simulator's book" in text


def test_resume_position_in_the_subscription() -> None:
    sub = Books(symbol="BTCUSDT")
    assert sub.subscribe_message(1) == {"method": "SUBSCRIBE", "params": ["btcusdt@book"], "id": 1}
    assert sub == Books(symbol="BTCUSDT")  # the position is not part of its identity
    assert hash(sub) == hash(Books(symbol="BTCUSDT"))

    class Stream:
        last_sequence: int | None = 1234

    sub.resume.stream = Stream()  # type: ignore[assignment]
    assert sub.subscribe_message(2) == {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@book"],
        "id": 2,
        "resume": {"btcusdt@book": 1234},
    }
    snapshot = BookSnapshot(1, "BTCUSDT", 9, ((Decimal(1), Decimal(2)),), (), checksum=5, seq=9)
    update = parse_book(snapshot)
    assert update is not None
    assert update.snapshot
    assert (update.last, update.checksum) == (9, 5)
    assert parse_book(Trade(1, "BTCUSDT", 7, Decimal(1), Decimal(2), 1, False, seq=1)) is None


async def test_demo_live_view_and_plain_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    rich_console = pytest.importorskip("rich.console")
    from jetsocket._cli import _view_rich  # noqa: PLC0415 - needs rich

    # A StringIO is no terminal: make the live view draw into it as into one.
    def terminal(file: io.StringIO) -> object:
        return rich_console.Console(file=file, force_terminal=True, width=160)

    monkeypatch.setattr(_view_rich, "Console", terminal)
    out = io.StringIO()
    code = await run_demo(
        duration=1.2, rate=20, symbols=("BTCUSDT",), burst=0, faults=False, live=True, out=out
    )
    assert code == 0, out.getvalue()
    assert "order book BTCUSDT" in out.getvalue()  # the live frame was drawn
    assert "summary: OK:" in out.getvalue()
    # Without rich the demo falls back to plain lines.
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.delitem(sys.modules, "jetsocket._cli._view_rich", raising=False)
    out = io.StringIO()
    code = await run_demo(
        duration=1.2, rate=20, symbols=("BTCUSDT",), burst=0, faults=False, live=True, out=out
    )
    assert code == 0, out.getvalue()
    assert "msg/s  total" in out.getvalue()  # a plain progress line
    assert "order book BTCUSDT" not in out.getvalue()


def test_demo_subscription_declaration() -> None:
    sub = Trades(symbol="BTCUSDT")
    assert sub.topic == "btcusdt@trade"
    assert sub.subscribe_message(3) == {"method": "SUBSCRIBE", "params": [sub.topic], "id": 3}
    assert sub.parse_ack({"result": None, "id": 3}, 3) == jetsocket.schema.Ack(ok=True)
    assert sub.parse_ack({"result": None, "id": 2}, 3) is None
    refused = sub.parse_ack({"error": {"code": 1, "msg": "no"}, "id": 3}, 3)
    assert refused is not None
    assert not refused.ok
    assert refused.reason == "no"
    trade = Trade(1, "BTCUSDT", 7, Decimal("1.5"), Decimal("2"), 1, False, seq=42)
    assert sub.matches(trade)
    assert sub.sequence(trade) == 42
    assert not Trades(symbol="ethusdt").matches(trade)


# -- argument handling ------------------------------------------------------------------


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["demo", "--duration", "-1"],
        [],
        ["nope"],
        ["demo", "--rate", "x"],
        ["connect", "http://example.com/?token=abcdef"],
        ["connect", "ws://127.0.0.1:1/", "-H", "no-colon"],
        ["connect", "ws://127.0.0.1:1/", "--heartbeat", "0"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2, argv
    assert "abcdef" not in capsys.readouterr().err  # a mistyped URL is not echoed
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_console_script_entry_point() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    # The version, then the frame reader in use (issue 12: compiled scanner or pure).
    from jetsocket._protocol._reader import _SCAN_STATUS  # noqa: PLC0415

    assert result.stdout.splitlines() == [jetsocket.__version__, f"reader: {_SCAN_STATUS}"]


# -- output formatting ------------------------------------------------------------------


def test_message_printer() -> None:
    message = '{"p": "1.10", "q": 1.10, "n": [1e5, true, null], "k:": "a,b"}'
    compact = MessagePrinter(raw=False, pretty=False, color=False)
    # Numbers keep their text (no float round trip); one line per message.
    assert compact.format(message) == '{"p":"1.10","q":1.10,"n":[1e5,true,null],"k:":"a,b"}'
    assert compact.format("not json\nsecond line") == "not json\\nsecond line"
    assert compact.format(b"\x00\xff") == "<binary, 2 bytes> 00ff"
    pretty = MessagePrinter(raw=False, pretty=True, color=False)
    assert pretty.format(message) == json.dumps(json.loads(message), indent=2).replace(
        "1.1,", "1.10,"
    ).replace("100000.0", "1e5")
    colored = MessagePrinter(raw=False, pretty=True, color=True).format(message)
    assert '\x1b[34;1m"p"\x1b[0m: \x1b[32m"1.10"\x1b[0m' in colored  # key, string
    assert "\x1b[36m1e5\x1b[0m" in colored
    assert "\x1b[35mnull\x1b[0m" in colored
    assert '\x1b[34;1m"k:"\x1b[0m: \x1b[32m"a,b"\x1b[0m' in colored
    raw = MessagePrinter(raw=True, pretty=True, color=True)
    assert raw.format(message) == message
    assert raw.format(b"\x01\x02") == "0102"


def test_redactor() -> None:
    redact = Redactor(
        "wss://user:pa55word@example.com/ws?token=s3cr3t-token&v=1",
        {"Authorization": "Bearer abcdef123", "X-Trace": "visible-value"},
    )
    assert redact.url == "wss://example.com:443/ws?token=***&v=***"
    text = redact(
        "wss://user:pa55word@example.com/ws?token=s3cr3t-token&v=1 said s3cr3t-token, "
        "pa55word, abcdef123 and visible-value v=1"
    )
    assert "s3cr3t" not in text
    assert "pa55word" not in text
    assert "abcdef123" not in text
    assert "visible-value" in text
    assert "v=1" in text
    assert text.startswith("wss://example.com:443/ws?token=***&v=***")
    proxied = Redactor("ws://h/", proxy="http://bob:hunter2pass@proxy:3128")
    assert proxied("proxy http://bob:hunter2pass@proxy:3128 refused") == (
        "proxy http://bob:***@proxy:3128 refused"
    )


# -- connect ----------------------------------------------------------------------------


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
        assert "connecting to" in err
        assert "connected to" in err
        assert err.rstrip().endswith("closed: code 1000")


async def test_connect_url_shorthand_compact_json() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim:
        request = '{"method": "LIST_SUBSCRIPTIONS", "id": 7}'
        code, out, err = await run_cli_async(sim.uri, "--linger", "2", stdin=request + "\n")
        assert code == 0, out + err
        assert out.splitlines() == ['{"result":[],"id":7}']


async def test_connect_headers_and_subprotocol_reach_the_server() -> None:
    async with echo_server(subprotocols=["chat"]) as uri:
        code, out, err = await run_cli_async(
            "connect",
            uri + "/feed",
            "-H",
            "X-Demo: yes please",
            "--header",
            "X-Other:2",
            "--subprotocol",
            "chat",
            "--linger",
            "2",
            stdin="hello\n",
        )
    assert code == 0, out + err
    first, echoed = out.splitlines()
    request = json.loads(first)
    assert request["path"] == "/feed"
    assert request["headers"]["X-Demo"] == "yes please"
    assert request["headers"]["X-Other"] == "2"
    assert request["subprotocol"] == "chat"
    assert echoed == "hello"
    assert "subprotocol chat" in err


async def test_connect_redacts_credentials_everywhere() -> None:
    async with echo_server() as uri:
        url = uri + "/feed?token=s3cr3t-token-value&lang=en"
        code, out, err = await run_cli_async(
            "connect",
            url,
            "-H",
            "Authorization: Bearer abcdef123456",
            "--linger",
            "2",
            stdin="my token is s3cr3t-token-value\n",
        )
    assert code == 0, out + err
    for secret in ("s3cr3t-token-value", "abcdef123456"):
        assert secret not in out
        assert secret not in err
    assert "/feed?token=***&lang=***" in err  # the URL as printed in the events
    request = json.loads(out.splitlines()[0])
    assert request["path"] == "/feed?token=***&lang=en"  # what the server echoed back
    assert request["headers"]["Authorization"] == "***"
    assert out.splitlines()[1] == "my token is ***"


async def test_connect_no_reconnect_exits_1_on_server_close() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim:
        cli = await Cli.start("connect", sim.uri, "--no-reconnect", "--linger", "30")
        await cli.expect_err("connected to")
        await sim.close_all(1011, "boom")
        # stdin stays open: the CLI must end because the server closed.
        code, _, err = await cli.finish(close_stdin=False)
    assert code == 1, err
    assert "disconnected: code 1011 (boom), by server; not reconnecting" in err
    assert "connection lost: connection closed by server: code 1011 (boom)" in err


async def test_connect_reports_server_close() -> None:
    """The server closes right after accepting, racing the client's opening.

    It used to hang 1 run in 2 (then exit 0 after --linger): a close arriving with or
    right after the 101 response was lost by the engine (fixed there), and the stdin
    thread could abort the interpreter at exit (fixed in the CLI: it reads with os.read).
    """
    async with ExchangeSimulator(rate=0, seed=1) as sim:
        for _ in range(3):
            proc = asyncio.create_task(
                run_cli_async("connect", sim.uri, "--no-reconnect", "--linger", "30")
            )
            await sim.wait_for_connections(1, timeout=TIMEOUT)
            await sim.close_all(1011, "boom")
            code, _, err = await proc
            assert code == 1, err
            assert "1011" in err
            await sim.wait_for(lambda: sim.connection_count == 0, timeout=TIMEOUT)


async def test_connect_normal_server_close_exits_0() -> None:
    async with ExchangeSimulator(rate=0, seed=1) as sim:
        cli = await Cli.start("connect", sim.uri, "--no-reconnect")
        await cli.expect_err("connected to")
        await sim.close_all(1001, "bye")
        code, _, err = await cli.finish(close_stdin=False)
    assert code == 0, err
    assert "disconnected: code 1001 (bye)" in err


async def test_connect_reconnects_by_default() -> None:
    async with echo_server() as uri:
        cli = await Cli.start("connect", uri)
        await cli.expect_err("connected to")
        await cli.send("close 1011")
        await cli.expect_err("disconnected: code 1011 (boom), by server; will reconnect")
        await cli.expect_err("reconnecting in")
        await cli.expect_err("reconnected after")
        await cli.send("still here")
        await cli.send("close 1011")
        await cli.expect_err("reconnected after")
        code, out, err = await cli.finish()
    assert code == 0, err
    assert "still here" in out.splitlines()


async def test_connect_heartbeat_detects_half_open() -> None:
    async with echo_server() as uri, FaultProxy(uri) as proxy:
        cli = await Cli.start("connect", proxy.uri_for("/"), "--heartbeat", "0.2")
        await cli.expect_err("connected to")
        proxy.blackhole()  # TCP stays up, nothing flows: only the heartbeat can tell
        line = await cli.expect_err("disconnected: code 1011", timeout=5.0)
        proxy.restore()
        code, _, err = await cli.finish()
    assert "will reconnect" in line
    assert code == 0, err


def test_connect_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    result = run_cli("connect", f"ws://127.0.0.1:{port}/?token=abcdef123")
    assert result.returncode == 1
    assert "connect failed" in result.stderr
    assert "abcdef123" not in result.stderr


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
