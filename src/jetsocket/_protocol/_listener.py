"""What a wire connection tells the layer above it: its listener and an optional wire tap."""

from __future__ import annotations

from typing import Protocol

from jetsocket._exceptions import ConnectionClosedError

__all__ = ["ConnectionListener", "WireTap"]


class ConnectionListener(Protocol):
    """What a :class:`WireConnection` reports to (implemented by the engine).

    A listener may also decode while frames are parsed: when it has a ``wire_decode``
    attribute ``(decode, copy_payloads)`` (not None), the connection hands ``decode`` to its
    :class:`~jetsocket._protocol._reader.FrameReader` and, when the compiled scanner is in
    use, reports each chunk with ``on_decoded(messages, raw_at)`` instead of
    ``on_messages`` (see ``FrameReader.feed_decoded``; the engine's ``Link`` does this).
    """

    def on_messages(self, messages: list[bytes | str]) -> None:
        """All complete data messages of one read chunk, in order."""

    def on_ping(self, payload: bytes) -> None:
        """A ping frame arrived (the pong is already sent, or owed: see ``pong``)."""

    def on_pong(self, payload: bytes) -> None:
        """A pong frame arrived."""

    def on_connection_lost(self, exc: ConnectionClosedError) -> None:
        """The connection is finished; called exactly once."""


class WireTap(Protocol):
    """Sees every byte of one connection, both ways (``open_connection(tap=)``).

    For recording sessions (``jetsocket.testing`` cassettes) and debugging: the tap gets
    the bytes exactly as they crossed the socket (after TLS), the opening handshake
    included, so it needs nothing else from the connection. It is called synchronously
    and must not raise; when no tap is set the hot path pays one ``is None`` check per
    read chunk and per write.
    """

    def on_wire(self, data: bytes, sent: bool) -> None:
        """``data`` was written (``sent``: client to server, masked) or read."""

    def on_wire_lost(self) -> None:
        """The TCP connection is gone (called once, after the last ``on_wire``)."""
