"""The two constructor forms of :class:`WebSocket` and its sync facade, declared once.

Only a literal ``raw=True`` can select the ``str | bytes`` message type, so the engine's
``__init__`` has two overloads, ``**options: Unpack[RawForm]`` and
``**options: Unpack[DecodedForm[T]]``; the sync facade's two overloads use the same
declarations (mypy takes a class's type parameters from its own ``__init__``, so each class
states them, in two lines).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, Required

from typing_extensions import TypeForm, TypeVar

from jetsocket._engine._options import WebSocketOptions

__all__ = ["DecodedForm", "RawForm"]

# Without message_type or deserializer a client yields decoded JSON: Any.
T = TypeVar("T", default=Any)


class RawForm(WebSocketOptions, total=False):
    """Constructor keywords of a raw client: ``raw=True`` and the options."""

    raw: Required[Literal[True]]


class DecodedForm(WebSocketOptions, Generic[T], total=False):
    """Constructor keywords of a decoding client: how to decode, and the options.

    ``message_type`` is a type form (a class, ``Trade | Kline``, ``list[Trade]``, a
    TypedDict...), so the client is typed ``WebSocket[Trade | Kline]``; ``deserializer``
    is a ``Callable[[bytes], T]``; with neither, messages are decoded JSON (``Any``).
    """

    raw: Literal[False]
    message_type: TypeForm[T]
    deserializer: Callable[[bytes], T]
