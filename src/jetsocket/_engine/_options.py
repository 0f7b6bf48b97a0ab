"""Every ``WebSocket`` option, declared once.

:class:`WebSocketOptions` is the one declaration: each key carries its type and, in its
``Annotated`` metadata, its default, its group and its documentation. Everything else is
derived from it: :func:`resolve` validates a call's options once into the frozen
:class:`Settings` the engine and its components read; the schema layer's ``Client``
reads the same keys from class attributes; the options reference page is generated from
:func:`option_table`.
"""

from __future__ import annotations

import functools
import math
import ssl
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, TypedDict, get_type_hints

from jetsocket._engine._config import (
    BackoffConfig,
    BufferConfig,
    HeartbeatConfig,
    ReplayConfig,
)
from jetsocket._protocol._listener import WireTap
from jetsocket._protocol._validate import validate_headers, validate_subprotocols

__all__ = [
    "DEFAULT_CAPACITY",
    "ConnectSettings",
    "Option",
    "SendSettings",
    "Settings",
    "WebSocketOptions",
    "option_table",
    "resolve",
]

DEFAULT_CAPACITY: Final = 10_000
_DEFAULT_BLOCK: Final = 0.1  # seconds: asyncio's own slow_callback_duration in debug mode


@dataclass(frozen=True, slots=True)
class Option:
    """What ``Annotated`` metadata says of an option: default, group, documentation."""

    default: Any
    group: str
    doc: str


