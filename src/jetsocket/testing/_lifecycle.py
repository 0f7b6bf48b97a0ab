"""The ``async with`` protocol shared by the test servers.

The simulator, the fake venues and the fault proxy: entering starts, leaving stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from jetsocket._engine._context import StartContext

__all__ = ["Changes", "ServerLifecycle"]


class ServerLifecycle(StartContext):
    """Base class of the test servers: ``async with server:`` runs ``start()``, then ``stop()``.

    A subclass defines both coroutines (mypy checks it through the ``self`` type).
    """

    __slots__ = ()


class Changes:
    """Lets tests wait for a condition on a server's state, without polling.

    The server calls :meth:`notify` whenever its state changes (a connection opens or
    ends, a message arrives...); every waiter then re-checks its predicate.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        """Wake every waiter once (they wait on a fresh event afterwards)."""
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Return once ``predicate()`` is true.

        Raises:
            TimeoutError: Still false after ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    if self._event is None:
                        self._event = asyncio.Event()
                    await self._event.wait()
        except TimeoutError:
            raise TimeoutError(f"condition not met within {timeout}s") from None
