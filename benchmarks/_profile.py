"""``python -m benchmarks --profile CLIENT``: one feed run of CLIENT under cProfile."""

from __future__ import annotations

import cProfile
import io
import pstats

from benchmarks._common import ServerProcess, run_async
from benchmarks._feed import run_feed_client

__all__ = ["profile_feed"]


def profile_feed(client: str, n: int, loop: str, *, top: int = 30) -> int:
    """Profile one feed run of ``client`` with ``n`` messages; print the hot functions.

    The run is done once unprofiled first (warm caches, imports), then profiled. cProfile
    slows every Python call down, so read the split between functions, not the rate.
    """
    with ServerProcess(feed_n=[n]) as srv:
        uri = srv.uri(f"/feed?n={n}")
        plain = run_async(run_feed_client(client, uri, n), loop)
        profiler = cProfile.Profile()
        profiler.enable()
        profiled = run_async(run_feed_client(client, uri, n), loop)
        profiler.disable()
    print(f"{client}: {plain.rate:,.0f} msg/s unprofiled, {profiled.rate:,.0f} msg/s profiled")
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(key).print_stats(top)
        print(f"== sorted by {key} ==")
        print(out.getvalue())
    return 0
