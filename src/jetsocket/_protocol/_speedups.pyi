"""Type stub of the optional compiled frame scanner (``_speedups.c``)."""

from collections import deque
from collections.abc import Callable
from typing import Any

SOURCE_HASH: str
SCAN_API: int

def scan(
    buf: bytes,
    pos: int,
    out: list[Any],
    text_as_str: bool,
    max_size: int,
    decode: Callable[[Any], Any] | None = None,
    raw_at: list[int] | None = None,
    copy: bool = False,
    /,
) -> int: ...
def take_batch(items: deque[Any], marker_type: type, /) -> list[Any]: ...

class QueueIter:
    finished: bool
    def __init__(
        self, queue: object, items: deque[Any], marker_type: type, slow: Any, /
    ) -> None: ...
    def __aiter__(self) -> QueueIter: ...
    def __anext__(self) -> Any: ...
    def finish(self) -> None: ...
    def aclose(self) -> Any: ...
