"""A fake Deribit JSON-RPC 2.0 WebSocket API (public market data).

Follows Deribit's API v2 documentation (docs.deribit.com: "Notifications",
``public/subscribe``, ``public/unsubscribe``, ``public/set_heartbeat``, ``public/test``,
``public/disable_heartbeat`` and the ``trades.{instrument_name}.{interval}`` channel).
Real URL: ``wss://www.deribit.com/ws/api/v2`` (test: ``wss://test.deribit.com/ws/api/v2``).

**Modelled**

* Requests ``{"jsonrpc": "2.0", "id": 7, "method": ..., "params": {...}}``; answers
  ``{"jsonrpc": "2.0", "id": 7, "result": ..., "usIn", "usOut", "usDiff", "testnet": true}``
  or ``{"jsonrpc": "2.0", "id": 7, "error": {"code", "message", "data"?}}`` (-32601 method
  not found, -32602 invalid params, -32700 parse error with ``id`` null).
* ``public/subscribe`` with ``{"channels": [...]}``: ``result`` lists the channels now
  subscribed **among those requested**; a channel that does not exist (unknown instrument
  or channel, or :meth:`reject`-ed) is simply left out of ``result``, which is how a client
  learns it was refused. ``trades.<instrument>.raw`` needs an authorised connection and is
  left out too. ``public/unsubscribe`` likewise; ``public/unsubscribe_all`` answers ``"ok"``.
* Notifications ``{"jsonrpc": "2.0", "method": "subscription", "params": {"channel",
  "data": [trade, ...]}}`` with 1 or 2 trades (the 100 ms aggregation), each
  ``{"trade_seq", "trade_id", "timestamp", "tick_direction", "price", "mark_price",
  "index_price", "instrument_name", "direction", "amount"}``; ``trade_seq`` is the
  instrument's sequence (consecutive).
* ``book.<instrument>.100ms``: first ``{"type": "snapshot", "change_id", "bids", "asks",
  ...}`` (levels ``["new", price, amount]``), then ``{"type": "change", "change_id",
  "prev_change_id", ...}`` whose ``prev_change_id`` is the previous ``change_id``: a gap
  shows as a ``prev_change_id`` that is not the last ``change_id`` seen. Stream key
  ``"book.<instrument>"``.
* ``public/set_heartbeat`` ``{"interval": s}`` (at least ``min_heartbeat_interval``,
  Deribit: 10) answers ``"ok"``; then every ``interval`` the server sends ``{"jsonrpc":
  "2.0", "method": "heartbeat", "params": {"type": "test_request"}}``, which the client must
  answer with a ``public/test`` request (answered ``{"version": ...}``) before the next one,
  else the connection is dropped (no close frame). ``public/disable_heartbeat`` stops it.

**Simpler**: only ``trades`` and ``book`` channels at ``100ms``, no authentication, a
made-up five-level book snapshot, no ``heartbeat``-type messages between test requests,
no request rate limits.

**Reconnects**: a ``book`` starts again from a snapshot; no trade is replayed: ``trade_seq``
continues and a reconnected client sees
the jump. Stream keys are instruments, e.g. ``"BTC-PERPETUAL"``.
"""

from __future__ import annotations

import asyncio
import time
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
)

__all__ = ["DeribitVenue"]


