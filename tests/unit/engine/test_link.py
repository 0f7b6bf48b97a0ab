"""Link joining: a rotation's new connection merges into the stream in order, without loss.

During a make-before-break rotation both connections carry one sequenced stream. The new
one (joining) holds its sequenced messages back, untracked, until the old one delivered
one of their ids, or until the old one is gone; then they are released through the
receiver. Whatever the interleaving of the two connections' reads, the queue must get
every id once, in ascending order, and a gap event only for ids neither connection had.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jetsocket import ReplayConfig
from jetsocket._engine._events import EventRegistry, GapEvent
from jetsocket._engine._link import Link
from jetsocket._engine._queue import MessageQueue
from jetsocket._engine._receiver import Receiver


class Feed:
    """One receiver (one engine) and the links of an old and a new connection."""

    def __init__(self) -> None:
        self.events = EventRegistry()
        self.gaps: list[tuple[int, int]] = []
        self.events.add("gap", self._gap)
        self.queue: MessageQueue[Any] = MessageQueue(1 << 20)
        self.receiver = Receiver(
            decode=None,
            decode_errors=(),
            message_type=None,
            strict=True,
            replay=ReplayConfig(sequence_extractor=lambda m: m.get("seq")),
            dedup=True,
            dedup_window=1 << 16,
            pong_matcher=None,
            on_app_pong=lambda: None,
            events=self.events,
            queue=self.queue,
        )
        self.old = self.link()
        self.old.go_live()

    def _gap(self, event: GapEvent) -> None:
        self.gaps.append((event.first_missing, event.last_missing))

    def link(self) -> Link:
        return Link(
            receiver=self.receiver,
            on_ping=lambda payload: None,
            on_pong=lambda payload: None,
            on_lost=lambda link, exc: None,
        )

    def rotate(self, delivered: int) -> Link:
        """The old connection delivered ids ``0..delivered-1``; a rotation's link joins."""
        self.send(self.old, range(delivered))
        new = self.link()
        new.start_joining()
        return new

    @staticmethod
    def send(link: Link, seqs: range | list[int]) -> None:
        link.on_messages([{"seq": s} for s in seqs])

    def delivered(self) -> list[Any]:
        return [m.get("seq", m) for m in self.queue.items]


def test_new_connection_first_is_released_after_the_old_ones_copies() -> None:
    # The CI failure: the new connection got 50..82 first; the old one then delivered
    # 50..99. Before the fix 83..99 reached the queue before 50..82.
    feed = Feed()
    new = feed.rotate(40)
    feed.send(new, range(50, 83))
    assert feed.delivered() == list(range(40))  # held, and not tracked yet: no gap
    feed.send(feed.old, range(40, 100))
    new.go_live()
    feed.send(new, range(83, 120))
    assert feed.delivered() == list(range(120))
    assert feed.gaps == []
    assert feed.receiver.duplicates == 33 + 17


def test_new_connection_ahead_waits_for_the_old_one_no_false_gap() -> None:
    feed = Feed()
    new = feed.rotate(41)
    new.go_live()
    feed.send(new, range(50, 61))  # ahead of the old connection (at 40)
    assert feed.delivered() == list(range(41))
    assert feed.gaps == []  # 41..49 are still coming on the old connection
    feed.send(feed.old, range(41, 56))  # meets 50: the new one's messages follow
    assert new.pending is None
    feed.send(new, range(61, 70))
    assert feed.delivered() == list(range(70))
    assert feed.gaps == []


def test_old_connection_gone_before_meeting_reports_the_real_gap_once() -> None:
    feed = Feed()
    new = feed.rotate(41)
    new.go_live()
    feed.send(new, range(50, 61))
    new.end_joining()  # the old connection was retired without reaching 50
    assert feed.delivered() == [*range(41), *range(50, 61)]
    assert feed.gaps == [(41, 49)]


def test_messages_without_an_id_are_not_held_back() -> None:
    feed = Feed()
    new = feed.rotate(10)
    new.on_messages([{"ack": 1}, {"seq": 20}])
    new.go_live()
    assert feed.delivered() == [*range(10), {"ack": 1}]
    feed.send(feed.old, range(10, 25))
    assert feed.delivered() == [*range(10), {"ack": 1}, *range(10, 25)]


def test_abandoned_joining_tracks_nothing() -> None:
    feed = Feed()
    new = feed.rotate(10)
    feed.send(new, range(10, 20))
    new.abandon_joining()  # its connection failed to open
    assert feed.receiver.joiner is None
    feed.send(feed.old, range(10, 20))  # not mistaken for duplicates
    assert feed.delivered() == list(range(20))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    old_end=st.integers(1, 60),
    new_start=st.integers(0, 70),
    total=st.integers(71, 90),
    data=st.data(),
)
def test_any_interleaving_delivers_every_id_once_in_order(
    old_end: int, new_start: int, total: int, data: st.DataObject
) -> None:
    """Old connection: ids [0, old_end); new one: [new_start, total), both chunked at random.

    The rotation starts once the old connection delivered ``first`` ids; the two then read
    in any order, the new one goes live at any point, and the old one ends (is retired)
    after its last chunk. Everything either connection had arrives once, in order, and the
    only gap reported is the ids neither had.
    """
    first = data.draw(st.integers(0, old_end), label="old ids before the rotation")
    feed = Feed()
    new = feed.rotate(first)

    def chunks(lo: int, hi: int) -> list[range]:
        cuts = sorted(data.draw(st.sets(st.integers(lo + 1, max(lo + 1, hi - 1)), max_size=6)))
        bounds = [lo, *[c for c in cuts if lo < c < hi], hi]
        return [range(a, b) for a, b in itertools.pairwise(bounds) if a < b]

    old_chunks, new_chunks = chunks(first, old_end), chunks(new_start, total)
    order = data.draw(st.permutations(["o"] * len(old_chunks) + ["n"] * len(new_chunks)))
    o = iter(old_chunks)
    n = iter(new_chunks)
    steps = [(who, next(o) if who == "o" else next(n)) for who in order]
    live_at = data.draw(st.integers(0, len(steps)), label="new goes live before step")
    old_left = len(old_chunks)
    for i, (who, ids) in enumerate(steps):
        if i == live_at:
            new.go_live()
        if who == "o":
            feed.send(feed.old, ids)
            old_left -= 1
            if old_left == 0:
                new.end_joining()  # the old connection is gone (retired)
        else:
            feed.send(new, ids)
    if not new.live:
        new.go_live()
    new.end_joining()

    got = feed.delivered()
    assert got == sorted(got), "out of order"
    assert len(got) == len(set(got)), "duplicate delivered"
    had = set(range(old_end)) | set(range(new_start, total))
    assert set(got) == had, "lost"
    real_gap = [(old_end, new_start - 1)] if new_start > old_end else []
    assert feed.gaps == real_gap
