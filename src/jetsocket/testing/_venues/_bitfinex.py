"""A fake Bitfinex WebSocket v2 public stream.

Follows Bitfinex's "WebSocket General" page (docs.bitfinex.com/docs/ws-general: info
messages, ping/pong, configuration flags, heartbeating, error codes, subscribe/unsubscribe)
and "Public Trades" (docs.bitfinex.com/reference/ws-public-trades). Real URL:
``wss://api-pub.bitfinex.com/ws/2``.

**Modelled**

* On connect: ``{"event": "info", "version": 2, "serverId", "platform": {"status": 1}}``.
  :meth:`BitfinexVenue.send_info` sends the other info events (20051: stop/restart, please
  reconnect; 20060/20061: maintenance start/end).
* ``{"event": "subscribe", "channel": "trades", "symbol": "tBTCUSD"}`` answered
  ``{"event": "subscribed", "channel": "trades", "chanId": N, "symbol": "tBTCUSD",
  "pair": "BTCUSD"}``. **Data carries the chanId, not the symbol**, and a new chanId is
  assigned by every subscription, so it changes on every reconnect.
* Then a snapshot ``[N, [[ID, MTS, AMOUNT, PRICE], ...]]`` (most recent first; AMOUNT < 0
  for a sell), then one ``[N, "te", [ID, MTS, AMOUNT, PRICE]]`` per trade. ``ID`` is the
  symbol's sequence (consecutive). Heartbeats ``[N, "hb"]`` every ``heartbeat_interval``
  (Bitfinex: 15 s) on a channel that sent nothing meanwhile.
* Errors ``{"event": "error", "msg", "code", "channel", "symbol"}``: 10300 (subscription
  failed: unknown symbol or :meth:`reject`-ed), 10301 (already subscribed), 10302 (unknown
  channel), 10305 (more than ``max_channels`` channels, Bitfinex: 25). ``{"event":
  "unsubscribe", "chanId": N}`` answered ``{"event": "unsubscribed", "status": "OK",
  "chanId": N}`` (error 10400 for an unknown chanId).
* ``{"event": "ping", "cid": 42}`` answered ``{"event": "pong", "ts", "cid": 42}``.
* ``{"event": "conf", "flags": 65536}`` (SEQ_ALL) answered ``{"event": "conf", "status":
  "OK", "flags": 65536}``; afterwards every channel message (data and ``hb``) carries one
  more element: a sequence number per connection, consecutive over all its channels.

**Simpler**: only the ``trades`` channel of trading pairs; no ``tu`` messages after ``te``
(the real venue sends both); no book checksums; the snapshot holds ``recent`` trades
(default 30).

**Reconnects**: every (re)subscribe sends a snapshot of recent trades: a client that
reconnects gets those it already had again (dedup by ``ID``), under a *new* chanId. Stream
keys are the symbols, e.g. ``"tBTCUSD"``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Sequence
from typing import Any

from typing_extensions import Unpack

from jetsocket.testing._venues._base import Frame, Item, VenueServer, VenueSession, now_ms

__all__ = ["BitfinexVenue"]

SEQ_ALL = 65536

_INFO = {
    20051: "Stopping. Please try to reconnect",
    20060: "Entering in Maintenance mode. Please pause any activity and resume after "
    "receiving the info message 20061 (it should take 120 seconds at most).",
    20061: "Maintenance ended. You can resume normal activity.",
}


class BitfinexVenue(VenueServer):
    """A Bitfinex-v2-like public server (see the module documentation).

    Args:
        symbols: Trading pairs served, e.g. ``("tBTCUSD", "tETHUSD")``.
        heartbeat_interval: Seconds of silence after which a channel gets ``hb``.
        max_channels: Channels per connection.
        **options: :class:`VenueServer.Options` (``rate``, ``host``, ``port``...): ``seed``
            also draws the channel ids, ``recent`` (default 30) is the trades in a
            snapshot, ``first_sequence`` the first trade ``ID`` of every symbol.
    """

    path = "/ws/2"

    def __init__(
        self,
        symbols: Iterable[str] = ("tBTCUSD", "tETHUSD"),
        *,
        heartbeat_interval: float = 15.0,
        max_channels: int = 25,
        **options: Unpack[VenueServer.Options],
    ) -> None:
        options.setdefault("recent", 30)
        super().__init__(**options)
        self.symbols = tuple(symbols)
        self._hb = heartbeat_interval
        self._max_channels = max_channels
        self._next_chan = random.Random(self._seed).randrange(10_000, 400_000)

    def chan_id(self, symbol: str, *, conn: int | None = None) -> int | None:
        """The chanId ``symbol`` has on an open connection (the latest one by default)."""
        for session in reversed(self.open_sessions()):
            if (conn is None or session.no == conn) and symbol in session.streams:
                chan: int = session.streams[symbol]
                return chan
        return None

    async def send_info(self, code: int, msg: str | None = None) -> int:
        """Send ``{"event": "info", "code": code, "msg": ...}`` to every open connection."""
        text = msg if msg is not None else _INFO.get(code, "info")
        count = 0
        async with self._lock:
            for session in self.open_sessions():
                count += await self._send(session, {"event": "info", "code": code, "msg": text})
        return count

    def _with_seq(self, session: VenueSession, msg: list[Any]) -> list[Any]:
        if session.state.get("flags", 0) & SEQ_ALL:
            session.state["seq"] = session.state.get("seq", 0) + 1
            msg.append(session.state["seq"])
        return msg

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        chan = session.streams.get(stream)
        if chan is None:  # the snapshot goes out before the stream is marked subscribed
            chan = session.state["pending_chan"]

        def row(it: Item) -> list[Any]:
            amount = float(it.qty) if it.side == "buy" else -float(it.qty)
            return [it.seq, it.ts_ms, amount, float(it.price)]

        session.state.setdefault("last_out", {})[chan] = asyncio.get_running_loop().time()
        if replay:
            rows = [row(it) for it in reversed(items)]
            return [(self._with_seq(session, [chan, rows]), [it.seq for it in items])]
        return [(self._with_seq(session, [chan, "te", row(it)]), [it.seq]) for it in items]

    def _unknown_message(self) -> object:
        return {"event": "notify", "platform": {"status": 1}, "ts": now_ms()}

    async def _session(self, session: VenueSession) -> None:
        server_id = f"fake-{self._seed}-{session.no:04d}"
        info = {"event": "info", "version": 2, "serverId": server_id, "platform": {"status": 1}}
        await self._reply(session, info)
        self._start_task(session, self._heartbeats(session))
        async for msg in self._messages(session, None):
            event = msg.get("event") if isinstance(msg, dict) else None
            if event == "ping":
                await self._reply(session, {"event": "pong", "ts": now_ms(), "cid": msg.get("cid")})
            elif event == "conf":
                flags = msg.get("flags")
                session.state["flags"] = flags if isinstance(flags, int) else 0
                await self._reply(session, {"event": "conf", "status": "OK", "flags": flags})
            elif event == "subscribe":
                await self._subscribe_request(session, msg)
            elif event == "unsubscribe":
                chan = msg.get("chanId")
                symbol = next((s for s, c in session.streams.items() if c == chan), None)
                if symbol is None:
                    await self._error(session, 10400, "unsubscribe: invalid", {"chanId": chan})
                else:
                    self._unsubscribe(session, symbol)
                    reply = {"event": "unsubscribed", "status": "OK", "chanId": chan}
                    await self._reply(session, reply)
            else:
                await self._error(session, 10000, "Unknown event", {})

    async def _error(
        self, session: VenueSession, code: int, msg: str, extra: dict[str, Any]
    ) -> None:
        await self._reply(session, {"event": "error", "msg": msg, "code": code, **extra})

    async def _subscribe_request(self, session: VenueSession, msg: dict[str, Any]) -> None:
        channel, symbol = msg.get("channel"), msg.get("symbol")
        where = {"channel": channel, "symbol": symbol}
        if channel != "trades":
            await self._error(session, 10302, "channel: unknown", where)
            return
        rejected, reason = self._rejection(str(symbol))
        if symbol not in self.symbols or rejected:
            await self._error(session, 10300, reason or "symbol: invalid", where)
            return
        assert isinstance(symbol, str)
        if symbol in session.streams:
            await self._error(session, 10301, "subscribe: dup", where)
            return
        if len(session.streams) >= self._max_channels:
            await self._error(session, 10305, "subscribe: limit", where)
            return
        self._next_chan += 1
        chan = self._next_chan
        session.state["pending_chan"] = chan
        ack = {**where, "event": "subscribed", "chanId": chan, "pair": symbol[1:]}
        await self._subscribe(session, symbol, chan, ack=ack, replay=self._recent)

    async def _heartbeats(self, session: VenueSession) -> None:
        # Pacing sleep: heartbeats are periodic messages, nothing synchronises on them.
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._hb / 2)
            last_out: dict[int, float] = session.state.setdefault("last_out", {})
            for chan in list(session.streams.values()):
                if loop.time() - last_out.get(chan, 0.0) >= self._hb:
                    last_out[chan] = loop.time()
                    await self._reply(session, self._with_seq(session, [chan, "hb"]))