class DeribitVenue(VenueServer):
    """A Deribit-like JSON-RPC server (see the module documentation).

    Attributes:
        tests_answered: ``public/test`` requests received (over all connections).
        heartbeat_kills: Connections dropped for not answering a ``test_request``.

    Args:
        instruments: Instruments served, e.g. ``("BTC-PERPETUAL", "ETH-PERPETUAL")``.
        min_heartbeat_interval: Smallest ``interval`` accepted by ``public/set_heartbeat``.
        **options: :class:`VenueServer.Options` (``host``, ``port``...): ``rate`` counts
            notifications of 1 or 2 trades, ``seed`` also draws the batching,
            ``first_sequence`` is the first ``trade_seq`` of every instrument.
    """

    path = "/ws/api/v2"
    _tick_batch = 2

    def __init__(
        self,
        instruments: Iterable[str] = ("BTC-PERPETUAL", "ETH-PERPETUAL"),
        *,
        min_heartbeat_interval: float = 10.0,
        **options: Unpack[VenueServer.Options],
    ) -> None:
        super().__init__(**options)
        self.instruments = tuple(instruments)
        self._min_hb = min_heartbeat_interval
        self.tests_answered = 0
        self.heartbeat_kills = 0

    def _stream_key(self, channel: object) -> str | None:
        """The stream of a public channel this venue serves (None: not served).

        ``trades.X.100ms`` is the stream ``X``; ``book.X.100ms`` is ``book.X``.
        """
        if not isinstance(channel, str):
            return None
        kind, _, rest = channel.partition(".")
        instrument, _, interval = rest.rpartition(".")
        if kind not in ("trades", "book") or interval != "100ms":
            return None
        if instrument not in self.instruments or self._rejection(channel, instrument)[0]:
            return None
        return instrument if kind == "trades" else f"book.{instrument}"

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        if stream.startswith("book."):
            return self._render_book(stream, items, replay=replay)
        channel = f"trades.{stream}.100ms"

        def trade(it: Item) -> dict[str, Any]:
            price = float(it.price)
            return {
                "trade_seq": it.seq,
                "trade_id": f"{stream.split('-', maxsplit=1)[0]}-{it.seq}",
                "timestamp": it.ts_ms,
                "tick_direction": 0 if it.side == "buy" else 2,
                "price": price,
                "mark_price": price,
                "index_price": price,
                "instrument_name": stream,
                "direction": it.side,
                "amount": float(it.qty) * 10_000,
            }

        return [
            (
                {
                    "jsonrpc": "2.0",
                    "method": "subscription",
                    "params": {"channel": channel, "data": [trade(i) for i in batch]},
                },
                [i.seq for i in batch],
            )
            for batch in chunks(items, 2)
        ]

    def _render_book(self, stream: str, items: Sequence[Item], *, replay: bool) -> list[Frame]:
        instrument = stream.removeprefix("book.")
        channel = f"book.{instrument}.100ms"

        def note(data: dict[str, Any]) -> dict[str, Any]:
            body = {"timestamp": now_ms(), "instrument_name": instrument, **data}
            params = {"channel": channel, "data": body}
            return {"jsonrpc": "2.0", "method": "subscription", "params": params}

        if replay:  # the whole book, then changes chained by prev_change_id
            price = float(self._stream(stream).price)
            levels = [["new", round(price + i * 0.5, 2), 10.0] for i in range(1, 6)]
            bids = [["new", round(price - i * 0.5, 2), 10.0] for i in range(1, 6)]
            snap = {"type": "snapshot", "change_id": self.last_sequence(stream) or 0}
            return [(note({**snap, "bids": bids, "asks": levels}), [])]
        frames: list[Frame] = []
        for it in items:
            level = [["change", float(it.price), float(it.qty) * 10_000]]
            change = {
                "type": "change",
                "change_id": it.seq,
                "prev_change_id": it.seq - 1,
                "bids": level if it.side == "buy" else [],
                "asks": level if it.side == "sell" else [],
            }
            frames.append((note(change), [it.seq]))
        return frames

    def _unknown_message(self) -> object:
        return {"jsonrpc": "2.0", "method": "announcement", "params": {"body": "new feature"}}

    @staticmethod
    def _result(req_id: Any, result: object, t_in: int) -> dict[str, Any]:
        t_out = time.time_ns() // 1000
        return {
            "jsonrpc": "2.0",
            "id": req_id,
            "result": result,
            "usIn": t_in,
            "usOut": t_out,
            "usDiff": t_out - t_in,
            "testnet": True,
        }

    @staticmethod
    def _rpc_error(req_id: Any, code: int, message: str, **data: Any) -> dict[str, Any]:
        error: dict[str, Any] = {"code": code, "message": message}
        if data:
            error["data"] = data
        return {"jsonrpc": "2.0", "id": req_id, "error": error}

    async def _session(self, session: VenueSession) -> None:
        async for msg in self._messages(session, None):
            t_in = time.time_ns() // 1000
            if not isinstance(msg, dict):
                await self._reply(session, self._rpc_error(None, -32700, "Parse error"))
                continue
            req_id, method = msg.get("id"), msg.get("method")
            params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
            assert isinstance(params, dict)
            if method == "public/test":
                self.tests_answered += 1
                session.state["answered"] = True
                await self._reply(session, self._result(req_id, {"version": "1.2.26"}, t_in))
            elif method == "public/set_heartbeat":
                interval = params.get("interval")
                if not isinstance(interval, (int, float)) or interval < self._min_hb:
                    err = self._rpc_error(
                        req_id,
                        -32602,
                        "Invalid params",
                        param="interval",
                        reason=f"must be a number >= {self._min_hb}",
                    )
                    await self._reply(session, err)
                    continue
                self._stop_heartbeat(session)
                session.state["answered"] = True
                self._start_task(session, self._heartbeat(session, float(interval)))
                session.state["hb_task"] = session.tasks[-1]
                await self._reply(session, self._result(req_id, "ok", t_in))
            elif method == "public/disable_heartbeat":
                self._stop_heartbeat(session)
                await self._reply(session, self._result(req_id, "ok", t_in))
            elif method == "public/subscribe":
                await self._subscribe_request(session, req_id, params, t_in)
            elif method == "public/unsubscribe":
                channels = params.get("channels")
                removed = []
                for channel in channels if isinstance(channels, list) else []:
                    for instrument, ch in list(session.streams.items()):
                        if ch == channel:
                            self._unsubscribe(session, instrument)
                            removed.append(channel)
                await self._reply(session, self._result(req_id, removed, t_in))
            elif method == "public/unsubscribe_all":
                for instrument in list(session.streams):
                    self._unsubscribe(session, instrument)
                await self._reply(session, self._result(req_id, "ok", t_in))
            else:
                err = self._rpc_error(req_id, -32601, "Method not found")
                await self._reply(session, err)

    async def _subscribe_request(
        self, session: VenueSession, req_id: Any, params: dict[str, Any], t_in: int
    ) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            err = self._rpc_error(
                req_id, -32602, "Invalid params", param="channels", reason="must be a list"
            )
            await self._reply(session, err)
            return
        accepted = [c for c in dict.fromkeys(channels) if self._stream_key(c) is not None]
        new = [c for c in accepted if session.streams.get(self._stream_key(c) or "") != c]
        answer = self._result(req_id, accepted, t_in)
        if not new:
            await self._reply(session, answer)
            return
        for i, channel in enumerate(new):
            key = self._stream_key(channel)
            assert key is not None
            replay = 1 if key.startswith("book.") else 0  # a book starts with its snapshot
            await self._subscribe(
                session, key, channel, ack=answer if i == 0 else None, replay=replay
            )

    def _stop_heartbeat(self, session: VenueSession) -> None:
        task = session.state.pop("hb_task", None)
        if task is not None:
            task.cancel()

    async def _heartbeat(self, session: VenueSession, interval: float) -> None:
        # Pacing sleep: the heartbeat is periodic, nothing synchronises on it.
        request = {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
        while True:
            await asyncio.sleep(interval)
            if not session.state.get("answered", True):
                # Deribit: "the API server will immediately close the connection".
                self.heartbeat_kills += 1
                session.conn.transport.abort()
                return
            session.state["answered"] = False
            await self._reply(session, request)
