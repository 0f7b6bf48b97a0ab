"""Type stub of the optional compiled frame scanner (``_speedups.c``)."""

from collections import deque
from typing import Any

SOURCE_HASH: str
SCAN_API: int

def scan(
    buf: bytes, pos: int, out: list[bytes | str], text_as_str: bool, max_size: int, /
) -> int: ...
def take_batch(items: deque[Any], marker_type: type, /) -> list[Any]: ...
