"""A fake Bybit v5 public stream.

Follows Bybit's v5 WebSocket documentation ("Connect" and the public ``publicTrade`` and
``tickers`` topic pages, bybit-exchange.github.io/docs/v5/ws/connect). Real URL:
``wss://stream.bybit.com/v5/public/spot``.

**Modelled**

* Requests are ``{"op": ..., "args": [...], "req_id": "..."}``. ``subscribe`` and
  ``unsubscribe`` get one ack echoing ``req_id`` with ``success``, ``ret_msg``,
  ``conn_id`` and ``op``; a request with more than ``max_topics_per_request`` topics (spot:
  10) is refused as a whole.
* Application ping ``{"op": "ping", "req_id": ...}`` is answered with ``"op": "pong"`` and
  ``"ret_msg": "pong"``; with ``idle_timeout`` a silent connection is closed, as Bybit closes
  connections that send no ping for a while.
* ``publicTrade.<SYMBOL>``: ``{"topic", "type": "snapshot", "ts", "data": [trade, ...]}``, one
  message may carry several trades; each trade has ``i`` (trade id) and ``seq``, both the
  topic's sequence number, consecutive. ``tickers.<SYMBOL>``: ``data`` is an object and the
  message carries ``cs`` (the topic's sequence).

**Simpler than the real venue / choices made**

* Every ack carries ``data: {"successTopics": [...], "failTopics": [...]}`` (documented for
  the options stream only), so one batched request can partially fail: its valid topics are
  subscribed and ``success`` is false. Subscribing a topic twice fails.
* The pong uses the linear/inverse shape (``op: "pong"``); spot answers with ``op: "ping"``.
* No order book topics, no ``auth``.

**Reconnects**: Bybit replays nothing for ``publicTrade`` (a client that was away sees a
jump in ``seq``); sequences continue across connections. Fault hooks: :meth:`reject` (the
topic lands in ``failTopics``), :meth:`skip` (a jump in ``seq``), :meth:`send_unknown`
(a ``system.notice`` topic nobody subscribed to).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from typing_extensions import Unpack

from jetsocket.testing._venues._base import Frame, Item, VenueServer, VenueSession, now_ms

__all__ = ["BybitVenue"]


class BybitVenue(VenueServer):
    """A Bybit v5 public-stream-like server (see the module documentation).

    Streams are the topics, named as on the wire: ``publicTrade.BTCUSDT``,
    ``tickers.ETHUSDT``.

    Attributes:
        pings: Application pings answered.
        refuse: Topics refused even when valid (the same as :meth:`reject`).

    Args:
        symbols: Symbols served, e.g. ``("BTCUSDT", "ETHUSDT")``.
        max_topics_per_request: Requests with more topics are refused as a whole.
        idle_timeout: Close connections silent for this many seconds (None: never).
        **options: :class:`VenueServer.Options` (``seed``, ``host``, ``port``...); ``rate``
            (default 10) is messages per second per subscribed topic, ``first_sequence``
            the first ``seq`` of every topic.
    """

    path = "/v5/public/spot"

    def __init__(
        self,
        symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"),
        *,
        max_topics_per_request: int = 10,
        idle_timeout: float | None = None,
        **options: Unpack[VenueServer.Options],
    ) -> None:
        options.setdefault("rate", 10.0)
        super().__init__(**options)
        self.symbols = tuple(s.upper() for s in symbols)
        self._max_topics = max_topics_per_request
        self._idle = idle_timeout
        self.pings = 0
        self.refuse: set[str] = set()

    def _valid(self, topic: object) -> bool:
        if not isinstance(topic, str) or topic in self.refuse or self._rejection(topic)[0]:
            return False
        kind, _, symbol = topic.partition(".")
        return kind in ("publicTrade", "tickers") and symbol in self.symbols

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        kind, _, symbol = stream.partition(".")
        ts = now_ms()
        if kind == "publicTrade":
            trades = [
                {
                    "T": it.ts_ms,
                    "s": symbol,
                    "S": it.side.capitalize(),
                    "v": it.qty,
                    "p": it.price,
                    "L": "PlusTick" if it.side == "buy" else "MinusTick",
                    "i": str(it.seq),
                    "BT": False,
                    "seq": it.seq,
                }
                for it in items
            ]
            msg = {"topic": stream, "type": "snapshot", "ts": ts, "data": trades}
            return [(msg, [it.seq for it in items])]
        return [
            (
                {
                    "topic": stream,
                    "type": "snapshot",
                    "ts": ts,
                    "cs": it.seq,
                    "data": {"symbol": symbol, "lastPrice": it.price, "volume24h": it.qty},
                },
                [it.seq],
            )
            for it in items
        ]

    def _unknown_message(self) -> object:
        return {"topic": "system.notice", "type": "info", "ts": now_ms(), "data": {"n": 1}}

    async def _session(self, session: VenueSession) -> None:
        async for msg in self._messages(session, self._idle):
            await self._request(session, msg)

    async def _request(self, session: VenueSession, msg: Any) -> None:
        op = msg.get("op") if isinstance(msg, dict) else None
        req_id = msg.get("req_id", "") if isinstance(msg, dict) else ""
        head = {"conn_id": session.id, "req_id": req_id}
        if op == "ping":
            self.pings += 1
            await self._reply(session, {"success": True, "ret_msg": "pong", **head, "op": "pong"})
            return
        if op not in ("subscribe", "unsubscribe"):
            reply = {"success": False, "ret_msg": f"error:unknown op {op!r}", **head, "op": op}
            await self._reply(session, reply)
            return
        args = msg.get("args")
        if not isinstance(args, list) or not args or len(args) > self._max_topics:
            err = f"error:args must be a list of 1 to {self._max_topics} topics"
            await self._reply(session, {"success": False, "ret_msg": err, **head, "op": op})
            return
        if op == "subscribe":
            ok = [t for t in args if self._valid(t) and t not in session.streams]
        else:
            ok = [t for t in args if t in session.streams]
        failed = [str(t) for t in args if t not in ok]
        reply = {
            "success": not failed,
            "ret_msg": f"error:invalid topics: {','.join(failed)}" if failed else "",
            **head,
            "op": op,
            "data": {"successTopics": ok, "failTopics": failed},
        }
        if op == "unsubscribe":
            for topic in ok:
                self._unsubscribe(session, topic)
            await self._reply(session, reply)
            return
        if not ok:
            await self._reply(session, reply)
            return

        # The ack goes first: no pushed message of a topic precedes its ack.
        for i, topic in enumerate(ok):
            await self._subscribe(session, topic, ack=reply if i == 0 else None)
