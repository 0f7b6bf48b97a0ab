"""A fake Binance spot market-data stream.

Follows "WebSocket Streams for Binance" (developers.binance.com, spot
``web-socket-streams``: general information, limits, live subscribing/unsubscribing, error
messages, trade and book ticker streams). Real URLs: ``wss://stream.binance.com:9443/ws``,
``.../ws/<stream>`` and ``.../stream?streams=<s1>/<s2>``.

**Modelled**

* Raw streams at ``/ws`` and ``/ws/<stream>`` (bare payloads) and combined streams at
  ``/stream`` and ``/stream?streams=a/b`` (each payload wrapped
  ``{"stream": "<name>", "data": {...}}``).
* ``{"method": "SUBSCRIBE" | "UNSUBSCRIBE", "params": [names], "id": N}`` answered
  ``{"result": null, "id": N}`` once for the whole request; ``LIST_SUBSCRIPTIONS`` answered
  ``{"result": [names], "id": N}``. Errors are ``{"error": {"code": 2, "msg": "Invalid
  request: ..."}, "id": N}`` (``code`` 1: invalid value, 2: invalid request, 3: invalid JSON);
  a request with one bad name subscribes none of them.
* Limits: at most ``max_incoming`` (5) messages per second from the client, else the
  connection is closed with 1008 (Binance disconnects; it documents no code); at most
  ``max_streams`` (1024) streams per connection, else the request fails.
* Server ping frames every ``ping_interval`` seconds (Binance: 20 s; a client that does not
  pong within ``ping_timeout``, 60 s, is dropped); :attr:`VenueSession.pongs` counts the
  answers.
* ``<symbol>@trade``: ``{"e": "trade", "E", "s", "t", "p", "q", "T", "m", "M"}`` where ``t``
  (trade id) is the stream's sequence; ``<symbol>@bookTicker``: ``{"u", "s", "b", "B",
  "a", "A"}`` where ``u`` (book update id) is the sequence; ``<symbol>@depth`` (and
  ``@depth@100ms``): one ``{"e": "depthUpdate", "E", "s", "U", "u", "b", "a"}`` per
  :meth:`publish` covering update ids ``U`` to ``u`` (a *range*: the next diff starts at
  ``u + 1``). Names are lowercase.

**Simpler**: only ``trade``, ``bookTicker`` and diff ``depth`` (no REST snapshot to
resync a book from, no ``pu`` field as on the futures streams); unknown symbols are refused (Binance
accepts any well-formed name and then sends nothing); pings and pongs do not count towards
the message limit; no 24 h connection limit and no ``serverShutdown`` event.

**Reconnects**: nothing is replayed; ``t``/``u`` continue, so a client that was away sees
the jump. Stream keys are the stream names. :meth:`reject` takes stream names.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from typing_extensions import Unpack

from jetsocket.testing._venues._base import Frame, Item, VenueServer, VenueSession, now_ms

__all__ = ["BinanceVenue"]

_KINDS = ("trade", "bookTicker", "depth", "depth@100ms")


class BinanceVenue(VenueServer):
    """A Binance-spot-like market data server (see the module documentation).

    Args:
        symbols: Symbols served (any case), e.g. ``("BTCUSDT", "ETHUSDT")``.
        max_incoming: Messages per second a client may send before it is disconnected.
        max_streams: Streams per connection.
        ping_interval: Seconds between server ping frames (None: none).
        ping_timeout: Seconds a pong may take before the connection is dropped.
        **options: :class:`VenueServer.Options` (``rate``, ``seed``, ``host``, ``port``...);
            ``first_sequence`` is the first trade id / update id of every stream.
    """

    path = "/ws"

    def __init__(
        self,
        symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"),
        *,
        max_incoming: int = 5,
        max_streams: int = 1024,
        ping_interval: float | None = 20.0,
        ping_timeout: float = 60.0,
        **options: Unpack[VenueServer.Options],
    ) -> None:
        super().__init__(**options)
        self.symbols = tuple(s.lower() for s in symbols)
        self.max_incoming = max_incoming
        self.max_streams = max_streams
        self._ping = ping_interval
        self._ping_timeout = ping_timeout

    def combined_uri(self, *streams: str) -> str:
        """``ws://host:port/stream?streams=a/b`` (``/stream`` alone when none is given)."""
        base = self.uri.removesuffix(self.path)
        return f"{base}/stream?streams={'/'.join(streams)}" if streams else f"{base}/stream"

    def raw_uri(self, stream: str) -> str:
        """``ws://host:port/ws/<stream>``: one raw stream, subscribed by the URL."""
        return f"{self.uri}/{stream}"

    def _invalid(self, name: object) -> str | None:
        if not isinstance(name, str):
            return "Invalid request: stream names must be strings"
        symbol, _, kind = name.partition("@")
        if kind not in _KINDS or symbol not in self.symbols:
            return "Invalid request: invalid stream"
        rejected, reason = self._rejection(name)
        if rejected:
            return reason or "Invalid request: invalid stream"
        return None

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        symbol, _, kind = stream.partition("@")
        combined = session.state.get("combined", False)
        frames: list[Frame] = []
        if kind.startswith("depth"):
            # One diff covers every update since the last one: ids U..u (a range).
            diff: dict[str, Any] = {
                "e": "depthUpdate",
                "E": now_ms(),
                "s": symbol.upper(),
                "U": items[0].seq,
                "u": items[-1].seq,
                "b": [[it.price, it.qty] for it in items if it.side == "buy"],
                "a": [[it.price, it.qty] for it in items if it.side == "sell"],
            }
            msg = {"stream": stream, "data": diff} if combined else diff
            return [(msg, [it.seq for it in items])]
        for it in items:
            if kind == "trade":
                data: dict[str, Any] = {
                    "e": "trade",
                    "E": now_ms(),
                    "s": symbol.upper(),
                    "t": it.seq,
                    "p": it.price,
                    "q": it.qty,
                    "T": it.ts_ms,
                    "m": it.side == "sell",
                    "M": True,
                }
            else:
                data = {
                    "u": it.seq,
                    "s": symbol.upper(),
                    "b": it.price,
                    "B": it.qty,
                    "a": it.price,
                    "A": it.qty,
                }
            frames.append(({"stream": stream, "data": data} if combined else data, [it.seq]))
        return frames

    def _unknown_message(self) -> object:
        return {"e": "futureEvent", "E": now_ms(), "s": "BTCUSDT"}

    async def _session(self, session: VenueSession) -> None:
        if self._ping is not None:
            self._start_task(session, self._keepalive(session, self._ping, self._ping_timeout))
        url = urlsplit(session.path)
        session.state["combined"] = url.path.startswith("/stream")
        initial: list[str] = []
        if url.path.startswith("/stream"):
            for value in parse_qs(url.query).get("streams", []):
                initial.extend(s for s in value.split("/") if s)
        elif url.path.startswith("/ws/"):
            initial.extend(s for s in url.path[len("/ws/") :].split("/") if s)
        for name in initial:
            if self._invalid(name) is None and len(session.streams) < self.max_streams:
                await self._subscribe(session, name)
        window: deque[float] = deque()
        async for msg in self._messages(session, None):
            now = time.monotonic()
            window.append(now)
            while window and now - window[0] > 1.0:
                window.popleft()
            if len(window) > self.max_incoming:
                # Binance: "a connection that goes beyond the limit will be disconnected".
                await session.conn.close(1008, "Too many requests")
                return
            await self._request(session, msg)

    async def _request(self, session: VenueSession, msg: Any) -> None:
        if not isinstance(msg, dict):
            await self._error(session, None, 3, "Invalid JSON: expected an object")
            return
        req_id = msg.get("id")
        method = msg.get("method")
        if req_id is not None and (not isinstance(req_id, int) or req_id < 0):
            await self._error(
                session, None, 2, "Invalid request: request ID must be an unsigned integer"
            )
            return
        if method == "LIST_SUBSCRIPTIONS":
            await self._reply(session, {"result": list(session.streams), "id": req_id})
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            await self._error(session, req_id, 2, f"Invalid request: unknown variant {method!r}")
            return
        params = msg.get("params")
        if not isinstance(params, list):
            await self._error(session, req_id, 1, "Invalid value type: expected a list")
            return
        if method == "UNSUBSCRIBE":
            for name in params:
                if isinstance(name, str):
                    self._unsubscribe(session, name)
            await self._reply(session, {"result": None, "id": req_id})
            return
        for name in params:
            problem = self._invalid(name)
            if problem is not None:
                await self._error(session, req_id, 2, problem)
                return
        new = [n for n in dict.fromkeys(params) if n not in session.streams]
        if len(session.streams) + len(new) > self.max_streams:
            reason = f"Invalid request: at most {self.max_streams} streams per connection"
            await self._error(session, req_id, 2, reason)
            return
        if not new:
            await self._reply(session, {"result": None, "id": req_id})
            return
        ack = {"result": None, "id": req_id}
        for i, name in enumerate(new):
            await self._subscribe(session, name, ack=ack if i == 0 else None)

    async def _error(self, session: VenueSession, req_id: Any, code: int, msg: str) -> None:
        await self._reply(session, {"error": {"code": code, "msg": msg}, "id": req_id})
