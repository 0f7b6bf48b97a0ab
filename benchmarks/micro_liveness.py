"""Micro-benchmarks of the conflation and liveness features (no network).

    .venv/bin/python benchmarks/micro_liveness.py queue [rounds]   # ns/message per path
    .venv/bin/python benchmarks/micro_liveness.py dispatch         # typed handler dispatch
    .venv/bin/python benchmarks/micro_liveness.py probe            # loop-lag probe cost

``queue`` pushes 1 M integers in batches of 100 into a ``MessageQueue`` (and into a
``ConflatingQueue`` with 10 keys and with every key new), then drains each consumer path;
run it against an older tree with ``PYTHONPATH=<tree>/src`` to compare (the conflating
rows then fail: the class is new). Best of ``rounds``; figures drift on a shared machine.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

from jetsocket import ConnectionClosedError
from jetsocket._engine import _queue
from jetsocket._engine._events import EventRegistry

N = 1_000_000
BATCH = 100
END = ConnectionClosedError(1000, "", by_server=False)


def _queue_factory(mode: str) -> Callable[[], Any]:
    if mode == "plain":
        return lambda: _queue.MessageQueue(N * 2, "block")
    key: Callable[[int], int] = (lambda m: m % 10) if mode == "10 keys" else (lambda m: m)
    return lambda: _queue.ConflatingQueue(N * 2, "block", key=key)


async def _drain_iter(q: Any) -> None:
    async for _ in q.iterate_async():
        pass


async def _drain_batches(q: Any) -> None:
    async for _ in q.batches():
        pass


async def _drain_recv(q: Any) -> None:
    recv = q.recv
    for _ in range(len(q)):
        await recv()


def _drain_thread(q: Any) -> None:
    for _ in q.iterate():
        pass


def _drain_get(q: Any) -> None:
    get = q.get
    for _ in range(len(q)):
        get(None, iterating=False)


async def bench_queue(rounds: int) -> None:
    batches = [list(range(i, i + BATCH)) for i in range(0, N, BATCH)]
    drains: dict[str, Callable[[Any], Any]] = {
        "async for": _drain_iter,
        "batches()": _drain_batches,
        "recv()": _drain_recv,
        "sync for": _drain_thread,
        "sync get()": _drain_get,
    }
    for mode in ("plain", "10 keys", "every key new"):
        try:
            make = _queue_factory(mode)
            make()
        except AttributeError:
            print(f"{mode}: no ConflatingQueue in this tree")
            continue
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, drain in drains.items():
                q = make()
                q.start(asyncio.get_running_loop())
                gc.collect()
                gc.disable()
                start = time.perf_counter()
                for batch in batches:
                    q.push_batch(batch)
                best["push_batch"] = min(best.get("push_batch", 1e9), time.perf_counter() - start)
                delivered = len(q)
                if name not in ("recv()", "sync get()"):
                    q.finish(END)
                start = time.perf_counter()
                result = drain(q)
                if asyncio.iscoroutine(result):
                    await result
                per_message = (time.perf_counter() - start) / delivered * N
                gc.enable()
                best[name] = min(best.get(name, 1e9), per_message)
        print(f"{mode} (ns per message; drains per message delivered):")
        for name, seconds in best.items():
            if mode == "10 keys" and name != "push_batch":
                continue  # 10 messages delivered: fixed costs, not per-message figures
            print(f"  {name:12s} {seconds / N * 1e9:7.1f}")


class _Trade:
    pass


def _handler(msg: object) -> None:
    pass


def bench_dispatch() -> None:
    msgs = [_Trade() for _ in range(1000)]
    for timed in (False, True):
        events = EventRegistry()
        if timed:
            if not hasattr(events, "configure_liveness"):
                print("time_handlers: not in this tree")
                continue
            events.configure_liveness(0.1, True)
        events.add_type(_Trade, _handler)
        best = 1e9
        for _ in range(7):
            start = time.perf_counter()
            dispatch = events.dispatch
            for _ in range(N // 1000):
                for m in msgs:
                    dispatch(m)
            best = min(best, time.perf_counter() - start)
        label = "time_handlers=True " if timed else "time_handlers=False"
        print(f"dispatch, one typed handler, {label}: {best / N * 1e9:.1f} ns/message")


class _Quiet:
    def on_loop_lag(self, lag: float, since: float) -> None:
        pass


async def _idle(seconds: float, probe: bool) -> tuple[float, int]:
    from jetsocket._engine._liveness import LoopMonitor  # noqa: PLC0415 - new module

    monitor = None
    if probe:
        monitor = LoopMonitor.acquire()
        monitor.listen(_Quiet(), 0.001)  # the shortest period: 5 ms
    cpu = time.process_time()
    await asyncio.sleep(seconds)  # an idle loop: what costs is the probe alone
    cpu = time.process_time() - cpu
    ticks = monitor.ticks if monitor is not None else 0
    if monitor is not None:
        monitor.release()
    return cpu, ticks


async def _tick_cost() -> float:
    from jetsocket._engine._liveness import LoopMonitor  # noqa: PLC0415 - new module

    monitor = LoopMonitor.acquire()
    n = 100_000
    start = time.perf_counter()
    for _ in range(n):
        monitor._handle.cancel()  # type: ignore[union-attr]
        monitor._tick()
    elapsed = time.perf_counter() - start
    monitor.release()
    return elapsed / n


def bench_probe() -> None:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop  # noqa: PLC0415 - optional

        factories["uvloop"] = uvloop.new_event_loop
    except ImportError:
        pass
    for name, factory in factories.items():
        loop = factory()
        try:
            base, _ = loop.run_until_complete(_idle(3.0, probe=False))
            cpu, ticks = loop.run_until_complete(_idle(3.0, probe=True))
            tick = loop.run_until_complete(_tick_cost())
        finally:
            loop.close()
        per_wakeup = (cpu - base) / ticks
        print(
            f"{name}: probe callback + re-arm {tick * 1e6:.2f} us; on an idle loop "
            f"{per_wakeup * 1e6:.1f} us per firing (wake-up included): "
            f"{per_wakeup * 40 * 100:.3f} % of a core at the default 40 firings/s"
        )


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "queue"
    if what == "queue":
        asyncio.run(bench_queue(int(sys.argv[2]) if len(sys.argv) > 2 else 5))
    elif what == "dispatch":
        bench_dispatch()
    elif what == "probe":
        bench_probe()
    else:
        raise SystemExit(f"unknown benchmark {what!r}: queue, dispatch or probe")


if __name__ == "__main__":
    main()
