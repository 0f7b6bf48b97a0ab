"""The Bitfinex v2 fake: info, subscribed/chanId, snapshot arrays, te, hb, conf, errors."""

from __future__ import annotations

import json

from _wire import recv
from websockets.asyncio.client import connect

from jetsocket.testing import BitfinexVenue


def sub(symbol: str, channel: str = "trades") -> str:
    return json.dumps({"event": "subscribe", "channel": channel, "symbol": symbol})


async def test_chan_id_from_the_ack_then_snapshot_and_te_arrays() -> None:
    async with BitfinexVenue(heartbeat_interval=60) as venue:
        await venue.publish("tBTCUSD", 3)
        async with connect(venue.uri) as ws:
            info = await recv(ws)
            assert (info["event"], info["version"], info["platform"]) == ("info", 2, {"status": 1})
            await ws.send(sub("tBTCUSD"))
            ack = await recv(ws)
            chan = ack["chanId"]
            assert ack == {
                "event": "subscribed",
                "channel": "trades",
                "chanId": chan,
                "symbol": "tBTCUSD",
                "pair": "BTCUSD",
            }
            assert venue.chan_id("tBTCUSD") == chan
            snap = await recv(ws)
            assert snap[0] == chan
            assert [row[0] for row in snap[1]] == [3, 2, 1]
            await venue.publish("tBTCUSD")
            chan_, kind, row = await recv(ws)
            assert (chan_, kind, row[0]) == (chan, "te", 4)
            assert len(row) == 4
            await venue.kill_all()
        async with connect(venue.uri) as ws:
            await recv(ws)
            await ws.send(sub("tBTCUSD"))
            again = (await recv(ws))["chanId"]
            assert again != chan  # a new chanId on every connection
            assert [r[0] for r in (await recv(ws))[1]] == [4, 3, 2, 1]  # 1..4 seen twice
    assert venue.sent_seqs("tBTCUSD", conn=2, replay=True) == [1, 2, 3, 4]


async def test_errors_unsubscribe_ping_and_info_events() -> None:
    async with BitfinexVenue(heartbeat_interval=60, max_channels=1) as venue:
        async with connect(venue.uri) as ws:
            await recv(ws)
            await ws.send(sub("tXYZUSD"))
            err = await recv(ws)
            assert (err["event"], err["code"], err["symbol"]) == ("error", 10300, "tXYZUSD")
            await ws.send(sub("tBTCUSD", channel="nope"))
            assert (await recv(ws))["code"] == 10302
            await ws.send(sub("tBTCUSD"))
            chan = (await recv(ws))["chanId"]
            assert await recv(ws) == [chan, []]  # the (empty) snapshot
            await ws.send(sub("tBTCUSD"))
            assert (await recv(ws))["code"] == 10301
            await ws.send(sub("tETHUSD"))
            assert (await recv(ws))["code"] == 10305
            await ws.send(json.dumps({"event": "unsubscribe", "chanId": chan}))
            assert await recv(ws) == {"event": "unsubscribed", "status": "OK", "chanId": chan}
            venue.reject("tETHUSD")
            await ws.send(sub("tETHUSD"))
            assert (await recv(ws))["code"] == 10300
            await ws.send(json.dumps({"event": "ping", "cid": 1234}))
            pong = await recv(ws)
            assert (pong["event"], pong["cid"]) == ("pong", 1234)
            assert await venue.send_info(20051) == 1
            assert (await recv(ws))["code"] == 20051


async def test_heartbeats_and_seq_all_flag() -> None:
    async with BitfinexVenue(heartbeat_interval=0.05) as venue, connect(venue.uri) as ws:
        await recv(ws)
        await ws.send(json.dumps({"event": "conf", "flags": 65536}))
        assert await recv(ws) == {"event": "conf", "status": "OK", "flags": 65536}
        await ws.send(sub("tETHUSD"))
        chan = (await recv(ws))["chanId"]
        snap = await recv(ws)
        assert snap == [chan, [], 1]  # an empty snapshot, then the SEQ_ALL number
        hb = await recv(ws)
        assert hb[:2] == [chan, "hb"]
        await venue.publish("tETHUSD")
        while (msg := await recv(ws))[1] == "hb":
            pass
        assert msg[1] == "te"
        assert msg[-1] > hb[-1]  # the SEQ_ALL number grows over all the connection's messages
