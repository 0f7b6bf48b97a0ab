"""Test kit: an embedded exchange simulator and the typed messages of its feed.

Use it in your own tests to run a client against a realistic, deterministic stream
without network access::

    from jetsocket.testing import ExchangeSimulator, Trade, decode_message

    async def test_my_client() -> None:
        async with ExchangeSimulator(symbols=("BTCUSDT",), rate=100, seed=7) as sim:
            async with jetsocket.WebSocket(sim.uri, deserializer=decode_message) as ws:
                await ws.send({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1})
                ...

Fault injection: :meth:`ExchangeSimulator.drop_all` (TCP reset),
:meth:`ExchangeSimulator.close_all` (close frame with any code), :meth:`ExchangeSimulator.stop`
and :meth:`ExchangeSimulator.start` (restart on the same port).
"""

from jetsocket.testing._messages import (
    BookTicker,
    FeedMessage,
    Kline,
    KlineBar,
    Response,
    ResponseError,
    Trade,
    decode_message,
)
from jetsocket.testing._simulator import ExchangeSimulator, SimulatorStats

__all__ = [
    "BookTicker",
    "ExchangeSimulator",
    "FeedMessage",
    "Kline",
    "KlineBar",
    "Response",
    "ResponseError",
    "SimulatorStats",
    "Trade",
    "decode_message",
]
