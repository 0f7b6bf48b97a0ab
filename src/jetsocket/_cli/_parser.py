"""The ``jetsocket`` command's arguments (no command is imported here: each runs lazily)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import jetsocket

__all__ = ["build_parser"]

_N = TypeVar("_N", int, float)


class _VersionAction(argparse.Action):
    """``--version``: the version, then which frame reader runs (compiled or pure)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from jetsocket._protocol._reader import _SCAN_STATUS  # noqa: PLC0415

        print(f"{jetsocket.__version__}\nreader: {_SCAN_STATUS}")
        parser.exit()


# -- argument helpers -------------------------------------------------------------------


def _number(
    kind: Callable[[str], _N], accept: Callable[[_N], bool], rule: str
) -> Callable[[str], _N]:
    """An argparse ``type``: the text read as ``kind`` (int or float), refused unless ``accept``."""
    noun = "an integer" if kind is int else "a number"

    def read(text: str) -> _N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return read


_positive_float = _number(float, lambda v: 0 < v < math.inf, "> 0 and finite")
_non_negative_float = _number(float, lambda v: v >= 0, ">= 0")  # inf too: ``--linger inf``
_non_negative_int = _number(int, lambda v: v >= 0, ">= 0")
_positive_int = _number(int, lambda v: v > 0, "> 0")
_port = _number(int, lambda v: 0 <= v <= 65535, "a TCP port (0 to 65535)")


def _speed(text: str) -> float:
    if text.lower() == "max":
        return math.inf
    return _positive_float(text)


def _ws_url(text: str) -> str:
    if not text.startswith(("ws://", "wss://")):
        # Not echoed: a mistyped URL may still carry a credential.
        raise argparse.ArgumentTypeError("expected a ws:// or wss:// URL")
    return text


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"invalid header {text!r} (expected NAME:VALUE)")
    return name.strip(), value.strip()


# One argument: the flags (or the positional name) and ``add_argument``'s keywords.
_Arg: TypeAlias = tuple[tuple[str, ...], dict[str, Any]]


def _value(
    flag: str, kind: Callable[[str], object], default: object, metavar: str, doc: str
) -> _Arg:
    """An option taking a value (checked by ``kind``)."""
    return (flag,), {"type": kind, "default": default, "metavar": metavar, "help": doc}


def _flag(flag: str, doc: str) -> _Arg:
    """An on/off option."""
    return (flag,), {"action": "store_true", "help": doc}


def _repeated(*flags: str, metavar: str, doc: str, kind: Callable[[str], object] = str) -> _Arg:
    """An option that may be given several times (a list, in order)."""
    return flags, {"action": "append", "default": [], "type": kind, "metavar": metavar, "help": doc}


@dataclass(frozen=True, slots=True)
class _Command:
    name: str
    summary: str
    description: str
    args: tuple[_Arg, ...]


# URL, headers, subprotocols and proxy: shared by ``connect`` and ``record``.
_CONNECTION: tuple[_Arg, ...] = (
    (("url",), {"type": _ws_url, "help": "ws:// or wss:// URL"}),
    _repeated(
        "-H",
        "--header",
        kind=_header,
        metavar="NAME:VALUE",
        doc="extra handshake header (repeatable)",
    ),
    _repeated("--subprotocol", metavar="NAME", doc="subprotocol to offer (repeatable)"),
    _value(
        "--proxy",
        str,
        None,
        "URL",
        'http://, https:// or socks5:// proxy ("" for none; default: from HTTPS_PROXY / ALL_PROXY)',
    ),
    (
        ("-v", "--verbose"),
        {
            "action": "count",
            "default": 0,
            "help": "log the library's lifecycle lines (-v) and frames (-vv) on stderr",
        },
    ),
)

