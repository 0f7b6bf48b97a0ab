"""Sync facade feed throughput: ``for m in ws`` on a blocking client.

Same server feed as :mod:`benchmarks._feed`; compares ``jetsocket.SyncWebSocket`` (typed)
with jetsocket's async typed client and with websockets' sync client + msgspec. Skipped
cleanly while ``jetsocket.SyncWebSocket`` does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from benchmarks._common import Trade, jetsocket_attr, run_async
from benchmarks._feed import FeedRun, RunClock, check_typed, run_feed_client

__all__ = ["SYNC_CLIENTS", "run_sync_client", "sync_client_available"]


def _jetsocket_sync(uri: str, n: int, loop: str) -> FeedRun:
    ws_cls: Any = jetsocket_attr("SyncWebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.SyncWebSocket is not importable")
    clock = RunClock(n)
    with ws_cls(uri, message_type=Trade, reconnect=False, compress=False) as ws:
        last = clock.take(ws)
    result = clock.result()
    check_typed(last, n)
    return result


def _jetsocket_async(uri: str, n: int, loop: str) -> FeedRun:
    return run_async(run_feed_client("jetsocket-typed", uri, n), loop)


def _websockets_sync(uri: str, n: int, loop: str) -> FeedRun:
    from websockets.sync.client import connect  # noqa: PLC0415 - peers imported when measured

    decode = msgspec.json.Decoder(Trade).decode
    clock = RunClock(n)
    with connect(uri, compression=None, proxy=None, max_size=None) as ws:
        last = clock.take(ws, decode)
    result = clock.result()
    check_typed(last, n)
    return result


SyncClient = Callable[[str, int, str], FeedRun]

# name -> (client, label). The first one is the reference for the ratios.
SYNC_CLIENTS: dict[str, tuple[SyncClient, str]] = {
    "jetsocket-sync-typed": (_jetsocket_sync, "jetsocket SyncWebSocket message_type=Trade"),
    "jetsocket-async-typed": (_jetsocket_async, "jetsocket WebSocket message_type=Trade"),
    "websockets-sync-typed": (_websockets_sync, "websockets.sync + msgspec Trade"),
}


def sync_client_available(name: str) -> str | None:
    """Return why client ``name`` cannot run, or None when it can."""
    if name == "jetsocket-sync-typed" and jetsocket_attr("SyncWebSocket") is None:
        return "jetsocket.SyncWebSocket not importable"
    if name == "jetsocket-async-typed" and jetsocket_attr("WebSocket") is None:
        return "jetsocket.WebSocket not importable"
    return None


def run_sync_client(name: str, uri: str, n: int, loop: str) -> FeedRun:
    """Run client ``name`` once against the feed at ``uri`` (blocking)."""
    return SYNC_CLIENTS[name][0](uri, n, loop)
