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

    def timed(make: Callable[[], list[Any]], consume: bool) -> float:
        # Each chunk's list replaces the last one (as a client's next read would).
        t = time.perf_counter()
        for _ in range(REPS):
            out = None
            out = make()
            if consume:
                count = 0
                for _msg in out:  # the consumer loop of every feed client, as in RunClock
                    count += 1  # noqa: SIM113 - the loop body is what is measured
                    if count == N:
                        break
        del out
        return _ns(t)

    def decode_only() -> list[Any]:
        assert decode is not None
        return list(map(decode, payloads))

    async def engine(batches: bool) -> float:
        q: MessageQueue[Any] = MessageQueue(1 << 30)
        r = _reader.FrameReader(max_message_size=None, text_as_str=raw, decode=decode)
        it = q.batches() if batches else q.iterate_async()
        held: list[Any] = [None]  # a batches() consumer holds its batch until the next one
        t = time.perf_counter()
        for _ in range(REPS):
            q.push_batch(r.feed_decoded(frames)[0] if decode else r.feed(frames))
            if batches:
                held[0] = None
                held[0] = await anext(it)
                continue
            count = 0
            async for _msg in it:
                count += 1
                if count == N:
                    break
        return _ns(t)

    prefix = "raw " if raw else ""
    rows: dict[str, Callable[[], float]] = {}
    if not raw:
        rows["decode only"] = lambda: timed(decode_only, False)
    rows[prefix + "scan" + ("" if raw else "+decode") + " (floor)"] = lambda: timed(scanned, False)
    rows[prefix + "floor + list loop"] = lambda: timed(scanned, True)
    rows[prefix + "reader+queue+async for"] = lambda: asyncio.run(engine(batches=False))
    rows[prefix + "reader+queue+batches()"] = lambda: asyncio.run(engine(batches=True))
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
