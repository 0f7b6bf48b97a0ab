"""MessageQueue: the one consumer queue (engine, streams, sync facade)."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any, cast

import pytest

from jetsocket import BufferOverflowError, ConnectionClosedError, InvalidStateError, TimeoutError
from jetsocket._engine import _queue
from jetsocket._engine._config import OverflowPolicy
from jetsocket._engine._queue import Failure, MessageQueue
from jetsocket._protocol._reader import QUEUE_ITER, TAKE_BATCH


def started(capacity: int = 10, policy: str = "block", **kwargs: object) -> MessageQueue[int]:
    queue: MessageQueue[int] = MessageQueue(capacity, policy, **kwargs)  # type: ignore[arg-type]
    queue.start(asyncio.get_running_loop())
    return queue


async def test_batches_are_delivered_in_order_and_failures_in_position() -> None:
    queue = started()
    err = ValueError("bad message")
    queue.push_batch([1, 2, Failure(err), 3])
    assert await queue.recv() == 1
    assert await queue.recv() == 2
    with pytest.raises(ValueError, match="bad message"):
        await queue.recv()
    assert await queue.recv() == 3


async def test_messages_before_the_end_stay_readable_then_the_end_is_raised() -> None:
    queue = started()
    queue.push_batch([1, 2])
    queue.finish(ConnectionClosedError(1000, "bye", by_server=False))
    assert [m async for m in queue] == [1, 2]
    with pytest.raises(ConnectionClosedError):
        await queue.recv()


async def test_abnormal_end_is_raised_by_iteration() -> None:
    queue = started()
    queue.push(1)
    queue.finish(ConnectionClosedError(1006, "", by_server=True))
    got: list[int] = []

    async def consume() -> None:
        async for m in queue:
            got.append(m)

    with pytest.raises(ConnectionClosedError):
        await consume()
    assert got == [1]


async def test_not_started_refuses_instead_of_waiting() -> None:
    queue: MessageQueue[int] = MessageQueue(10, started=False)
    with pytest.raises(InvalidStateError, match="connect"):
        await queue.recv(timeout=1)


async def test_timeout_message_is_the_same_for_every_consumer() -> None:
    queue = started()
    with pytest.raises(TimeoutError, match=r"no message received within 0\.01s"):
        await queue.recv(timeout=0.01)
    with pytest.raises(TimeoutError, match=r"no message received within 0\.01s"):
        await asyncio.to_thread(queue.get, 0.01, iterating=False)


async def test_one_consumers_timeout_never_disturbs_another() -> None:
    # Issue 11 item 3: a shared waiter used to be cancelled under the other consumer.
    queue = started()
    patient = asyncio.create_task(queue.recv())
    await asyncio.sleep(0)  # let it wait (scheduling, not synchronisation)
    with pytest.raises(TimeoutError):
        await queue.recv(timeout=0.01)
    impatient = asyncio.create_task(queue.recv())
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    queue.push(7)
    assert await asyncio.wait_for(patient, 1) == 7


async def test_concurrent_consumers_share_messages_exactly_once() -> None:
    queue = started(capacity=1000)
    got: list[int] = []

    async def consume() -> None:
        async for m in queue:
            got.append(m)

    tasks = [asyncio.create_task(consume()) for _ in range(3)]
    for start in range(0, 300, 30):
        queue.push_batch(list(range(start, start + 30)))
        await asyncio.sleep(0)
    queue.finish(ConnectionClosedError(1000, "", by_server=False))
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert sorted(got) == list(range(300))


async def test_block_policy_pauses_and_resumes_at_half() -> None:
    events: list[str] = []
    queue = started(
        capacity=4, on_pause=lambda: events.append("pause"), on_resume=lambda: events.append("go")
    )
    queue.push_batch([1, 2, 3, 4, 5])
    assert events == ["pause"]
    assert queue.paused
    assert await queue.recv() == 1
    assert await queue.recv() == 2
    assert events == ["pause"]  # 3 left > low water 2
    assert await queue.recv() == 3
    assert events == ["pause", "go"]
    assert len(queue) == 2  # block never drops


@pytest.mark.parametrize(
    ("policy", "kept"),
    [("drop_oldest", [3, 4, 5, 6]), ("drop_newest", [1, 2, 3, 4])],
)
async def test_dropping_policies_count_what_they_drop(policy: str, kept: list[int]) -> None:
    dropped: list[int] = []
    queue = started(capacity=4, policy=policy, on_drop=dropped.append)
    queue.push_batch([1, 2, 3, 4, 5, 6])
    assert list(queue.items) == kept
    assert queue.dropped == 2
    assert dropped == [2]


async def test_error_policy_places_one_marker_at_the_cut() -> None:
    queue = started(capacity=2, policy="error", what="receive buffer")
    queue.push_batch([1, 2, 3])
    queue.push_batch([4])
    assert queue.dropped == 2
    assert await queue.recv() == 1
    assert await queue.recv() == 2
    with pytest.raises(BufferOverflowError, match="receive buffer full"):
        await queue.recv()
    queue.push(5)
    assert await queue.recv() == 5


async def test_batches_stop_before_a_failure_and_raise_it_next() -> None:
    queue = started()
    queue.push_batch([1, 2, Failure(KeyError("k")), 3])
    batches = queue.batches()
    assert await anext(batches) == [1, 2]
    with pytest.raises(KeyError):
        await anext(batches)


async def test_thread_consumer_gets_batches_and_the_end() -> None:
    queue = started(capacity=100)
    got: list[int] = []
    done = threading.Event()

    def consume() -> None:
        got.extend(queue.iterate())
        done.set()

    thread = threading.Thread(target=consume)
    thread.start()
    queue.push_batch([1, 2, 3])
    queue.push_batch([4])
    queue.finish(ConnectionClosedError(1000, "", by_server=False))
    assert await asyncio.to_thread(done.wait, 5)
    thread.join(5)
    assert got == [1, 2, 3, 4]


async def test_thread_consumer_resumes_a_paused_producer_on_the_loop() -> None:
    resumed = asyncio.Event()
    queue = started(capacity=4, on_resume=resumed.set)
    queue.push_batch([1, 2, 3, 4])
    assert queue.paused

    def drain() -> list[int]:
        return [queue.get(1, iterating=False) for _ in range(3)]

    assert await asyncio.to_thread(drain) == [1, 2, 3]
    await asyncio.wait_for(resumed.wait(), 2)
    assert not queue.paused


def test_end_from_thread_wakes_blocked_threads() -> None:
    queue: MessageQueue[int] = MessageQueue(10)
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            queue.get(None, iterating=False)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    queue.end_from_thread(ConnectionClosedError(1000, "", by_server=False))
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(errors[0], ConnectionClosedError)


def test_policy_accepts_strings_and_the_compatibility_constants() -> None:
    assert MessageQueue(3, "drop_oldest").policy == "drop_oldest"
    compat: Any = OverflowPolicy.ERROR  # untyped callers may still pass the constant
    assert type(MessageQueue(3, compat).policy) is str
    assert MessageQueue(3, compat).policy == "error"
    with pytest.raises(ValueError, match="overflow_policy"):
        MessageQueue(3, cast(Any, "sometimes"))


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "pure"])
async def test_batches_take_everything_before_each_failure_on_both_paths(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if compiled and TAKE_BATCH is None:
        pytest.skip("compiled speedups not built")
    monkeypatch.setattr(_queue, "_take_batch", TAKE_BATCH if compiled else None)
    queue = started(capacity=1000)
    a, b, c = KeyError("a"), KeyError("b"), KeyError("c")
    queue.push_batch([Failure(a), 1, 2, Failure(b), Failure(c), 3])
    queue.push_batch([4, 5])
    queue.finish(ConnectionClosedError(1000, "", by_server=False))
    seen: list[object] = []
    batches = queue.batches()
    while True:
        try:
            seen.append(await anext(batches))
        except StopAsyncIteration:
            break
        except KeyError as exc:
            seen.append(exc)
            batches = queue.batches()  # a raising generator is finished: start a new one
    assert seen == [a, [1, 2], b, c, [3, 4, 5]]
    assert len(queue) == 0


def test_compiled_take_batch_leaves_the_failure_and_what_follows() -> None:
    if TAKE_BATCH is None:
        pytest.skip("compiled speedups not built")
    f = Failure(ValueError())
    items: deque[object] = deque([1, 2, f, 3])
    assert TAKE_BATCH(items, Failure) == [1, 2]
    assert list(items) == [f, 3]
    assert TAKE_BATCH(items, Failure) == []
    assert list(items) == [f, 3]
    items.popleft()
    assert TAKE_BATCH(items, Failure) == [3]
    assert not items
    assert TAKE_BATCH(items, Failure) == []


@pytest.fixture(params=["compiled", "pure"])
def iter_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the compiled async iterator and with the pure async generator."""
    if request.param == "compiled":
        if QUEUE_ITER is None:
            pytest.skip("compiled speedups not built")
        monkeypatch.setattr(_queue, "_queue_iter", QUEUE_ITER)
    else:
        monkeypatch.setattr(_queue, "_queue_iter", None)
    return str(request.param)


