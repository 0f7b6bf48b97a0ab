"""Small fake venues for examples and tests: Bybit-, OKX- and OpenAI-realtime-style servers.

Each one is an async context manager running `websockets`' asyncio server on
``127.0.0.1`` (a free port by default) and speaking just enough of the venue's protocol to
exercise a client: application-level pings, acknowledgements with partial failures, login
before subscribing, tagged session events. They are deterministic (seeded prices, counters
for ids) and offline::

    async with BybitVenue(symbols=("BTCUSDT",), rate=20) as venue:
        async with Bybit(uri=venue.uri) as client:
            ...
            await venue.drop_all()  # fault injection: every connection is reset

What the servers record (:attr:`VenueServer.received`, counters) lets a test assert on
what the client sent, e.g. that a login or a session update was re-sent after a reconnect.
The wire formats follow the venues' public documentation; where a real venue is vaguer or
stricter, the docstring of each server says what the fake one does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal
from typing import Any, ClassVar

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from jetsocket.testing._lifecycle import Changes, ServerLifecycle

__all__ = ["BybitVenue", "OkxVenue", "RealtimeVenue", "VenueServer", "okx_sign"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

_DEFAULT_PRICES = {"BTC": Decimal("64000.00"), "ETH": Decimal("3100.00"), "SOL": Decimal("150.00")}


class _Walk:
    """A seeded random walk of one instrument's price (two decimals)."""

    def __init__(self, symbol: str, seed: int) -> None:
        # random.Random seeds str deterministically (SHA-512), unlike hash().
        self._rng = random.Random(f"{seed}:{symbol}")
        base = next((p for k, p in _DEFAULT_PRICES.items() if symbol.startswith(k)), None)
        self.price = base if base is not None else Decimal(self._rng.randrange(10, 500))
        self.trade_id = 1000

    def step(self) -> tuple[str, str, str]:
        """Move the price one trade; return ``(price, qty, side)`` as venue strings."""
        move = Decimal(self._rng.randint(-20, 20)) * self.price / Decimal(100_000)
        self.price = max(Decimal("0.01"), (self.price + move).quantize(Decimal("0.01")))
        qty = Decimal(self._rng.randint(1, 5000)) / Decimal(10_000)
        self.trade_id += self._rng.randint(1, 3)
        side = "buy" if self._rng.random() < 0.5 else "sell"
        return f"{self.price:.2f}", f"{qty:.4f}", side