class WebSocketOptions(TypedDict, total=False):
    """Keyword options of :class:`WebSocket`, the sync facade and ``Client``.

    ``Client`` subclasses may also declare them as class attributes.

    Each key's ``Annotated`` metadata gives its default, group and meaning; the options
    reference in the documentation is generated from it.
    """

    # -- connection --------------------------------------------------------------------
    ssl_context: Annotated[
        ssl.SSLContext | None,
        Option(None, "connection", "TLS settings for `wss` (default: verified, system CAs)."),
    ]
    extra_headers: Annotated[
        Mapping[str, str] | None,
        Option(None, "connection", "Extra HTTP headers for the opening handshake."),
    ]
    subprotocols: Annotated[
        Sequence[str] | None,
        Option(None, "connection", "Subprotocols to offer (RFC 6455 tokens)."),
    ]
    proxy: Annotated[
        str | bool | None,
        Option(
            None,
            "connection",
            "Proxy URL: `http://`, `https://` (HTTP CONNECT; `https` means TLS to the proxy), "
            "`socks5://`, `socks5h://`, `socks4://`, `socks4a://` (python-socks, the `socks` "
            "extra; `socks5h`/`socks4a` let the proxy resolve the host name); credentials as "
            "`scheme://user:password@host:port`. True or None: from the environment, honouring "
            "`NO_PROXY`: `WSS_PROXY` (`WS_PROXY` for `ws://`), then `SOCKS_PROXY`, "
            "`HTTPS_PROXY`, `HTTP_PROXY` (`ws://` only), `ALL_PROXY`; False or `''`: direct.",
        ),
    ]
    proxy_ssl_context: Annotated[
        ssl.SSLContext | None,
        Option(None, "connection", "TLS settings for an `https://` proxy (default: verified)."),
    ]
    connect_timeout: Annotated[
        float, Option(10.0, "connection", "Bound on TCP connect, TLS and the opening handshake.")
    ]
    close_timeout: Annotated[float, Option(5.0, "connection", "Bound on the closing handshake.")]
    secrets: Annotated[
        Sequence[str] | None,
        Option(
            None,
            "connection",
            "Secret values (API keys, listen keys, tokens) redacted wherever jetsocket shows "
            "text: `repr`, logs, events, errors.",
        ),
    ]
    wire_tap: Annotated[
        Callable[[str], WireTap] | None,
        Option(
            None,
            "connection",
            "Called with the URI for each new connection; the tap it returns sees every byte "
            "both ways (record a session: `wire_tap=Recorder(path).tap`, see the cassettes "
            "guide).",
        ),
    ]
    # -- wire --------------------------------------------------------------------------
    compress: Annotated[bool, Option(True, "wire", "Offer permessage-deflate (RFC 7692).")]
    compression_threshold: Annotated[
        int, Option(128, "wire", "Outgoing messages shorter than this (bytes) are not compressed.")
    ]
    max_message_size: Annotated[
        int,
        Option(64 * 1024 * 1024, "wire", "Largest accepted message in bytes (after inflating)."),
    ]
    # -- reconnect ---------------------------------------------------------------------
    reconnect: Annotated[
        bool, Option(True, "reconnect", "Reconnect automatically after an unexpected disconnect.")
    ]
    backoff: Annotated[
        BackoffConfig | None,
        Option(None, "reconnect", "Backoff between attempts (default `BackoffConfig()`)."),
    ]
    is_retriable: Annotated[
        Callable[[BaseException], bool | None] | None,
        Option(
            None,
            "reconnect",
            "Reclassifies a failure: True retriable, False fatal, None the default rules "
            "(HTTP 401/403/404 and close 1008 are fatal).",
        ),
    ]
    max_connection_age: Annotated[
        float | None,
        Option(
            None,
            "reconnect",
            "Rotate the connection after this many seconds (the new one opens first).",
        ),
    ]
    rotation_overlap: Annotated[
        float,
        Option(
            5.0,
            "reconnect",
            "With sequence ids, how long a rotation keeps the old connection at most, "
            "waiting until both connections delivered a common id (a lossless hand-over).",
        ),
    ]
    # -- heartbeat ---------------------------------------------------------------------
    heartbeat: Annotated[
        float | HeartbeatConfig | None,
        Option(
            None,
            "heartbeat",
            "Ping interval in seconds (timeout `min(interval, 10)`), or a `HeartbeatConfig`.",
        ),
    ]
    idle_timeout: Annotated[
        float | None,
        Option(None, "heartbeat", "Reconnect when no frame arrived for this many seconds."),
    ]
    loop_block_threshold: Annotated[
        float | None,
        Option(
            _DEFAULT_BLOCK,
            "heartbeat",
            "Emit a `loop_blocked` event (and log a warning) when the event loop could not "
            "run for longer than this many seconds; None: no events. The loop-lag probe "
            "(one timer per event loop) runs regardless: `stats().loop_lag_ms`, and the "
            "heartbeat never counts a blocked loop against the peer.",
        ),
    ]
    time_handlers: Annotated[
        bool,
        Option(
            False,
            "heartbeat",
            "Time every sync event and message handler call (two `time.perf_counter()` "
            "calls) so that `loop_blocked` names the handler that blocked the loop.",
        ),
    ]
    # -- receive -----------------------------------------------------------------------
    buffer: Annotated[
        int | BufferConfig | None,
        Option(
            None,
            "receive",
            "Receive buffer capacity or a `BufferConfig` (default 10 000 messages, policy "
            "`block`: reading pauses until the consumer catches up).",
        ),
    ]
    replay: Annotated[
        ReplayConfig | None, Option(None, "receive", "Sequence tracking and replay settings.")
    ]
    strict: Annotated[
        bool,
        Option(
            True,
            "receive",
            "Raise decode failures from the iterator (True), or report them as `error` "
            "events, count them and skip the message (False).",
        ),
    ]
    conflate_key: Annotated[
        Callable[[Any], Hashable | None] | None,
        Option(
            None,
            "receive",
            "Conflation: returns a message's key (symbol, instrument), or None to never "
            "conflate it. While the consumer lags, a newer message replaces the waiting one "
            "of its key in place (counted in `stats().messages_conflated`).",
        ),
    ]
    # -- send --------------------------------------------------------------------------
    serializer: Annotated[
        Callable[[Any], bytes | str] | None,
        Option(None, "send", "Encodes objects given to `send` (default: JSON with msgspec)."),
    ]
    text_frames: Annotated[
        bool, Option(True, "send", "Send serialized objects as text frames (else binary).")
    ]
    send_rate: Annotated[
        float | None,
        Option(
            None,
            "send",
            "Most messages per second (token bucket over every data frame sent, replays "
            "included); None: no limit.",
        ),
    ]
    send_burst: Annotated[
        int, Option(1, "send", "Messages that may be sent at once before `send_rate` applies.")
    ]
    send_while_reconnecting: Annotated[
        Literal["raise", "wait"],
        Option(
            "raise",
            "send",
            "`raise` (default) or `wait` for the connection, up to `send_timeout`.",
        ),
    ]
    send_timeout: Annotated[
        float, Option(10.0, "send", "Seconds `send_while_reconnecting='wait'` waits.")
    ]


