"""Venue checksums of the top of a book (CRC32), written from the venues' public docs.

Both need the exact decimal text of prices and quantities: feed the book ``Decimal``
values parsed from the messages' strings (msgspec decodes ``Decimal`` fields from JSON
strings and numbers without a float round trip).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from decimal import Decimal
from itertools import islice

from jetsocket.book._book import OrderBook
from jetsocket.book._levels import BookSide, N

__all__ = ["kraken_checksum", "okx_checksum"]


def _formatter(precision: int | None, sample: object) -> Callable[[object], str]:
    if precision is not None:
        spec = f".{precision}f"
        return lambda value: format(value, spec)
    if isinstance(sample, Decimal):
        return _decimal_text
    return repr


def _decimal_text(value: object) -> str:
    text = str(value)
    # str() is 4x faster than format(); it uses scientific notation for tiny or huge
    # values (str(Decimal("0.00000001")) is "1E-8"), never sent by venues: "f" then.
    return format(value, "f") if "E" in text else text


def _texts(
    side: BookSide[N], n: int, price_precision: int | None, qty_precision: int | None
) -> list[tuple[str, str]]:
    """``(price text, qty text)`` of the ``n`` best levels (one formatter per column)."""
    levels = side.top(n)
    if not levels:
        return []
    price_text = _formatter(price_precision, levels[0].price)
    qty_text = _formatter(qty_precision, levels[0].qty)
    return [(price_text(price), qty_text(qty)) for price, qty in levels]


def kraken_checksum(
    book: OrderBook[N],
    *,
    price_precision: int | None = None,
    qty_precision: int | None = None,
) -> int:
    """Kraken's book checksum (WebSocket v2 ``book`` channel), an unsigned 32-bit CRC32.

    Over the top 10 levels, whatever the subscribed depth: for each ask from the lowest,
    then each bid from the highest, the price then the quantity with the decimal point and
    the leading zeros removed, all concatenated.

    Args:
        book: The book after the whole message was applied (and truncated to the depth).
        price_precision: Decimals of the instrument's prices (v2 sends JSON numbers:
            ``45283.5`` must count as ``"45283.5"`` at precision 1). None: the values'
            own text (``Decimal`` parsed from the wire).
        qty_precision: Decimals of the quantities, likewise.
    """
    parts: list[str] = []
    for side in (book.asks, book.bids):
        for price, qty in _texts(side, 10, price_precision, qty_precision):
            parts.append(price.replace(".", "").lstrip("0"))
            parts.append(qty.replace(".", "").lstrip("0"))
    return zlib.crc32("".join(parts).encode())


def okx_checksum(book: OrderBook[N], *, levels: int = 25) -> int:
    """OKX's order book checksum, a *signed* 32-bit CRC32 (as OKX sends it).

    Over the best 25 bids and asks: ``bid price:bid size:ask price:ask size`` level by
    level, best first; where one side has fewer levels the other's remaining levels follow
    alone. Prices and sizes as sent (keep them ``Decimal`` parsed from OKX's strings).

    Args:
        book: The book after the message was applied.
        levels: Levels per side (25).
    """
    bids = _texts(book.bids, levels, None, None)
    asks = _texts(book.asks, levels, None, None)
    parts: list[str] = []
    common = min(len(bids), len(asks))
    for bid, ask in zip(bids[:common], asks[:common], strict=True):
        parts += bid
        parts += ask
    for rest in islice(bids, common, None), islice(asks, common, None):
        for level in rest:
            parts += level
    value = zlib.crc32(":".join(parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value
