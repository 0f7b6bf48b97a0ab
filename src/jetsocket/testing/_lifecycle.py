"""The ``async with`` protocol shared by the test servers.

The simulator, the fake venues and the fault proxy: entering starts, leaving stops.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["ServerLifecycle"]


class ServerLifecycle:
    """Base class: ``async with server:`` runs :meth:`start`, then :meth:`stop`."""

    async def start(self) -> None:
        """Start serving (overridden)."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop serving (overridden)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
