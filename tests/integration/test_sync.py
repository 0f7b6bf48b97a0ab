"""SyncWebSocket: the blocking facade, against a websockets server on its own thread."""

from __future__ import annotations

import gc
import itertools
import json
import threading
from collections.abc import Iterator

import msgspec
import pytest
from tests._binance import SeqTrades, Trade
from tests.conftest import sync_ws_server
from websockets.sync.server import Server, ServerConnection, serve

import jetsocket
from jetsocket.schema import Client


class Tick(msgspec.Struct):
    s: str
    p: float


@pytest.fixture
def echo_uri() -> Iterator[str]:
    def handler(ws: ServerConnection) -> None:
        for msg in ws:
            ws.send(msg)

    with sync_ws_server(handler) as uri:
        yield uri


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


# -- parity with the async API: on-open hooks, first events, batches, settings --------------


@pytest.fixture
def dropping_echo_uri() -> Iterator[str]:
    """Echoes text frames; the text ``drop`` closes the connection with 1011 (retried)."""

    def handler(ws: ServerConnection) -> None:
        for msg in ws:
            if msg == "drop":
                ws.close(1011, "dropped on request")
                return
            ws.send(msg)

    with sync_ws_server(handler) as uri:
        yield uri


def test_add_on_open_runs_before_delivery_on_every_connect(dropping_echo_uri: str) -> None:
    fast = jetsocket.BackoffConfig(base=0.01, cap=0.05, seed=1)
    opened: list[int] = []
    connected: list[jetsocket.ConnectedEvent] = []
    reconnected = threading.Event()
    with_coroutine: list[str] = []
    ws = jetsocket.SyncWebSocket(dropping_echo_uri, backoff=fast)

    # Registered before connect(): the first connection runs the hooks and the handler
    # sees the first `connected` event.
    @ws.on("connected")
    def on_connected(event: jetsocket.ConnectedEvent) -> None:
        connected.append(event)
        if len(connected) == 2:
            reconnected.set()

    def login() -> list[object]:
        opened.append(len(opened) + 1)
        return [{"login": len(opened)}, {"subscribe": len(opened)}]

    async def also_async(engine: jetsocket.WebSocket[object]) -> None:
        with_coroutine.append(engine.uri)

    ws.add_on_open(login)
    ws.add_on_open(also_async)
    with ws:
        assert len(connected) == 1
        # The hook's messages went out, in order, before anything was delivered.
        assert ws.recv(timeout=5) == {"login": 1}
        assert ws.recv(timeout=5) == {"subscribe": 1}
        ws.send_raw("drop")
        assert reconnected.wait(5)
        assert ws.recv(timeout=5) == {"login": 2}
        assert ws.recv(timeout=5) == {"subscribe": 2}
    assert opened == [1, 2]
    assert with_coroutine == [dropping_echo_uri] * 2


def test_batches_settings_and_subprotocol(echo_uri: str) -> None:
    with jetsocket.SyncWebSocket(echo_uri, heartbeat=5.0, compress=False) as ws:
        assert ws.settings.heartbeat is not None
        assert ws.settings.heartbeat.interval == 5.0
        assert ws.settings.connect.compress is False
        assert ws.subprotocol is None
        for i in range(50):
            ws.send({"i": i})
        got: list[object] = []
        batches = ws.batches()
        while len(got) < 50:
            batch = next(batches)
            assert batch  # never empty
            got.extend(batch)
        assert got == [{"i": i} for i in range(50)]
        ws.send({"last": True})
        assert next(batches) == [{"last": True}]
    assert list(batches) == []  # ends with the client


def test_batches_raise_a_decode_failure_at_its_position() -> None:
    good_bad_good = ['{"s": "A", "p": 1}', '{"s": "X", "p": "bad"}', '{"s": "B", "p": 2}']
    server, uri = feed_server(good_bad_good)
    try:
        with jetsocket.SyncWebSocket(uri, message_type=Tick, reconnect=False) as ws:
            seen: list[Tick] = []
            batches = ws.batches()
            while len(seen) < 1:
                seen.extend(next(batches))
            assert seen == [Tick("A", 1.0)]
            with pytest.raises(jetsocket.MessageDecodeError):
                next(batches)
            # Like any generator that raised, that one is done; a new one goes on.
            assert [t for batch in ws.batches() for t in batch] == [Tick("B", 2.0)]
    finally:
        server.shutdown()


# -- SyncClient / SyncStream: what Client and Stream offer, blocking ------------------------


