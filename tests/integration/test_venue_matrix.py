"""The venue matrix (issue 10, item 7): typed clients against the fake venues, with faults.

Each cell injects one fault into one venue's fake and checks what a user of the schema layer
must be able to rely on: nothing lost, nothing delivered twice, a rejected subscription
raises quickly with the venue's reason, decode failures are reported while the streams keep
flowing, a gap is attributed to the right stream, and the client is connected (and
resubscribed) again within 1 s of a kill.

The clients use the declarative subscription API, one venue shape each; the Kraken,
Coinbase, Deribit and Bitfinex subscriptions are the examples' own (``examples/``), so the
matrix checks what users copy. The others add the ``sequence`` their cells need: acks by request id
(Binance ``id``, Kraken v2 and Bybit ``req_id``, Deribit JSON-RPC ``id`` whose result leaves
refused channels out), by topic (OKX, one answer per topic, after a login on every
connection), one message for all (Coinbase ``subscriptions``), and channel ids assigned by
the ack (Bitfinex ``chanId``). Sequences are ranges where a message carries several trades
(Kraken, Deribit, Bybit, Bitfinex snapshots); snapshot replays (Kraken, Coinbase
``last_match``, Bitfinex) are dropped by dedup. OpenAI Realtime is a session, not a
subscription venue: it has its own example and tests.

Set ``JETSOCKET_MATRIX_OUT=path.json`` to record each cell's measurements (the results
table of the issue's note).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

# The subscriptions of the examples (one venue shape each), as a user would write them.
from examples.bitfinex_trades import Subscribed as BfxSubscribed
from examples.bitfinex_trades import Trades as BitfinexTrades
from examples.bitfinex_trades import trade_ids as bfx_ids
from examples.coinbase_matches import LastMatch as CoinbaseLastMatch
from examples.coinbase_matches import Match as CoinbaseMatch
from examples.coinbase_matches import Matches as CoinbaseMatches
from examples.deribit_trades import Notification as DeribitNotification
from examples.deribit_trades import Trades as DeribitTrades
from examples.kraken_trades import KrakenTrades as KrakenSub
from examples.kraken_trades import Trades as KrakenTrades

import jetsocket
from jetsocket.schema import Ack, Client, Message, Subscription, field, read_id_ack
from jetsocket.testing import (
    BinanceVenue,
    BitfinexVenue,
    BybitVenue,
    CoinbaseVenue,
    DeribitVenue,
    KrakenVenue,
    OkxVenue,
    VenueServer,
    okx_sign,
)

FAST = jetsocket.BackoffConfig(base=0.05, cap=0.2)
ACK_TIMEOUT = 3.0
T = 5.0


class Venue(Client[Any]):
    """What every matrix client shares."""

    heartbeat = None
    backoff = FAST
    unknown_messages = "ignore"
    ack_timeout = ACK_TIMEOUT


# -- Binance: acks by id, one trade per message, trade id ``t`` ------------------------------


class BinanceTrade(Message, tag="trade", tag_field="e"):
    symbol: str = field(name="s")
    trade_id: int = field(name="t")


class BinanceTrades(Subscription[BinanceTrade]):
    ack = "id"  # {"result": null, "id": 7} / {"error": {"code", "msg"}, "id": 7}
    stream: str

    @property
    def topic(self) -> str:
        return self.stream

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [self.stream], "id": request_id}

    def matches(self, msg: BinanceTrade) -> bool:
        return f"{msg.symbol.lower()}@trade" == self.stream

    def sequence(self, msg: BinanceTrade) -> int:
        return msg.trade_id


class Binance(Venue):
    message_type = BinanceTrade


# -- Kraken v2: req_id acks per symbol, 1-2 trades per message, snapshot (examples/)


class Kraken(Venue):
    message_type = KrakenTrades


# -- Coinbase: one id-less ``subscriptions`` ack, per-product sequence (examples/)


class Coinbase(Venue):
    message_type = CoinbaseMatch | CoinbaseLastMatch


# -- Deribit: JSON-RPC id acks, 1-2 trades per notification (examples/)


class Deribit(Venue):
    message_type = DeribitNotification


# -- Bybit v5: string req_id acks with failTopics, several trades per message ---------------


class BybitTrade(msgspec.Struct):
    seq: int
    symbol: str = field(name="s")


class BybitPush(Message):
    topic: str
    data: list[BybitTrade]


class BybitTrades(Subscription[BybitPush]):
    ack = "id"
    ack_field = "req_id"
    topic_name: str

    @property
    def topic(self) -> str:
        return self.topic_name

    def subscribe_message(self, request_id: int) -> object:
        return {"op": "subscribe", "args": [self.topic_name], "req_id": str(request_id)}

    def read_ack(self, msg: Any) -> Ack | None:
        ack = read_id_ack(msg, "req_id")
        if ack is None or msg.get("op") not in ("subscribe", "unsubscribe"):
            return None
        failed = tuple((msg.get("data") or {}).get("failTopics") or ())
        return Ack(ack.ok, ack.reason, failed, request_id=ack.request_id)

    def matches(self, msg: BybitPush) -> bool:
        return msg.topic == self.topic_name

    def sequence(self, msg: BybitPush) -> tuple[int, int]:
        return msg.data[0].seq, msg.data[-1].seq


class Bybit(Venue):
    message_type = BybitPush


# -- OKX v5: login on every connection, one answer per topic ---------------------------------


class OkxArg(msgspec.Struct):
    channel: str
    inst_id: str = field(name="instId")


class OkxRow(msgspec.Struct):
    trade_id: str = field(name="tradeId")


class OkxPush(Message):
    arg: OkxArg
    data: list[OkxRow]


class OkxTrades(Subscription[OkxPush]):
    ack = "topic"
    inst_id: str

    @property
    def topic(self) -> str:
        return f"trades:{self.inst_id}"

    def subscribe_message(self, request_id: int) -> object:
        return {"op": "subscribe", "args": [{"channel": "trades", "instId": self.inst_id}]}

    def read_ack(self, msg: Any) -> Ack | None:
        if not isinstance(msg, dict) or msg.get("event") not in ("subscribe", "error"):
            return None
        arg = msg.get("arg") or {}
        topics = (f"{arg['channel']}:{arg['instId']}",) if "instId" in arg else ()
        if msg["event"] == "subscribe":
            return Ack(ok=True, topics=topics)
        return Ack(ok=False, reason=f"{msg.get('code')}: {msg.get('msg')}", topics=topics)

    def matches(self, msg: OkxPush) -> bool:
        return msg.arg.channel == "trades" and msg.arg.inst_id == self.inst_id

    def sequence(self, msg: OkxPush) -> tuple[int, int]:
        return int(msg.data[0].trade_id), int(msg.data[-1].trade_id)


class Okx(Venue):
    message_type = OkxPush

    async def on_connect(self, ws: jetsocket.WebSocket[Any]) -> None:
        stamp = str(int(time.time()))  # signed anew for every connection
        login = {"apiKey": "demo-key", "passphrase": "demo-passphrase", "timestamp": stamp}
        login["sign"] = okx_sign("demo-secret", stamp)
        answer = await self.request(
            {"op": "login", "args": [login]},
            lambda m: isinstance(m, dict) and m.get("event") in ("login", "error"),
            timeout=5.0,
        )
        if answer.get("event") != "login":
            raise jetsocket.ConnectionError(f"login refused: {answer.get('msg')}")


# -- Bitfinex v2: the ack assigns a chanId that the data carries (examples/)


class Bitfinex(Venue):
    message_type = BfxSubscribed | list[Any]


# -- the harness --------------------------------------------------------------------------------


def seqs_of(msg: Any) -> list[int]:
    """The venue sequence numbers a delivered message carries."""
    if isinstance(msg, BinanceTrade):
        return [msg.trade_id]
    if isinstance(msg, KrakenTrades):
        return [t.trade_id for t in msg.data]
    if isinstance(msg, CoinbaseMatch | CoinbaseLastMatch):
        return [msg.sequence]
    if isinstance(msg, DeribitNotification):
        return [t.trade_seq for t in msg.params.data]
    if isinstance(msg, BybitPush):
        return [t.seq for t in msg.data]
    if isinstance(msg, OkxPush):
        return [int(r.trade_id) for r in msg.data]
    if isinstance(msg, list):
        return bfx_ids(msg)
    raise TypeError(f"unexpected {msg!r}")


@dataclass(frozen=True)
class Case:
    make: Callable[[], VenueServer]
    client: Callable[..., Client[Any]]  # (uri, **options)
    sub: Callable[[str], Subscription[Any]]
    streams: tuple[str, str, str]  # A and B are used, C is refused


CASES = {
    "binance": Case(
        lambda: BinanceVenue(("BTCUSDT", "ETHUSDT", "SOLUSDT"), ping_interval=None),
        lambda uri, **o: Binance(uri=uri, **o),
        lambda s: BinanceTrades(stream=s),
        ("btcusdt@trade", "ethusdt@trade", "solusdt@trade"),
    ),
    "kraken": Case(
        lambda: KrakenVenue(("BTC/USD", "ETH/USD", "SOL/USD"), heartbeat_interval=60, recent=3),
        lambda uri, **o: Kraken(uri=uri, **o),
        lambda s: KrakenSub(symbol=s),
        ("BTC/USD", "ETH/USD", "SOL/USD"),
    ),
    "coinbase": Case(
        lambda: CoinbaseVenue(("BTC-USD", "ETH-USD", "SOL-USD"), heartbeat_interval=60),
        lambda uri, **o: Coinbase(uri=uri, **o),
        lambda s: CoinbaseMatches(product=s),
        ("BTC-USD", "ETH-USD", "SOL-USD"),
    ),
    "deribit": Case(
        lambda: DeribitVenue(("BTC-PERPETUAL", "ETH-PERPETUAL", "SOL-PERPETUAL")),
        lambda uri, **o: Deribit(uri=uri, **o),
        lambda s: DeribitTrades(instrument=s),
        ("BTC-PERPETUAL", "ETH-PERPETUAL", "SOL-PERPETUAL"),
    ),
    "bybit": Case(
        lambda: BybitVenue(("BTCUSDT", "ETHUSDT", "SOLUSDT"), rate=0),
        lambda uri, **o: Bybit(uri=uri, **o),
        lambda s: BybitTrades(topic_name=s),
        ("publicTrade.BTCUSDT", "publicTrade.ETHUSDT", "publicTrade.SOLUSDT"),
    ),
    "okx": Case(
        lambda: OkxVenue(("BTC-USDT", "ETH-USDT", "SOL-USDT"), rate=0),
        lambda uri, **o: Okx(uri=uri, **o),
        lambda s: OkxTrades(inst_id=s.split(":")[1]),
        ("trades:BTC-USDT", "trades:ETH-USDT", "trades:SOL-USDT"),
    ),
    "bitfinex": Case(
        lambda: BitfinexVenue(("tBTCUSD", "tETHUSD", "tSOLUSD"), heartbeat_interval=60, recent=3),
        lambda uri, **o: Bitfinex(uri=uri, **o),
        lambda s: BitfinexTrades(symbol=s),
        ("tBTCUSD", "tETHUSD", "tSOLUSD"),
    ),
}

RESULTS: dict[str, dict[str, Any]] = {}


def record(venue: str, fault: str, **values: Any) -> None:
    """Keep a cell's measurements (written out with JETSOCKET_MATRIX_OUT)."""
    RESULTS.setdefault(venue, {})[fault] = values
    out = os.environ.get("JETSOCKET_MATRIX_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(RESULTS, f, indent=1, sort_keys=True)


def lost_and_duplicated(
    venue: VenueServer, streams: tuple[str, ...], got: list[list[int]]
) -> tuple[int, int]:
    lost = sum(len(set(venue.sent_seqs(s)) - set(g)) for s, g in zip(streams, got, strict=True))
    duplicated = sum(len(g) - len(set(g)) for g in got)
    return lost, duplicated


def cell(venue: str, fault: str) -> Any:
    return pytest.param(venue, id=f"{venue}-{fault}")


async def collect(stream: Any, got: list[int], want: set[int]) -> None:
    """Read ``stream`` until every sequence number of ``want`` was seen (or time is up)."""
    with_timeout = asyncio.timeout(T)
    try:
        async with with_timeout:
            while not want <= set(got):
                got.extend(seqs_of(await stream.recv()))
    except TimeoutError:
        pass


@dataclass
class Run:
    venue: VenueServer
    client: Client[Any]
    a: Any
    b: Any
    got_a: list[int]
    got_b: list[int]
    events: dict[str, list[Any]]


async def start(case: Case, venue: VenueServer, **options: Any) -> Run:
    client = case.client(venue.uri, **options)
    events: dict[str, list[Any]] = {"gap": [], "error": []}
    client.on("gap")(events["gap"].append)
    client.on("error")(events["error"].append)
    await client.connect()
    a = await client.subscribe(case.sub(case.streams[0]))
    b = await client.subscribe(case.sub(case.streams[1]))
    run = Run(venue, client, a, b, [], [], events)
    await publish_and_collect(run, case, 4)
    return run


async def publish_and_collect(run: Run, case: Case, count: int) -> None:
    a, b = case.streams[:2]
    await run.venue.publish(a, count)
    await run.venue.publish(b, count)
    await collect(run.a, run.got_a, set(run.venue.sent_seqs(a)))
    await collect(run.b, run.got_b, set(run.venue.sent_seqs(b)))


async def kill_and_resume(run: Run, case: Case, *, restart: bool = False) -> float:
    """Kill every connection (or restart the server); return the seconds until the client
    has resubscribed, counted from the kill (or from the server's return).

    The resubscribe must behave exactly like the first subscribe: the venue ends up with
    the same subscriptions on the new connection, and nothing is refused.
    """
    before = sorted(run.venue.subscriptions()[0])
    resubscribed: list[jetsocket.ResubscribedEvent] = []
    done = asyncio.Event()

    def on_resubscribed(event: jetsocket.ResubscribedEvent) -> None:
        resubscribed.append(event)
        done.set()

    run.client.on("resubscribed")(on_resubscribed)
    if restart:
        await run.venue.restart()
    else:
        await run.venue.kill_all()
    back = time.monotonic()
    await asyncio.wait_for(done.wait(), 3 * ACK_TIMEOUT)
    seconds = time.monotonic() - back
    assert run.client.is_connected
    assert [e.failed for e in resubscribed] == [()]
    assert sorted(run.venue.subscriptions()[0]) == before
    await publish_and_collect(run, case, 4)
    return seconds


VENUES = list(CASES)


@pytest.mark.parametrize("name", [cell(n, "kill") for n in VENUES])
async def test_kill_mid_stream_loses_nothing_and_reconnects_within_a_second(name: str) -> None:
    case = CASES[name]
    async with case.make() as venue:
        run = await start(case, venue)
        try:
            seconds = await kill_and_resume(run, case)
            resubscribed_ok = run.client.is_connected
        finally:
            await run.client.close()
    lost, duplicated = lost_and_duplicated(venue, case.streams[:2], [run.got_a, run.got_b])
    record(name, "kill", lost=lost, duplicated=duplicated, seconds=round(seconds, 3))
    for stream, got in zip(case.streams[:2], (run.got_a, run.got_b), strict=True):
        assert set(venue.sent_seqs(stream)) <= set(got), f"{stream}: lost items"
    assert resubscribed_ok
    assert seconds < 1.0, f"connected again after {seconds:.2f}s"
    assert run.events["gap"] == []


@pytest.mark.parametrize("name", [cell(n, "restart") for n in VENUES])
async def test_server_restart_reconnects_within_a_second_of_its_return(name: str) -> None:
    case = CASES[name]
    async with case.make() as venue:
        run = await start(case, venue)
        try:
            seconds = await kill_and_resume(run, case, restart=True)
        finally:
            await run.client.close()
    lost, duplicated = lost_and_duplicated(venue, case.streams[:2], [run.got_a, run.got_b])
    record(name, "restart", lost=lost, duplicated=duplicated, seconds=round(seconds, 3))
    assert (lost, duplicated) == (0, 0)
    assert seconds < 1.0, f"connected again {seconds:.2f}s after the server's return"


@pytest.mark.parametrize("name", [cell(n, "replay") for n in VENUES])
async def test_snapshot_replay_on_resubscribe_is_not_delivered_twice(name: str) -> None:
    case = CASES[name]
    async with case.make() as venue:
        run = await start(case, venue)
        try:
            seconds = await kill_and_resume(run, case)
            dropped = run.a.duplicates + run.b.duplicates
        finally:
            await run.client.close()
    replayed = len(venue.sent_seqs(case.streams[0], replay=True)) + len(
        venue.sent_seqs(case.streams[1], replay=True)
    )
    lost, duplicated = lost_and_duplicated(venue, case.streams[:2], [run.got_a, run.got_b])
    record(
        name,
        "replay",
        lost=lost,
        duplicated=duplicated,
        replayed=replayed,
        dropped=dropped,
        seconds=round(seconds, 3),
    )
    for got in (run.got_a, run.got_b):
        assert len(got) == len(set(got)), f"duplicates: {sorted(got)}"
    assert lost == 0


@pytest.mark.parametrize("name", [cell(n, "reject") for n in VENUES])
async def test_rejected_subscription_raises_with_the_venue_reason(name: str) -> None:
    case = CASES[name]
    async with case.make() as venue:
        venue.reject(case.streams[2], reason="refused by the test")
        run = await start(case, venue)
        try:
            started = time.monotonic()
            with pytest.raises(jetsocket.SubscriptionError) as refused:
                await run.client.subscribe(case.sub(case.streams[2]))
            seconds = time.monotonic() - started
            assert seconds < 1.0
            assert refused.value.reason
            assert refused.value.subscription == case.sub(case.streams[2])
            await publish_and_collect(run, case, 2)  # the other streams go on
            assert set(venue.sent_seqs(case.streams[0])) <= set(run.got_a)
        finally:
            await run.client.close()
    record(name, "reject", seconds=round(seconds, 3), reason=refused.value.reason)


@pytest.mark.parametrize("name", [cell(n, "decode") for n in VENUES])
async def test_malformed_and_unknown_messages_are_reported_and_streams_flow(name: str) -> None:
    case = CASES[name]
    async with case.make() as venue:
        run = await start(case, venue)
        try:
            await venue.send_malformed()
            await venue.send_unknown()
            await publish_and_collect(run, case, 2)
            assert set(venue.sent_seqs(case.streams[0])) <= set(run.got_a)
            assert run.client.is_connected
            decode = [e for e in run.events["error"] if e.context == "decode"]
            assert decode, "no error event for a malformed frame"
            assert run.client.stats().validation_errors >= 1
        finally:
            await run.client.close()
    lost, duplicated = lost_and_duplicated(venue, case.streams[:2], [run.got_a, run.got_b])
    record(name, "decode", lost=lost, duplicated=duplicated, error_events=len(decode))


@pytest.mark.parametrize("name", [cell(n, "gap") for n in VENUES])
async def test_a_gap_is_reported_once_on_its_own_stream(name: str) -> None:
    case = CASES[name]
    async with case.make() as venue:
        run = await start(case, venue)
        try:
            venue.skip(case.streams[0], 2)
            await publish_and_collect(run, case, 3)
        finally:
            await run.client.close()
    skipped = venue.skipped(case.streams[0])
    gaps = run.events["gap"]
    attributed = all(g.subscription == case.sub(case.streams[0]) for g in gaps)
    record(name, "gap", gaps=len(gaps), attributed=attributed, stream_gaps=(run.a.gaps, run.b.gaps))
    assert [(g.first_missing, g.last_missing) for g in gaps] == [(skipped[0], skipped[-1])]
    assert (run.a.gaps, run.b.gaps) == (1, 0)
    assert gaps[0].subscription == case.sub(case.streams[0])


@pytest.mark.parametrize("name", [cell(n, "rotate") for n in VENUES])
async def test_rotation_hands_both_streams_over_to_the_new_connection(name: str) -> None:
    # make-before-break: the new connection subscribes in its hooks; the old one stays
    # until each stream delivered on both (the venue publishes to every subscriber).
    case = CASES[name]
    async with case.make() as venue:
        run = await start(case, venue, max_connection_age=0.3, rotation_overlap=T)
        rotated = asyncio.Event()
        run.client.on("reconnected")(lambda e: rotated.set() if e.rotation else None)
        try:
            await asyncio.wait_for(rotated.wait(), 3.0)
            handed_over = time.monotonic()
            await publish_and_collect(run, case, 4)  # on both connections: the overlap
            await venue.wait_for(lambda: venue.connection_count == 1, T)
            seconds = time.monotonic() - handed_over
            subscribed = sorted(venue.subscriptions()[0])
        finally:
            await run.client.close()
    lost, _ = lost_and_duplicated(venue, case.streams[:2], [run.got_a, run.got_b])
    # Duplicates are not counted here: collect() stops at the last new id, and the overlap's
    # second copies (delivered without dedup, as documented) may still be queued.
    record(name, "rotate", lost=lost, seconds=round(seconds, 3))
    assert lost == 0
    assert subscribed == sorted(case.streams[:2])  # the new connection carries both
    assert venue.connections_accepted >= 2
    assert run.events["gap"] == []
