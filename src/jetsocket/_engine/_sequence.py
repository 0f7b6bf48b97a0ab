"""Sequence-id tracking: duplicate removal and gap detection."""

from __future__ import annotations

from collections import deque

__all__ = ["SequenceTracker", "advance"]


def advance(last: int | None, seq: int) -> tuple[int | None, tuple[int, int] | None]:
    """Gap detection alone: the new highest id, and the missing range ``(first, last)``.

    Ids are expected to grow by one; an older id (late or duplicate) changes nothing.
    """
    if last is None:
        return seq, None
    if seq <= last:
        return last, None
    return seq, ((last + 1, seq - 1) if seq > last + 1 else None)


class SequenceTracker:
    """Remembers recent sequence ids; reports duplicates and gaps.

    Ids are expected to increase by one. A jump forward is a gap (the missing range is
    reported once); an id already seen within the window is a duplicate (e.g. the overlap
    of a make-before-break rotation, or a server replaying after reconnect).
    """

    __slots__ = ("_order", "_seen", "_window", "last")

    def __init__(self, window: int) -> None:
        self._window = window
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self.last: int | None = None

    def __contains__(self, seq: object) -> bool:
        """True when ``seq`` is among the recent ids seen."""
        return seq in self._seen

    def observe(self, seq: int) -> tuple[bool, tuple[int, int] | None]:
        """Record ``seq``; return ``(is_duplicate, gap)`` where gap is ``(first, last)``."""
        if seq in self._seen:
            return True, None
        self._seen.add(seq)
        self._order.append(seq)
        if len(self._order) > self._window:
            self._seen.discard(self._order.popleft())
        self.last, gap = advance(self.last, seq)
        return False, gap

    def reset(self) -> None:
        """Forget everything (a new stream whose ids restart)."""
        self._seen.clear()
        self._order.clear()
        self.last = None
