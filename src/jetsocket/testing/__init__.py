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
and :meth:`ExchangeSimulator.start` (restart on the same port),
:meth:`ExchangeSimulator.inject_gap` (messages withheld: a sequence gap). With
``sequence="stream"`` the simulator behaves like a venue with replay: one sequence per
stream over every connection, and a SUBSCRIBE may resume after the last message seen.

Also here: :class:`ScriptedServer` (a fake server playing a script of steps per
connection: send, drop, close with a code, stop answering pings, refuse the handshake
with a status), :class:`HostileServer` (raw TCP: split or trickled handshakes, any
status and headers, malformed frames, ping floods, a peer that stops reading),
:class:`FaultProxy` (a TCP proxy that drops, black-holes, delays or throttles), fake venues
modelled on the venues' public protocol documentation (:class:`BinanceVenue`,
:class:`CoinbaseVenue`, :class:`KrakenVenue`, :class:`BybitVenue`, :class:`OkxVenue`,
:class:`BitfinexVenue`, :class:`DeribitVenue`, :class:`RealtimeVenue`, on the shared
:class:`VenueServer` with its fault injection and records), session cassettes
(:class:`Recorder`, :class:`RecordingProxy` and :class:`ReplayServer` record a real session
and serve it offline), and pytest fixtures in :mod:`jetsocket.testing.fixtures`
(``pytest_plugins = ["jetsocket.testing.fixtures"]``).
"""

from jetsocket.testing._cassette import (
    Cassette,
    CassetteError,
    CassetteFrame,
    CassetteHandshake,
    CassetteRedactor,
    CassetteSession,
    Recorder,
)
from jetsocket.testing._hostile import HostileConnection, HostileServer
from jetsocket.testing._messages import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    FeedMessage,
    Kline,
    KlineBar,
    Response,
    ResponseError,
    Trade,
    decode_message,
)
from jetsocket.testing._proxy import FaultProxy
from jetsocket.testing._replay import CassetteMismatchError, RecordingProxy, ReplayServer
from jetsocket.testing._scripted import (
    Call,
    CloseWith,
    Drop,
    Echo,
    Gate,
    Pause,
    Reject,
    Script,
    ScriptedServer,
    Send,
    SendMany,
    Step,
    StopPongs,
    WaitForClientMessage,
    WaitUntil,
)
from jetsocket.testing._simulator import ExchangeSimulator, SimulatedBook, SimulatorStats
from jetsocket.testing._venues import (
    BinanceVenue,
    BitfinexVenue,
    BybitVenue,
    CoinbaseVenue,
    DeribitVenue,
    KrakenVenue,
    OkxVenue,
    RealtimeVenue,
    Sent,
    VenueServer,
    VenueSession,
    okx_sign,
)

__all__ = [
    "BinanceVenue",
    "BitfinexVenue",
    "BookDelta",
    "BookSnapshot",
    "BookTicker",
    "BybitVenue",
    "Call",
    "Cassette",
    "CassetteError",
    "CassetteFrame",
    "CassetteHandshake",
    "CassetteMismatchError",
    "CassetteRedactor",
    "CassetteSession",
    "CloseWith",
    "CoinbaseVenue",
    "DeribitVenue",
    "Drop",
    "Echo",
    "ExchangeSimulator",
    "FaultProxy",
    "FeedMessage",
    "Gate",
    "HostileConnection",
    "HostileServer",
    "Kline",
    "KlineBar",
    "KrakenVenue",
    "OkxVenue",
    "Pause",
    "RealtimeVenue",
    "Recorder",
    "RecordingProxy",
    "Reject",
    "ReplayServer",
    "Response",
    "ResponseError",
    "Script",
    "ScriptedServer",
    "Send",
    "SendMany",
    "Sent",
    "SimulatedBook",
    "SimulatorStats",
    "Step",
    "StopPongs",
    "Trade",
    "VenueServer",
    "VenueSession",
    "WaitForClientMessage",
    "WaitUntil",
    "decode_message",
    "okx_sign",
]
