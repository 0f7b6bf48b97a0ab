"""Type stub of the optional compiled frame scanner (``_speedups.c``)."""

SOURCE_HASH: str
SCAN_API: int

def scan(
    buf: bytes, pos: int, out: list[bytes | str], text_as_str: bool, max_size: int, /
) -> int: ...
