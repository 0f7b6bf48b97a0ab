"""SyncWebSocket: the blocking facade, against a websockets server on its own thread."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator

import msgspec
import pytest
from websockets.sync.server import Server, ServerConnection, serve

import jetsocket


class Tick(msgspec.Struct):
    s: str
    p: float


@pytest.fixture
def echo_uri() -> Iterator[str]:
    def handler(ws: ServerConnection) -> None:
        for msg in ws:
            ws.send(msg)

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        server.shutdown()
    thread.join(5)


def feed_server(messages: list[str], *, close_code: int = 1000) -> tuple[Server, str]:
    def handler(ws: ServerConnection) -> None:
        for m in messages:
            ws.send(m)
        ws.close(close_code)

    server = serve(handler, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"


def test_echo_and_stats(echo_uri: str) -> None:
    with jetsocket.SyncWebSocket(echo_uri) as ws:
        assert ws.is_connected
        ws.send({"a": 1})
        assert ws.recv(timeout=5) == {"a": 1}
        ws.send_raw(b"[1]")  # binary JSON decodes too
        assert ws.recv(timeout=5) == [1]
        assert ws.stats().messages_received == 2
    assert ws.state is jetsocket.ConnectionState.CLOSED


def test_iteration_typed_and_ends_on_clean_close() -> None:
    msgs = [json.dumps({"s": "BTC", "p": float(i)}) for i in range(1000)]
    server, uri = feed_server(msgs)
    try:
        with jetsocket.SyncWebSocket(uri, message_type=Tick, reconnect=False) as ws:
            got = list(ws)
        assert [t.p for t in got] == [float(i) for i in range(1000)]
    finally:
        server.shutdown()


def test_strict_decode_error_surfaces_in_consumer_thread() -> None:
    server, uri = feed_server(['{"s": "X", "p": "bad"}', '{"s": "Y", "p": 1}'])
    try:
        with jetsocket.SyncWebSocket(uri, message_type=Tick, reconnect=False) as ws:
            with pytest.raises(jetsocket.MessageDecodeError):
                ws.recv(timeout=5)
            assert ws.recv(timeout=5) == Tick("Y", 1.0)
    finally:
        server.shutdown()


def test_abnormal_close_raises_from_iteration() -> None:
    server, uri = feed_server(["1"], close_code=1011)
    try:
        with jetsocket.SyncWebSocket(uri, raw=True, reconnect=False) as ws:
            assert ws.recv(timeout=5) == "1"
            with pytest.raises(jetsocket.ConnectionClosedError):
                next(iter(ws))
    finally:
        server.shutdown()


def test_recv_timeout_is_builtin_timeout(echo_uri: str) -> None:
    with jetsocket.SyncWebSocket(echo_uri) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.05)
        assert list(ws.iter_messages(timeout=0.05)) == []


def test_close_from_other_thread_wakes_blocked_recv(echo_uri: str) -> None:
    ws = jetsocket.SyncWebSocket(echo_uri)
    ws.connect()
    blocked = threading.Event()
    result: list[BaseException] = []

    def consumer() -> None:
        blocked.set()
        try:
            ws.recv()
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=consumer)
    t.start()
    assert blocked.wait(5)
    ws.close()
    t.join(5)
    assert not t.is_alive()
    assert isinstance(result[0], jetsocket.ConnectionClosedError)


def test_iteration_ends_when_closed_from_other_thread(echo_uri: str) -> None:
    ws = jetsocket.SyncWebSocket(echo_uri, raw=True)
    ws.connect()
    done = threading.Event()
    got: list[object] = []

    def consumer() -> None:
        got.extend(ws)
        done.set()

    t = threading.Thread(target=consumer)
    t.start()
    ws.send("hello")
    ws.close()
    assert done.wait(5)
    t.join(5)


def test_concurrent_sends_keep_messages_whole(echo_uri: str) -> None:
    n_threads, per_thread = 4, 250
    with jetsocket.SyncWebSocket(echo_uri, raw=True) as ws:

        def sender(k: int) -> None:
            for i in range(per_thread):
                ws.send_raw(f"{k}:{i}:" + "x" * 500)

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        got = [ws.recv(timeout=5) for _ in range(n_threads * per_thread)]
    assert all(isinstance(m, str) and m.endswith("x" * 500) for m in got)
    for k in range(n_threads):
        mine = [m for m in got if isinstance(m, str) and m.startswith(f"{k}:")]
        assert [int(m.split(":")[1]) for m in mine] == list(range(per_thread))


def test_errors_and_states(echo_uri: str) -> None:
    ws = jetsocket.SyncWebSocket(echo_uri)
    with pytest.raises(jetsocket.InvalidStateError):
        ws.send("x")
    with pytest.raises(jetsocket.InvalidStateError):
        ws.recv(timeout=0.1)
    ws.connect()
    with pytest.raises(jetsocket.InvalidStateError):
        ws.connect()
    ws.close()
    ws.close()  # idempotent
    with pytest.raises(jetsocket.InvalidStateError, match="create a new one"):
        ws.connect()
    with pytest.raises(jetsocket.ConnectionClosedError):
        ws.recv(timeout=0.1)


def loop_threads() -> int:
    return sum(t.name.startswith("jetsocket-loop") for t in threading.enumerate())


def test_failed_connect_leaves_no_thread() -> None:
    ws = jetsocket.SyncWebSocket("ws://127.0.0.1:9/", connect_timeout=2)
    with pytest.raises(jetsocket.ConnectionError):
        ws.connect()
    assert loop_threads() == 0


def test_no_thread_leak_over_200_cycles(echo_uri: str) -> None:
    for _ in range(200):
        with jetsocket.SyncWebSocket(echo_uri, raw=True) as ws:
            ws.send("x")
            assert ws.recv(timeout=5) == "x"
    assert loop_threads() == 0


def test_unclosed_client_warns_and_stops_thread(echo_uri: str) -> None:
    ws = jetsocket.SyncWebSocket(echo_uri)
    ws.connect()
    assert loop_threads() == 1
    with pytest.warns(ResourceWarning):
        del ws
    gc.collect()
    assert loop_threads() == 0


def test_repr_redacts_query() -> None:
    ws = jetsocket.SyncWebSocket("ws://127.0.0.1:9/?apikey=SECRET")
    assert "SECRET" not in repr(ws)
