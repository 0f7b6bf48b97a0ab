"""Immutable statistics snapshot of a connection."""

from __future__ import annotations

from dataclasses import dataclass

from jetsocket._engine._state import ConnectionState

__all__ = ["ConnectionStats"]


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    """A snapshot of a connection's counters, taken by ``stats()``.

    Attributes:
        state: The connection state when the snapshot was taken.
        uptime: Seconds the current connection has been up (0 when not connected).
        messages_received: Data messages received (all connections).
        messages_sent: Data messages sent.
        bytes_received: Bytes read from the socket (framing and handshake included).
        bytes_sent: Bytes written to the socket.
        reconnect_count: Successful reconnects.
        last_reconnect: ``time.time()`` of the last successful reconnect, or None.
        latency_ms: Last heartbeat round trip, or None.
        avg_latency_ms: Average heartbeat round trip, or None.
        errors: Errors seen (connection failures, handler failures, decode failures).
        validation_errors: Messages that failed to decode into the declared type.
        buffer_size: Messages received but not yet consumed.
        buffer_capacity: Capacity of the receive buffer.
        handler_errors: Event handlers that raised.
        messages_dropped: Messages discarded by the overflow policy or deduplication.
        messages_conflated: Messages replaced, while waiting, by a newer message of their
            key (the ``conflate_key`` option); not counted as dropped.
        duplicates: Messages dropped as duplicates of an already seen sequence id.
        gaps: Sequence gaps detected.
        paused_reading: Times reading was paused because the consumer was behind.
        pending_sends: Messages held while reconnecting (replay mode ``full_buffer``).
        loop_lag_ms: How late the event loop last ran the loop-lag probe (None before the
            first probe): the time it could not run anything, this client included.
        loop_lag_max_ms: The largest such lag since the probe started on this loop.
        loop_blocked: ``loop_blocked`` events: blocks longer than ``loop_block_threshold``.
    """

    state: ConnectionState
    uptime: float = 0.0
    messages_received: int = 0
    messages_sent: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    reconnect_count: int = 0
    last_reconnect: float | None = None
    latency_ms: float | None = None
    avg_latency_ms: float | None = None
    errors: int = 0
    validation_errors: int = 0
    buffer_size: int = 0
    buffer_capacity: int = 0
    handler_errors: int = 0
    messages_dropped: int = 0
    messages_conflated: int = 0
    duplicates: int = 0
    gaps: int = 0
    paused_reading: int = 0
    pending_sends: int = 0
    loop_lag_ms: float | None = None
    loop_lag_max_ms: float | None = None
    loop_blocked: int = 0