def option_table() -> dict[str, tuple[Any, Option]]:
    """Every option: ``name -> (type, Option)``, in declaration order."""
    return dict(_option_table())


@functools.cache
def _option_table() -> dict[str, tuple[Any, Option]]:
    # Built once: get_type_hints costs ~150 us, and resolve() runs per client (a
    # hundred connections paid 15 ms for it). Read-only: option_table() hands out copies.
    hints = get_type_hints(WebSocketOptions, include_extras=True)
    table: dict[str, tuple[Any, Option]] = {}
    for name, hint in hints.items():
        (info,) = (m for m in hint.__metadata__ if isinstance(m, Option))
        table[name] = (hint.__origin__, info)
    return table


OPTION_NAMES: Final = tuple(WebSocketOptions.__annotations__)


@dataclass(frozen=True, slots=True)
class ConnectSettings:
    """What opening one wire connection needs (validated; handed to the wire layer)."""

    text_as_str: bool
    max_message_size: int
    compress: bool
    compression_threshold: int
    extra_headers: Mapping[str, str]
    subprotocols: tuple[str, ...]
    ssl_context: ssl.SSLContext | None
    connect_timeout: float
    close_timeout: float
    proxy: str | bool | None
    proxy_ssl_context: ssl.SSLContext | None
    secrets: tuple[str, ...]
    wire_tap: Callable[[str], WireTap] | None


@dataclass(frozen=True, slots=True)
class SendSettings:
    """The send side: encoding, rate limit, sending while reconnecting."""

    serializer: Callable[[Any], bytes | str] | None
    text_frames: bool
    rate: float | None
    burst: int
    wait_while_reconnecting: bool
    timeout: float
    hold_for_replay: bool
    max_held: int


@dataclass(frozen=True, slots=True)
class Settings:
    """One call's options, validated once and grouped as the components read them."""

    connect: ConnectSettings
    send: SendSettings
    reconnect: bool
    backoff: BackoffConfig
    is_retriable: Callable[[BaseException], bool | None] | None
    max_connection_age: float | None
    rotation_overlap: float
    heartbeat: HeartbeatConfig | None
    idle_timeout: float | None
    loop_block_threshold: float | None
    time_handlers: bool
    buffer: BufferConfig
    replay: ReplayConfig | None
    strict: bool
    conflate_key: Callable[[Any], Hashable | None] | None = None


def _optional_number(name: str, value: object) -> float | None:
    return None if value is None else _number(name, value)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def _instance(name: str, value: object, types: type | tuple[type, ...]) -> None:
    if value is not None and not isinstance(value, types):
        raise TypeError(f"{name} must be {_names(types)} or None, got {type(value).__name__}")


def _names(types: type | tuple[type, ...]) -> str:
    if isinstance(types, type):
        return types.__name__
    return " or ".join(t.__name__ for t in types)


def _callable(name: str, value: object) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")


