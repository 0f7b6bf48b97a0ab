"""Read-only attributes that show another object's attribute (facades and views)."""

from __future__ import annotations

from typing import Generic, Never, Self, TypeVar, cast, overload

__all__ = ["Forward"]

T = TypeVar("T")


class Forward(Generic[T]):
    """``name = Forward[T]("_target")`` in a class body: ``obj.name`` is ``obj._target.name``.

    For the objects that show another one's state (the sync facade its engine's, a sync
    stream its async stream's, a client its router's): one line each, read-only like a
    property. ``attr`` names the target's attribute when it is called differently. The
    docstring goes below it, as for any attribute.
    """

    __slots__ = ("_attr", "_name", "_via")

    def __init__(self, via: str, attr: str = "") -> None:
        self._via = via
        self._attr = attr
        self._name = attr

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        self._attr = self._attr or name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object, owner: type | None = None) -> Self | T:
        if obj is None:
            return self
        return cast(T, getattr(getattr(obj, self._via), self._attr))

    def __repr__(self) -> str:
        return f"Forward({self._via!r}, {self._attr!r})"

    def __set__(self, obj: object, value: Never) -> None:
        raise AttributeError(f"{type(obj).__name__}.{self._name} is read-only")
