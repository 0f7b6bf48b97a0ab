"""OKX-style client: login before subscribing (fresh signature each time), text ``ping``.

The real venue: ``wss://ws.okx.com:8443/ws/v5/public`` for public channels and
``wss://ws.okx.com:8443/ws/v5/private`` for private ones, where a login must come first::

    {"op": "login", "args": [{"apiKey": ..., "passphrase": ..., "timestamp": "<unix s>",
                              "sign": Base64(HMAC-SHA256(secret, ts + "GET/users/self/verify"))}]}

answered ``{"event": "login", "code": "0", ...}``. The signature embeds the time, so it
must be computed again for every connection: the client does it in ``on_connect``, which
jetsocket runs after every (re)connect, *before* it re-sends the subscriptions. OKX closes
connections that stay silent for 30 s; clients send the text ``"ping"`` and get ``"pong"``.

``Okx(api_key=..., secret_key=..., passphrase=...)`` connects to the real venue. This
program runs offline against ``jetsocket.testing``'s fake OKX server (which requires the
login for every subscription and closes connections silent for 1 s)::

    python examples/okx_client.py
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any, Literal

from typing_extensions import Unpack

import jetsocket
from jetsocket.schema import Ack, Client, Message, Subscription, Unmatched, field
from jetsocket.testing import OkxVenue, okx_sign

# -- messages ----------------------------------------------------------------------------


class Channel(Message):
    channel: str
    inst_id: str = field(name="instId")


class OkxTrade(Message):
    side: Literal["buy", "sell"]
    ts: str
    inst_id: str = field(name="instId")
    trade_id: str = field(name="tradeId")
    price: Decimal = field(name="px")
    size: Decimal = field(name="sz")


class TradesPush(Message):
    """``{"arg": {"channel": "trades", "instId": "BTC-USDT"}, "data": [...]}``."""

    arg: Channel
    data: list[OkxTrade]


# -- subscriptions -----------------------------------------------------------------------------


class Trades(Subscription[TradesPush]):
    inst_id: str

    @property
    def topic(self) -> str:
        return f"trades:{self.inst_id}"

    def _request(self, op: str, request_id: int) -> object:
        # OKX echoes "id" in its answers: that is how the ack is matched to the request.
        arg = {"channel": "trades", "instId": self.inst_id}
        return {"id": str(request_id), "op": op, "args": [arg]}

    def subscribe_message(self, request_id: int) -> object:
        return self._request("subscribe", request_id)

    def unsubscribe_message(self, request_id: int) -> object:
        return self._request("unsubscribe", request_id)

    def matches(self, msg: TradesPush) -> bool:
        return msg.arg.channel == "trades" and msg.arg.inst_id == self.inst_id

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        if not isinstance(msg, dict) or msg.get("id") != str(request_id):
            return None
        if msg.get("event") == "subscribe":
            return Ack(ok=True)
        return Ack(ok=False, reason=f"{msg.get('code')}: {msg.get('msg')}")


# -- the venue ---------------------------------------------------------------------------------


def is_pong(msg: object) -> bool:
    """OKX answers the text ``"ping"`` with the text ``"pong"`` (not JSON)."""
    data = msg.data if isinstance(msg, Unmatched) else msg
    return data == "pong"


def okx_heartbeat(interval: float) -> jetsocket.HeartbeatConfig:
    return jetsocket.HeartbeatConfig(
        interval=interval,
        timeout=interval,
        payload="ping",  # a str is sent as is, as a text frame
        use_ws_ping=False,
        use_application_ping=True,
        pong_matcher=is_pong,
    )


class Okx(Client[TradesPush]):
    uri = "wss://ws.okx.com:8443/ws/v5/public"
    heartbeat = okx_heartbeat(25.0)
    send_rate = 3.0  # OKX: 3 subscribe/unsubscribe/login requests per second
    unknown_messages = "ignore"

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        passphrase: str,
        uri: str | None = None,
        **options: Unpack[jetsocket.WebSocketOptions],
    ) -> None:
        super().__init__(uri=uri, **options)
        self._credentials = (api_key, secret_key, passphrase)
        self.logins = 0

    async def on_connect(self, ws: jetsocket.WebSocket[Any]) -> None:
        api_key, secret_key, passphrase = self._credentials
        timestamp = str(int(time.time()))  # signed anew for every connection
        login = {"apiKey": api_key, "passphrase": passphrase, "timestamp": timestamp}
        await ws.send({"op": "login", "args": [{**login, "sign": okx_sign(secret_key, timestamp)}]})
        answer = await self.expect(
            lambda m: isinstance(m, dict) and m.get("event") in ("login", "error"), timeout=5.0
        )
        if answer.get("event") != "login":
            raise jetsocket.ConnectionError(f"OKX login failed: {answer.get('msg')}")
        self.logins += 1
        print(f"logged in (connection {answer.get('connId')}, login #{self.logins})")


class OfflineOkx(Okx):
    """The same client with a fast heartbeat and reconnect, for a short offline run."""

    heartbeat = okx_heartbeat(0.2)
    backoff = jetsocket.BackoffConfig(base=0.05, cap=0.2)


async def main() -> None:
    key, secret, passphrase = "demo-key", "demo-secret", "demo-passphrase"
    async with (
        OkxVenue(
            ("BTC-USDT", "ETH-USDT"),
            api_key=key,
            secret_key=secret,
            passphrase=passphrase,
            rate=20,
            seed=5,
            idle_timeout=1.0,
        ) as venue,
        OfflineOkx(uri=venue.uri, api_key=key, secret_key=secret, passphrase=passphrase) as okx,
    ):
        print(f"connected to {venue.uri} (real venue: {Okx.uri})")
        btc = await okx.subscribe(Trades(inst_id="BTC-USDT"))
        try:
            await okx.subscribe(Trades(inst_id="NOPE-USDT"))
        except jetsocket.SubscriptionError as exc:
            print(f"refused as expected: {exc.reason}")

        # Read for longer than the venue's 1 s idle limit: the pings keep it open.
        async with asyncio.timeout(5):
            while venue.pings < 6:
                push = await btc.recv()
        trade = push.data[0]
        print(f"trade {trade.inst_id} {trade.side} {trade.size} @ {trade.price}")
        print(
            f"heartbeat: {venue.pings} text pings answered,"
            f" {venue.connections_accepted} connection so far"
        )

        print("network failure: the venue resets the connection")
        dropped_at = time.time_ns() // 1_000_000
        await venue.drop_all()
        async with asyncio.timeout(5):
            while int(push.data[0].ts) <= dropped_at:  # skip what was buffered before
                push = await btc.recv()
        print(f"after the reconnect: {push.data[0].inst_id} @ {push.data[0].price}")
        print(
            f"done: {btc.received} BTC pushes, {venue.logins} logins accepted by the venue,"
            f" {venue.connections_accepted} connections"
        )


if __name__ == "__main__":
    asyncio.run(main())
