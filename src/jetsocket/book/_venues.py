"""Venue messages as :class:`BookUpdate` objects (from each venue's public docs).

Each function takes one decoded JSON message (a ``dict``) and returns a
``BookUpdate[Decimal]``, or None when the message is not a book message (acks,
heartbeats...). Prices and quantities become ``Decimal`` from the venue's text, so the
checksums see the exact digits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jetsocket.book._sync import BookUpdate

__all__ = [
    "binance_rest_snapshot",
    "parse_binance_depth",
    "parse_coinbase_level2",
    "parse_kraken_book",
    "parse_okx_books",
]

Levels = list[tuple[Decimal, Decimal]]


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text that round-trips: the venue's
    return Decimal(value)


def _pairs(rows: Any) -> Levels:
    return [(_dec(row[0]), _dec(row[1])) for row in rows or ()]


def parse_binance_depth(msg: Any) -> BookUpdate[Decimal] | None:
    """Binance diff. depth event (``<symbol>@depth``): ``U``, ``u``, ``pu`` (futures), ``b``, ``a``.

    Combined streams (``{"stream": ..., "data": {...}}``) are unwrapped.
    """
    if not isinstance(msg, dict):
        return None
    data = msg.get("data", msg)
    if not isinstance(data, dict) or data.get("e") != "depthUpdate":
        return None
    return BookUpdate(
        bids=_pairs(data.get("b")),
        asks=_pairs(data.get("a")),
        first=int(data["U"]),
        last=int(data["u"]),
        prev=int(data["pu"]) if "pu" in data else None,
    )


def binance_rest_snapshot(payload: Any) -> BookUpdate[Decimal]:
    """The JSON of Binance's REST ``depth`` endpoint (``lastUpdateId``, ``bids``, ``asks``)."""
    return BookUpdate(
        bids=_pairs(payload["bids"]),
        asks=_pairs(payload["asks"]),
        snapshot=True,
        last=int(payload["lastUpdateId"]),
    )


def parse_okx_books(msg: Any) -> BookUpdate[Decimal] | None:
    """OKX v5 ``books`` channel: ``action`` snapshot/update, ``seqId``, ``prevSeqId``, ``checksum``.

    Levels are ``[price, size, "0", orders]``; a snapshot has ``prevSeqId`` -1. An update
    whose ``seqId`` equals its ``prevSeqId`` changed nothing (OKX sends them as heartbeats).
    """
    if not isinstance(msg, dict) or "data" not in msg or "action" not in msg:
        return None
    data = msg["data"][0]
    snapshot = msg["action"] == "snapshot"
    prev = data.get("prevSeqId")
    checksum = data.get("checksum")
    return BookUpdate(
        bids=_pairs(data.get("bids")),
        asks=_pairs(data.get("asks")),
        snapshot=snapshot,
        last=int(data["seqId"]) if "seqId" in data else None,
        prev=None if snapshot or prev is None else int(prev),
        checksum=None if checksum is None else int(checksum),
    )


def parse_kraken_book(msg: Any) -> BookUpdate[Decimal] | None:
    """Kraken WebSocket v2 ``book`` channel: ``type`` snapshot/update and a ``checksum``.

    Kraken sends no sequence: the checksum (``kraken_checksum``) is what detects a
    corrupt book. Levels are ``{"price": ..., "qty": ...}``.
    """
    if not isinstance(msg, dict) or msg.get("channel") != "book":
        return None
    kind = msg.get("type")
    if kind not in ("snapshot", "update"):
        return None
    data = msg["data"][0]

    def levels(rows: Any) -> Levels:
        return [(_dec(row["price"]), _dec(row["qty"])) for row in rows or ()]

    checksum = data.get("checksum")
    return BookUpdate(
        bids=levels(data.get("bids")),
        asks=levels(data.get("asks")),
        snapshot=kind == "snapshot",
        checksum=None if checksum is None else int(checksum),
    )


def parse_coinbase_level2(msg: Any, product_id: str | None = None) -> BookUpdate[Decimal] | None:
    """Coinbase Advanced Trade ``level2`` channel (``l2_data``): snapshot then updates.

    Levels are ``{"side": "bid" | "offer", "price_level": ..., "new_quantity": ...}``.
    ``sequence_num`` counts every message of the *connection* (all channels), so it is a
    book sequence only on a connection that carries this one book; it is reported in
    ``last`` when ``product_id`` is given and the message has one event.

    Args:
        msg: The message.
        product_id: Keep only this product's events (bind it with ``functools.partial``).
    """
    if not isinstance(msg, dict) or msg.get("channel") != "l2_data":
        return None
    bids: Levels = []
    asks: Levels = []
    snapshot = False
    for event in msg.get("events") or ():
        if product_id is not None and event.get("product_id") != product_id:
            continue
        snapshot = snapshot or event.get("type") == "snapshot"
        for row in event.get("updates") or ():
            level = (_dec(row["price_level"]), _dec(row["new_quantity"]))
            (bids if row.get("side") == "bid" else asks).append(level)
    if not bids and not asks and not snapshot:
        return None
    return BookUpdate(bids=bids, asks=asks, snapshot=snapshot)
