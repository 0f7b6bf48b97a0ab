"""Writes on a connection from threads other than the event loop's (the sync facade).

``websockets.sync`` writes on its socket from the calling thread; jetsocket's blocking
facade runs one event-loop thread, and lets a calling thread do the same when it is safe:
every write of the connection, loop or thread, then happens under one lock, and a thread
writes on the socket itself only when nothing waits before it (the transport's buffer is
empty and nothing handed over is pending). What it cannot write is handed to the loop,
which writes it before any later frame. See ``WireConnection.write_from_thread``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Final

__all__ = ["PENDING_LIMIT", "ThreadSends", "ThreadWrites", "direct_fd"]

# Plain TCP transports of asyncio's selector loop: a thread may write on their socket
# directly (see ThreadWrites). Others (TLS, uvloop, proxies' wrappers) get frames handed
# to the loop thread instead.
_DIRECT_TRANSPORT: type | None = getattr(
    getattr(asyncio, "selector_events", None), "_SelectorSocketTransport", None
)
#: Bytes handed from threads to the loop, not yet written, above which a thread send
#: returns False (the caller then waits for the loop: flow control, see write_from_thread).
PENDING_LIMIT: Final = 1 << 16


class ThreadSends:
    """What the threads sending on one client's connections share: a lock and a count.

    One lock for all the connections of a client, so a thread never writes on two at once
    and ``sent`` (messages sent by threads) is counted under it.
    """

    __slots__ = ("lock", "sent")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = 0


class ThreadWrites:
    """Writes from threads other than the loop's (the sync facade), kept in order.

    Every write of the connection (loop or thread) happens under ``lock``, so frames are
    never interleaved. A thread writes on the socket itself (``fd``) only when nothing is
    waiting before it: the transport's buffer is empty and nothing is ``pending``. Anything
    it could not write (a partial write, a full socket buffer, an error) is appended to
    ``pending``, which the loop writes first, before any later frame.
    """

    __slots__ = ("fd", "lock", "loop", "pending", "shared")

    def __init__(
        self, shared: ThreadSends, loop: asyncio.AbstractEventLoop, fd: int | None
    ) -> None:
        self.shared = shared
        self.lock = shared.lock
        self.loop = loop
        self.fd = fd
        self.pending: bytearray | None = None


def direct_fd(transport: asyncio.BaseTransport | None) -> int | None:
    """The socket a thread may write on directly for ``transport``, or None.

    Only plain TCP transports of asyncio's selector loop on POSIX: their ``write()`` sends
    at once when their buffer is empty, which is what a thread does in their place; their
    socket is closed only after ``connection_lost``, which takes the write lock first.
    """
    if os.name != "posix" or transport is None or type(transport) is not _DIRECT_TRANSPORT:
        return None
    sock = transport.get_extra_info("socket")
    return sock.fileno() if sock is not None else None
