"""``Message``: the base class of typed messages (a msgspec Struct underneath)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from msgspec import field  # re-exported as is, so type checkers see a field specifier

__all__ = ["Message", "field"]

# The decoder builder (jetsocket._engine._codec) reads this class attribute by name: the
# engine layer must not import the schema layer.
_LAX = "__jetsocket_lax__"


class _MessageMeta(msgspec.StructMeta):
    """Accepts the ``lax`` class keyword on top of msgspec's own."""

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        /,
        *,
        lax: bool | None = None,
        **struct_config: Any,
    ) -> Any:
        if lax is not None and not isinstance(lax, bool):
            raise TypeError(f"lax must be True or False, got {lax!r}")
        cls = super().__new__(mcls, name, bases, namespace, **struct_config)
        if lax is not None:  # else inherited from the base class
            setattr(cls, _LAX, lax)
        return cls


class Message(msgspec.Struct, metaclass=_MessageMeta):
    """Base class for typed messages: the fastest decoding path.

    Subclasses are msgspec Structs and accept msgspec's class keywords, e.g. ``tag`` and
    ``tag_field`` for tagged unions (``Trade | Kline`` dispatched on ``"e"``), ``rename``,
    ``frozen``, ``kw_only``. Fields are renamed with :func:`field`.

    One keyword is jetsocket's own: ``lax=True`` accepts numbers and booleans sent as JSON
    strings, as most exchanges send prices and quantities (``"p": "43250.12"`` decodes into
    a ``float`` field; ``"true"`` into a ``bool``). It is msgspec's non-strict decoding
    (``msgspec.json.Decoder(strict=False)``), chosen once for the decoder: a union of
    message types is decoded laxly when any of its members is lax. Subclasses inherit the
    setting. Without it, a string where a number is declared is a decode error. Fields
    declared as ``Decimal`` accept strings in either mode.

    Example:
        >>> class Trade(Message, tag="trade", tag_field="e", lax=True):
        ...     symbol: str = field(name="s")
        ...     price: float = field(name="p")  # Binance sends "p": "43250.12"
        >>> import msgspec
        >>> msgspec.json.Decoder(Trade, strict=False).decode(b'{"e":"trade","s":"X","p":"1.5"}')
        Trade(symbol='X', price=1.5)
    """

    __jetsocket_lax__ = False

    if TYPE_CHECKING:
        # msgspec's keywords plus ``lax``, so mypy checks class definitions.
        def __init_subclass__(
            cls,
            *,
            lax: bool | None = None,
            tag: bool | str | int | Callable[[str], str | int] | None = None,
            tag_field: str | None = None,
            rename: (
                Literal["lower", "upper", "camel", "pascal", "kebab"]
                | Callable[[str], str | None]
                | Mapping[str, str]
                | None
            ) = None,
            omit_defaults: bool = False,
            forbid_unknown_fields: bool = False,
            frozen: bool = False,
            eq: bool = True,
            order: bool = False,
            kw_only: bool = False,
            repr_omit_defaults: bool = False,
            array_like: bool = False,
            gc: bool = True,
            weakref: bool = False,
            dict: bool = False,
            cache_hash: bool = False,
        ) -> None: ...
