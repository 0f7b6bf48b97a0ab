"""SequenceTracker: duplicates, gaps, the dedup window."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jetsocket._engine._sequence import SequenceTracker


def feed(tracker: SequenceTracker, seqs: list[int]) -> list[tuple[bool, tuple[int, int] | None]]:
    return [tracker.observe(s) for s in seqs]


def test_in_order_stream_has_no_duplicates_or_gaps() -> None:
    tracker = SequenceTracker(100)
    assert all(r == (False, None) for r in feed(tracker, list(range(1, 51))))
    assert tracker.last == 50


def test_duplicate_is_reported() -> None:
    tracker = SequenceTracker(100)
    feed(tracker, [1, 2, 3])
    assert tracker.observe(2) == (True, None)
    assert tracker.observe(3) == (True, None)
    assert tracker.last == 3


def test_gap_reports_the_missing_range_once() -> None:
    tracker = SequenceTracker(100)
    feed(tracker, [1, 2])
    assert tracker.observe(6) == (False, (3, 5))
    assert tracker.observe(7) == (False, None)
    assert tracker.last == 7


def test_first_id_is_never_a_gap() -> None:
    tracker = SequenceTracker(10)
    assert tracker.observe(1_000_000) == (False, None)


def test_late_message_is_neither_duplicate_nor_gap() -> None:
    tracker = SequenceTracker(100)
    feed(tracker, [1, 2, 5])
    assert tracker.observe(3) == (False, None)  # arrives late: delivered, last unchanged
    assert tracker.last == 5
    assert tracker.observe(3) == (True, None)  # but only once


def test_overlap_of_two_connections_is_deduplicated() -> None:
    # make-before-break rotation: the new connection repeats what the old one carried
    tracker = SequenceTracker(1000)
    old = list(range(100, 200))
    new = list(range(180, 260))
    results = feed(tracker, old + new)
    duplicates = sum(d for d, _ in results)
    assert duplicates == 20
    assert all(gap is None for _, gap in results)


def test_window_bounds_memory_and_forgets_old_ids() -> None:
    tracker = SequenceTracker(5)
    feed(tracker, [1, 2, 3, 4, 5, 6])  # 1 falls out of the window
    assert len(tracker._seen) == 5
    assert tracker.observe(1) == (False, None)  # no longer remembered
    assert tracker.observe(6) == (True, None)


def test_reset_forgets_everything() -> None:
    tracker = SequenceTracker(10)
    feed(tracker, [1, 2, 3])
    tracker.reset()
    assert tracker.last is None
    assert tracker.observe(1) == (False, None)
    assert tracker.observe(5) == (False, (2, 4))


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=300))
def test_properties(seqs: list[int]) -> None:
    window = 1000  # larger than the stream: everything is remembered
    tracker = SequenceTracker(window)
    delivered: list[int] = []
    missing: set[int] = set()
    for s in seqs:
        duplicate, gap = tracker.observe(s)
        assert duplicate == (s in delivered)
        if not duplicate:
            delivered.append(s)
        if gap is not None:
            first, last = gap
            assert first <= last < s
            missing.update(range(first, last + 1))
    assert len(delivered) == len(set(delivered))  # no id delivered twice
    assert set(delivered) == set(seqs)  # every id delivered once
    if seqs:
        assert tracker.last == max(seqs)
        # every id between the first and the highest was either seen or reported missing
        span = set(range(seqs[0], max(seqs) + 1))
        assert span <= set(delivered) | missing
