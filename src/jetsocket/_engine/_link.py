"""The listener of one wire connection: what the engine hears from it.

Until the engine declares the connection connected (after its ``on_open`` hooks), the
messages it receives are decoded and routed (so hooks can await answers through the
schema layer) but held back from the engine's queue: ``recv()`` and iteration never see a
message before the hooks finished. ``on_messages`` (``on_decoded`` when the frame scanner
decodes) is then the receiver's own ``deliver`` (``deliver_decoded``): decode, features,
push to the queue, so the hot path pays no extra call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jetsocket._engine._receiver import Receiver
from jetsocket._exceptions import ConnectionClosedError
from jetsocket._protocol._connection import WireConnection

__all__ = ["Link"]


class Link:
    """Listener of one wire connection; forwards to the engine.

    Until the engine declares the connection connected (after its ``on_open`` hooks), the
    messages it receives are decoded and routed (so hooks can await answers through the
    schema layer) but held back from the engine's queue: ``recv()`` and iteration never
    see a message before the hooks finished. ``on_messages`` is then the receiver's own
    ``deliver``, so the hot path pays no extra call.
    """

    __slots__ = (
        "_receiver",
        "conn",
        "held",
        "live",
        "lost",
        "on_connection_lost",
        "on_decoded",
        "on_messages",
        "on_ping",
        "on_pong",
        "wire_decode",
    )

    def __init__(
        self,
        *,
        receiver: Receiver,
        on_ping: Callable[[bytes], None],
        on_pong: Callable[[bytes], None],
        on_lost: Callable[[Link, ConnectionClosedError], None],
    ) -> None:
        self._receiver = receiver
        # The receiver's decoder for the frame scanner (ConnectionListener): chunks then
        # arrive through on_decoded instead of on_messages.
        self.wire_decode = receiver.wire_decode
        self.on_messages: Callable[[list[Any]], None] = self._hold
        self.on_decoded: Callable[[list[Any], list[int]], None] = self._hold_decoded
        self.on_ping = on_ping
        self.on_pong = on_pong
        self.on_connection_lost: Callable[[ConnectionClosedError], None] = lambda exc: on_lost(
            self, exc
        )
        self.held: list[Any] = []
        self.conn: WireConnection | None = None
        self.live = False
        # A loss before the connection is live (e.g. a close frame in the same chunk as
        # the 101) is kept and handled once it is.
        self.lost: ConnectionClosedError | None = None

    def _hold(self, messages: list[Any]) -> None:
        # Decoded and routed now (acks, logins), delivered to the queue once live.
        self.held.extend(self._receiver.process(messages))

    def _hold_decoded(self, messages: list[Any], raw_at: list[int]) -> None:
        self.held.extend(self._receiver.process_decoded(messages, raw_at))

    def go_live(self) -> None:
        """The engine declared this connection connected: deliver what was held, then all."""
        self.live = True
        receiver = self._receiver
        self.on_messages = receiver.deliver
        self.on_decoded = receiver.deliver_decoded
        held, self.held = self.held, []
        if held:
            receiver.queue.push_batch(held)
