"""Connection states and the legal transitions between them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ConnectionState", "check_transition"]


class ConnectionState(StrEnum):
    """Lifecycle of a :class:`jetsocket.WebSocket`.

    ``IDLE → CONNECTING → CONNECTED → (RECONNECTING → CONNECTING → CONNECTED)* → CLOSING →
    CLOSED``; ``FAILED`` when connecting fails for good (fatal error or attempts exhausted).
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


_S = ConnectionState
_ALLOWED: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.IDLE: frozenset({_S.CONNECTING, _S.CLOSED}),
    _S.CONNECTING: frozenset({_S.CONNECTED, _S.RECONNECTING, _S.FAILED, _S.CLOSING, _S.CLOSED}),
    _S.CONNECTED: frozenset({_S.RECONNECTING, _S.CLOSING, _S.CLOSED, _S.FAILED}),
    _S.RECONNECTING: frozenset({_S.CONNECTING, _S.CLOSING, _S.CLOSED, _S.FAILED}),
    _S.CLOSING: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
    _S.FAILED: frozenset({_S.CONNECTING, _S.CLOSED}),
}


def check_transition(old: ConnectionState, new: ConnectionState) -> None:
    """Raise ``RuntimeError`` if ``old → new`` is not a legal transition (a jetsocket bug)."""
    if new not in _ALLOWED[old]:
        raise RuntimeError(f"illegal state transition {old.value} -> {new.value}")
