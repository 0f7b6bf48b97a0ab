"""``Message``: the base class of typed messages (a msgspec Struct underneath)."""

from __future__ import annotations

import msgspec
from msgspec import field  # re-exported as is, so type checkers see a field specifier

__all__ = ["Message", "field"]


class Message(msgspec.Struct):
    """Base class for typed messages: the fastest decoding path.

    Subclasses are msgspec Structs and accept msgspec's class keywords, e.g. ``tag`` and
    ``tag_field`` for tagged unions (``Trade | Kline`` dispatched on ``"e"``), ``rename``,
    ``frozen``, ``kw_only``. Fields are renamed with :func:`field`.

    Example:
        >>> class Trade(Message, tag="trade", tag_field="e"):
        ...     symbol: str = field(name="s")
        ...     price: Decimal = field(name="p")
    """
