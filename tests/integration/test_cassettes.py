"""Cassettes end to end: record real sessions on loopback, replay them to real clients."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

import jetsocket
from jetsocket._protocol._open import open_connection
from jetsocket.testing import (
    Call,
    Cassette,
    CassetteMismatchError,
    CloseWith,
    Drop,
    Echo,
    Recorder,
    RecordingProxy,
    Reject,
    ReplayServer,
    ScriptedServer,
    Send,
    SendMany,
    WaitForClientMessage,
)

TIMEOUT = 5.0


def write(path: Path, *objs: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return path


HEADER = {
    "format": "jetsocket-cassette",
    "version": 1,
    "url": "wss://venue.example:443/ws",
    "recorded_at": "2026-01-01T00:00:00+00:00",
    "handshake": {"status": 101, "path": "/ws"},
}


class Listener:
    def __init__(self) -> None:
        self.messages: list[bytes | str] = []
        self.changed = asyncio.Event()
        self.lost = asyncio.Event()

    def on_messages(self, messages: list[bytes | str]) -> None:
        self.messages += messages
        self.changed.set()

    def on_ping(self, payload: bytes) -> None:
        pass

    def on_pong(self, payload: bytes) -> None:
        pass

    def on_connection_lost(self, exc: Exception) -> None:
        self.lost.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            while len(self.messages) < count:
                self.changed.clear()
                await self.changed.wait()


async def fragmented(conn: ServerConnection) -> None:
    await conn.send(iter(["frag", "mented"]))


async def server_ping(conn: ServerConnection) -> None:
    await conn.ping(b"server-ping")


# -- recording ------------------------------------------------------------------------------


async def test_tap_records_every_kind_of_frame_in_wire_order(tmp_path: Path) -> None:
    script = [
        Send({"hello": 1}),
        WaitForClientMessage(),
        Call(fragmented),
        Send(b"\x00\x01\x02"),
        Send("z" * 5000),  # compressed by the server (permessage-deflate)
        Call(server_ping),
        CloseWith(4001, "done here"),
    ]
    path = tmp_path / "tape.jsonl"
    async with ScriptedServer(script) as server:
        listener = Listener()
        with Recorder(path) as recorder:
            conn = await open_connection(
                server.uri,
                listener,
                text_as_str=True,
                max_message_size=1 << 20,
                compression_threshold=0,  # the client's messages are compressed too
                tap=recorder.tap(server.uri),
            )
            conn.send_message(b'{"op":"subscribe","args":["x"]}', True)
            await listener.wait_for(4)
            async with asyncio.timeout(TIMEOUT):
                await listener.lost.wait()
            assert await recorder.wait_idle(TIMEOUT)
        assert recorder.errors == []
    cassette = Cassette.load(path)
    (session,) = cassette.sessions
    assert session.handshake.status == 101
    assert session.handshake.extensions is not None
    assert "permessage-deflate" in session.handshake.extensions
    summary = [(f.sender, f.kind, f.payload if f.is_data else f.code) for f in session.frames]
    assert summary[:6] == [
        ("server", "text", '{"hello":1}'),
        ("client", "text", '{"op":"subscribe","args":["x"]}'),
        ("server", "text", "fragmented"),
        ("server", "binary", b"\x00\x01\x02"),
        ("server", "text", "z" * 5000),
        ("server", "ping", None),
    ]
    # The ping and the close may arrive in one read: the pong is then written after it.
    assert sorted(summary[6:], key=str) == [
        ("client", "close", 4001),
        ("client", "pong", None),
        ("server", "close", 4001),
    ]
    assert session.frames[5].data == b"server-ping"
    close = next(f for f in session.frames if f.kind == "close" and f.sender == "server")
    assert close.text == "done here"
    assert session.end == "closed"
    times = [f.t for f in session.frames]
    assert times == sorted(times)


async def test_no_credential_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tape.jsonl"
    uri_secret, header_secret, declared = "q-s3cr3t-value", "h-t0ken-value", "d-api-key-value"
    async with ScriptedServer([Echo()]) as server:
        uri = f"{server.uri}?listenKey={uri_secret}"
        listener = Listener()
        headers = {"Authorization": f"Bearer {header_secret}"}
        with Recorder(path, headers=headers, secrets=[declared]) as recorder:
            conn = await open_connection(
                uri,
                listener,
                text_as_str=True,
                max_message_size=1 << 20,
                extra_headers=headers,
                tap=recorder.tap(uri),
            )
            sent = [
                {"op": "auth", "args": [declared, 1700000000, "signature-abcdef"]},
                {"op": "echo", "key": uri_secret, "note": f"my token is {header_secret}"},
                {"op": "echo", "values": [declared]},
            ]
            for message in sent:
                conn.send_message(json.dumps(message).encode(), True)
            conn.send_message(f"raw {declared}".encode(), False)
            await listener.wait_for(len(sent) + 1)
            await conn.close()
            assert await recorder.wait_idle(TIMEOUT)
    text = path.read_text()
    for secret in (uri_secret, header_secret, declared, "signature-abcdef"):
        assert secret not in text
    frames = Cassette.load(path).sessions[0].frames
    first = json.loads(frames[0].text)
    assert first == {"op": "auth", "args": ["***", "***", "***"]}
    assert frames[-1].sender == "server"


# -- replaying ------------------------------------------------------------------------------


async def test_round_trip_through_a_recording_proxy_then_a_replay(tmp_path: Path) -> None:
    script = [
        Send({"type": "welcome"}),
        WaitForClientMessage(),
        SendMany(lambda i: {"seq": i}, count=50),
        Send(b"\xde\xad"),
        WaitForClientMessage(),
        CloseWith(4000, "session over"),
    ]
    path = tmp_path / "tape.jsonl"

    async def client(uri: str) -> tuple[list[Any], int]:
        got: list[Any] = []
        async with jetsocket.WebSocket(uri, raw=True, reconnect=False) as ws:
            got.append(await ws.recv(timeout=TIMEOUT))
            await ws.send_raw('{"op":"subscribe"}')
            for _ in range(51):
                got.append(await ws.recv(timeout=TIMEOUT))
            await ws.send_raw("bye")
            with pytest.raises(jetsocket.ConnectionClosedError) as closed:
                await ws.recv(timeout=TIMEOUT)
        return got, closed.value.code

    async with ScriptedServer(script) as server, RecordingProxy(server.uri, path) as proxy:
        assert proxy.recording
        recorded, code = await client(proxy.uri)
    assert code == 4000
    assert recorded[0] == '{"type":"welcome"}'
    assert recorded[-1] == b"\xde\xad"
    async with ReplayServer(path, speed="max") as replay:
        assert not replay.recording
        replayed, code = await client(replay.uri)
        await replay.wait_for(lambda: replay.ended == 1, timeout=TIMEOUT)
    assert replayed == recorded
    assert code == 4000
    assert replay.mismatches == []
    assert (replay.played, replay.matched, replay.finished) == (52, 2, 1)
    replay.check()


async def test_recording_straight_from_a_websocket_with_wire_tap(tmp_path: Path) -> None:
    # Issue 13 part 1: record from the client itself (an option), then replay offline.
    script = [Send({"type": "welcome"}), WaitForClientMessage(), SendMany(range(5), count=5)]
    path = tmp_path / "direct.jsonl"

    async def client(uri: str, **options: Any) -> list[Any]:
        async with jetsocket.WebSocket(uri, reconnect=False, **options) as ws:
            got = [await ws.recv(timeout=TIMEOUT)]
            await ws.send({"op": "subscribe"})
            got += [await ws.recv(timeout=TIMEOUT) for _ in range(5)]
        return got

    async with ScriptedServer(script) as server:
        with Recorder(path) as recorder:
            recorded = await client(server.uri, wire_tap=recorder.tap)
            assert await recorder.wait_idle(TIMEOUT)
    assert recorded == [{"type": "welcome"}, 0, 1, 2, 3, 4]
    async with ReplayServer(path, speed="max") as replay:
        assert await client(replay.uri) == recorded
    assert replay.mismatches == []


async def test_replay_waits_for_the_client_then_keeps_the_recorded_pace(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tape.jsonl",
        HEADER,
        {"t": 0.0, "from": "server", "text": "a"},
        {"t": 1.0, "from": "client", "text": "go"},
        {"t": 1.3, "from": "server", "text": "b"},
        {"t": 1.3, "from": "server", "text": "c"},
    )
    async with (
        ReplayServer(path, speed=1) as replay,
        jetsocket.WebSocket(replay.uri, raw=True, reconnect=False) as ws,
    ):
        assert await ws.recv(timeout=TIMEOUT) == "a"
        # "b" was recorded after the client's "go": nothing comes before it is sent.
        with pytest.raises(jetsocket.TimeoutError):
            await ws.recv(timeout=0.5)
        sent = time.monotonic()
        await ws.send_raw("go")
        assert await ws.recv(timeout=TIMEOUT) == "b"
        # 0.3 s after "go" in the recording (a lower bound only: machines are slow).
        assert time.monotonic() - sent >= 0.25
        assert await ws.recv(timeout=TIMEOUT) == "c"
    assert replay.mismatches == []


async def test_unexpected_client_message_closes_with_1008_and_fails_the_check(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "tape.jsonl",
        HEADER,
        {"t": 0.0, "from": "client", "text": '{"op":"subscribe","args":["BTC"],"key":"***"}'},
        {"t": 0.1, "from": "server", "text": '{"ok":true}'},
    )
    async with ReplayServer(path, speed="max") as replay:
        async with jetsocket.WebSocket(replay.uri, reconnect=False) as ws:
            # A redacted value matches any value.
            await ws.send({"op": "subscribe", "args": ["BTC"], "key": "anything"})
            assert await ws.recv(timeout=TIMEOUT) == {"ok": True}
            await ws.send({"op": "subscribe", "args": ["ETH"]})  # not in the cassette
            with pytest.raises(jetsocket.ConnectionClosedError) as closed:
                await ws.recv(timeout=TIMEOUT)
        assert closed.value.code == 1008
        async with jetsocket.WebSocket(replay.uri, reconnect=False) as ws:
            await ws.send({"op": "subscribe", "args": ["ETH"], "key": "k"})
            with pytest.raises(jetsocket.ConnectionClosedError):
                await ws.recv(timeout=TIMEOUT)
    assert len(replay.mismatches) == 2
    assert "unexpected message after the cassette's end" in replay.mismatches[0]
    assert '"ETH"' in replay.mismatches[0]
    assert "client message #1 differs" in replay.mismatches[1]
    assert 'expected: {"op":"subscribe","args":["BTC"],"key":"***"}' in replay.mismatches[1]
    with pytest.raises(CassetteMismatchError, match="deviated"):
        replay.check()


async def test_ignored_client_messages_are_neither_expected_nor_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tape.jsonl",
        HEADER,
        {"t": 0.0, "from": "client", "text": "ping"},
        {"t": 0.0, "from": "server", "text": "pong"},
        {"t": 0.1, "from": "client", "text": "sub"},
        {"t": 0.2, "from": "server", "text": "data"},
    )
    async with (
        ReplayServer(path, speed="max", ignore=lambda m: m == "ping") as replay,
        jetsocket.WebSocket(replay.uri, raw=True, reconnect=False) as ws,
    ):
        assert await ws.recv(timeout=TIMEOUT) == "pong"
        await ws.send_raw("ping")
        await ws.send_raw("ping")
        await ws.send_raw("sub")
        assert await ws.recv(timeout=TIMEOUT) == "data"
    assert replay.mismatches == []


async def test_refused_upgrade_is_recorded_and_replayed(tmp_path: Path) -> None:
    path = tmp_path / "tape.jsonl"
    async with (
        ScriptedServer([Reject(401, body=b"invalid api key")]) as server,
        RecordingProxy(server.uri, path) as proxy,
    ):
        with pytest.raises(jetsocket.HandshakeError) as refused:
            await jetsocket.WebSocket(proxy.uri, reconnect=False).connect()
        assert refused.value.status_code == 401
        await proxy.recorder.wait_idle(TIMEOUT)
    (session,) = Cassette.load(path).sessions
    assert (session.handshake.status, session.handshake.body) == (401, "invalid api key")
    async with ReplayServer(path) as replay:
        with pytest.raises(jetsocket.HandshakeError) as refused:
            await jetsocket.WebSocket(replay.uri, reconnect=False).connect()
    assert refused.value.status_code == 401
    assert refused.value.body == b"invalid api key"


async def test_a_drop_and_the_reconnect_are_replayed_connection_by_connection(
    tmp_path: Path,
) -> None:
    scripts: list[list[Any]] = [
        [Send({"n": 1}), WaitForClientMessage(), Drop()],
        [Send({"n": 2})],
    ]
    path = tmp_path / "tape.jsonl"
    backoff = jetsocket.BackoffConfig(base=0.01, cap=0.05, seed=1)

    async def client(uri: str) -> list[Any]:
        async with jetsocket.WebSocket(uri, backoff=backoff) as ws:
            first = await ws.recv(timeout=TIMEOUT)
            await ws.send({"ack": 1})
            return [first, await ws.recv(timeout=TIMEOUT)]

    async with ScriptedServer(scripts) as server:
        async with RecordingProxy(server.uri, path) as proxy:
            assert await client(proxy.uri) == [{"n": 1}, {"n": 2}]
    first, second = Cassette.load(path).sessions
    assert first.end == "dropped"
    assert [f.text for f in second.frames if f.is_data][:1] == ['{"n":2}']
    async with ReplayServer(path, speed="max") as replay:
        assert await client(replay.uri) == [{"n": 1}, {"n": 2}]
        assert replay.connections == 2
    assert replay.mismatches == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayServer(Cassette(None, "", (Cassette.parse(json.dumps(HEADER)).sessions)), speed=0)
    with pytest.raises(ValueError, match="no connection"):
        ReplayServer(Cassette(None, "", ()))
    with pytest.raises(ValueError, match="ws:// or wss://"):
        RecordingProxy("http://example.com", "x.jsonl")


# -- the command line -----------------------------------------------------------------------


async def test_cli_record_then_replay(tmp_path: Path) -> None:
    path = tmp_path / "tape.jsonl"
    script = [Send({"hello": 1}), WaitForClientMessage(), SendMany(lambda i: {"n": i}, count=30)]
    async with ScriptedServer(script) as server:
        record = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jetsocket",
            "record",
            f"{server.uri}?apikey=SECRET-IN-URL",
            "-o",
            str(path),
            "--send",
            '{"op":"subscribe","args":["btc"]}',
            "--count",
            "11",
            "-H",
            "X-Api-Key: SECRET-HEADER",
            "--secret",
            "btc",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(record.communicate(), 60)
    assert record.returncode == 0, err.decode()
    assert "11 messages received" in err.decode()
    text = path.read_text()
    assert "SECRET" not in text
    assert "SECRET" not in err.decode()
    (session,) = Cassette.load(path).sessions
    data = [f for f in session.frames if f.is_data]
    sent = [f.text for f in data if f.sender == "client"]
    assert sent == ['{"op":"subscribe","args":["***"]}']  # --secret btc
    assert len(data) == 12
    assert session.end == "closed"

    replay = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jetsocket",
        "replay",
        str(path),
        "--speed",
        "max",
        "--once",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert replay.stdout is not None
    uri = (await asyncio.wait_for(replay.stdout.readline(), 60)).decode().strip()
    assert uri.startswith("ws://127.0.0.1:")
    async with jetsocket.WebSocket(uri, reconnect=False) as ws:
        # Sent at once, as `record --send` did (before or after the hello: either order).
        await ws.send({"op": "subscribe", "args": ["eth"]})
        assert await ws.recv(timeout=TIMEOUT) == {"hello": 1}
        got = [await ws.recv(timeout=TIMEOUT) for _ in range(10)]
    assert got == [{"n": i} for i in range(10)]
    _, err = await asyncio.wait_for(replay.communicate(), 60)
    assert replay.returncode == 0, err.decode()
    assert "1/1 client messages matched" in err.decode()


async def test_cli_replay_once_fails_on_a_deviation(tmp_path: Path) -> None:
    path = write(tmp_path / "tape.jsonl", HEADER, {"t": 0.0, "from": "client", "text": "expected"})
    replay = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jetsocket",
        "replay",
        str(path),
        "--once",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert replay.stdout is not None
    uri = (await asyncio.wait_for(replay.stdout.readline(), 60)).decode().strip()
    async with jetsocket.WebSocket(uri, raw=True, reconnect=False) as ws:
        await ws.send_raw("something else")
        with pytest.raises(jetsocket.ConnectionClosedError):
            await ws.recv(timeout=TIMEOUT)
    _, err = await asyncio.wait_for(replay.communicate(), 60)
    assert replay.returncode == 1
    assert "client message #1 differs from the cassette" in err.decode()


def test_cli_replay_refuses_a_file_that_is_not_a_cassette(tmp_path: Path) -> None:
    from jetsocket._cli import main  # noqa: PLC0415

    path = tmp_path / "not.jsonl"
    path.write_text('{"hello": 1}\n')
    assert main(["replay", str(path)]) == 2
