"""Ready-made option sets for common kinds of streams.

Each preset is a :class:`jetsocket.WebSocketOptions` dict, usable wherever options are
accepted::

    from jetsocket import SyncWebSocket, WebSocket, presets

    ws = WebSocket("wss://stream.example.com/ws", **presets.trading)
    ws = SyncWebSocket("wss://stream.example.com/ws", **presets.trading)
    bn = Binance(**presets.trading)                   # a jetsocket.schema.Client

    @presets.apply(presets.trading)                   # as Client class attributes
    class Binance(Client[Trade | Kline]):
        uri = "wss://stream.binance.com:9443/ws"
        heartbeat = 20.0                              # the class's own attributes win

    opts = presets.customize(presets.trading, heartbeat=5.0)   # a preset with overrides
    ws = WebSocket("wss://stream.example.com/ws", **opts)

Every access returns a **new dict** (``presets.trading is not presets.trading``), so a preset
cannot be changed by accident for the rest of the program: modify your copy, or use
:func:`customize`.

Options a preset does not set keep the :class:`jetsocket.WebSocket` defaults ("default"
below: no heartbeat, reconnect with backoff 0.5 s doubling to 30 s, a 10 000 message buffer
that blocks, permessage-deflate offered, 64 MiB messages, 10 s connect and 5 s close
timeouts, ``send_while_reconnecting="raise"``, strict decoding).

| option                       | trading       | llm_stream    | dashboard       | minimal |
|------------------------------|---------------|---------------|-----------------|---------|
| reconnect                    | yes           | yes           | yes             | **no**  |
| heartbeat (interval/timeout) | 10 s / 5 s    | 30 s / 20 s   | 30 s / 15 s     | none    |
| backoff (base/cap/reset)     | 0.1/5/30 s    | 1/30/60 s     | 1/60/120 s      | -       |
| buffer                       | 100 000 block | 10 000 block  | 1 000 drop_oldest | default |
| max_connection_age           | 23 h          | none          | default (none)  | none    |
| compress                     | off           | default (on)  | default (on)    | default |
| max_message_size             | default       | 128 MiB       | default         | default |
| connect / close timeout      | 5 s / 2 s     | 30 s / default | default        | default |
| send_while_reconnecting      | raise         | wait (30 s)   | wait            | default |
| strict                       | default       | default       | **False**       | default |

Why:

**trading** - market data and order channels: find a dead link fast, reconnect fast, never
lose a message.

- heartbeat 10 s / 5 s: a half-open connection (silent network, stuck venue) is found
  within 15 s; prices go stale long before TCP notices.
- backoff 0.1 s doubling to at most 5 s, reset after 30 s up: the first retry is almost
  immediate; full jitter keeps many clients from reconnecting in lockstep.
- buffer of 100 000 with ``block``: absorbs bursts (snapshots, volatile minutes); when full,
  reading pauses (TCP backpressure) rather than dropping: a lost book update corrupts local
  state.
- max_connection_age 23 h: venues cut connections at 24 h (Binance, Bybit); rotation opens
  the new connection before closing the old one, so no message is lost.
- compress off: inflating every message costs latency; market data messages are small and
  compress poorly one at a time.
- connect 5 s / close 2 s: a venue silent for 5 s is better retried; never wait on a dying
  connection.
- send_while_reconnecting ``raise``: an order must never go out late, after a reconnect,
  without the caller knowing.

**llm_stream** - LLM realtime and streaming APIs: long quiet periods, large messages
(audio, images), one session that must not be cut.

- heartbeat 30 s / 20 s: a model may think for minutes without sending; pings keep NAT and
  load balancers (often a 60 s idle limit) from dropping the connection, and 20 s tolerates
  a busy server.
- max_message_size 128 MiB: base64 audio and image payloads are large.
- no rotation: a new connection is a new session and would lose the conversation state.
- send_while_reconnecting ``wait`` (``send_timeout`` 30 s): a prompt sent during a reconnect
  waits for the connection instead of failing.
- backoff 1 s doubling to 30 s: gateways rate-limit reconnects (a 429's ``Retry-After``
  overrides the delay).
- buffer ``block``: never drop a token. connect 30 s: gateways can be slow to accept
  (authentication, cold starts).

**dashboard** - live displays: only the latest state matters, and the server's load more
than our latency.

- buffer of 1 000 with ``drop_oldest``: a slow screen skips stale updates instead of
  stalling the stream.
- backoff 1 s doubling to 60 s, reset after 120 s: gentle on a server that many dashboards
  reconnect to at once after an outage.
- heartbeat 30 s / 15 s: keeps idle displays' connections alive through proxies; finds dead
  ones within 45 s.
- strict ``False``: a malformed update is counted and reported (``error`` event), skipped,
  and the display goes on.
- send_while_reconnecting ``wait``: filter changes made during a reconnect go out once it is
  back.

**minimal** - a plain WebSocket: no reconnect, no heartbeat, no rotation, no idle watchdog.
For scripts, tests and request/response exchanges where the caller handles failures: a
disconnect ends iteration (or raises) and nothing happens behind the caller's back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from typing_extensions import Unpack

from jetsocket._engine._config import BackoffConfig, BufferConfig, HeartbeatConfig
from jetsocket._engine._options import WebSocketOptions

__all__ = ["apply", "customize", "dashboard", "llm_stream", "minimal", "trading"]

C = TypeVar("C", bound=type)

if TYPE_CHECKING:
    # Declared for type checkers; at run time module __getattr__ returns fresh copies.
    trading: WebSocketOptions
    llm_stream: WebSocketOptions
    dashboard: WebSocketOptions
    minimal: WebSocketOptions


def _trading() -> WebSocketOptions:
    return {
        "heartbeat": HeartbeatConfig(interval=10.0, timeout=5.0),
        "backoff": BackoffConfig(base=0.1, cap=5.0, reset_after=30.0),
        "buffer": BufferConfig(capacity=100_000, overflow_policy="block"),
        "max_connection_age": 23 * 3600.0,
        "compress": False,
        "connect_timeout": 5.0,
        "close_timeout": 2.0,
        "send_while_reconnecting": "raise",
    }


def _llm_stream() -> WebSocketOptions:
    return {
        "heartbeat": HeartbeatConfig(interval=30.0, timeout=20.0),
        "max_message_size": 128 * 1024 * 1024,
        "max_connection_age": None,
        "send_while_reconnecting": "wait",
        "send_timeout": 30.0,
        "backoff": BackoffConfig(base=1.0, cap=30.0, reset_after=60.0),
        "buffer": BufferConfig(capacity=10_000, overflow_policy="block"),
        "connect_timeout": 30.0,
    }


def _dashboard() -> WebSocketOptions:
    return {
        "buffer": BufferConfig(capacity=1_000, overflow_policy="drop_oldest"),
        "backoff": BackoffConfig(base=1.0, cap=60.0, reset_after=120.0),
        "heartbeat": HeartbeatConfig(interval=30.0, timeout=15.0),
        "strict": False,
        "send_while_reconnecting": "wait",
    }


def _minimal() -> WebSocketOptions:
    return {
        "reconnect": False,
        "heartbeat": None,
        "max_connection_age": None,
        "idle_timeout": None,
    }


_PRESETS: dict[str, Callable[[], WebSocketOptions]] = {
    "trading": _trading,
    "llm_stream": _llm_stream,
    "dashboard": _dashboard,
    "minimal": _minimal,
}


if not TYPE_CHECKING:  # hidden from mypy, so ``presets.tradng`` stays a type error

    def __getattr__(name: str) -> WebSocketOptions:
        # A new dict per access: presets are shared module state, so handing out the same
        # mutable dict would let one caller's tweak leak into every later user.
        factory = _PRESETS.get(name)
        if factory is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return factory()

    def __dir__() -> list[str]:
        return sorted([*globals(), *_PRESETS])


def customize(preset: WebSocketOptions, **overrides: Unpack[WebSocketOptions]) -> WebSocketOptions:
    """Return a copy of ``preset`` with ``overrides`` applied.

    Example:
        >>> opts = customize(trading, heartbeat=HeartbeatConfig(interval=5, timeout=3))
        >>> ws = WebSocket("wss://stream.example.com/ws", **opts)

    Args:
        preset: A preset (or any options dict).
        **overrides: Options replacing the preset's.

    Returns:
        A new options dict.
    """
    merged: WebSocketOptions = {**preset}
    merged.update(overrides)
    return merged


def apply(preset: WebSocketOptions) -> Callable[[C], C]:
    """Class decorator setting a preset's options as class attributes of a ``Client``.

    Attributes defined in the decorated class's own body win over the preset; options
    given when instantiating win over both.

    Example:
        >>> @apply(trading)
        ... class Binance(Client[Trade]):
        ...     uri = "wss://stream.binance.com:9443/ws"

    Args:
        preset: A preset (or any options dict).

    Returns:
        The decorator.
    """
    options: dict[str, Any] = dict(preset)

    def decorate(cls: C) -> C:
        for name, value in options.items():
            if name not in cls.__dict__:
                setattr(cls, name, value)
        return cls

    return decorate
