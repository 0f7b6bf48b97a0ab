"""A fake Kraken spot WebSocket v2 public stream.

Follows Kraken's "Spot WebSocket API v2" pages (docs.kraken.com: ``trade`` channel,
``heartbeat`` channel, ``ping``, ``status``). Real URL: ``wss://ws.kraken.com/v2``.

**Modelled**

* On connect a ``{"channel": "status", "type": "update", "data": [{"api_version": "v2",
  "connection_id", "system": "online", "version"}]}`` message.
* ``{"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD", ...],
  "snapshot": true}, "req_id": 7}`` is acknowledged **once per symbol**, each ack carrying
  the same ``req_id``: ``{"method": "subscribe", "result": {"channel": "trade", "symbol":
  "BTC/USD", "snapshot": true}, "success": true, "time_in", "time_out", "req_id": 7}``; a
  refused symbol gets ``{"method": "subscribe", "success": false, "error": "Currency pair
  not supported", "symbol": "BTC/XYZ", "time_in", "time_out", "req_id": 7}`` (or ``"Already
  subscribed"``), the other symbols of the request are still subscribed. ``unsubscribe``
  mirrors it.
* Trades: ``{"channel": "trade", "type": "update", "data": [trade, trade]}`` with 1 or 2
  trades per message (Kraken batches), each ``{"symbol", "side", "price", "qty",
  "ord_type", "trade_id", "timestamp"}``; ``price`` and ``qty`` are JSON numbers,
  ``timestamp`` RFC 3339, ``trade_id`` the symbol's sequence (consecutive).
* Snapshot on subscribe: when ``snapshot`` is true (the default here, see below) the ack is
  followed by ``{"channel": "trade", "type": "snapshot", "data": [...]}`` with the most
  recent trades (Kraken: 50), oldest first.
* ``{"channel": "heartbeat"}`` about every ``heartbeat_interval`` (1 s) on a connection with
  at least one subscription when no trade went out meanwhile.
* Application ping ``{"method": "ping", "req_id": 9}`` answered ``{"method": "pong",
  "req_id": 9, "time_in", "time_out"}``.

**Simpler / choices**: only the ``trade`` channel; the documentation pages disagree on
whether ``snapshot`` defaults to true, ``snapshot_default`` chooses (True); no rate limits.

**Reconnects**: every resubscribe with ``snapshot`` replays the recent trades, so a client
that reconnects gets trades it already had (dedup by ``trade_id``) and the ones it missed
(if they are among the recent ones; else it sees a jump in ``trade_id``). Stream keys are
the symbols, e.g. ``"BTC/USD"``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from typing_extensions import Unpack

from jetsocket.testing._venues._base import (
    Frame,
    Item,
    VenueServer,
    VenueSession,
    chunks,
    now_ms,
    rfc3339,
)

__all__ = ["KrakenVenue"]


class KrakenVenue(VenueServer):
    """A Kraken-v2-like public server (see the module documentation).

    Args:
        symbols: Pairs served, e.g. ``("BTC/USD", "ETH/USD")``.
        heartbeat_interval: Seconds between heartbeats on an idle subscribed connection.
        snapshot_default: Whether ``snapshot`` is true when a request omits it.
        **options: :class:`VenueServer.Options` (``host``, ``port``...): ``rate`` counts
            messages of 1 or 2 trades, ``seed`` also draws the batching, ``recent`` is
            the trades in a snapshot (Kraken: 50), ``first_sequence`` the first
            ``trade_id`` of every symbol.
    """

    path = "/v2"
    _tick_batch = 2

    def __init__(
        self,
        symbols: Iterable[str] = ("BTC/USD", "ETH/USD"),
        *,
        heartbeat_interval: float = 1.0,
        snapshot_default: bool = True,
        **options: Unpack[VenueServer.Options],
    ) -> None:
        super().__init__(**options)
        self.symbols = tuple(symbols)
        self._hb = heartbeat_interval
        self._snapshot_default = snapshot_default
        self.pings = 0

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        def trade(it: Item) -> dict[str, Any]:
            return {
                "symbol": stream,
                "side": it.side,
                "price": float(it.price),
                "qty": float(it.qty),
                "ord_type": "market" if it.seq % 3 else "limit",
                "trade_id": it.seq,
                "timestamp": rfc3339(it.ts_ms),
            }

        if replay:
            msg = {"channel": "trade", "type": "snapshot", "data": [trade(i) for i in items]}
            return [(msg, [i.seq for i in items])]
        return [
            (
                {"channel": "trade", "type": "update", "data": [trade(i) for i in batch]},
                [i.seq for i in batch],
            )
            for batch in chunks(items, 2)
        ]

    def _unknown_message(self) -> object:
        return {"channel": "instrument_v3", "type": "update", "data": [{"symbol": "BTC/USD"}]}

    @staticmethod
    def _times(time_in: str) -> dict[str, str]:
        return {"time_in": time_in, "time_out": rfc3339(now_ms())}

    async def _session(self, session: VenueSession) -> None:
        status = {
            "api_version": "v2",
            "connection_id": 1_000_000 + session.no,
            "system": "online",
            "version": "2.0.0",
        }
        await self._reply(session, {"channel": "status", "type": "update", "data": [status]})
        self._start_task(session, self._heartbeats(session))
        async for msg in self._messages(session, None):
            time_in = rfc3339(now_ms())
            method = msg.get("method") if isinstance(msg, dict) else None
            head: dict[str, Any] = {"method": method}
            if isinstance(msg, dict) and "req_id" in msg:
                head["req_id"] = msg["req_id"]
            if method == "ping":
                self.pings += 1
                await self._reply(session, {**head, "method": "pong", **self._times(time_in)})
            elif method in ("subscribe", "unsubscribe"):
                await self._subscribe_request(session, msg, head, time_in)
            else:
                error = "Method not found" if method is not None else "Malformed request"
                reply = {**head, "success": False, "error": error, **self._times(time_in)}
                await self._reply(session, reply)

    async def _subscribe_request(
        self, session: VenueSession, msg: dict[str, Any], head: dict[str, Any], time_in: str
    ) -> None:
        params = msg.get("params")
        symbols = params.get("symbol") if isinstance(params, dict) else None
        if not isinstance(params, dict) or not isinstance(symbols, list) or not symbols:
            why = "params must be an object with a non-empty symbol list"
            fail = {**head, "success": False, "error": why, **self._times(time_in)}
            await self._reply(session, fail)
            return
        channel = params.get("channel")
        snapshot = bool(params.get("snapshot", self._snapshot_default))
        for symbol in symbols:
            error: str | None = None
            if channel != "trade":
                error = "Channel not supported"
            elif symbol not in self.symbols:
                error = "Currency pair not supported"
            else:
                rejected, reason = self._rejection(symbol)
                if rejected:
                    error = reason or "Currency pair not supported"
                elif head["method"] == "subscribe" and symbol in session.streams:
                    error = "Already subscribed"
                elif head["method"] == "unsubscribe" and symbol not in session.streams:
                    error = "Subscription Not Found"
            if error is not None:
                fail = {**head, "success": False, "error": error, "symbol": symbol}
                await self._reply(session, {**fail, **self._times(time_in)})
                continue
            result: dict[str, Any] = {"channel": "trade", "symbol": symbol}
            if head["method"] == "unsubscribe":
                self._unsubscribe(session, symbol)
                ok = {"method": "unsubscribe", "result": result, "success": True}
                await self._reply(session, {**ok, **self._times(time_in), **head})
                continue
            result["snapshot"] = snapshot
            ack_msg = {"method": "subscribe", "result": result, "success": True}
            ack_msg.update(self._times(time_in))
            ack_msg.update(head)
            await self._subscribe(
                session, symbol, ack=ack_msg, replay=self._recent if snapshot else 0
            )

    async def _heartbeats(self, session: VenueSession) -> None:
        # Pacing sleep: a heartbeat is a periodic message, nothing synchronises on it.
        seen = len(session.sent)
        while True:
            await asyncio.sleep(self._hb)
            if session.streams and len(session.sent) == seen:
                await self._reply(session, {"channel": "heartbeat"})
            seen = len(session.sent)
