"""ConflatingQueue: the newest waiting message per key, in place, counted as conflated."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Hashable
from typing import Any, cast

import pytest

from jetsocket import BufferOverflowError, ConnectionClosedError
from jetsocket._engine._config import OverflowChoice
from jetsocket._engine._queue import ConflatingQueue, Failure, MessageQueue

Tick = tuple[str, int]  # (symbol, value)
CLEAN_END = ConnectionClosedError(1000, "", by_server=False)


def symbol(tick: Tick) -> str:
    return tick[0]


def started(
    capacity: int = 100, policy: OverflowChoice = "block", key: Any = symbol, **kwargs: Any
) -> ConflatingQueue[Any]:
    queue: ConflatingQueue[Any] = ConflatingQueue(capacity, policy, key=key, **kwargs)
    queue.start(asyncio.get_running_loop())
    return queue


async def drain(queue: MessageQueue[Any]) -> list[Any]:
    queue.finish(CLEAN_END)
    return [m async for m in queue]


async def test_newest_value_replaces_the_waiting_one_in_place() -> None:
    queue = started()
    queue.push_batch([("BTC", 1), ("ETH", 1), ("BTC", 2)])
    queue.push_batch([("SOL", 1), ("ETH", 2), ("BTC", 3)])
    # BTC keeps the place of its first waiting message, with its newest value.
    assert await drain(queue) == [("BTC", 3), ("ETH", 2), ("SOL", 1)]
    assert queue.conflated == 3
    assert queue.dropped == 0


async def test_a_consumer_that_keeps_up_sees_every_message() -> None:
    queue = started()
    got = []
    for value in range(5):
        queue.push_batch([("BTC", value)])
        got.append(await queue.recv())
    assert got == [("BTC", v) for v in range(5)]
    assert queue.conflated == 0


async def test_a_taken_message_is_never_replaced_a_new_one_queues_behind() -> None:
    queue = started()
    queue.push_batch([("BTC", 1), ("ETH", 1)])
    assert await queue.recv() == ("BTC", 1)
    queue.push_batch([("BTC", 2), ("ETH", 2), ("BTC", 3)])
    assert await drain(queue) == [("ETH", 2), ("BTC", 3)]
    assert queue.conflated == 2


async def test_none_key_is_never_conflated() -> None:
    queue = started(key=lambda t: None if t[0] == "trade" else t[0])
    queue.push_batch([("trade", 1), ("BTC", 1), ("trade", 2), ("BTC", 2)])
    assert await drain(queue) == [("trade", 1), ("BTC", 2), ("trade", 2)]
    assert queue.conflated == 1


async def test_a_failure_is_a_barrier() -> None:
    queue = started()
    queue.push_batch([("BTC", 1), Failure(ValueError("bad")), ("BTC", 2), ("BTC", 3)])
    assert await queue.recv() == ("BTC", 1)
    with pytest.raises(ValueError, match="bad"):
        await queue.recv()
    assert await queue.recv() == ("BTC", 3)
    assert queue.conflated == 1


async def test_a_failing_key_function_queues_the_message_and_reports() -> None:
    errors: list[BaseException] = []

    def key(tick: Any) -> Hashable:
        if tick == "junk":
            raise KeyError("no symbol")
        return cast(Hashable, [1] if tick == "list" else tick[0])

    queue = started(key=key, on_key_error=errors.append)
    queue.push_batch([("BTC", 1), "junk", "list", ("BTC", 2)])
    assert await drain(queue) == [("BTC", 2), "junk", "list"]
    assert queue.key_errors == 2
    assert [type(e) for e in errors] == [KeyError, TypeError]  # unhashable: TypeError


async def test_capacity_counts_keys_and_a_dropped_slot_is_never_written_again() -> None:
    dropped: list[int] = []
    queue = started(capacity=2, policy="drop_oldest", on_drop=dropped.append)
    queue.push_batch([("A", 1), ("B", 1), ("A", 2), ("B", 2)])  # two keys: fits
    assert (len(queue), queue.dropped, queue.conflated) == (2, 0, 2)
    queue.push_batch([("C", 1)])  # a third key: A's slot is dropped
    assert dropped == [1]
    queue.push_batch([("A", 3)])  # must not vanish into the dropped slot
    assert await drain(queue) == [("C", 1), ("A", 3)]
    assert (queue.dropped, queue.conflated) == (2, 2)


async def test_drop_newest_and_error_policies() -> None:
    queue = started(capacity=1, policy="drop_newest")
    queue.push_batch([("A", 1), ("B", 1), ("B", 2), ("A", 2)])
    # A batch is conflated first (two keys), then the overflow drops B's slot (B 2).
    assert await drain(queue) == [("A", 2)]
    assert (queue.dropped, queue.conflated) == (1, 2)
    queue = started(capacity=1, policy="error")
    queue.push_batch([("A", 1), ("B", 1), ("A", 2)])
    assert await queue.recv() == ("A", 2)
    with pytest.raises(BufferOverflowError):
        await queue.recv()


async def test_block_policy_pauses_on_distinct_keys_only() -> None:
    calls: list[str] = []
    queue = started(
        capacity=2, on_pause=lambda: calls.append("pause"), on_resume=lambda: calls.append("on")
    )
    queue.push_batch([("A", v) for v in range(1000)])
    assert calls == []  # one key: never full
    queue.push_batch([("B", 1)])
    assert calls == ["pause"]
    assert await queue.recv() == ("A", 999)
    assert calls == ["pause", "on"]


async def test_batches_and_recv_and_anext_claim_the_newest_value() -> None:
    queue = started()
    queue.push_batch([("A", 1), ("B", 1), ("A", 2)])
    batches = queue.batches()
    assert await anext(batches) == [("A", 2), ("B", 1)]
    queue.push_batch([("A", 3), ("A", 4)])
    assert await queue.anext() == ("A", 4)
    queue.push_batch([("B", 2), ("B", 3)])
    assert await anext(batches) == [("B", 3)]
    await batches.aclose()


async def test_thread_consumers_get_and_iterate() -> None:
    queue = started()
    queue.push_batch([("A", 1), ("B", 1), ("A", 2)])
    assert await asyncio.to_thread(queue.get, 1.0, iterating=False) == ("A", 2)
    queue.push_batch([("B", 2)])
    queue.finish(CLEAN_END)
    assert await asyncio.to_thread(lambda: list(queue.iterate())) == [("B", 2)]


def test_key_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        ConflatingQueue(10, key="symbol")  # type: ignore[arg-type]


async def test_no_message_is_lost_to_a_racing_consumer_thread() -> None:
    # The loop pushes increasing values per key while a thread consumes: every key's
    # values arrive in increasing order, the last value of every key always arrives,
    # and delivered + conflated == pushed (nothing lost, nothing twice).
    rng = random.Random(7)
    keys = [f"K{i}" for i in range(8)]
    queue = started(capacity=1_000_000)
    delivered: list[Tick] = []
    done = threading.Event()

    def consume() -> None:
        try:
            for tick in queue.iterate():
                delivered.append(tick)
        finally:
            done.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    counters = dict.fromkeys(keys, 0)
    pushed = 0
    for _ in range(3000):
        batch = []
        for _ in range(rng.randint(1, 20)):
            key = rng.choice(keys)
            counters[key] += 1
            batch.append((key, counters[key]))
        pushed += len(batch)
        queue.push_batch(batch)
        await asyncio.sleep(0)  # let the loop breathe; the thread races the pushes
    queue.finish(CLEAN_END)
    assert await asyncio.to_thread(done.wait, 10.0)
    thread.join(10.0)
    last: dict[str, int] = {}
    for key, value in delivered:
        assert value > last.get(key, 0), (key, value)
        last[key] = value
    assert last == counters
    assert len(delivered) + queue.conflated == pushed
    assert queue.dropped == 0