async def test_async_iteration_failure_then_finished(iter_path: str) -> None:
    queue = started(capacity=100)
    queue.push_batch([1, 2, Failure(KeyError("k")), 3])
    it = aiter(queue)
    assert await anext(it) == 1
    assert await anext(it) == 2
    with pytest.raises(KeyError):
        await anext(it)
    # Like an async generator that raised: finished for good, the rest is for a new one.
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    assert await anext(aiter(queue)) == 3


async def test_async_iteration_waits_resumes_and_ends(iter_path: str) -> None:
    resumed: list[bool] = []
    queue = started(capacity=4, on_resume=lambda: resumed.append(True))
    queue.push_batch([1, 2, 3, 4])
    assert queue.paused
    got: list[int] = []
    four = asyncio.Event()

    async def consume() -> None:
        async for m in queue:
            got.append(m)
            if len(got) == 4:
                four.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(four.wait(), 5)
    assert got == [1, 2, 3, 4]
    assert resumed == [True]
    queue.push_batch([5])
    queue.finish(ConnectionClosedError(1000, "", by_server=False))
    await asyncio.wait_for(task, 5)
    assert got == [1, 2, 3, 4, 5]
    it = aiter(queue)
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    with pytest.raises(StopAsyncIteration):
        await anext(it)


async def test_async_iteration_cancelled_while_waiting_is_finished(iter_path: str) -> None:
    queue = started(capacity=10)
    it = aiter(queue)
    step = asyncio.ensure_future(anext(it))
    while not queue._waiters:  # the step is waiting on the empty queue
        await asyncio.sleep(0)
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    queue.push(1)
    with pytest.raises(StopAsyncIteration):
        await anext(it)
    assert await anext(aiter(queue)) == 1


async def test_async_iteration_aclose(iter_path: str) -> None:
    queue = started(capacity=10)
    queue.push_batch([1, 2])
    it = queue.iterate_async()
    assert await anext(it) == 1
    await it.aclose()  # type: ignore[attr-defined]
    with pytest.raises(StopAsyncIteration):
        await anext(it)