async def _send_json(conn: ServerConnection, obj: object) -> None:
    # text=True: a text frame (as venues send JSON) without decoding the UTF-8 bytes again.
    await conn.send(_encode(obj), text=True)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class VenueServer(ServerLifecycle):
    """Base of the fake venues: lifecycle, connection tracking, fault injection.

    Use a subclass as an async context manager (``async with BybitVenue() as venue``), or
    call :meth:`start` and :meth:`stop`.

    Args:
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one (see :attr:`port`).

    Attributes:
        received: Every message received from clients, in order: decoded JSON, or the
            text itself when it is not JSON (e.g. OKX's ``"ping"``).
        connections_accepted: WebSocket connections accepted since creation.
    """

    path: ClassVar[str] = "/"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: Server | None = None
        self._conns: set[ServerConnection] = set()
        self._feeds: dict[ServerConnection, _Feed] = {}
        self._changes = Changes()
        self._ids = itertools.count(1)
        self.received: list[Any] = []
        self.connections_accepted = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (again on the same port after :meth:`stop`).

        Raises:
            RuntimeError: Already running.
        """
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._server = await serve(
            self._handler,
            self._host,
            self._port,
            process_request=self._check_request,
            ping_interval=None,
            close_timeout=2.0,
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection (1001) and stop listening. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    # -- properties ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (known after :meth:`start`)."""
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._port

    @property
    def uri(self) -> str:
        """The URI to connect to, with the venue's path, e.g. ``ws://127.0.0.1:5678/ws``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"ws://{host}:{self.port}{self.path}"

    @property
    def connection_count(self) -> int:
        """Client connections open now."""
        return len(self._conns)

    def subscriptions(self) -> list[list[str]]:
        """The topics subscribed on each open connection, in subscription order.

        Topics are named as on the wire (Bybit: ``publicTrade.BTCUSDT``); OKX's are
        ``"<channel>:<instId>"``, e.g. ``"trades:BTC-USDT"``.
        """
        return [list(feed.topics) for feed in self._feeds.values()]

    # -- fault injection and synchronisation -----------------------------------------------

    async def drop_all(self, *, timeout: float = 5.0) -> int:
        """Reset every client connection (no close frame): clients see 1006 and reconnect.

        Returns:
            The number of connections dropped.
        """
        conns = list(self._conns)
        for conn in conns:
            conn.transport.abort()
        await self.wait_for(lambda: not self._conns.intersection(conns), timeout=timeout)
        return len(conns)

    async def close_all(self, code: int = 1001, reason: str = "") -> int:
        """Close every client connection with a close frame; return how many."""
        conns = list(self._conns)
        await asyncio.gather(*(c.close(code, reason) for c in conns), return_exceptions=True)
        return len(conns)

    async def wait_for(self, predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true.

        It is checked now, whenever a connection opens or closes and after every message
        received, so it may depend on :attr:`received`, the counters and
        :attr:`connection_count`.

        Raises:
            TimeoutError: Still false after ``timeout`` seconds.
        """
        await self._changes.wait_for(predicate, timeout)

    # -- internals -------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changes.notify()

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Refuse the opening handshake by returning a response (default: accept)."""
        return None

    async def _handler(self, conn: ServerConnection) -> None:
        self._conns.add(conn)
        self.connections_accepted += 1
        self._notify()
        try:
            await self._session(conn, f"conn-{self.connections_accepted}")
        except ConnectionClosed:
            pass
        finally:
            feed = self._feeds.pop(conn, None)
            if feed is not None:
                await feed.stop()
            self._conns.discard(conn)
            self._notify()

    async def _session(self, conn: ServerConnection, conn_id: str) -> None:
        raise NotImplementedError

    def _feed(self, conn: ServerConnection, rate: float, render: Callable[[str], bytes]) -> _Feed:
        """Start the paced feed of one connection (stopped when the connection ends)."""
        feed = _Feed(conn, 1.0 / rate if rate > 0 else 0.0, render)
        self._feeds[conn] = feed
        return feed

    def _record(self, raw: str | bytes) -> Any:
        """Decode and remember one client message (the text itself if it is not JSON)."""
        try:
            msg = _decode(raw)
        except msgspec.DecodeError:
            msg = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        self.received.append(msg)
        return msg

    async def _messages(self, conn: ServerConnection, idle: float | None) -> AsyncIterator[Any]:
        """Yield decoded client messages; close the connection after ``idle`` quiet seconds.

        Venues drop clients that stay silent (this is what application pings are for).
        """
        while True:
            try:
                async with asyncio.timeout(idle):
                    raw = await conn.recv()
            except TimeoutError:
                await conn.close(1000, "idle: no ping received")
                return
            msg = self._record(raw)
            try:
                yield msg
            finally:
                self._notify()


class _Feed:
    """Pushes one message per subscribed topic every ``period`` seconds on one connection.

    The wake-up is an event, so an idle connection costs no timer; pacing uses sleep, which
    is the point of a paced feed (nothing waits on it for synchronisation).
    """

    def __init__(
        self, conn: ServerConnection, period: float, render: Callable[[str], bytes]
    ) -> None:
        self.topics: dict[str, None] = {}
        self._conn = conn
        self._period = period
        self._render = render
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def add(self, topics: Iterable[str]) -> None:
        self.topics.update(dict.fromkeys(topics))
        self._wake.set()

    def remove(self, topics: Iterable[str]) -> None:
        for topic in topics:
            self.topics.pop(topic, None)

    async def _run(self) -> None:
        if self._period <= 0:
            return
        with contextlib.suppress(ConnectionClosed):
            while True:
                if not self.topics:
                    self._wake.clear()
                    await self._wake.wait()
                await asyncio.sleep(self._period)
                for topic in list(self.topics):
                    await self._conn.send(self._render(topic), text=True)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


# -- Bybit -----------------------------------------------------------------------------------


class BybitVenue(VenueServer):
    """A Bybit v5 public-stream-like server (real: ``wss://stream.bybit.com/v5/public/spot``).

    **Requests** (JSON text frames):

    * ``{"op": "ping", "req_id": "..."}`` is answered
      ``{"success": true, "ret_msg": "pong", "conn_id": ..., "req_id": ..., "op": "pong"}``.
    * ``{"op": "subscribe", "args": [topics], "req_id": "..."}`` (at most
      ``max_topics_per_request`` topics) is answered with one ack::

        {"success": false, "ret_msg": "error:invalid topics: tickers.NOPE",
         "op": "subscribe", "req_id": "...", "conn_id": "...",
         "data": {"successTopics": ["publicTrade.BTCUSDT"], "failTopics": ["tickers.NOPE"]}}

      ``success`` is true only when every topic was accepted; the valid topics of a
      partially failed request are subscribed anyway (the ``data`` lists say which).
      ``unsubscribe`` works the same way. A topic already subscribed fails.

    **Topics**: ``publicTrade.<SYMBOL>`` pushes
    ``{"topic": ..., "type": "snapshot", "ts": ms, "data": [{"T", "s", "S", "v", "p", "L",
    "i", "BT"}]}`` and ``tickers.<SYMBOL>`` pushes
    ``{"topic": ..., "type": "snapshot", "ts": ms, "cs": n, "data": {"symbol", "lastPrice",
    "volume24h"}}``, each ``rate`` times per second.

    **Liveness**: with ``idle_timeout``, a connection that sends nothing (no ping) for that
    long is closed, as Bybit does.

    Attributes:
        pings: Application pings answered.
        refuse: Topics refused even when valid (to test failures).

    Args:
        symbols: Symbols served, e.g. ``("BTCUSDT", "ETHUSDT")``.
        rate: Messages per second per subscribed topic (0: none).
        seed: Seed of the prices.
        max_topics_per_request: Requests with more topics are refused as a whole.
        idle_timeout: Close connections silent for this many seconds (None: never).
        host: Interface to listen on.
        port: Port (0: a free one).
    """

    path = "/v5/public/spot"

    def __init__(
        self,
        symbols: Iterable[str] = ("BTCUSDT", "ETHUSDT"),
        *,
        rate: float = 10.0,
        seed: int = 0,
        max_topics_per_request: int = 10,
        idle_timeout: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.symbols = tuple(s.upper() for s in symbols)
        self._rate = rate
        self._seed = seed
        self._max_topics = max_topics_per_request
        self._idle = idle_timeout
        self.refuse: set[str] = set()
        self.pings = 0

    def _valid(self, topic: object) -> bool:
        if not isinstance(topic, str) or topic in self.refuse:
            return False
        kind, _, symbol = topic.partition(".")
        return kind in ("publicTrade", "tickers") and symbol in self.symbols

    async def _session(self, conn: ServerConnection, conn_id: str) -> None:
        walks = {s: _Walk(s, self._seed) for s in self.symbols}
        counter = itertools.count(1)

        def render(topic: str) -> bytes:
            kind, _, symbol = topic.partition(".")
            price, qty, side = walks[symbol].step()
            ts = _now_ms()
            if kind == "publicTrade":
                trade = {
                    "T": ts,
                    "s": symbol,
                    "S": side.capitalize(),
                    "v": qty,
                    "p": price,
                    "L": "PlusTick" if side == "buy" else "MinusTick",
                    "i": f"{walks[symbol].trade_id}",
                    "BT": False,
                }
                return _encode({"topic": topic, "type": "snapshot", "ts": ts, "data": [trade]})
            data = {"symbol": symbol, "lastPrice": price, "volume24h": qty}
            body = {"topic": topic, "type": "snapshot", "ts": ts, "cs": next(counter)}
            return _encode({**body, "data": data})

        feed = self._feed(conn, self._rate, render)
        async for msg in self._messages(conn, self._idle):
            await self._request(conn, conn_id, feed, msg)

    async def _request(self, conn: ServerConnection, conn_id: str, feed: _Feed, msg: Any) -> None:
        op = _op(msg)
        req_id = msg.get("req_id", "") if isinstance(msg, dict) else ""
        head = {"conn_id": conn_id, "req_id": req_id}
        if op == "ping":
            self.pings += 1
            await _send_json(conn, {"success": True, "ret_msg": "pong", **head, "op": "pong"})
            return
        if op not in ("subscribe", "unsubscribe"):
            reply = {"success": False, "ret_msg": f"error:unknown op {op!r}", **head, "op": op}
            await _send_json(conn, reply)
            return
        args = msg.get("args")
        if not isinstance(args, list) or not args or len(args) > self._max_topics:
            err = f"error:args must be a list of 1 to {self._max_topics} topics"
            await _send_json(conn, {"success": False, "ret_msg": err, **head, "op": op})
            return
        if op == "subscribe":
            ok = [t for t in args if self._valid(t) and t not in feed.topics]
        else:
            ok = [t for t in args if t in feed.topics]
        failed = [str(t) for t in args if t not in ok]
        reply = {
            "success": not failed,
            "ret_msg": f"error:invalid topics: {','.join(failed)}" if failed else "",
            **head,
            "op": op,
            "data": {"successTopics": ok, "failTopics": failed},
        }
        # The ack goes first: no pushed message of a topic precedes its ack.
        await _send_json(conn, reply)
        if op == "subscribe":
            feed.add(ok)
        else:
            feed.remove(ok)


def _op(msg: Any) -> Any:
    return msg.get("op") if isinstance(msg, dict) else None


# -- OKX -------------------------------------------------------------------------------------


def okx_sign(secret_key: str, timestamp: str) -> str:
    """OKX's WebSocket login signature: Base64(HMAC-SHA256(secret, ts + "GET" + path)).

    Args:
        secret_key: The API secret.
        timestamp: Unix time in seconds, as a string (the same one sent in the login).

    Returns:
        The ``sign`` field of the login request.
    """
    prehash = f"{timestamp}GET/users/self/verify".encode()
    digest = hmac.new(secret_key.encode(), prehash, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class OkxVenue(VenueServer):
    """An OKX v5-like server (real: ``wss://ws.okx.com:8443/ws/v5/public``).

    **Login** must come first (the real venue requires it on ``/ws/v5/private``; this fake
    one requires it for every subscription, to exercise login-before-subscribe)::

        {"op": "login", "args": [{"apiKey": ..., "passphrase": ..., "timestamp": "<unix s>",
                                  "sign": okx_sign(secret, timestamp)}]}

    is answered ``{"event": "login", "code": "0", "msg": "", "connId": ...}``, or
    ``{"event": "error", "code": "60009", "msg": "Login failed.", ...}`` when a credential
    or the signature is wrong or the timestamp is more than 30 s off.

    **Ping**: the text ``"ping"`` is answered with the text ``"pong"``. With
    ``idle_timeout``, a connection that sends nothing for that long is closed (OKX: 30 s).

    **Subscribe**: ``{"op": "subscribe", "args": [{"channel": "trades", "instId":
    "BTC-USDT"}], "id": "7"}`` gets one answer per arg: ``{"event": "subscribe", "arg":
    {...}, "connId": ..., "id": "7"}``, or ``{"event": "error", "code": "60018", "msg":
    ..., "arg": {...}, "id": "7"}`` for an unknown channel or instrument, or code
    ``"60011"`` (please log in) before a successful login. ``id`` is echoed when given.
    ``unsubscribe`` likewise.

    **Pushes**: ``{"arg": {"channel": "trades", "instId": ...}, "data": [{"instId",
    "tradeId", "px", "sz", "side", "ts"}]}`` (``tickers``: ``{"instId", "last", "lastSz",
    "ts"}``), ``rate`` times per second per subscription.

    Attributes:
        logins: Successful logins.
        pings: Text pings answered.

    Args:
        inst_ids: Instruments served, e.g. ``("BTC-USDT", "ETH-USDT")``.
        api_key: Accepted API key.
        secret_key: Secret the signature is checked with.
        passphrase: Accepted passphrase.
        rate: Messages per second per subscription (0: none).
        seed: Seed of the prices.
        idle_timeout: Close connections silent for this many seconds (None: never).
        host: Interface to listen on.
        port: Port (0: a free one).
    """

    path = "/ws/v5/public"

    def __init__(
        self,
        inst_ids: Iterable[str] = ("BTC-USDT", "ETH-USDT"),
        *,
        api_key: str = "demo-key",
        secret_key: str = "demo-secret",
        passphrase: str = "demo-passphrase",
        rate: float = 10.0,
        seed: int = 0,
        idle_timeout: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.inst_ids = tuple(inst_ids)
        self._credentials = (api_key, secret_key, passphrase)
        self._rate = rate
        self._seed = seed
        self._idle = idle_timeout
        self.logins = 0
        self.pings = 0

    def _login_ok(self, args: Any) -> bool:
        api_key, secret_key, passphrase = self._credentials
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            return False
        arg = args[0]
        ts = str(arg.get("timestamp"))
        try:
            fresh = abs(time.time() - float(ts)) <= 30.0
        except (TypeError, ValueError):
            return False
        return (
            fresh
            and arg.get("apiKey") == api_key
            and arg.get("passphrase") == passphrase
            and hmac.compare_digest(str(arg.get("sign")), okx_sign(secret_key, ts))
        )

    async def _session(self, conn: ServerConnection, conn_id: str) -> None:
        walks = {i: _Walk(i, self._seed) for i in self.inst_ids}

        def render(key: str) -> bytes:
            channel, _, inst = key.partition(":")
            price, qty, side = walks[inst].step()
            ts = str(_now_ms())
            arg = {"channel": channel, "instId": inst}
            if channel == "trades":
                tid = str(walks[inst].trade_id)
                row = {"instId": inst, "tradeId": tid, "px": price, "sz": qty, "side": side}
            else:
                row = {"instId": inst, "last": price, "lastSz": qty}
            return _encode({"arg": arg, "data": [{**row, "ts": ts}]})

        feed = self._feed(conn, self._rate, render)
        logged_in = False
        async for msg in self._messages(conn, self._idle):
            if msg == "ping":
                self.pings += 1
                await conn.send("pong")
                continue
            if not isinstance(msg, dict):
                await _send_json(conn, _okx_error("60012", "Invalid request", conn_id))
                continue
            op = msg.get("op")
            if op == "login":
                if self._login_ok(msg.get("args")):
                    logged_in = True
                    self.logins += 1
                    ok = {"event": "login", "code": "0", "msg": "", "connId": conn_id}
                    await _send_json(conn, ok)
                else:
                    await _send_json(conn, _okx_error("60009", "Login failed.", conn_id))
            elif op in ("subscribe", "unsubscribe"):
                await self._subscribe(conn, conn_id, feed, msg, logged_in=logged_in)
            else:
                err = _okx_error("60012", f"Invalid request: unknown op {op!r}", conn_id)
                await _send_json(conn, err)

    async def _subscribe(
        self,
        conn: ServerConnection,
        conn_id: str,
        feed: _Feed,
        msg: dict[str, Any],
        *,
        logged_in: bool,
    ) -> None:
        op = msg["op"]
        extra = {"id": msg["id"]} if "id" in msg else {}
        args = msg.get("args")
        if not isinstance(args, list) or not args:
            err = _okx_error("60012", "Invalid request: args must be a list", conn_id)
            await _send_json(conn, {**err, **extra})
            return
        for arg in args:
            if not logged_in:
                reply = _okx_error("60011", "Please log in.", conn_id)
            elif (
                not isinstance(arg, dict)
                or arg.get("channel") not in ("trades", "tickers")
                or arg.get("instId") not in self.inst_ids
            ):
                reply = _okx_error(
                    "60018", f"Wrong URL or channel: {arg!r} doesn't exist.", conn_id
                )
            else:
                reply = {"event": op, "arg": arg, "connId": conn_id}
                key = f"{arg['channel']}:{arg['instId']}"
                await _send_json(conn, {**reply, **extra})
                # After the answer: no push of a channel precedes its subscribe event.
                if op == "subscribe":
                    feed.add([key])
                else:
                    feed.remove([key])
                continue
            await _send_json(conn, {**reply, "arg": arg, **extra})


def _okx_error(code: str, msg: str, conn_id: str) -> dict[str, Any]:
    return {"event": "error", "code": code, "msg": msg, "connId": conn_id}


# -- OpenAI realtime -----------------------------------------------------------------------


class RealtimeVenue(VenueServer):
    """An OpenAI-realtime-like session server (real: ``wss://api.openai.com/v1/realtime``).

    Every message is a JSON object tagged by ``"type"``. On connect the server sends
    ``{"type": "session.created", "session": {...}}`` (a fresh session: nothing survives a
    reconnect). The client configures it with ``{"type": "session.update", "session":
    {"instructions": ..., ...}}``, answered ``{"type": "session.updated", "session":
    {...}}``. ``conversation.item.create`` (a user message with ``input_text`` content) is
    answered ``conversation.item.created``; ``response.create`` streams
    ``response.created``, several ``response.text.delta`` (``"delta"``: a piece of the
    answer), ``response.text.done`` and ``response.done``, then a ``rate_limits.updated``
    (a type clients may not know). Errors are ``{"type": "error", "error": {"type",
    "code", "message"}}``.

    Unlike the real API, ``response.create`` is refused (``session_not_configured``) on a
    connection whose session was not updated: this is what shows that a client re-runs its
    session initialisation after every reconnect. The answer is deterministic: the
    session's ``instructions`` prefix (if any) followed by ``You said: <text>``.

    Attributes:
        session_updates: ``session.update`` messages received (over all connections).
        responses: Responses streamed.

    Args:
        api_key: When set, the opening handshake must carry ``Authorization: Bearer
            <api_key>`` (else HTTP 401, which clients treat as fatal).
        model: The model named in the session.
        host: Interface to listen on.
        port: Port (0: a free one).
    """

    path = "/v1/realtime"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str = "gpt-realtime",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self._api_key = api_key
        self._model = model
        self.session_updates = 0
        self.responses = 0

    @property
    def uri(self) -> str:
        """The URI to connect to, with ``?model=`` as for the real API."""
        return f"{super().uri}?model={self._model}"

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self._api_key is None:
            return None
        headers: Headers = request.headers
        if headers.get("Authorization") != f"Bearer {self._api_key}":
            return conn.respond(401, "invalid API key\n")
        return None

    async def _session(self, conn: ServerConnection, conn_id: str) -> None:
        events = itertools.count(1)
        session: dict[str, Any] = {
            "id": f"sess_{conn_id}",
            "object": "realtime.session",
            "model": self._model,
            "modalities": ["text"],
            "instructions": "",
        }
        configured = False
        user_text = ""

        async def send(kind: str, **body: Any) -> None:
            await _send_json(conn, {"type": kind, "event_id": f"event_{next(events)}", **body})

        await send("session.created", session=session)
        async for msg in self._messages(conn, None):
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "session.update" and isinstance(msg.get("session"), dict):
                self.session_updates += 1
                session.update(msg["session"])
                configured = True
                await send("session.updated", session=session)
            elif kind == "conversation.item.create" and isinstance(msg.get("item"), dict):
                item = {**msg["item"], "id": f"item_{next(self._ids)}", "status": "completed"}
                user_text = _input_text(item)
                await send("conversation.item.created", item=item)
            elif kind == "response.create":
                if not configured:
                    await send(
                        "error",
                        error=_realtime_error(
                            "session_not_configured", "send session.update first"
                        ),
                    )
                    continue
                await self._respond(send, session, user_text)
            else:
                await send(
                    "error",
                    error=_realtime_error("invalid_event", f"unsupported event type {kind!r}"),
                )

    async def _respond(
        self, send: Callable[..., Any], session: dict[str, Any], user_text: str
    ) -> None:
        self.responses += 1
        resp_id = f"resp_{next(self._ids)}"
        item_id = f"item_{next(self._ids)}"
        prefix = str(session.get("instructions") or "").strip()
        text = f"{prefix + ' ' if prefix else ''}You said: {user_text}"
        await send("response.created", response={"id": resp_id, "status": "in_progress"})
        where = {"response_id": resp_id, "item_id": item_id, "output_index": 0}
        words = text.split(" ")
        for i, word in enumerate(words):
            delta = word if i == 0 else f" {word}"
            await send("response.text.delta", **where, content_index=0, delta=delta)
        await send("response.text.done", **where, content_index=0, text=text)
        usage = {"input_tokens": len(user_text.split()), "output_tokens": len(words)}
        output = [
            {
                "id": item_id,
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
            }
        ]
        response = {"id": resp_id, "status": "completed", "output": output, "usage": usage}
        await send("response.done", response=response)
        limits = [{"name": "tokens", "limit": 40_000, "remaining": 40_000 - len(words)}]
        await send("rate_limits.updated", rate_limits=limits)


def _input_text(item: dict[str, Any]) -> str:
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    texts = [p.get("text", "") for p in parts if isinstance(p, dict)]
    return " ".join(t for t in texts if isinstance(t, str))


def _realtime_error(code: str, message: str) -> dict[str, str]:
    return {"type": "invalid_request_error", "code": code, "message": message}
