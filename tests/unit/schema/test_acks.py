"""Acks of every shape real venues use, matched only to requests still awaiting an answer.

``Client._send_subscriptions`` (the one path of first subscribes and resubscribes) sends
through a fake sender that answers like the venue; the answers go through the client's
decoder and router as received messages would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, cast

import pytest
from _kit import URI, FakeSender, Trade, attach, payload, send_subscriptions

import jetsocket
from jetsocket.schema import Ack, Client, Message, Subscription, field, read_id_ack


def subscribed_events(client: Client[Any]) -> list[jetsocket.SubscribedEvent]:
    events: list[jetsocket.SubscribedEvent] = []
    client.on("subscribed")(events.append)
    return events


# -- by request id ---------------------------------------------------------------------------


class BinanceTrades(Subscription[Trade]):
    ack = "id"  # {"result": null, "id": N}
    symbol: str

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [f"{self.symbol}@trade"], "id": request_id}


class Binance(Client[Trade]):
    uri = URI
    ack_timeout = 0.5


async def test_binance_id_acks_pipelined_and_a_refusal() -> None:
    client = Binance()
    events = subscribed_events(client)

    def answer(m: Any) -> list[object]:
        if m["params"] == ["doge@trade"]:
            return [{"error": {"code": 2, "msg": "Invalid symbol"}, "id": m["id"]}]
        return [{"result": None, "id": m["id"]}]

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [BinanceTrades(symbol=s) for s in ("btc", "doge", "eth")]
    (error,) = await send_subscriptions(client, sender, subs)
    assert error.subscription == BinanceTrades(symbol="doge")
    assert error.reason == "Invalid symbol"
    assert [e.subscription.symbol for e in events] == ["btc", "eth"]
    assert sender.leftover == []
    assert client._pending == {}


async def test_answers_out_of_order_find_their_request() -> None:
    client = Binance()
    sender = FakeSender(client, lambda m: [])
    subs: list[Subscription[Any]] = [BinanceTrades(symbol=s) for s in ("a", "b")]
    task = asyncio.ensure_future(send_subscriptions(client, sender, subs))
    while len(sender.sent) < 2:
        await asyncio.sleep(0)
    ids = [m["id"] for m in sender.sent]
    sender.deliver(
        [payload({"result": None, "id": ids[1]}), payload({"result": None, "id": ids[0]})]
    )
    assert await task == []


class KrakenTrades(Subscription[Trade]):
    """Kraken v2: one request for several symbols, one ack per symbol with the same req_id."""

    ack = "id"
    ack_field = "req_id"
    symbol: str

    @property
    def topic(self) -> str:
        return f"trade:{self.symbol}"

    def subscribe_message(self, request_id: int) -> object:
        params = {"channel": "trade", "symbol": [self.symbol], "snapshot": True}
        return {"method": "subscribe", "params": params, "req_id": request_id}

    def read_ack(self, msg: Any) -> Ack | None:
        ack = read_id_ack(msg, "req_id")
        if ack is None or msg.get("method") not in ("subscribe", "unsubscribe"):
            return None
        result = msg.get("result") or {}
        symbol = result.get("symbol") or msg.get("symbol")
        topics = (f"trade:{symbol}",) if symbol else ()
        return Ack(ack.ok, ack.reason, request_id=ack.request_id, topics=topics)


class Kraken(Client[Trade]):
    uri = URI
    ack_timeout = 0.5
    max_topics_per_message = 10

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        symbols = [cast(KrakenTrades, s).symbol for s in subscriptions]
        params = {"channel": "trade", "symbol": symbols, "snapshot": True}
        return {"method": "subscribe", "params": params, "req_id": request_id}


async def test_kraken_batched_request_acked_symbol_by_symbol() -> None:
    client = Kraken()
    events = subscribed_events(client)

    def answer(m: Any) -> list[object]:
        out: list[object] = []
        for symbol in m["params"]["symbol"]:
            if symbol == "XYZ/USD":
                out.append(
                    {
                        "method": "subscribe",
                        "req_id": m["req_id"],
                        "success": False,
                        "error": "Currency pair not supported XYZ/USD",
                        "symbol": symbol,
                    }
                )
            else:
                result = {"channel": "trade", "symbol": symbol, "snapshot": True}
                out.append(
                    {
                        "method": "subscribe",
                        "req_id": m["req_id"],
                        "success": True,
                        "result": result,
                    }
                )
        return out

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [
        KrakenTrades(symbol=s) for s in ("BTC/USD", "XYZ/USD", "ETH/USD")
    ]
    (error,) = await send_subscriptions(client, sender, subs)
    assert len(sender.sent) == 1  # batched
    assert error.subscription == KrakenTrades(symbol="XYZ/USD")
    assert "not supported" in error.reason
    assert error.failed_topics == ("trade:XYZ/USD",)
    assert sorted(e.subscription.symbol for e in events) == ["BTC/USD", "ETH/USD"]
    assert sender.leftover == []


class BybitTrades(Subscription[Trade]):
    ack = "id"
    ack_field = "req_id"
    symbol: str

    def subscribe_message(self, request_id: int) -> object:
        return {
            "op": "subscribe",
            "args": [f"publicTrade.{self.symbol}"],
            "req_id": str(request_id),
        }


async def test_bybit_string_req_id_and_ret_msg() -> None:
    client = Binance()

    def answer(m: Any) -> list[object]:
        ok = "DOGE" not in m["args"][0]
        reply = {"success": ok, "ret_msg": "" if ok else "invalid topic", "req_id": m["req_id"]}
        return [reply]

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [BybitTrades(symbol="BTC"), BybitTrades(symbol="DOGE")]
    (error,) = await send_subscriptions(client, sender, subs)
    assert error.subscription == BybitTrades(symbol="DOGE")
    assert error.reason == "invalid topic"


class DeribitTrades(Subscription[Trade]):
    ack = "id"
    instrument: str

    def subscribe_message(self, request_id: int) -> object:
        channels = [f"trades.{self.instrument}.100ms"]
        return {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "public/subscribe",
            "params": {"channels": channels},
        }


async def test_deribit_json_rpc_result_and_error() -> None:
    client = Binance()

    def answer(m: Any) -> list[object]:
        channel = m["params"]["channels"][0]
        if "NOPE" in channel:
            error = {"code": -32602, "message": "Invalid params"}
            return [{"jsonrpc": "2.0", "id": m["id"], "error": error}]
        return [{"jsonrpc": "2.0", "id": m["id"], "result": [channel]}]

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [
        DeribitTrades(instrument="BTC-PERPETUAL"),
        DeribitTrades(instrument="NOPE"),
    ]
    (error,) = await send_subscriptions(client, sender, subs)
    assert error.reason == "Invalid params"


def test_read_id_ack_shapes() -> None:
    assert read_id_ack({"result": None, "id": 3}, "id") == Ack(ok=True, request_id=3)
    assert read_id_ack({"e": "trade", "s": "BTC"}, "id") is None
    assert read_id_ack([1, 2], "id") is None
    assert read_id_ack({"id": {"nested": 1}}, "id") is None
    refused = read_id_ack({"req_id": 4, "success": False}, "req_id")
    assert refused is not None
    assert (refused.ok, refused.reason) == (False, "refused")


async def test_an_id_answer_to_the_users_own_request_is_not_swallowed() -> None:
    client = Binance()
    attach(client, BinanceTrades(symbol="btc"))
    # No subscribe request issued this id: it is the answer to something the user sent.
    rest = client._route([client._decode(b'{"result":[1,2],"id":999}')])
    assert len(rest) == 1  # to the client's iterator (here as an unknown-message failure)


# -- by topic (OKX) ------------------------------------------------------------------------


class OkxTrades(Subscription[Trade]):
    ack = "topic"
    inst_id: str

    @property
    def topic(self) -> str:
        return f"trades:{self.inst_id}"

    def subscribe_message(self, request_id: int) -> object:
        return {"op": "subscribe", "args": [{"channel": "trades", "instId": self.inst_id}]}

    def read_ack(self, msg: Any) -> Ack | None:
        if not isinstance(msg, dict):
            return None
        if msg.get("event") in ("subscribe", "unsubscribe"):
            arg = msg.get("arg") or {}
            return Ack(ok=True, topics=(f"{arg.get('channel')}:{arg.get('instId')}",))
        if msg.get("event") == "error":
            return Ack(ok=False, reason=str(msg.get("msg", "")))
        return None


class Okx(Client[Trade]):
    uri = URI
    ack_timeout = 0.5
    max_topics_per_message = 20

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        args = [{"channel": "trades", "instId": cast(OkxTrades, s).inst_id} for s in subscriptions]
        return {"op": "subscribe", "args": args}


async def test_okx_one_ack_per_topic_for_a_batched_request() -> None:
    client = Okx()
    events = subscribed_events(client)

    def answer(m: Any) -> list[object]:
        acks: list[object] = [
            {"event": "subscribe", "arg": a, "connId": "a4d3ae55"}
            for a in reversed(m["args"])  # any order
            if a["instId"] != "BAD-USDT"
        ]
        acks.append({"event": "error", "code": "60018", "msg": "doesn't exist", "connId": "x"})
        return acks

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [
        OkxTrades(inst_id=s) for s in ("BTC-USDT", "ETH-USDT", "BAD-USDT")
    ]
    (error,) = await send_subscriptions(client, sender, subs)
    assert len(sender.sent) == 1
    assert error.subscription == OkxTrades(inst_id="BAD-USDT")
    assert error.reason == "doesn't exist"
    assert len(events) == 2
    assert sender.leftover == []


# -- one message for all subscriptions (Coinbase) --------------------------------------------


class CoinbaseMatches(Subscription[Trade]):
    ack = "all"
    product: str

    @property
    def topic(self) -> str:
        return f"matches:{self.product}"

    def subscribe_message(self, request_id: int) -> object:
        return {"type": "subscribe", "product_ids": [self.product], "channels": ["matches"]}

    def read_ack(self, msg: Any) -> Ack | None:
        if isinstance(msg, dict) and msg.get("type") == "subscriptions":
            topics = tuple(
                f"{ch['name']}:{p}" for ch in msg.get("channels", []) for p in ch["product_ids"]
            )
            return Ack(ok=True, topics=topics)
        if isinstance(msg, dict) and msg.get("type") == "error":
            return Ack(ok=False, reason=str(msg.get("reason") or msg.get("message")))
        return None


class Coinbase(Client[Trade]):
    uri = URI
    ack_timeout = 5.0  # the bug made resubscribes wait for it: the test must not


def coinbase_server() -> Callable[[Any], list[object]]:
    products: list[str] = []

    def answer(m: Any) -> list[object]:
        if m["product_ids"] == ["NOPE-USD"]:
            return [
                {
                    "type": "error",
                    "message": "Failed to subscribe",
                    "reason": "NOPE-USD is delisted",
                }
            ]
        products.extend(m["product_ids"])
        channels = [{"name": "matches", "product_ids": list(products)}]
        return [{"type": "subscriptions", "channels": channels}]

    return answer


async def test_coinbase_subscriptions_message_lists_everything() -> None:
    client = Coinbase()
    events = subscribed_events(client)
    sender = FakeSender(client, coinbase_server())
    subs: list[Subscription[Any]] = [CoinbaseMatches(product=p) for p in ("BTC-USD", "ETH-USD")]
    async with asyncio.timeout(1):  # not ack_timeout
        assert await send_subscriptions(client, sender, subs) == []
    assert len(events) == 2
    assert sender.leftover == []  # the second message, which confirms both, is consumed


async def test_coinbase_answers_arriving_after_both_requests() -> None:
    # The server answered both requests once it had both: each answer lists both products.
    client = Coinbase()
    sender = FakeSender(client, lambda m: [])
    subs: list[Subscription[Any]] = [CoinbaseMatches(product=p) for p in ("BTC-USD", "ETH-USD")]
    task = asyncio.ensure_future(send_subscriptions(client, sender, subs))
    while len(sender.sent) < 2:
        await asyncio.sleep(0)
    both = {
        "type": "subscriptions",
        "channels": [{"name": "matches", "product_ids": ["BTC-USD", "ETH-USD"]}],
    }
    sender.deliver([payload(both), payload(both)])
    async with asyncio.timeout(1):
        assert await task == []
    assert sender.leftover == []


async def test_coinbase_error_without_id_refuses_the_oldest_waiting_request() -> None:
    client = Coinbase()
    sender = FakeSender(client, coinbase_server())
    subs: list[Subscription[Any]] = [
        CoinbaseMatches(product="BTC-USD"),
        CoinbaseMatches(product="NOPE-USD"),
        CoinbaseMatches(product="ETH-USD"),
    ]
    async with asyncio.timeout(1):
        (error,) = await send_subscriptions(client, sender, subs)
    assert error.subscription == CoinbaseMatches(product="NOPE-USD")
    assert error.reason == "NOPE-USD is delisted"


# -- in order (no identity at all) ------------------------------------------------------------


class Ordered(Subscription[Trade]):
    ack = "order"
    name: str

    def subscribe_message(self, request_id: int) -> object:
        return {"subscribe": self.name}

    def read_ack(self, msg: Any) -> Ack | None:
        if isinstance(msg, dict) and "status" in msg:
            return Ack(ok=msg["status"] == "ok", reason=str(msg.get("why", "")))
        return None


async def test_acks_in_order() -> None:
    client = Binance()

    def answer(m: Any) -> list[object]:
        return [{"status": "no", "why": "closed"} if m["subscribe"] == "b" else {"status": "ok"}]

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [Ordered(name=n) for n in ("a", "b", "c")]
    (error,) = await send_subscriptions(client, sender, subs)
    assert error.subscription == Ordered(name="b")


# -- channel ids assigned by the ack (Bitfinex v2) --------------------------------------------


class Subscribed(Message, tag="subscribed", tag_field="event"):
    channel: str
    chan_id: int = field(name="chanId")
    symbol: str


class BfxTrades(Subscription[list[Any]]):
    ack = "topic"
    symbol: str

    @property
    def topic(self) -> str:
        return f"trades:{self.symbol}"

    def subscribe_message(self, request_id: int) -> object:
        return {"event": "subscribe", "channel": "trades", "symbol": self.symbol}

    def read_ack(self, msg: Any) -> Ack | None:
        if isinstance(msg, Subscribed):  # a typed ack: declared in the client's union
            return Ack(ok=True, topics=(f"{msg.channel}:{msg.symbol}",), channel=msg.chan_id)
        if isinstance(msg, dict) and msg.get("event") == "error":
            return Ack(
                ok=False, reason=str(msg.get("msg")), topics=(f"trades:{msg.get('symbol')}",)
            )
        return None

    def channel_of(self, msg: list[Any]) -> Hashable | None:
        return cast(Hashable, msg[0]) if msg else None

    def matches(self, msg: list[Any]) -> bool:
        return bool(msg[1] != "hb")  # heartbeats carry the channel id too


class Bitfinex(Client[Subscribed | list[Any]]):
    uri = URI
    ack_timeout = 0.5


async def test_bitfinex_channel_ids_route_and_change_on_resubscribe() -> None:
    client = Bitfinex()
    btc = attach(client, BfxTrades(symbol="tBTCUSD"))
    eth = attach(client, BfxTrades(symbol="tETHUSD"))
    chan_ids = iter(range(17, 100))

    def answer(m: Any) -> list[object]:
        ack = {"event": "subscribed", "channel": "trades", "symbol": m["symbol"]}
        return [{**ack, "chanId": next(chan_ids), "pair": m["symbol"][1:]}]

    sender = FakeSender(client, answer)
    subs = [btc.subscription, eth.subscription]
    assert await send_subscriptions(client, sender, subs) == []
    assert (btc.channel, eth.channel) == (17, 18)
    rest = client._route([[17, "te", [1, 0, 0.1, 100.0]], [18, "hb"], [18, "te", [2, 0, 1.0, 5.0]]])
    assert rest == [[18, "hb"]]  # its stream's matches() declines heartbeats
    assert list(btc.queue.items) == [[17, "te", [1, 0, 0.1, 100.0]]]
    assert list(eth.queue.items) == [[18, "te", [2, 0, 1.0, 5.0]]]
    # A reconnect: new channel ids; the old ones no longer route.
    for stream in (btc, eth):
        stream.channel = None
    assert await send_subscriptions(client, sender, subs) == []
    assert (btc.channel, eth.channel) == (19, 20)
    assert client._route([[17, "te", [3, 0, 0.1, 1.0]]]) == [[17, "te", [3, 0, 0.1, 1.0]]]
    client._route([[19, "te", [4, 0, 0.1, 1.0]]])
    assert len(btc.queue.items) == 2


# -- typed acks and errors --------------------------------------------------------------------


class Subscriptions(Message, tag="subscriptions", tag_field="type"):
    channels: list[dict[str, Any]]


class VenueError(Message, tag="error", tag_field="type"):
    message: str
    reason: str = ""


class Match(Message, tag="match", tag_field="type"):
    product_id: str
    sequence: int


class TypedMatches(Subscription[Match]):
    ack = "all"
    product: str

    @property
    def topic(self) -> str:
        return self.product

    def subscribe_message(self, request_id: int) -> object:
        return {"type": "subscribe", "product_ids": [self.product], "channels": ["matches"]}

    def read_ack(self, msg: Any) -> Ack | None:
        if isinstance(msg, Subscriptions):
            return Ack(ok=True, topics=tuple(p for c in msg.channels for p in c["product_ids"]))
        if isinstance(msg, VenueError):
            return Ack(ok=False, reason=msg.reason or msg.message)
        return None


class TypedCoinbase(Client[Match | Subscriptions | VenueError]):
    uri = URI
    ack_timeout = 5.0


async def test_typed_ack_and_error_types_reach_read_ack() -> None:
    client = TypedCoinbase()
    events = subscribed_events(client)
    sender = FakeSender(client, coinbase_server())
    async with asyncio.timeout(1):
        assert await send_subscriptions(client, sender, [TypedMatches(product="BTC-USD")]) == []
        (error,) = await send_subscriptions(client, sender, [TypedMatches(product="NOPE-USD")])
    assert error.reason == "NOPE-USD is delisted"
    assert len(events) == 1
    assert sender.leftover == []


class LegacyCoinbase(Subscription[Trade]):
    """The per-request form, for a venue without ids: any subscriptions message answers."""

    product: str

    def subscribe_message(self, request_id: int) -> object:
        return {"type": "subscribe", "product_ids": [self.product], "channels": ["matches"]}

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        if isinstance(msg, dict) and msg.get("type") == "subscriptions":
            return Ack(ok=True)
        return None


async def test_parse_ack_is_only_offered_to_requests_still_waiting() -> None:
    # The reported bug: the first pending request took every id-less ack, even once done.
    client = Coinbase()
    sender = FakeSender(client, coinbase_server())
    subs: list[Subscription[Any]] = [LegacyCoinbase(product=p) for p in ("BTC-USD", "ETH-USD")]
    async with asyncio.timeout(1):
        assert await send_subscriptions(client, sender, subs) == []


async def test_typed_messages_reach_parse_ack() -> None:
    class TypedLegacy(LegacyCoinbase):
        def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
            return Ack(ok=True) if isinstance(msg, Subscriptions) else None

    client = TypedCoinbase()
    sender = FakeSender(client, coinbase_server())
    async with asyncio.timeout(1):
        assert await send_subscriptions(client, sender, [TypedLegacy(product="BTC-USD")]) == []


async def test_timeout_names_only_the_unanswered_subscriptions() -> None:
    client = Okx(ack_timeout=0.05)

    def answer(m: Any) -> list[object]:
        return [{"event": "subscribe", "arg": m["args"][0]}]  # the second topic never acked

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [OkxTrades(inst_id=s) for s in ("BTC-USDT", "ETH-USDT")]
    (error,) = await send_subscriptions(client, sender, subs)
    assert error.subscription == OkxTrades(inst_id="ETH-USDT")
    assert error.reason == "no ack (timeout)"
    assert client._pending == {}


# -- declarations -------------------------------------------------------------------------------


def test_bad_ack_declarations_fail_at_class_definition() -> None:
    with pytest.raises(ValueError, match="ack must be one of"):

        class Bad(Subscription[Trade]):
            ack = cast(Any, "bogus")

    with pytest.raises(TypeError, match="needs a read_ack"):

        class NoReader(Subscription[Trade]):
            ack = "topic"

    with pytest.raises(TypeError, match="not both"):

        class Both(Subscription[Trade]):
            ack = "id"

            def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
                return None

    with pytest.raises(ValueError, match="on_gap"):

        class BadGap(Subscription[Trade]):
            on_gap = cast(Any, "panic")


def test_declares_ack() -> None:
    assert BinanceTrades.declares_ack()
    assert LegacyCoinbase.declares_ack()
    assert not Subscription.declares_ack()


class BrokenReader(Subscription[Trade]):
    ack = "order"

    def subscribe_message(self, request_id: int) -> object:
        return {"subscribe": 1}

    def read_ack(self, msg: Any) -> Ack | None:
        raise KeyError("bug in read_ack")


async def test_failing_read_ack_is_reported_and_reading_goes_on() -> None:
    client = Binance(ack_timeout=0.05)
    errors: list[jetsocket.ErrorEvent] = []
    client.on("error")(errors.append)
    sender = FakeSender(client, lambda m: [{"status": "ok"}])
    (error,) = await send_subscriptions(client, sender, [BrokenReader()])
    assert error.reason == "no ack (timeout)"
    assert "BrokenReader.read_ack" in [e.context for e in errors]


async def test_a_reconnect_supersedes_requests_of_the_old_connection() -> None:
    # A subscribe was in flight when the connection dropped: its answer never comes. The
    # resubscribe re-sends it; the old request neither waits ack_timeout nor takes the
    # new answer (with ids-less, in-order acks it would otherwise steal it).
    client = Binance(ack_timeout=5.0)
    lost = FakeSender(client, lambda m: [])
    first = asyncio.ensure_future(send_subscriptions(client, lost, [Ordered(name="a")]))
    while not lost.sent:
        await asyncio.sleep(0)
    client._acks.supersede([Ordered(name="a")])
    fresh = FakeSender(client, lambda m: [{"status": "ok"}])
    async with asyncio.timeout(1):
        assert await send_subscriptions(client, fresh, [Ordered(name="a")]) == []
        assert await first == []
    assert client._pending == {}


class DeribitChannels(DeribitTrades):
    @property
    def topic(self) -> str:
        return f"trades.{self.instrument}.100ms"

    def read_ack(self, msg: Any) -> Ack | None:
        ack = read_id_ack(msg, "id")
        if ack is None or not ack.ok:
            return ack
        return Ack(True, request_id=ack.request_id, topics=tuple(msg["result"]), complete=True)


class DeribitBatched(Binance):
    max_topics_per_message = 10

    def batch_subscribe_message(
        self, subscriptions: list[Subscription[Any]], request_id: int
    ) -> object:
        channels = [s.topic for s in subscriptions]
        return {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "public/subscribe",
            "params": {"channels": channels},
        }


async def test_deribit_result_leaving_a_channel_out_refuses_it() -> None:
    client = DeribitBatched()

    def answer(m: Any) -> list[object]:
        accepted = [c for c in m["params"]["channels"] if "NOPE" not in c]
        return [{"jsonrpc": "2.0", "id": m["id"], "result": accepted}]

    sender = FakeSender(client, answer)
    subs: list[Subscription[Any]] = [
        DeribitChannels(instrument=i) for i in ("BTC-PERPETUAL", "NOPE", "ETH-PERPETUAL")
    ]
    async with asyncio.timeout(1):
        (error,) = await send_subscriptions(client, sender, subs)
    assert len(sender.sent) == 1
    assert error.subscription == DeribitChannels(instrument="NOPE")
    assert error.reason == "left out of the venue's answer"


def test_a_venue_error_nobody_awaits_is_reported_not_swallowed() -> None:
    client = Coinbase()
    errors: list[jetsocket.ErrorEvent] = []
    client.on("error")(errors.append)
    attach(client, CoinbaseMatches(product="BTC-USD"))
    late_ack = {"type": "subscriptions", "channels": [{"name": "matches", "product_ids": []}]}
    error = {"type": "error", "message": "Failed", "reason": "rate limited"}
    rest = client._route([client._decode(payload(late_ack)), client._decode(payload(error))])
    assert len(rest) == 1  # the error reaches the client's reader (unknown_messages="error")
    assert [e.context for e in errors] == ["decode"]
    assert "rate limited" in str(errors[0].error)
