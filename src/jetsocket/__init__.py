"""jetsocket: a typed, resilient, fast WebSocket client for long-lived streams.

Layers (each imports only the ones below): ``_protocol`` (wire), ``_engine``
(:class:`WebSocket`), the sync facade, and :mod:`jetsocket.schema`.
"""

import logging

from jetsocket import presets
from jetsocket._engine._config import (
    BackoffConfig,
    BufferConfig,
    HeartbeatConfig,
    OverflowPolicy,
    ReplayConfig,
    ReplayMode,
)
from jetsocket._engine._events import (
    BufferOverflowEvent,
    ClosedEvent,
    ConnectedEvent,
    ConnectingEvent,
    DisconnectedEvent,
    ErrorEvent,
    Event,
    EventName,
    GapEvent,
    LoopBlockedEvent,
    MessageEvent,
    PingEvent,
    PongEvent,
    ReconnectedEvent,
    ReconnectingEvent,
    ReplayCompletedEvent,
    ReplayStartedEvent,
    ResubscribedEvent,
    SubscribedEvent,
    UnsubscribedEvent,
)
from jetsocket._engine._options import WebSocketOptions
from jetsocket._engine._state import ConnectionState
from jetsocket._engine._stats import ConnectionStats
from jetsocket._engine._websocket import WebSocket, connect
from jetsocket._exceptions import (
    BufferOverflowError,
    ConnectionClosedError,
    ConnectionError,
    HandshakeError,
    InvalidStateError,
    JetSocketError,
    MessageDecodeError,
    MessageTooBigError,
    ProtocolError,
    ProxyError,
    SubscriptionError,
    TimeoutError,
)
from jetsocket._exports import export
from jetsocket._sync import SyncWebSocket

__all__ = [
    "BackoffConfig",
    "BufferConfig",
    "BufferOverflowError",
    "BufferOverflowEvent",
    "ClosedEvent",
    "ConnectedEvent",
    "ConnectingEvent",
    "ConnectionClosedError",
    "ConnectionError",
    "ConnectionState",
    "ConnectionStats",
    "DisconnectedEvent",
    "ErrorEvent",
    "Event",
    "EventName",
    "GapEvent",
    "HandshakeError",
    "HeartbeatConfig",
    "InvalidStateError",
    "JetSocketError",
    "LoopBlockedEvent",
    "MessageDecodeError",
    "MessageEvent",
    "MessageTooBigError",
    "OverflowPolicy",
    "PingEvent",
    "PongEvent",
    "ProtocolError",
    "ProxyError",
    "ReconnectedEvent",
    "ReconnectingEvent",
    "ReplayCompletedEvent",
    "ReplayConfig",
    "ReplayMode",
    "ReplayStartedEvent",
    "ResubscribedEvent",
    "SubscribedEvent",
    "SubscriptionError",
    "SyncWebSocket",
    "TimeoutError",
    "UnsubscribedEvent",
    "WebSocket",
    "WebSocketOptions",
    "__version__",
    "connect",
    "presets",
]

__version__ = "0.2.0.dev0"

# Public objects report this package as their module (not the private one defining them).
export(__name__, globals(), __all__)

# A library never prints on its own: records reach the application's handlers only.
logging.getLogger("jetsocket").addHandler(logging.NullHandler())
