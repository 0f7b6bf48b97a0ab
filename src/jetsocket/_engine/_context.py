"""``(async) with`` for anything that opens and closes: clients, engines, test servers.

The base asks nothing of its subclasses beyond the two coroutines its ``self`` type names
(checked by mypy through the bound of the type variables), so there is no placeholder
method to override.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self, TypeVar

__all__ = ["CloseContext", "ConnectContext", "StartContext"]


class _Connects(Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...


class _Closes(Protocol):
    def close(self) -> None: ...


class _Starts(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


C = TypeVar("C", bound=_Connects)
S = TypeVar("S", bound=_Starts)


class ConnectContext:
    """``async with client:`` connects on entry and closes on exit."""

    __slots__ = ()

    async def __aenter__(self: C) -> C:
        await self.connect()
        return self

    async def __aexit__(
        self: _Connects,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class StartContext:
    """``async with server:`` starts on entry and stops on exit."""

    __slots__ = ()

    async def __aenter__(self: S) -> S:
        await self.start()
        return self

    async def __aexit__(
        self: _Starts,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class CloseContext:
    """``with resource:`` closes on exit.

    Entering opens nothing: a subclass that opens on entry (the sync client connects)
    overrides ``__enter__``.
    """

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self: _Closes,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