def _strings(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of str, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain str only, got {type(item).__name__}")
    return tuple(value)


_CACHE: dict[tuple[Any, ...], Settings] = {}
_CACHE_SIZE = 64


def resolve(options: Mapping[str, Any], *, raw: bool = False) -> Settings:
    """Validate ``options`` (a :class:`WebSocketOptions` mapping) into :class:`Settings`.

    Settings are frozen, so clients built with the same hashable options share one object
    (a thousand idle connections hold one copy, not a thousand).

    Raises:
        TypeError: An unknown option, or a value of the wrong type (the option is named).
        ValueError: A value out of range.
    """
    try:
        # The type too: True == 1 must not let buffer=True reuse buffer=1's settings.
        key = (raw, *sorted((name, type(value), value) for name, value in options.items()))
        cached = _CACHE.get(key)
    except TypeError:  # an unhashable value (headers dict, list of subprotocols...)
        return _resolve(options, raw=raw)
    if cached is None:
        cached = _resolve(options, raw=raw)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = cached
    return cached


def _resolve(options: Mapping[str, Any], *, raw: bool) -> Settings:
    unknown = set(options) - set(OPTION_NAMES)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    table = _option_table()

    def get(name: str) -> Any:
        value = options.get(name)
        return table[name][1].default if value is None else value

    hb = get("heartbeat")
    if hb is not None and not isinstance(hb, HeartbeatConfig):
        interval = _number("heartbeat", hb)
        hb = HeartbeatConfig(interval=interval, timeout=min(interval, 10.0))
    buf = get("buffer")
    if buf is None:
        buf = BufferConfig(capacity=DEFAULT_CAPACITY)
    elif not isinstance(buf, BufferConfig):
        buf = BufferConfig(capacity=_int("buffer", buf, 1))
    replay = get("replay")
    _instance("replay", replay, ReplayConfig)
    if buf.enable_dedup and (replay is None or replay.sequence_extractor is None):
        raise ValueError("BufferConfig(enable_dedup=True) needs ReplayConfig.sequence_extractor")
    backoff = get("backoff") or BackoffConfig()
    _instance("backoff", backoff, BackoffConfig)
    mode = get("send_while_reconnecting")
    if mode not in ("raise", "wait"):
        raise ValueError(f"send_while_reconnecting must be 'raise' or 'wait', got {mode!r}")
    for name in ("serializer", "is_retriable", "conflate_key", "wire_tap"):
        _callable(name, options.get(name))
    for name in ("ssl_context", "proxy_ssl_context"):
        _instance(name, options.get(name), ssl.SSLContext)
    _instance("proxy", options.get("proxy"), (str, bool))
    # The wire layer's own rules (RFC 6455 section 4.1, RFC 7230 tokens), at the call site.
    headers = validate_headers(options.get("extra_headers"))
    subprotocols = validate_subprotocols(options.get("subprotocols"))
    threshold = _int("compression_threshold", get("compression_threshold"), 0)
    rate = _optional_number("send_rate", options.get("send_rate"))
    full = replay is not None and replay.mode == "full_buffer"
    connect_timeout = _number("connect_timeout", get("connect_timeout"))
    close_timeout = _number("close_timeout", get("close_timeout"))
    send_timeout = _number("send_timeout", get("send_timeout"))
    return Settings(
        connect=ConnectSettings(
            text_as_str=raw,
            max_message_size=_int("max_message_size", get("max_message_size"), 1),
            compress=bool(get("compress")),
            compression_threshold=threshold,
            extra_headers=headers,
            subprotocols=tuple(subprotocols),
            ssl_context=options.get("ssl_context"),
            connect_timeout=connect_timeout,
            close_timeout=close_timeout,
            proxy=options.get("proxy"),
            proxy_ssl_context=options.get("proxy_ssl_context"),
            secrets=_strings("secrets", options.get("secrets")),
            wire_tap=options.get("wire_tap"),
        ),
        send=SendSettings(
            serializer=options.get("serializer"),
            text_frames=bool(get("text_frames")),
            rate=rate,
            burst=_int("send_burst", get("send_burst"), 1),
            wait_while_reconnecting=mode == "wait",
            timeout=send_timeout,
            hold_for_replay=full,
            max_held=replay.max_pending_sends if replay is not None else 0,
        ),
        reconnect=bool(get("reconnect")),
        backoff=backoff,
        is_retriable=options.get("is_retriable"),
        max_connection_age=_optional_number(
            "max_connection_age", options.get("max_connection_age")
        ),
        rotation_overlap=_number("rotation_overlap", get("rotation_overlap")),
        heartbeat=hb,
        idle_timeout=_optional_number("idle_timeout", options.get("idle_timeout")),
        # An explicit None turns the events off (None is not "the default" here).
        loop_block_threshold=_optional_number(
            "loop_block_threshold", options.get("loop_block_threshold", _DEFAULT_BLOCK)
        ),
        time_handlers=bool(get("time_handlers")),
        buffer=buf,
        replay=replay,
        strict=bool(get("strict")),
        conflate_key=options.get("conflate_key"),
    )
