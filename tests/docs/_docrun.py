"""Run documentation blocks offline, one after the other, in this process.

``python tests/docs/_docrun.py PLAN.json RESULTS.json``: the plan lists the generated
programs with their directives (see ``_docblocks.py``); the results give, per block, its
output, its error and its duration.

**The venue-URL rule.** Blocks keep the real URLs a reader needs
(``wss://stream.binance.com:9443/ws``); nothing in a block is rewritten. Instead this
runner starts the ``jetsocket.testing`` fakes on ``127.0.0.1`` (on an event loop of their
own, in a daemon thread) and wraps jetsocket's ``open_connection`` so that a connection to
one of these hosts goes to its fake instead — plain ``ws://``, no proxy, the user's
``ssl_context`` ignored — while ``ws.uri``, events and logs still show the real URL:

=============================  ===========================================================
host                           fake
=============================  ===========================================================
``stream.binance.com``         ``ExchangeSimulator`` (BTCUSDT, ETHUSDT, SOLUSDT, 50 msg/s)
``stream.bybit.com``           ``BybitVenue``
``ws.okx.com``                 ``OkxVenue``
``api.openai.com``             ``RealtimeVenue``
``*.example.com``              a ``ScriptedServer`` sending ``{"symbol": "BTCUSDT",
                               "price": ..., "seq": n}`` 100 times a second
=============================  ===========================================================

Any other URL (``sim.uri`` of a simulator the block starts itself...) is left alone, and
nothing ever leaves the machine: an unknown public host fails the block. A connection given
an explicit ``proxy="..."`` is not routed (the proxy decides; the docs only use local or
unreachable ones).

Each block runs with a bound (``timeout``, default 20 s, enforced with ``SIGALRM``), its
standard output captured; ``stop-after=N`` ends an endless consumer after ``N`` printed
lines.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import io
import json
import runpy
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import jetsocket
from jetsocket._protocol import _open
from jetsocket.testing import (
    BybitVenue,
    ExchangeSimulator,
    OkxVenue,
    RealtimeVenue,
    ScriptedServer,
    SendMany,
)


class BlockTimeout(Exception):
    """The block ran past its bound."""


class BlockDone(BaseException):
    """An endless consumer printed enough: end it (a BaseException, so ``except
    Exception`` in the block does not catch it)."""


def _ticker(i: int) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "price": float(Decimal("43250.5") + i % 7), "seq": i + 1}


class Fakes:
    """The fake venues, on a loop thread, and the routing of venue hosts to them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.binance = ExchangeSimulator(("BTCUSDT", "ETHUSDT", "SOLUSDT"), rate=50, seed=1)
        self.bybit = BybitVenue()
        self.okx = OkxVenue()
        self.realtime = RealtimeVenue()
        self.example = ScriptedServer([SendMany(_ticker, rate=100)])
        for server in (self.binance, self.bybit, self.okx, self.realtime, self.example):
            self._run(server.start())
        self.routes: dict[str, str] = {
            "stream.binance.com": self.binance.uri,
            "stream.bybit.com": self.bybit.uri,
            "ws.okx.com": self.okx.uri,
            "api.openai.com": self.realtime.uri,
        }

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def route(self, uri: str) -> str | None:
        """The loopback URI standing in for ``uri``, or None to leave it alone."""
        parts = urlsplit(uri)
        host = parts.hostname or ""
        if host in ("127.0.0.1", "localhost", "::1"):
            return None
        if host == "example.com" or host.endswith(".example.com"):
            target = self.example.uri
        elif host in self.routes:
            target = self.routes[host]
        else:
            raise jetsocket.ConnectionError(f"documentation blocks run offline: {host}")
        fake = urlsplit(target)
        path = parts.path or "/"
        query = parts.query or fake.query
        return f"ws://{fake.netloc}{path}" + (f"?{query}" if query else "")

    def install(self) -> None:
        original = _open.open_connection

        async def routed(uri: str, *args: Any, **kwargs: Any) -> Any:
            if isinstance(kwargs.get("proxy"), str) and kwargs["proxy"]:
                # An explicit proxy (a local one the block starts, or an unreachable
                # one it demonstrates): left alone, it decides where the bytes go.
                return await original(uri, *args, **kwargs)
            target = self.route(uri)
            if target is not None:
                kwargs.update(ssl_context=None, proxy=False, proxy_ssl_context=None)
                uri = target
            return await original(uri, *args, **kwargs)

        # Every jetsocket module that imported the function by name gets the wrapper.
        for name, module in list(sys.modules.items()):
            if name.startswith("jetsocket") and getattr(module, "open_connection", None) is (
                original
            ):
                module.open_connection = routed  # type: ignore[attr-defined]


@contextlib.contextmanager
def _bound(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise BlockTimeout(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _counting_print(limit: int | None) -> Callable[..., None]:
    printed = 0

    def print_(*args: Any, **kwargs: Any) -> None:
        nonlocal printed
        builtins.print(*args, **kwargs)
        printed += 1
        if limit is not None and printed >= limit:
            raise BlockDone

    return print_


def run_block(item: dict[str, Any]) -> dict[str, Any]:
    out = io.StringIO()
    error = ""
    started = time.monotonic()
    namespace = {"print": _counting_print(item.get("stop_after"))}
    try:
        with _bound(item["timeout"]), contextlib.redirect_stdout(out):
            try:
                result = runpy.run_path(item["file"], init_globals=namespace, run_name="__main__")
                if item.get("call"):
                    value = eval(item["call"], result)
                    if inspect.isawaitable(value):
                        asyncio.run(_awaited(value))
            except BlockDone:
                pass
    except BaseException as exc:
        error = "".join(traceback.format_exception(exc, limit=-8))
    return {
        "id": item["id"],
        "output": out.getvalue(),
        "error": error,
        "seconds": round(time.monotonic() - started, 3),
    }


async def _awaited(value: Any) -> Any:
    return await value


def main(plan_file: str, results_file: str) -> int:
    plan = json.loads(open(plan_file, encoding="utf-8").read())  # noqa: SIM115
    fakes = Fakes()
    fakes.install()
    results = []
    for item in plan:
        results.append(run_block(item))
        # Written after each block: a crash of the runner still reports what ran.
        with open(results_file, "w", encoding="utf-8") as f:
            json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
