"""Resident memory per idle connection.

Each client is measured in a fresh child process (``python -m benchmarks._memory``), so
memory freed by one library is never reused by the next and skews its figure. The child
imports everything, opens and closes a few warm-up connections (lazy imports, caches,
first-use allocations), opens 250 connections to ``/idle`` (they absorb the free memory
the process already holds, which would make the first connections look cheap), reads
``VmRSS``, opens COUNT more, waits until all are up, reads ``VmRSS`` again and reports the
marginal ``(after - before) / COUNT`` in KiB.

Every client keeps a keep-alive ping running, as a long-lived stream would; the interval is
short (2 s by default) and the connections idle 2.5 intervals before the second reading, so
the figure is the steady state *after* pings and pongs, not just after the handshake.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from benchmarks._common import jetsocket_attr, raise_fd_limit, rss_kib, run_async

__all__ = ["MEMORY_CLIENTS", "measure_memory"]

_BATCH = 50  # connections opened concurrently (bounded: the server's accept queue)
_WARMUP = 10
_PRIME = 250  # connections opened before the baseline (see _measure)

Opener = Callable[[AsyncExitStack, str, float], Awaitable[object]]


async def _open_jetsocket(stack: AsyncExitStack, uri: str, heartbeat: float) -> object:
    ws_cls = jetsocket_attr("WebSocket")
    if ws_cls is None:
        raise RuntimeError("jetsocket.WebSocket is not importable")
    ws = ws_cls(uri, heartbeat=heartbeat, compress=False)
    return await stack.enter_async_context(ws)


async def _open_picows(stack: AsyncExitStack, uri: str, heartbeat: float) -> object:
    import picows  # noqa: PLC0415 - peers are imported only when measured

    transport, listener = await picows.ws_connect(
        picows.WSListener,
        uri,
        enable_auto_ping=True,
        auto_ping_idle_timeout=heartbeat,
        auto_ping_reply_timeout=heartbeat,
    )

    async def close() -> None:
        transport.send_close(picows.WSCloseCode.OK)
        transport.disconnect()
        await transport.wait_disconnected()

    stack.push_async_callback(close)
    return listener


async def _open_websockets(stack: AsyncExitStack, uri: str, heartbeat: float) -> object:
    from websockets.asyncio.client import connect  # noqa: PLC0415

    return await stack.enter_async_context(
        connect(uri, compression=None, proxy=None, ping_interval=heartbeat)
    )


_aiohttp_session: Any = None


async def _open_aiohttp(stack: AsyncExitStack, uri: str, heartbeat: float) -> object:
    import aiohttp  # noqa: PLC0415

    global _aiohttp_session
    if _aiohttp_session is None:
        # One session for all connections, as an application would; no pool limit.
        _aiohttp_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    return await stack.enter_async_context(
        _aiohttp_session.ws_connect(uri, compress=0, heartbeat=heartbeat)
    )


# name -> (opener, label; {hb} is replaced by the keep-alive interval)
MEMORY_CLIENTS: dict[str, tuple[Opener, str]] = {
    "jetsocket": (_open_jetsocket, "jetsocket heartbeat={hb} (reconnect on)"),
    "picows": (_open_picows, "picows auto_ping_idle_timeout={hb}"),
    "websockets": (_open_websockets, "websockets ping_interval={hb}"),
    "aiohttp": (_open_aiohttp, "aiohttp heartbeat={hb}"),
}


async def _open_many(
    opener: Opener, stack: AsyncExitStack, uri: str, count: int, heartbeat: float
) -> None:
    for start in range(0, count, _BATCH):
        batch = min(_BATCH, count - start)
        await asyncio.gather(*(opener(stack, uri, heartbeat) for _ in range(batch)))


async def _measure(client: str, uri: str, count: int, heartbeat: float) -> dict[str, Any]:
    opener = MEMORY_CLIENTS[client][0]
    async with AsyncExitStack() as warm:
        await _open_many(opener, warm, uri, _WARMUP, heartbeat)
    await asyncio.sleep(0.2)  # let close handshakes and their callbacks finish
    # The process holds free memory (import-time garbage, the warm-up): the first
    # connections reuse it and look cheap. Open _PRIME of them before the baseline so
    # the figure is the marginal cost of a connection, which does not depend on count.
    prime = _PRIME
    measured = count
    async with AsyncExitStack() as stack:
        await _open_many(opener, stack, uri, prime, heartbeat)
        await asyncio.sleep(0.2)
        gc.collect()
        before = rss_kib()
        await _open_many(opener, stack, uri, measured, heartbeat)
        # Idle for 2.5 keep-alive intervals: every connection has sent pings and received
        # pongs, so whatever a client allocates lazily for them (buffers, timers) counts.
        await asyncio.sleep(2.5 * heartbeat)
        gc.collect()
        after = rss_kib()
    if _aiohttp_session is not None:
        await _aiohttp_session.close()
    return {
        "client": client,
        "count": count,
        "measured": measured,
        "heartbeat": heartbeat,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_connection_kib": (after - before) / measured,
    }


def measure_memory(
    client: str, uri: str, count: int, loop: str, heartbeat: float
) -> dict[str, Any]:
    """Measure ``client`` in a child process; return its figures (or an ``error``)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    args = [sys.executable, "-m", "benchmarks._memory", client, uri, str(count)]
    args += ["--loop", loop, "--heartbeat", str(heartbeat)]
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        return {"client": client, "error": "timed out after 300 s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"client": client, "error": f"exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    """Child entry point: measure one client, print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._memory")
    parser.add_argument("client", choices=sorted(MEMORY_CLIENTS))
    parser.add_argument("uri")
    parser.add_argument("count", type=int)
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument("--heartbeat", type=float, default=2.0)
    args = parser.parse_args()
    limit = raise_fd_limit()
    if limit < args.count + _PRIME + 100:
        raise SystemExit(f"RLIMIT_NOFILE {limit} is too low for {args.count} connections")
    # Import every peer first, so only the connections themselves are counted.
    import aiohttp  # noqa: F401, PLC0415
    import picows  # noqa: F401, PLC0415
    import websockets.asyncio.client  # noqa: F401, PLC0415

    jetsocket_attr("WebSocket")
    result = run_async(_measure(args.client, args.uri, args.count, args.heartbeat), args.loop)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
