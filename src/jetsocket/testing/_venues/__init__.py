"""Fake venues, one module per venue, on one shared base (:mod:`._base`).

Each fake speaks its venue's public wire protocol closely enough to exercise a client
offline and deterministically: acknowledgements, heartbeats, limits, sequences per stream,
and fault injection (kill mid-stream, rejected subscription, malformed JSON, unknown
message type, sequence gap, snapshot replay on resubscribe). The module docstring of each
venue says which documentation page it follows, what is modelled and where it is simpler.

=========== ===================== =============================== ========================
venue       acks                  sequence (per stream)           after a reconnect
=========== ===================== =============================== ========================
Binance     ``id``, per request   trade ``t``; depth ``U``..``u`` gap (no replay)
Coinbase    one ``subscriptions`` ``sequence`` per product        ``last_match``, snapshot
Kraken v2   ``req_id`` per symbol ``trade_id``, 1-2 per message   snapshot of recent trades
Bybit v5    ``req_id``            ``seq``, several per message    gap (no replay)
OKX v5      per topic (``arg``)   ``tradeId``; books ``prevSeqId`` gap; books: snapshot
Bitfinex v2 ``subscribed``+chanId trade ``ID`` per symbol         snapshot, new chanId
Deribit     JSON-RPC ``id``       ``trade_seq``; ``prev_change_id`` gap; books: snapshot
OpenAI RT   none (events)         none                            fresh session
=========== ===================== =============================== ========================
"""

from jetsocket.testing._venues._base import Item, Sent, VenueServer, VenueSession
from jetsocket.testing._venues._binance import BinanceVenue
from jetsocket.testing._venues._bitfinex import BitfinexVenue
from jetsocket.testing._venues._bybit import BybitVenue
from jetsocket.testing._venues._coinbase import CoinbaseVenue
from jetsocket.testing._venues._deribit import DeribitVenue
from jetsocket.testing._venues._kraken import KrakenVenue
from jetsocket.testing._venues._okx import OkxVenue, okx_sign
from jetsocket.testing._venues._realtime import RealtimeVenue

__all__ = [
    "BinanceVenue",
    "BitfinexVenue",
    "BybitVenue",
    "CoinbaseVenue",
    "DeribitVenue",
    "Item",
    "KrakenVenue",
    "OkxVenue",
    "RealtimeVenue",
    "Sent",
    "VenueServer",
    "VenueSession",
    "okx_sign",
]