class Venue(Client[Trade]):
    uri = "ws://127.0.0.1:9/"  # replaced per test
    ack_timeout = 0.2  # the class's; instances override it


@pytest.fixture
def venue_uri() -> Iterator[str]:
    """Acks SUBSCRIBE/UNSUBSCRIBE by id (not for symbols starting with ``mute``), then sends
    trades with sequence ids 0, 1, 2, 4 (one gap); answers ``PING`` with ``{"pong": id}``."""

    def handler(ws: ServerConnection) -> None:
        for raw in ws:
            req = json.loads(raw)
            method, rid = req.get("method"), req.get("id")
            if method == "PING":
                ws.send(json.dumps({"pong": rid}))
            elif method in ("SUBSCRIBE", "UNSUBSCRIBE"):
                symbol = req["params"][0].removesuffix("@trade")
                if symbol.startswith("mute"):
                    continue
                ws.send(json.dumps({"result": None, "id": rid}))
                if method == "SUBSCRIBE":
                    for seq in (0, 1, 2, 4):
                        ws.send(json.dumps({"e": "trade", "s": symbol, "p": seq, "seq": seq}))

    with sync_ws_server(handler) as uri:
        yield uri


def test_sync_client_offers_the_client_api(venue_uri: str) -> None:
    with Venue.sync(uri=venue_uri, ack_timeout=3.0, heartbeat=10.0) as bn:
        assert not bn.subscriptions
        btc = bn.subscribe(SeqTrades(symbol="BTC"))
        assert bn.subscriptions == (SeqTrades(symbol="BTC"),)
        assert [btc.recv(timeout=5).seq for _ in range(4)] == [0, 1, 2, 4]
        # The stream's counters, as on the async Stream.
        assert (btc.received, btc.gaps, btc.last_sequence, btc.dropped) == (4, 1, 4, 0)
        eth = bn.subscribe(SeqTrades(symbol="ETH"))
        got: list[int] = []
        for batch in eth.batches():
            assert batch
            got.extend(t.seq for t in batch)
            if len(got) == 4:
                break
        assert got == [0, 1, 2, 4]
        sol = bn.subscribe(SeqTrades(symbol="SOL"))
        assert [t.seq for t in itertools.islice(sol.iter_messages(timeout=5), 4)] == [0, 1, 2, 4]
        assert list(sol.iter_messages(timeout=0.05)) == []  # idle: stops

        # request: the predicate is registered before the message goes out.
        answer = bn.request({"method": "PING", "id": 7}, lambda m: m == {"pong": 7})
        assert answer == {"pong": 7}
        # expect (blocking): a send() followed by expect() would race the answer, the very
        # reason request() exists, so only expect's own bound is checked here; its positive
        # path is the async client's, covered in tests/unit/schema and test_schema.py.
        with pytest.raises(jetsocket.TimeoutError):
            bn.expect(lambda m: False, timeout=0.05)

        btc.unsubscribe()
        assert list(btc) == []  # iteration ends after an unsubscribe
        assert SeqTrades(symbol="BTC") not in bn.subscriptions


def test_sync_client_uses_the_instance_ack_timeout(venue_uri: str) -> None:
    # The facade's own bound sits behind the client's: the instance's ack_timeout (30 s),
    # not the class's (0.2 s), decides how long subscribe() may block.
    patient = Venue.sync(uri=venue_uri, ack_timeout=30.0, connect_timeout=1.0)
    assert patient._ack_bound() > 30.0
    assert Venue.sync(uri=venue_uri)._ack_bound() < 30.0
    # And the client gives up after its own (instance) ack_timeout, naming the subscription.
    with Venue.sync(uri=venue_uri, ack_timeout=0.3) as bn:
        with pytest.raises(jetsocket.SubscriptionError, match="no ack") as info:
            bn.subscribe(SeqTrades(symbol="mute1"))
        assert info.value.subscription == SeqTrades(symbol="mute1")
        assert bn.subscriptions == ()


def test_errors_from_an_empty_queue_are_not_chained_to_internals(echo_uri: str) -> None:
    with jetsocket.SyncWebSocket(echo_uri) as ws:
        with pytest.raises(TimeoutError) as timed_out:
            ws.recv(timeout=0.05)
        assert timed_out.value.__context__ is None
        batches = ws.batches()
    with pytest.raises(jetsocket.ConnectionClosedError) as closed:
        ws.recv(timeout=0.05)
    assert closed.value.__context__ is None
    assert list(batches) == []
