"""Every program in examples/ runs offline, exits 0 by itself and prints what it received.

Each example starts its own simulator or fake venue on 127.0.0.1; they run as separate
processes, as a user would run them. Examples without an entry in ``EXPECTED`` (added
later) are still run and must exit 0 with some output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import jetsocket
from jetsocket.testing import BybitVenue, OkxVenue, RealtimeVenue, okx_sign

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT = 60.0  # a generous bound for slow CI machines; each example takes a few seconds
DURATION = 20.0  # "exits by itself within seconds": well above the ~1-3 s they take

EXPECTED: dict[str, list[str]] = {
    "binance_trades.py": [
        "real venue: wss://stream.binance.com:9443/ws",
        "subscribed btcusdt@trade (request id 1)",
        "3 subscriptions over 2 connections",  # sharded: the simulator allows 2 per connection
        "trade BTCUSDT #",
        "kline BTCUSDT 1s: close",
        "re-subscribed",
        "after the reconnect: trade BTCUSDT",
        "klines seen by the handler",
    ],
    "bitfinex_trades.py": [
        "real venue: wss://api-pub.bitfinex.com/ws/2",
        "refused as expected: 10300",
        "BTC [1, 2, 3, 4, 5], ETH [1, 2, 3, 4, 5]",
        "new channel ids after the reconnect",  # routed by the new chanIds
        "after the reconnect: BTC [6, 7], ETH [6, 7]",
        "snapshot replays dropped: BTC 1, ETH 1",
    ],
    "bybit_client.py": [
        "real venue: wss://stream.bybit.com/v5/public/spot",
        "refused as expected: error:invalid topics: publicTrade.DOGEUSDT",
        "trade BTCUSDT",
        "pings answered, 1 connection",  # the application pings beat the 1 s idle limit
        "refused: ['publicTrade.ETHUSDT']",  # partial failure of the batched re-subscribe
        "BTC stream continues: BTCUSDT",
        "'args': ['publicTrade.BTCUSDT', 'publicTrade.ETHUSDT']",  # one batched request
    ],
    "coinbase_matches.py": [
        "real venue: wss://ws-feed.exchange.coinbase.com",
        "refused as expected: Failed to subscribe",
        "re-subscribed 2 after 0.",  # not after ack_timeout
        "failed: ()",
        "ETH-USD ['(gap of 3)', '8', '9']",  # the gap, at the consumer's position
        "replayed last_match dropped: BTC 1, ETH 1",
        "gaps at the consumer: BTC 0, ETH 1",
    ],
    "deribit_trades.py": [
        "real venue: wss://www.deribit.com/ws/api/v2",
        "refused as expected: left out of the venue's answer",
        "after the reconnect: BTC [7, 8, 9], ETH [6, 7, 8]",
        "gap on Trades(instrument='BTC-PERPETUAL'): trade_seq 6..6",
        "answered with public/test",
    ],
    "kraken_trades.py": [
        "real venue: wss://ws.kraken.com/v2",
        "refused as expected: Currency pair not supported",
        "BTC/USD trade ids [1, 2, 3, 4, 5, 6]",
        "the snapshot replay was dropped",
        "BTC/USD after the reconnect [7, 8, 9]",
        "gap on KrakenTrades(symbol='ETH/USD'): 7..8",
        "duplicates dropped: BTC 1, ETH 1",
        "pongs to req_id pings",
    ],
    "okx_client.py": [
        "real venue: wss://ws.okx.com:8443/ws/v5/public",
        "logged in (connection conn-1, login #1)",
        "refused as expected: 60018",
        "text pings answered, 1 connection so far",  # the pings beat the 1 s idle limit
        "logged in (connection conn-2, login #2)",  # on_connect re-ran after the reset
        "after the reconnect: BTC-USDT",
        "2 logins accepted by the venue",
    ],
    "openai_realtime.py": [
        "real service: wss://api.openai.com/v1/realtime",
        "[session sess_conn-1 configured: 'Demo:']",
        "assistant: Demo: You said: hello",
        "[session sess_conn-2 configured: 'Demo:']",  # session init re-sent after reconnect
        "assistant: Demo: You said: are you still there?",
        "2 session.update sent (one per connection), 2 connections, 2 responses",
    ],
    "simulator_feed.py": [
        "0 gaps within a connection",
    ],
    "simulator_resume.py": [
        "reconnected: resuming btcusdt@trade after seq ",
        "'recovered': {'btcusdt@trade': True}",
        "400 trades, seq 1..400: contiguous True, gaps []",
        "client: 1 reconnect(s)",
    ],
    "cassette_replay.py": [
        "API key written to the cassette: False",
        "replayed 21 messages offline, identical: True",
        "deviating client refused: code 1008",
        "client message #1 differs from the cassette",
    ],
    "order_book.py": [
        "book BTC-USDT: gap",
        "book BTC-USDT: resyncing",
        "1 gap, 1 resync, 0 checksum failures; 2 subscriptions",
        "book equal to the venue's, level by level: True",
    ],
}


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES}
    missing = {"binance_trades.py", "bybit_client.py", "okx_client.py", "openai_realtime.py"}
    assert missing <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_offline(example: Path) -> None:
    started = time.monotonic()
    # Unbuffered, so that a failure shows everything printed up to it.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, str(example)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )
    elapsed = time.monotonic() - started
    report = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, report
    assert proc.stdout.strip(), report
    assert "Traceback" not in proc.stderr, report
    for needle in EXPECTED.get(example.name, []):
        assert needle in proc.stdout, f"missing {needle!r}\n{report}"
    assert elapsed < DURATION, f"took {elapsed:.1f}s\n{report}"


# -- the fake venues behind the examples: the rules the examples rely on ---------------------


async def test_okx_venue_requires_a_signed_login() -> None:
    async with (
        OkxVenue(rate=0) as venue,
        jetsocket.WebSocket(venue.uri, raw=True, reconnect=False) as ws,
    ):

        async def answer() -> Any:
            return json.loads(await ws.recv(timeout=5))

        sub = {"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]}
        await ws.send(sub)
        assert (await answer())["code"] == "60011"  # please log in
        ts = str(int(time.time()))
        login = {"apiKey": "demo-key", "passphrase": "demo-passphrase", "timestamp": ts}
        await ws.send({"op": "login", "args": [{**login, "sign": okx_sign("wrong", ts)}]})
        assert (await answer())["code"] == "60009"  # login failed
        await ws.send({"op": "login", "args": [{**login, "sign": okx_sign("demo-secret", ts)}]})
        assert (await answer())["event"] == "login"
        await ws.send({**sub, "id": "7"})
        subscribed = await answer()
        assert (subscribed["event"], subscribed["id"]) == ("subscribe", "7")
        await ws.send_raw("ping")
        assert await ws.recv(timeout=5) == "pong"
    assert (venue.logins, venue.pings) == (1, 1)


async def test_bybit_venue_acks_partial_failures_and_limits_batches() -> None:
    async with (
        BybitVenue(rate=0) as venue,
        jetsocket.WebSocket(venue.uri, reconnect=False) as ws,
    ):
        await ws.send({"op": "subscribe", "args": ["publicTrade.BTCUSDT", "x.Y"], "req_id": "1"})
        ack = await ws.recv(timeout=5)
        assert (ack["success"], ack["req_id"]) == (False, "1")
        assert ack["data"] == {"successTopics": ["publicTrade.BTCUSDT"], "failTopics": ["x.Y"]}
        too_many = [f"publicTrade.T{i}" for i in range(11)]
        await ws.send({"op": "subscribe", "args": too_many, "req_id": "2"})
        assert "1 to 10 topics" in (await ws.recv(timeout=5))["ret_msg"]
        await ws.send({"op": "ping", "req_id": "3"})
        assert (await ws.recv(timeout=5))["op"] == "pong"
        assert venue.subscriptions() == [["publicTrade.BTCUSDT"]]


async def test_realtime_venue_needs_the_key_and_a_configured_session() -> None:
    async with RealtimeVenue(api_key="sk-test") as venue:
        with pytest.raises(jetsocket.HandshakeError) as refused:
            await jetsocket.WebSocket(venue.uri, reconnect=False).connect()
        assert refused.value.status_code == 401
        headers = {"Authorization": "Bearer sk-test"}
        async with jetsocket.WebSocket(venue.uri, extra_headers=headers, reconnect=False) as ws:
            assert (await ws.recv(timeout=5))["type"] == "session.created"
            await ws.send({"type": "response.create"})
            error = await ws.recv(timeout=5)
            assert error["error"]["code"] == "session_not_configured"
            await ws.send({"type": "session.update", "session": {"instructions": "Hi."}})
            assert (await ws.recv(timeout=5))["session"]["instructions"] == "Hi."
            await ws.send({"type": "response.create"})
            kinds: list[str] = []
            while not kinds or kinds[-1] != "rate_limits.updated":
                kinds.append((await ws.recv(timeout=5))["type"])
            assert kinds[0] == "response.created"
            assert kinds[-3:] == ["response.text.done", "response.done", "rate_limits.updated"]
            assert "response.text.delta" in kinds
