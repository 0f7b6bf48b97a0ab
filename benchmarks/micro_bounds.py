"""Where a feed message's time goes, in-process (no socket): the bounds of issue 12's targets.

    .venv/bin/python -m benchmarks.micro_bounds [rounds]

One 1,500-frame chunk of trade ticks (what a 256 KiB read holds) is processed again and
again, each step adding one layer, in ns per message (best of ``rounds``):

* ``decode only``: ``list(map(decode, payloads))``, msgspec alone, the same for every client;
* ``scan+decode``: the compiled scanner decoding inside the scan (the feed's floor rows);
* ``+ list loop``: the same plus a plain ``for`` over the result with a counter (what any
  per-message consumer writes, picows' callback included);
* ``reader+queue+async for``: jetsocket's path: ``FrameReader.feed_decoded``, the queue and
  the compiled ``QueueIter`` step, consumed by ``async for`` with the same counter;
* ``reader+queue+batches()``: the same through ``batches()``;
* ``raw ...``: the same rows with ``raw=True`` payloads (``str``) and no decoding.

The differences between rows are what each layer costs; the socket read, the per-chunk
wake-up and cold memory come on top in the real feed (``make bench``). Figures drift on a
shared machine: compare rows of one run.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec

from benchmarks._common import Trade, build_feed_frames, tick_payload
from jetsocket._engine._queue import MessageQueue
from jetsocket._protocol import _reader

N = 1500  # frames per chunk: about one 256 KiB read
REPS = 200  # chunks per measurement


def _ns(start: float, reps: int = REPS) -> float:
    return (time.perf_counter() - start) / (reps * N) * 1e9


def _rows(raw: bool) -> dict[str, Callable[[], float]]:
    frames = build_feed_frames(N)
    scan: Callable[..., int] | None = _reader._SCAN
    if scan is None:
        raise SystemExit("the compiled frame scanner is not available (JETSOCKET_PURE?)")
    decode = None if raw else msgspec.json.Decoder(Trade).decode
    payloads = [tick_payload(i) for i in range(N)]

    def scanned() -> list[Any]:
        out: list[Any] = []
        if decode is None:
            scan(frames, 0, out, True, 1 << 30)
        else:
            scan(frames, 0, out, False, 1 << 30, decode, [], False)
        return out

    def decode_only() -> float:
        assert decode is not None
        t = time.perf_counter()
        for _ in range(REPS):
            out = None
            out = list(map(decode, payloads))
        del out
        return _ns(t)

    def floor() -> float:
        t = time.perf_counter()
        for _ in range(REPS):
            out = None
            out = scanned()
        del out
        return _ns(t)

    def floor_loop() -> float:
        t = time.perf_counter()
        for _ in range(REPS):
            out = None
            out = scanned()
            count = 0
            for _msg in out:  # the consumer loop of every feed client, as in RunClock
                count += 1  # noqa: SIM113 - the loop body is what is measured
                if count == N:
                    break
        del out
        return _ns(t)

    def reader() -> _reader.FrameReader:
        return _reader.FrameReader(max_message_size=None, text_as_str=raw, decode=decode)

    async def engine_iter() -> float:
        q: MessageQueue[Any] = MessageQueue(1 << 30)
        r = reader()
        it = q.iterate_async()
        t = time.perf_counter()
        for _ in range(REPS):
            q.push_batch(r.feed_decoded(frames)[0] if decode else r.feed(frames))
            count = 0
            async for _msg in it:
                count += 1
                if count == N:
                    break
        return _ns(t)

    async def engine_batches() -> float:
        q: MessageQueue[Any] = MessageQueue(1 << 30)
        r = reader()
        it = q.batches()
        t = time.perf_counter()
        for _ in range(REPS):
            q.push_batch(r.feed_decoded(frames)[0] if decode else r.feed(frames))
            batch = None
            batch = await it.__anext__()
        del batch
        return _ns(t)

    prefix = "raw " if raw else ""
    rows: dict[str, Callable[[], float]] = {}
    if not raw:
        rows["decode only"] = decode_only
    rows[prefix + "scan" + ("" if raw else "+decode") + " (floor)"] = floor
    rows[prefix + "floor + list loop"] = floor_loop
    rows[prefix + "reader+queue+async for"] = lambda: asyncio.run(engine_iter())
    rows[prefix + "reader+queue+batches()"] = lambda: asyncio.run(engine_batches())
    return rows


def main(rounds: int) -> None:
    """Print each row's best ns per message over ``rounds`` alternating rounds."""
    rows = {**_rows(raw=False), **_rows(raw=True)}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, run in rows.items():
            value = run()
            best[name] = min(best.get(name, value), value)
    for name, value in best.items():
        print(f"{name:32s} {value:7.1f} ns/msg")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
