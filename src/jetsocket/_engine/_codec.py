"""Build the incoming-message decoder once per connection configuration.

A decoder is a plain ``Callable[[bytes | str], T]`` chosen once, never per message:
msgspec's typed ``Decoder`` for Structs, dataclasses, TypedDicts, unions and plain types;
pydantic's ``TypeAdapter.validate_json`` for pydantic models (imported lazily: pydantic is
an optional extra). A type that declares ``__jetsocket_lax__ = True`` (``Message`` subclasses
defined with ``lax=True``), alone or as a member of a union, gets msgspec's non-strict
decoder: numbers and booleans sent as JSON strings are accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import msgspec

__all__ = ["Decode", "build_decoder", "choose_decoder", "is_pydantic_type"]

Decode = Callable[[Any], Any]


def is_pydantic_type(tp: object) -> bool:
    """Return True if ``tp`` is a pydantic model class (without importing pydantic)."""
    return isinstance(tp, type) and hasattr(tp, "model_validate_json")


def build_decoder(message_type: object | None) -> tuple[Decode, type[Exception]]:
    """Return ``(decode, error_type)`` for ``message_type`` (None: any JSON value).

    Raises:
        TypeError: msgspec and pydantic both reject the type.
    """
    if message_type is None:
        return msgspec.json.Decoder().decode, msgspec.DecodeError
    if is_pydantic_type(message_type) or _has_pydantic_member(message_type):
        import pydantic  # noqa: PLC0415 - optional dependency

        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(cast(Any, message_type))
        return adapter.validate_json, pydantic.ValidationError
    try:
        decoder = msgspec.json.Decoder(message_type, strict=not is_lax(message_type))
        return decoder.decode, msgspec.DecodeError
    except TypeError as exc:
        raise TypeError(f"unsupported message_type {message_type!r}: {exc}") from None


def is_lax(tp: object) -> bool:
    """Return True if ``tp``, or a member of the union ``tp``, is declared lax."""
    if getattr(tp, "__jetsocket_lax__", False) is True:
        return True
    args = getattr(tp, "__args__", None)
    return bool(args) and any(getattr(a, "__jetsocket_lax__", False) is True for a in args or ())


def _has_pydantic_member(tp: object) -> bool:
    args = getattr(tp, "__args__", None)
    return bool(args) and any(is_pydantic_type(a) for a in args or ())


def choose_decoder(
    raw: bool, message_type: object, deserializer: Callable[[bytes], Any] | None
) -> tuple[Decode | None, tuple[type[BaseException], ...]]:
    """The engine's decoder and what it raises for a payload it rejects.

    Raises:
        ValueError: Contradictory choices (raw with a type, a type and a deserializer).
        TypeError: An unsupported ``message_type``.
    """
    if raw and (message_type is not None or deserializer is not None):
        raise ValueError("raw=True cannot be combined with message_type or deserializer")
    if message_type is not None and deserializer is not None:
        raise ValueError("give message_type or deserializer, not both")
    if raw:
        return None, ()
    if deserializer is not None:
        if not callable(deserializer):
            raise TypeError(f"deserializer must be callable, got {type(deserializer).__name__}")
        return deserializer, (Exception,)
    decode, error = build_decoder(message_type)
    return decode, (error, UnicodeDecodeError)
