"""Venue checksums of the top of a book (CRC32), written from the venues' public docs.

Both need the exact decimal text of prices and quantities: feed the book ``Decimal``
values parsed from the messages' strings (msgspec decodes ``Decimal`` fields from JSON
strings and numbers without a float round trip).
"""

from __future__ import annotations

import zlib
from decimal import Decimal

from jetsocket.book._book import OrderBook
from jetsocket.book._levels import N

__all__ = ["kraken_checksum", "okx_checksum"]


def _text(value: Decimal | float, precision: int | None) -> str:
    if precision is not None:
        return f"{value:.{precision}f}"
    # format(..., "f"): never scientific notation (str(Decimal("0.00000001")) is "1E-8").
    return format(value, "f") if isinstance(value, Decimal) else repr(value)


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
    for side in (book.asks.top(10), book.bids.top(10)):
        for price, qty in side:
            for value, precision in ((price, price_precision), (qty, qty_precision)):
                parts.append(_text(value, precision).replace(".", "").lstrip("0"))
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
    bids = book.bids.top(levels)
    asks = book.asks.top(levels)
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        for side in (bids, asks):
            if i < len(side):
                price, size = side[i]
                parts.append(_text(price, None))
                parts.append(_text(size, None))
    value = zlib.crc32(":".join(parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value
