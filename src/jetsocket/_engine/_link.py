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
        "pending",
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
        #: ``(sequence id, message)`` held back during a rotation (None: not joining).
        self.pending: list[tuple[int, Any]] | None = None

    def _hold(self, messages: list[Any]) -> None:
        # Decoded and routed now (acks, logins), delivered to the queue once live.
        self.held.extend(self._receiver.process(messages))

    def _hold_decoded(self, messages: list[Any], raw_at: list[int]) -> None:
        self.held.extend(self._receiver.process_decoded(messages, raw_at))

    def go_live(self) -> None:
        """The engine declared this connection connected: deliver what was held, then all."""
        self.live = True
        if self.pending is None:  # else joining: see start_joining
            self._direct()
        held, self.held = self.held, []
        if held:
            self._receiver.queue.push_batch(held)

    def _direct(self) -> None:
        # Every message through the receiver: held until live, then delivered at once.
        receiver = self._receiver
        if self.live:
            self.on_messages = receiver.deliver
            self.on_decoded = receiver.deliver_decoded
        else:
            self.on_messages = self._hold
            self.on_decoded = self._hold_decoded

    # -- a rotation's new connection ----------------------------------------------------

    def start_joining(self) -> None:
        """Hold this connection's sequenced messages back until its stream meets the old one.

        A rotation's new connection often receives a message before the old one delivered
        it. Delivering it then, or even marking its id as seen, would put the old
        connection's next messages after it (out of order) or report a gap the old
        connection is about to fill. So messages with a sequence id wait here, decoded but
        not yet tracked, until one of them was delivered by the old connection
        (:meth:`check_joining`) or the old connection is gone (:meth:`end_joining`). They
        are then released through the receiver into the queue, where the old connection's
        messages go too: those already delivered are dropped as duplicates, the rest
        follow in order, even before this connection's ``on_open`` hooks finished (the
        queue is flowing anyway). Messages without an id (acks, logins) are processed at
        once and held until the hooks finished, as without a rotation.
        """
        self.pending = []
        self.on_messages = self._join
        self.on_decoded = self._join_decoded
        self._receiver.joiner = self  # told of the old connection's progress

    def _join(self, messages: list[Any]) -> None:
        self._joined(self._receiver.decode_batch(messages))

    def _join_decoded(self, messages: list[Any], raw_at: list[int]) -> None:
        self._joined(self._receiver.decode_batch_decoded(messages, raw_at))

    def _joined(self, messages: list[Any]) -> None:
        receiver = self._receiver
        sequenced, ids, others = receiver.split_sequenced(messages)
        if others:
            released = receiver.release(others)
            if self.live:
                receiver.queue.push_batch(released)
            else:
                self.held.extend(released)
        if sequenced:
            pending = self.pending
            if pending is None:  # met: in step with the old connection, into the queue
                receiver.queue.push_batch(receiver.release(sequenced))
            else:
                pending.extend(zip(ids, sequenced, strict=True))
                self.check_joining()

    def check_joining(self) -> None:
        """End joining once the old connection delivered one of the held ids."""
        pending = self.pending
        if pending and self._receiver.delivered_any(seq for seq, _ in pending):
            self.end_joining()
            self._receiver.streams_met()  # the old connection may go (see retire_connection)

    def end_joining(self) -> None:
        """Release the held sequenced messages (in order, duplicates dropped); stop holding."""
        pending = self.pending
        if pending is None:
            return
        self._stop_joining()
        if pending:
            receiver = self._receiver
            receiver.queue.push_batch(receiver.release([msg for _, msg in pending]))

    def abandon_joining(self) -> None:
        """Drop the held sequenced messages untracked (this connection failed to open)."""
        if self.pending is not None:
            self._stop_joining()

    def _stop_joining(self) -> None:
        self.pending = None
        if self._receiver.joiner is self:
            self._receiver.joiner = None
        if self.live:
            self._direct()  # else go_live does it: ids still bypass the hold until then