_COMMANDS: tuple[_Command, ...] = (
    _Command(
        "demo",
        "typed client vs. the embedded exchange simulator, with faults (offline)",
        "Start the embedded exchange simulator behind a fault-injecting proxy, subscribe a "
        "typed jetsocket Client to its trade, kline and book-ticker streams and an order book, "
        "cut the connections every few seconds (resets and one half-open connection) and "
        "check that every stream resumes without a sequence gap, and that the order book "
        "survives an injected gap (resync from a fresh snapshot). Live view with rich on a "
        "terminal, plain progress lines otherwise. Exits 0 only if no gap and no lost message "
        "was seen and the book equals the simulator's at the end.",
        (
            _value(
                "--duration",
                _positive_float,
                12.0,
                "SECONDS",
                "seconds of streaming and faults (default 12)",
            ),
            _value(
                "--rate", _positive_float, 25.0, "N", "messages per second per stream (default 25)"
            ),
            _value(
                "--symbols",
                str,
                "BTCUSDT,ETHUSDT,SOLUSDT",
                "LIST",
                "comma-separated symbols (default BTCUSDT,ETHUSDT,SOLUSDT)",
            ),
            _value("--seed", int, 7, "SEED", "market seed (default 7)"),
            _value(
                "--burst",
                _non_negative_int,
                20_000,
                "N",
                "messages of a final full-speed burst, 0 to skip (default 20000)",
            ),
            _flag("--no-faults", "stream without injecting any fault (nor the order book's gap)"),
            _flag(
                "--plain",
                "plain progress lines even on a terminal (default when not a terminal or rich "
                "is not installed)",
            ),
        ),
    ),
    _Command(
        "connect",
        "interactive client: stdin lines are sent, messages are printed",
        "Connect to URL, send each line of stdin as a text message and print every message "
        "received on stdout (JSON pretty-printed and coloured on a terminal, one compact line "
        "per message otherwise). Connection events go to stderr. At end of input, keep "
        "receiving --linger seconds, then close. Exit status: 0 after a normal close, 1 after "
        "an error.",
        (
            *_CONNECTION,
            _flag("--raw", "print text messages exactly as received (binary ones as hex)"),
            _value(
                "--heartbeat",
                _positive_float,
                None,
                "SECONDS",
                "send a ping every SECONDS; a peer that stops answering is dropped",
            ),
            _flag("--no-reconnect", "exit when the connection drops instead of reconnecting"),
            _value(
                "--linger",
                _non_negative_float,
                0.0,
                "SECONDS",
                "keep receiving this long after end of input, 'inf' until the server closes "
                "(default 0)",
            ),
        ),
    ),
    _Command(
        "record",
        "record a session into a cassette file (for offline replay)",
        "Connect to URL, send each --send message in order, and record the handshake and "
        "every frame in both directions, with its time offset, into FILE (a jetsocket "
        "cassette: JSON lines, see the cassettes guide), until --count messages were "
        "received, --duration seconds passed, the server closed, or Ctrl-C. Credentials are "
        "never written: URL query values and user info, secret-looking headers, JSON members "
        "named like credentials and every --secret are replaced by ***. Exit status: 0 when "
        "the recording is complete, 1 on a connection error.",
        (
            *_CONNECTION,
            (
                ("-o", "--output"),
                {"required": True, "metavar": "FILE", "help": "the cassette file to write"},
            ),
            _repeated(
                "--send",
                metavar="TEXT",
                doc="text message to send once connected (repeatable, sent in order)",
            ),
            _value("--count", _positive_int, None, "N", "stop after N messages from the server"),
            _value("--duration", _positive_float, None, "SECONDS", "stop after SECONDS"),
            _repeated(
                "--secret",
                metavar="VALUE",
                doc="a value never to write (API key, token...), replaced by *** (repeatable)",
            ),
        ),
    ),
    _Command(
        "replay",
        "serve a cassette to any client that connects",
        "Serve the session recorded in FILE to every client that connects: answer the "
        "handshake (recorded subprotocol), play the server's frames with the recorded timing "
        "(--speed) and, where the recording shows the client sending a message before the "
        "server answered, wait for it first. A client message the cassette does not expect "
        "closes that connection with 1008 and is reported on stderr. Runs until Ctrl-C (or "
        "after --once connection).",
        (
            (("file",), {"metavar": "FILE", "help": "the cassette file to serve"}),
            (("--host",), {"default": "127.0.0.1", "help": "address to listen on (127.0.0.1)"}),
            _value("--port", _port, 0, "P", "port to listen on (default: any free)"),
            _value(
                "--speed",
                _speed,
                1.0,
                "1|max|X",
                "1: recorded timing (default), max: as fast as possible, X: X times faster",
            ),
            _flag("--once", "exit after the first client's session (status 1 if it deviated)"),
        ),
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``jetsocket`` command."""
    parser = argparse.ArgumentParser(
        prog="jetsocket",
        description="jetsocket: typed, resilient, fast WebSocket client (tools).",
        epilog="`jetsocket URL` is short for `jetsocket connect URL`.",
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        sub = commands.add_parser(
            command.name, help=command.summary, description=command.description
        )
        for flags, options in command.args:
            sub.add_argument(*flags, **options)
    return parser
