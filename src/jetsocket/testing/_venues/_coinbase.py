"""A fake Coinbase Exchange market data feed.

Follows Coinbase Exchange's "WebSocket Feed" overview and "WebSocket Channels" pages
(docs.cdp.coinbase.com/exchange: subscribe, ``subscriptions`` message, ``heartbeat``,
``ticker``, ``matches``, ``level2``, error messages). Real URL:
``wss://ws-feed.exchange.coinbase.com``.

**Modelled**

* ``{"type": "subscribe", "product_ids": [...], "channels": ["matches", {"name": "ticker",
  "product_ids": [...]}, ...]}``: products at the root apply to every channel named without
  its own list. The answer is **one id-less** ``{"type": "subscriptions", "channels":
  [{"name", "product_ids"}, ...]}`` listing *every* channel and product the connection is
  subscribed to now (not only the new ones). ``unsubscribe`` has the same shape (a channel
  named without products is dropped entirely) and is answered with ``subscriptions`` too.
* Errors: ``{"type": "error", "message": "Failed to subscribe", "reason": ...}`` (unknown
  product or channel, channel without products, :meth:`reject`-ed product); the whole
  request is refused then, nothing is subscribed and no ``subscriptions`` follows.
* A connection that sends no ``subscribe`` within ``subscribe_timeout`` (5 s) is closed.
* ``sequence`` is per product: one counter per product, carried by ``match``,
  ``last_match``, ``ticker`` and ``heartbeat`` messages. ``trade_id`` equals it here.
* ``matches``: on subscribe a ``last_match`` (the latest trade, a replay), then a ``match``
  per trade. ``ticker``: on subscribe the latest ticker, then one per trade. ``level2``: on
  subscribe a ``snapshot`` (``bids``/``asks``), then an ``l2update`` (``changes``) per
  trade, without sequence. ``heartbeat``: ``{"type": "heartbeat", "sequence",
  "last_trade_id", "product_id", "time"}`` every ``heartbeat_interval`` (1 s) per product.

**Simpler**: no ``full``/``level3``/``status``/``auctionfeed`` channels, no authentication
(the real ``level2`` now wants it; ``level2_batch`` is the public one and is accepted as an
alias); the real ``sequence`` also counts order-book events a ``matches`` subscriber never
sees, here it counts trades only, so a jump is a real gap.

**Reconnects**: no replay of the missed trades, but every resubscribe sends ``last_match``
and the latest ``ticker`` again (one item a client that saw it has twice) and a fresh
``level2`` snapshot. ``heartbeat`` tells a reconnected client the product's last
``sequence``. Stream keys are products, e.g. ``"BTC-USD"``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from typing_extensions import Unpack

from jetsocket.testing._venues._base import (
    Frame,
    Item,
    VenueServer,
    VenueSession,
    now_ms,
    rfc3339,
)

__all__ = ["CoinbaseVenue"]

_CHANNELS = ("heartbeat", "ticker", "matches", "level2", "level2_batch")


class CoinbaseVenue(VenueServer):
    """A Coinbase-Exchange-like market data feed (see the module documentation).

    Args:
        products: Products served, e.g. ``("BTC-USD", "ETH-USD")``.
        heartbeat_interval: Seconds between heartbeats per product (Coinbase: 1).
        subscribe_timeout: Close a connection that has not subscribed within this many
            seconds (Coinbase: 5; None: never).
        **options: :class:`VenueServer.Options` (``rate``, ``seed``, ``host``, ``port``...);
            ``first_sequence`` is the first ``sequence`` of every product.
    """

    path = "/"

    def __init__(
        self,
        products: Iterable[str] = ("BTC-USD", "ETH-USD"),
        *,
        heartbeat_interval: float = 1.0,
        subscribe_timeout: float | None = 5.0,
        **options: Unpack[VenueServer.Options],
    ) -> None:
        super().__init__(**options)
        self.products = tuple(products)
        self._hb = heartbeat_interval
        self._subscribe_timeout = subscribe_timeout

    # -- rendering -------------------------------------------------------------------------

    def _match(self, it: Item, kind: str = "match") -> dict[str, Any]:
        return {
            "type": kind,
            "trade_id": it.seq,
            "sequence": it.seq,
            "maker_order_id": f"m-{it.stream}-{it.seq}",
            "taker_order_id": f"t-{it.stream}-{it.seq}",
            "time": rfc3339(it.ts_ms),
            "product_id": it.stream,
            "size": it.qty,
            "price": it.price,
            "side": it.side,
        }

    def _ticker(self, it: Item) -> dict[str, Any]:
        tick = Decimal("0.01")
        return {
            "type": "ticker",
            "sequence": it.seq,
            "product_id": it.stream,
            "price": it.price,
            "best_bid": f"{Decimal(it.price) - tick:.2f}",
            "best_ask": f"{Decimal(it.price) + tick:.2f}",
            "side": it.side,
            "time": rfc3339(it.ts_ms),
            "trade_id": it.seq,
            "last_size": it.qty,
        }

    def _book(self, product: str) -> dict[str, Any]:
        price = self._stream(product).price
        tick = Decimal("0.01")
        bids = [[f"{price - tick * (i + 1):.2f}", "1.0000"] for i in range(5)]
        asks = [[f"{price + tick * (i + 1):.2f}", "1.0000"] for i in range(5)]
        return {"type": "snapshot", "product_id": product, "bids": bids, "asks": asks}

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        channels: set[str] = session.streams.get(stream) or set()
        frames: list[Frame] = []
        for it in items:
            recorded = False
            if "matches" in channels:
                frames.append((self._match(it), [it.seq]))
                recorded = True
            if "ticker" in channels:
                frames.append((self._ticker(it), [] if recorded else [it.seq]))
                recorded = True
            if channels & {"level2", "level2_batch"}:
                side = "sell" if it.side == "buy" else "buy"
                change = {
                    "type": "l2update",
                    "product_id": stream,
                    "time": rfc3339(it.ts_ms),
                    "changes": [[side, it.price, it.qty]],
                }
                frames.append((change, []))
        return frames

    def _unknown_message(self) -> object:
        return {"type": "rfq_match", "product_id": self.products[0], "time": rfc3339(now_ms())}

    # -- session ---------------------------------------------------------------------------

    def _listing(self, session: VenueSession) -> dict[str, Any]:
        by_channel: dict[str, list[str]] = {}
        for product, channels in session.streams.items():
            for channel in sorted(channels):
                by_channel.setdefault(channel, []).append(product)
        listing = [{"name": n, "product_ids": p} for n, p in sorted(by_channel.items())]
        return {"type": "subscriptions", "channels": listing}

    def _parse(self, msg: dict[str, Any]) -> tuple[list[tuple[str, str]], list[str], str | None]:
        """(channel, product) pairs and channels named without products, or an error."""
        root = msg.get("product_ids", [])
        channels = msg.get("channels")
        if not isinstance(channels, list) or not isinstance(root, list):
            return [], [], "channels must be a list"
        pairs: list[tuple[str, str]] = []
        bare: list[str] = []
        for entry in channels:
            if isinstance(entry, str):
                name, products = entry, root
            elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
                name, products = entry["name"], entry.get("product_ids", root)
            else:
                return [], [], f"invalid channel {entry!r}"
            if name not in _CHANNELS:
                return [], [], f"{name} is not a valid channel"
            if not isinstance(products, list):
                return [], [], f"product_ids of {name} must be a list"
            if not products:
                bare.append(name)
            pairs.extend((name, str(p)) for p in products)
        return pairs, bare, None

    async def _session(self, session: VenueSession) -> None:
        self._start_task(session, self._heartbeats(session))
        if self._subscribe_timeout is not None:
            self._start_task(session, self._require_subscribe(session, self._subscribe_timeout))
        async for msg in self._messages(session, None):
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind not in ("subscribe", "unsubscribe"):
                error = {"type": "error", "message": "Failed to parse message"}
                await self._reply(session, {**error, "reason": f"unknown type {kind!r}"})
                continue
            pairs, bare, problem = self._parse(msg)
            if kind == "unsubscribe":
                await self._unsubscribe_pairs(session, pairs, bare, problem)
                continue
            if problem is None and bare:
                problem = f"You need to specify at least one product ID for channel {bare[0]}"
            for _, product in pairs:
                if problem is not None:
                    break
                rejected, reason = self._rejection(product)
                if product not in self.products or rejected:
                    problem = reason or f"{product} is not a valid product"
            if problem is not None:
                error = {"type": "error", "message": "Failed to subscribe", "reason": problem}
                await self._reply(session, error)
                continue
            await self._subscribe_pairs(session, pairs)

    async def _subscribe_pairs(self, session: VenueSession, pairs: list[tuple[str, str]]) -> None:
        # One lock section: the listing, then each new channel's opening message (last_match,
        # ticker, snapshot), then live messages; nothing live can fall in between.
        async with self._lock:
            new = [(c, p) for c, p in dict.fromkeys(pairs) if c not in session.streams.get(p, ())]
            for channel, product in new:
                session.streams.setdefault(product, set()).add(channel)
                self._active[product] = None
            if not await self._send(session, self._listing(session)):
                return
            for channel, product in new:
                recent = self._recent_items(product, 1)
                if channel == "matches" and recent:
                    await self._send(session, self._match(recent[-1], "last_match"))
                    self._record(session, product, [recent[-1].seq], replay=True)
                elif channel == "ticker" and recent:
                    await self._send(session, self._ticker(recent[-1]))
                    self._record(session, product, [recent[-1].seq], replay=True)
                elif channel in ("level2", "level2_batch"):
                    await self._send(session, self._book(product))
        self._notify()

    async def _unsubscribe_pairs(
        self,
        session: VenueSession,
        pairs: list[tuple[str, str]],
        bare: list[str],
        problem: str | None,
    ) -> None:
        if problem is not None:
            error = {"type": "error", "message": "Failed to unsubscribe", "reason": problem}
            await self._reply(session, error)
            return
        for channel, product in pairs:
            session.streams.get(product, set()).discard(channel)
        for channel in bare:
            for channels in session.streams.values():
                channels.discard(channel)
        for product in [p for p, c in session.streams.items() if not c]:
            self._unsubscribe(session, product)
        await self._reply(session, self._listing(session))

    async def _require_subscribe(self, session: VenueSession, timeout: float) -> None:
        # Coinbase: "you are disconnected if no subscribe has been received within 5 seconds".
        # It documents no close code; 1000 with a reason is the fake's choice.
        await asyncio.sleep(timeout)
        if not any(isinstance(m, dict) and m.get("type") == "subscribe" for m in session.received):
            await session.conn.close(1000, "no subscribe received within the time limit")

    async def _heartbeats(self, session: VenueSession) -> None:
        # Pacing sleep: heartbeats are periodic messages, nothing synchronises on them.
        while True:
            await asyncio.sleep(self._hb)
            for product, channels in list(session.streams.items()):
                if "heartbeat" not in channels:
                    continue
                last = self.last_sequence(product) or 0
                beat = {
                    "type": "heartbeat",
                    "sequence": last,
                    "last_trade_id": last,
                    "product_id": product,
                    "time": rfc3339(now_ms()),
                }
                await self._reply(session, beat)
