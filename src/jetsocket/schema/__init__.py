"""Typed schema layer: messages, subscriptions, client definitions.

Declare message classes (:class:`Message`, a msgspec Struct; pydantic models work too),
subscription classes (:class:`Subscription`) and a client (:class:`Client`); jetsocket
decodes every message into the declared types, re-sends subscriptions after every
reconnect and dispatches typed handlers.
"""

from jetsocket._exports import export
from jetsocket.schema._client import Client, Unmatched
from jetsocket.schema._message import Message, field
from jetsocket.schema._subscription import Ack, Stream, Subscription, read_id_ack
from jetsocket.schema._sync_client import SyncClient, SyncStream

__all__ = [
    "Ack",
    "Client",
    "Message",
    "Stream",
    "Subscription",
    "SyncClient",
    "SyncStream",
    "Unmatched",
    "field",
    "read_id_ack",
]

# Public objects report this package as their module (not the private one defining them).
export(__name__, globals(), __all__)
