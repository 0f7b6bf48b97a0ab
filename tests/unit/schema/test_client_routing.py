"""``Client`` routing, acks, batching and unknown-message policies, without sockets.

The client's router (``Client._route``) takes a decoded batch and returns what the
client-level iterator should still see; ``Client._decode`` produces typed messages or
``Unmatched`` wrappers; ``Client._send_subscriptions`` sends through any object with an
async ``send``. These tests drive them directly with fake messages and a fake sender.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import msgspec
import pytest
from _kit import (
    URI,
    FakeSender,
    Kline,
    SeqTrades,
    Trade,
    Trades,
    attach,
    payload,
    send_subscriptions,
)

import jetsocket
from jetsocket._engine._queue import Failure
from jetsocket._engine._state import ConnectionState
from jetsocket.schema import Ack, Client, Stream, Subscription, Unmatched


class Klines(Subscription[Kline]):
    symbol: str

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [f"{self.symbol}@kline_1m"], "id": request_id}


class Everything(Subscription[Trade | Kline]):
    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": ["!all"], "id": request_id}


class BybitTrades(Subscription[Trade]):
    symbol: str

    @property
    def topic(self) -> str:
        return f"publicTrade.{self.symbol}"

    def subscribe_message(self, request_id: int) -> object:
        return {"op": "subscribe", "args": [self.topic], "req_id": str(request_id)}

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        if not isinstance(msg, dict) or msg.get("req_id") != str(request_id):
            return None
        data = msg.get("data") or {}
        ok = bool(msg.get("success")) or bool(data.get("successTopics"))
        failed = tuple(data.get("failTopics") or ())
        return Ack(ok=ok, reason=str(msg.get("ret_msg", "")), failed_topics=failed)


class Venue(Client[Trade | Kline]):
    uri = URI


class Ignoring(Venue):
    unknown_messages = "ignore"


class Delivering(Venue):
    unknown_messages = "deliver"


class Batched(Venue):
    max_topics_per_message = 2

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        return {"method": "SUBSCRIBE", "params": [s.topic for s in subscriptions], "id": request_id}


class BybitBatched(Venue):
    max_topics_per_message = 10

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        topics = [s.topic for s in subscriptions]
        return {"op": "subscribe", "args": topics, "req_id": str(request_id)}


class Impatient(Venue):
    ack_timeout = 0.05


def trade(symbol: str = "BTC", price: float = 1.0, seq: int = 0) -> Trade:
    return Trade(symbol=symbol, price=price, seq=seq)


def buffered(stream: Stream[Any]) -> list[Any]:
    return list(stream.queue.items)


# -- decoding ------------------------------------------------------------------------------


def test_decode_typed_or_unmatched() -> None:
    client = Venue()
    assert client._decode(b'{"e":"trade","s":"BTC","p":2.5}') == Trade(symbol="BTC", price=2.5)
    assert client._decode('{"e":"kline","s":"BTC","c":9.0}') == Kline(symbol="BTC", close=9.0)
    ack = client._decode(b'{"result":null,"id":1}')
    assert isinstance(ack, Unmatched)
    assert ack.data == {"result": None, "id": 1}
    assert ack.payload == b'{"result":null,"id":1}'
    assert isinstance(ack.error, msgspec.ValidationError)
    assert repr(ack) == "Unmatched({'result': None, 'id': 1})"
    # A known tag with a wrong field is not silently typed either.
    assert isinstance(client._decode(b'{"e":"trade","s":"BTC","p":"x"}'), Unmatched)


# -- routing to streams ----------------------------------------------------------------------


def test_messages_go_to_the_matching_stream_only() -> None:
    client = Venue()
    btc = attach(client, Trades(symbol="btc"))
    eth = attach(client, Trades(symbol="eth"))
    k = Kline(symbol="BTC", close=3.0)
    out = client._route([trade("BTC", 1.0), trade("ETH", 2.0), k, trade("SOL"), trade("BTC", 3.0)])
    assert [t.price for t in buffered(btc)] == [1.0, 3.0]
    assert [t.price for t in buffered(eth)] == [2.0]
    assert out == [k, trade("SOL")]  # claimed by no stream: the client-level iterator
    assert (btc.received, eth.received) == (2, 1)


def test_union_subscription_gets_every_type_and_shares_messages() -> None:
    client = Venue()
    everything = attach(client, Everything())
    btc = attach(client, Trades(symbol="btc"))
    k = Kline(symbol="BTC", close=3.0)
    assert client._route([trade("BTC"), k]) == []
    assert buffered(everything) == [trade("BTC"), k]
    assert buffered(btc) == [trade("BTC")]  # a message may belong to several streams


def test_route_cache_follows_subscriptions() -> None:
    client = Venue()
    assert client._route([trade("BTC")]) == [trade("BTC")]
    btc = attach(client, Trades(symbol="btc"))
    assert client._route([trade("BTC")]) == []
    assert buffered(btc) == [trade("BTC")]
    client._forget(btc.subscription)
    assert client.subscriptions == ()
    assert client._route([trade("BTC")]) == [trade("BTC")]


def test_failures_pass_through_in_place() -> None:
    client = Venue()
    attach(client, Trades(symbol="btc"))
    failure = Failure(jetsocket.MessageDecodeError("bad", b"{}", Trade))
    assert client._route([trade("BTC"), failure, trade("ETH")]) == [failure, trade("ETH")]


def test_sequence_gaps_are_counted_and_reported() -> None:
    client = Venue()
    stream = attach(client, SeqTrades(symbol="btc"))
    gaps: list[jetsocket.GapEvent] = []
    client.on("gap")(gaps.append)
    client._route([trade(seq=1), trade(seq=2), trade(seq=5), trade(seq=4), trade(seq=6)])
    assert [(g.first_missing, g.last_missing, g.size) for g in gaps] == [(3, 4, 2)]
    # Detected on arrival; counted by ``gaps`` once the consumer reaches the position.
    assert (stream.gaps_detected, stream.last_sequence) == (1, 6)
    assert len(buffered(stream)) == 5  # gaps are reported, nothing is dropped
    assert gaps[0].subscription == SeqTrades(symbol="btc")
    assert stream.gaps == 0
    taken = [stream.queue.items.popleft().seq for _ in range(3)]
    assert taken == [1, 2, 5]
    assert stream.gaps == 1
    assert stream.gap is gaps[0]  # right before the message taken last
    stream.queue.items.popleft()
    assert stream.gap is None
    assert client.stats().gaps == 1


# -- acks, expect() and unknown messages --------------------------------------------------------


async def test_expect_consumes_a_typed_message() -> None:
    client = Venue()
    k = Kline(symbol="BTC", close=1.0)
    outs: list[list[Any]] = []
    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: outs.append(client._route([trade("BTC"), k])))
    got = await client.expect(lambda m: isinstance(m, Kline), timeout=5)
    assert got is k
    assert outs == [[trade("BTC")]]
    assert client._expect == []


async def test_expect_sees_a_plain_streams_message_before_the_stream() -> None:
    # Plain streams take a fast path, which a waiting expect() (or request) turns off.
    client = Venue()
    everything = attach(client, Everything())  # no per-message hooks: the fast path
    k0, k = Kline(symbol="BTC", close=0.5), Kline(symbol="BTC", close=1.0)
    assert client._route([trade("BTC"), k0]) == []
    assert client._router.plain == {Trade: everything, Kline: everything}
    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: client._route([trade("ETH"), k, trade("SOL")]))
    got = await client.expect(lambda m: isinstance(m, Kline), timeout=5)
    assert got is k
    assert buffered(everything) == [trade("BTC"), k0, trade("ETH"), trade("SOL")]
    assert client._route([k]) == []  # no expect() waits any more: the stream takes it
    assert buffered(everything)[-1] is k


async def test_expect_gets_the_json_of_unmatched_messages() -> None:
    client = Venue()
    login = client._decode(b'{"event":"login","code":"0"}')
    outs: list[list[Any]] = []
    asyncio.get_running_loop().call_soon(lambda: outs.append(client._route([login])))
    got = await client.expect(lambda m: isinstance(m, dict) and m.get("event") == "login")
    assert got == {"event": "login", "code": "0"}
    assert outs == [[]]


async def test_expect_times_out() -> None:
    client = Venue()
    with pytest.raises(jetsocket.TimeoutError):
        await client.expect(lambda m: True, timeout=0.01)
    assert client._expect == []


def test_unknown_messages_error_policy() -> None:
    client = Venue()
    out = client._route([client._decode(b'{"hello":"world"}')])
    assert len(out) == 1
    assert isinstance(out[0], Failure)
    assert isinstance(out[0].exc, jetsocket.MessageDecodeError)
    assert "world" in str(out[0].exc)


def test_unknown_messages_ignore_policy() -> None:
    client = Ignoring()
    assert client._route([client._decode(b'{"hello":"world"}'), trade("BTC")]) == [trade("BTC")]
    assert client.unmatched_count == 1


def test_unknown_messages_deliver_policy() -> None:
    client = Delivering()
    (out,) = client._route([client._decode(b'{"hello":"world"}')])
    assert isinstance(out, Unmatched)
    assert out.data == {"hello": "world"}


async def test_ack_resolves_the_pending_request() -> None:
    client = Venue()
    subscribed: list[jetsocket.SubscribedEvent] = []
    client.on("subscribed")(subscribed.append)
    sub = Trades(symbol="btc")
    sender = FakeSender(client, lambda m: [{"result": None, "id": m["id"]}])
    assert await send_subscriptions(client, sender, [sub]) == []
    assert sender.sent == [{"method": "SUBSCRIBE", "params": ["btc@trade"], "id": 1}]
    assert sender.leftover == []  # the ack is consumed, not an unknown message
    assert [(e.subscription, e.request_id) for e in subscribed] == [(sub, 1)]
    assert client._pending == {}


async def test_refusal_becomes_a_subscription_error() -> None:
    client = Venue()
    sender = FakeSender(client, lambda m: [{"error": "invalid symbol", "id": m["id"]}])
    (error,) = await send_subscriptions(client, sender, [Trades(symbol="nope")])
    assert error.subscription == Trades(symbol="nope")
    assert error.reason == "invalid symbol"


async def test_missing_ack_times_out() -> None:
    client = Impatient()
    sender = FakeSender(client, lambda m: [])
    (error,) = await send_subscriptions(client, sender, [Trades(symbol="btc")])
    assert error.reason == "no ack (timeout)"
    assert client._pending == {}


async def test_no_declared_ack_means_no_wait() -> None:
    client = Venue()
    subscribed: list[jetsocket.SubscribedEvent] = []
    client.on("subscribed")(subscribed.append)
    sender = FakeSender(client, lambda m: [])
    assert await send_subscriptions(client, sender, [Klines(symbol="btc")]) == []
    assert len(sender.sent) == 1
    assert len(subscribed) == 1


# -- batching -------------------------------------------------------------------------------------


async def test_batches_of_max_topics_per_message() -> None:
    client = Batched()
    subs: list[Subscription[Any]] = [Trades(symbol=s) for s in ("a", "b", "c", "d", "e")]
    sender = FakeSender(client, lambda m: [{"result": None, "id": m["id"]}])
    assert await send_subscriptions(client, sender, subs) == []
    assert [m["params"] for m in sender.sent] == [
        ["a@trade", "b@trade"],
        ["c@trade", "d@trade"],
        ["e@trade"],
    ]
    assert len({m["id"] for m in sender.sent}) == 3  # one request id per batch


async def test_partial_failure_of_a_batch() -> None:
    client = BybitBatched()
    subs: list[Subscription[Any]] = [BybitTrades(symbol=s) for s in ("BTC", "DOGE", "ETH")]
    subscribed: list[jetsocket.SubscribedEvent] = []
    client.on("subscribed")(subscribed.append)

    def answer(msg: Any) -> list[object]:
        bad = [t for t in msg["args"] if "DOGE" in t]
        ok = [t for t in msg["args"] if t not in bad]
        data = {"successTopics": ok, "failTopics": bad}
        return [{"success": not bad, "ret_msg": "invalid", "req_id": msg["req_id"], "data": data}]

    sender = FakeSender(client, answer)
    (error,) = await send_subscriptions(client, sender, subs)
    assert len(sender.sent) == 1
    assert error.subscription == BybitTrades(symbol="DOGE")
    assert error.failed_topics == ("publicTrade.DOGE",)
    assert [e.subscription.symbol for e in subscribed] == ["BTC", "ETH"]


class BatchLimitOnly(Venue):
    """Declares a batch size but no batch message: subscriptions must go one by one."""

    max_topics_per_message = 2
    ack_timeout = 0.2


async def test_batch_limit_without_batch_message_sends_each_subscription() -> None:
    client = BatchLimitOnly()
    sender = FakeSender(client, lambda m: [{"result": None, "id": m["id"]}] if m else [])
    await send_subscriptions(client, sender, [Trades(symbol="a"), Trades(symbol="b")])
    assert sender.sent == [
        {"method": "SUBSCRIBE", "params": ["a@trade"], "id": 1},
        {"method": "SUBSCRIBE", "params": ["b@trade"], "id": 2},
    ]


# -- through the engine's receive path (still no socket) ----------------------------------------


async def test_engine_batch_feeds_handlers_streams_and_the_client() -> None:
    client = Venue()
    btc = attach(client, Trades(symbol="btc"))
    klines: list[Kline] = []

    @client.on(Kline)
    def on_kline(k: Kline) -> None:
        klines.append(k)

    client.websocket._on_messages(
        [
            payload({"e": "trade", "s": "BTC", "p": 1.0}),
            payload({"e": "kline", "s": "BTC", "c": 2.0}),
        ]
    )
    assert buffered(btc) == [trade("BTC", 1.0)]
    assert klines == [Kline(symbol="BTC", close=2.0)]
    assert await client.recv(timeout=1) == Kline(symbol="BTC", close=2.0)


async def test_shard_routes_into_the_primary_client() -> None:
    client = Venue()
    btc = attach(client, Trades(symbol="btc"))
    trades_seen: list[Trade] = []
    client.on(Trade)(trades_seen.append)
    shard = client._new_engine(1)
    assert client._shards[1].ws is shard
    shard._on_messages(
        [
            payload({"e": "trade", "s": "BTC", "p": 1.0}),
            payload({"e": "trade", "s": "ETH", "p": 2.0}),
        ]
    )
    assert buffered(btc) == [trade("BTC", 1.0)]
    assert len(trades_seen) == 2  # one handler registry for every shard
    assert await client.recv(timeout=1) == trade("ETH", 2.0)
    assert len(shard.queue) == 0


# -- known bugs (see the reasons) ------------------------------------------------------------------


async def test_pong_matcher_sees_the_json_of_a_pong() -> None:
    seen: list[object] = []

    def is_pong(msg: object) -> bool:
        seen.append(msg)
        return isinstance(msg, dict) and msg.get("op") == "pong"

    heartbeat = jetsocket.HeartbeatConfig(
        payload={"op": "ping"}, use_ws_ping=False, use_application_ping=True, pong_matcher=is_pong
    )
    client = Venue(heartbeat=heartbeat)
    client.websocket._on_messages([payload({"op": "pong", "ret_msg": "pong"})])
    assert seen == [{"op": "pong", "ret_msg": "pong"}]
    assert len(client.websocket.queue) == 0


async def test_text_pong_reaches_pong_matcher() -> None:
    seen: list[object] = []

    def is_pong(msg: object) -> bool:
        seen.append(msg)
        data = msg.data if isinstance(msg, Unmatched) else msg
        return data in ("pong", b"pong")

    heartbeat = jetsocket.HeartbeatConfig(
        payload="ping", use_ws_ping=False, use_application_ping=True, pong_matcher=is_pong
    )
    client = Venue(heartbeat=heartbeat)
    client.websocket._on_messages([b"pong"])
    assert seen
    assert client.stats().validation_errors == 0
    assert len(client.websocket.queue) == 0


async def test_unclaimed_messages_do_not_stall_the_streams() -> None:
    client = Venue()
    attach(client, Trades(symbol="btc"))
    kline = payload({"e": "kline", "s": "BTC", "c": 2.0})
    client.websocket._on_messages([kline] * 10_000)
    assert not client.websocket.queue.paused


class Fragile(Subscription[Trade]):
    def subscribe_message(self, request_id: int) -> object:
        return {}

    def matches(self, msg: Trade) -> bool:
        raise ValueError("bug in user code")


async def test_failing_matches_is_reported_not_raised() -> None:
    client = Venue()
    attach(client, Fragile())
    errors: list[jetsocket.ErrorEvent] = []
    client.on("error")(errors.append)
    client._route([trade("BTC")])
    assert errors
    assert isinstance(errors[0].error, ValueError)


async def test_unsubscribe_ack_is_consumed(monkeypatch: pytest.MonkeyPatch) -> None:
    client = Venue()
    sub = Trades(symbol="btc")
    attach(client, sub)
    ws = client.websocket
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[list[Any]] = loop.create_future()

    async def send(message: Any) -> None:
        ack = payload({"result": None, "id": message["id"]})
        loop.call_soon(lambda: answered.set_result(client._route([client._decode(ack)])))

    monkeypatch.setattr(ws, "send", send)
    monkeypatch.setattr(ws, "_state", ConnectionState.CONNECTED)
    await client.unsubscribe(sub)
    assert await asyncio.wait_for(answered, 5) == []


def test_class_settings_can_be_overridden_per_instance() -> None:
    client = Venue(**cast(Any, {"unknown_messages": "ignore"}))
    assert client._route([client._decode(b'{"hello":"world"}')]) == []


def test_misspelt_option_is_refused() -> None:
    with pytest.raises(TypeError):
        Venue(**cast(Any, {"heartbeat_interval": 5.0}))


def test_client_class_options_are_declared_engine_options() -> None:
    # Client's typed class attributes for engine options are a subset of the one option
    # declaration (jetsocket._engine._options), with the same default (None: the engine's).
    from jetsocket._engine._options import OPTION_NAMES  # noqa: PLC0415

    own = {"uri", "message_type", "unknown_messages", "max_topics_per_message"}
    own |= {"max_streams_per_connection", "ack_timeout"}
    declared = set(Client.__annotations__) - own - {"_declared_type"}
    assert declared <= set(OPTION_NAMES)
    assert all(getattr(Client, name) is None for name in declared)
