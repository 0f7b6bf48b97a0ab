"""A fake OKX v5 stream.

Follows OKX's v5 WebSocket documentation (www.okx.com/docs-v5/en/#overview-websocket:
connect, login, subscribe, notification, and the public ``trades`` / ``tickers`` channels).
Real URLs: ``wss://ws.okx.com:8443/ws/v5/public`` and ``.../ws/v5/private``.

**Modelled**

* **Login** ``{"op": "login", "args": [{"apiKey", "passphrase", "timestamp", "sign"}]}``
  (``sign``: :func:`okx_sign`) answered ``{"event": "login", "code": "0", "msg": "",
  "connId"}``, or ``{"event": "error", "code": "60009", "msg": "Login failed."}`` for a
  wrong credential or signature or a timestamp more than 30 s off.
* **Ping**: the text ``"ping"`` gets the text ``"pong"``; with ``idle_timeout`` a silent
  connection is closed (OKX: 30 s).
* **Subscribe** ``{"op": "subscribe", "args": [{"channel", "instId"}, ...], "id": "7"}``:
  one answer *per arg*, by topic: ``{"event": "subscribe", "arg": {...}, "connId"}`` or
  ``{"event": "error", "code": "60018", "msg": ..., "arg": {...}}`` (unknown channel or
  instrument, or :meth:`reject`-ed), ``"60011"`` before a login. ``id`` (the newer request
  id) is echoed on every answer when given. ``unsubscribe`` likewise.
* **Pushes** ``{"arg": {"channel", "instId"}, "data": [row]}``; a ``trades`` row's
  ``tradeId`` is the stream's sequence (consecutive per instrument), ``tickers`` rows carry
  ``last``, ``lastSz``, ``ts``.
* ``books``: on subscribe ``{"arg", "action": "snapshot", "data": [{"asks", "bids", "ts",
  "prevSeqId": -1, "seqId": S}]}``, then ``"action": "update"`` messages whose
  ``prevSeqId`` is the ``seqId`` of the update before: a gap shows as a ``prevSeqId`` that
  is not the last ``seqId`` seen (OKX's seqIds need not be consecutive; the fake's are).

**Simpler than the real venue**: login is required for every subscription (OKX requires it
on ``/ws/v5/private`` only) to exercise login-before-subscribe; ``books`` carries no
``checksum`` and its snapshot is a made-up five levels; no ``notice`` events.

**Reconnects**: ``books`` starts again from a fresh snapshot; nothing is replayed for
``trades``; ``tradeId`` continues, so a client that
was away sees a jump. Stream keys are ``"<channel>:<instId>"``, e.g. ``"trades:BTC-USDT"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from typing_extensions import Unpack

from jetsocket.testing._venues._base import Frame, Item, VenueServer, VenueSession, now_ms

__all__ = ["OkxVenue", "okx_sign"]


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
    """An OKX v5-like server (see the module documentation).

    Attributes:
        logins: Successful logins.
        pings: Text pings answered.

    Args:
        inst_ids: Instruments served, e.g. ``("BTC-USDT", "ETH-USDT")``.
        api_key: Accepted API key.
        secret_key: Secret the signature is checked with.
        passphrase: Accepted passphrase.
        idle_timeout: Close connections silent for this many seconds (None: never).
        **options: :class:`VenueServer.Options` (``seed``, ``host``, ``port``...); ``rate``
            (default 10) is messages per second per subscription, ``first_sequence``
            the first ``tradeId`` of every instrument.
    """

    path = "/ws/v5/public"

    def __init__(
        self,
        inst_ids: Iterable[str] = ("BTC-USDT", "ETH-USDT"),
        *,
        api_key: str = "demo-key",
        secret_key: str = "demo-secret",
        passphrase: str = "demo-passphrase",
        idle_timeout: float | None = None,
        **options: Unpack[VenueServer.Options],
    ) -> None:
        options.setdefault("rate", 10.0)
        super().__init__(**options)
        self.inst_ids = tuple(inst_ids)
        self._credentials = (api_key, secret_key, passphrase)
        self._idle = idle_timeout
        self.logins = 0
        self.pings = 0

    def __repr__(self) -> str:
        # Never show the credentials.
        return f"<OkxVenue inst_ids={self.inst_ids!r}>"

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

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        channel, _, inst = stream.partition(":")
        arg = {"channel": channel, "instId": inst}
        if channel == "books":
            return self._render_book(stream, arg, items, replay=replay)
        frames: list[Frame] = []
        for it in items:
            if channel == "trades":
                row = {
                    "instId": inst,
                    "tradeId": str(it.seq),
                    "px": it.price,
                    "sz": it.qty,
                    "side": it.side,
                }
            else:
                row = {"instId": inst, "last": it.price, "lastSz": it.qty}
            frames.append(({"arg": arg, "data": [{**row, "ts": str(it.ts_ms)}]}, [it.seq]))
        return frames

    def _render_book(
        self, stream: str, arg: dict[str, str], items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        if replay:  # the whole book as of the last update, then updates chain on it
            price = self._stream(stream).price
            tick = Decimal("0.1")
            book = {
                "asks": [[f"{price + tick * i:.1f}", "1.0", "0", "1"] for i in range(1, 6)],
                "bids": [[f"{price - tick * i:.1f}", "1.0", "0", "1"] for i in range(1, 6)],
                "ts": str(now_ms()),
                "prevSeqId": -1,
                "seqId": self.last_sequence(stream) or 0,
            }
            return [({"arg": arg, "action": "snapshot", "data": [book]}, [])]
        frames: list[Frame] = []
        for it in items:
            level = [[it.price, it.qty, "0", "1"]]
            update = {
                "asks": level if it.side == "sell" else [],
                "bids": level if it.side == "buy" else [],
                "ts": str(it.ts_ms),
                "prevSeqId": it.seq - 1,
                "seqId": it.seq,
            }
            frames.append(({"arg": arg, "action": "update", "data": [update]}, [it.seq]))
        return frames

    def _unknown_message(self) -> object:
        return {"event": "channel-conn-count", "channel": "trades", "connCount": "1"}

    async def _session(self, session: VenueSession) -> None:
        conn_id = session.id
        session.state["logged_in"] = False
        async for msg in self._messages(session, self._idle):
            if msg == "ping":
                self.pings += 1
                await self._reply(session, "pong")
                continue
            if not isinstance(msg, dict):
                await self._reply(session, _okx_error("60012", "Invalid request", conn_id))
                continue
            op = msg.get("op")
            if op == "login":
                if self._login_ok(msg.get("args")):
                    session.state["logged_in"] = True
                    self.logins += 1
                    ok = {"event": "login", "code": "0", "msg": "", "connId": conn_id}
                    await self._reply(session, ok)
                else:
                    await self._reply(session, _okx_error("60009", "Login failed.", conn_id))
            elif op in ("subscribe", "unsubscribe"):
                await self._subscribe_request(session, msg)
            else:
                err = _okx_error("60012", f"Invalid request: unknown op {op!r}", conn_id)
                await self._reply(session, err)

    async def _subscribe_request(self, session: VenueSession, msg: dict[str, Any]) -> None:
        conn_id = session.id
        op = msg["op"]
        extra = {"id": msg["id"]} if "id" in msg else {}
        args = msg.get("args")
        if not isinstance(args, list) or not args:
            err = _okx_error("60012", "Invalid request: args must be a list", conn_id)
            await self._reply(session, {**err, **extra})
            return
        for arg in args:
            if not session.state["logged_in"]:
                reply = _okx_error("60011", "Please log in.", conn_id)
            elif (
                not isinstance(arg, dict)
                or arg.get("channel") not in ("trades", "tickers", "books")
                or arg.get("instId") not in self.inst_ids
            ):
                reply = _okx_error(
                    "60018", f"Wrong URL or channel: {arg!r} doesn't exist.", conn_id
                )
            else:
                key = f"{arg['channel']}:{arg['instId']}"
                rejected, reason = self._rejection(key)
                if rejected:
                    reply = _okx_error("60018", reason or f"{key} is not available", conn_id)
                else:
                    answer = {"event": op, "arg": arg, "connId": conn_id, **extra}
                    if op == "unsubscribe":
                        self._unsubscribe(session, key)
                        await self._reply(session, answer)
                        continue
                    # After the answer: no push of a channel precedes its subscribe event.
                    book = arg["channel"] == "books"
                    await self._subscribe(session, key, ack=answer, replay=1 if book else 0)
                    continue
            await self._reply(session, {**reply, "arg": arg, **extra})


def _okx_error(code: str, msg: str, conn_id: str) -> dict[str, Any]:
    return {"event": "error", "code": code, "msg": msg, "connId": conn_id}
