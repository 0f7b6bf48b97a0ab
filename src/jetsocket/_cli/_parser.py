"""The ``jetsocket`` command's arguments (no command is imported here: each runs lazily)."""

from __future__ import annotations

import argparse
import math
from typing import Any

import jetsocket

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``jetsocket`` command."""
    parser = argparse.ArgumentParser(
        prog="jetsocket",
        description="jetsocket: typed, resilient, fast WebSocket client (tools).",
        epilog="`jetsocket URL` is short for `jetsocket connect URL`.",
    )
    parser.add_argument("--version", action="version", version=jetsocket.__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo_parser(commands)
    _add_connect_parser(commands)
    return parser


def _add_demo_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="typed client vs. the embedded exchange simulator, with faults (offline)",
        description="Start the embedded exchange simulator behind a fault-injecting proxy, "
        "subscribe a typed jetsocket Client to its trade, kline and book streams, cut the "
        "connections every few seconds (resets and one half-open connection) and check that "
        "every stream recovers without a sequence gap. Live view with rich on a terminal, "
        "plain progress lines otherwise. Exits 0 only if no gap and no lost message was seen.",
    )
    demo.add_argument(
        "--duration",
        type=_positive_float,
        default=12.0,
        metavar="SECONDS",
        help="seconds of streaming and faults (default 12)",
    )
    demo.add_argument(
        "--rate",
        type=_positive_float,
        default=25.0,
        metavar="N",
        help="messages per second per stream (default 25)",
    )
    demo.add_argument(
        "--symbols",
        default="BTCUSDT,ETHUSDT,SOLUSDT",
        metavar="LIST",
        help="comma-separated symbols (default BTCUSDT,ETHUSDT,SOLUSDT)",
    )
    demo.add_argument("--seed", type=int, default=7, help="market seed (default 7)")
    demo.add_argument(
        "--burst",
        type=_non_negative_int,
        default=20_000,
        metavar="N",
        help="messages of a final full-speed burst, 0 to skip (default 20000)",
    )
    demo.add_argument("--no-faults", action="store_true", help="stream without injecting any fault")
    demo.add_argument(
        "--plain",
        action="store_true",
        help="plain progress lines even on a terminal (default when not a terminal "
        "or rich is not installed)",
    )


def _add_connection_options(command: argparse.ArgumentParser) -> None:
    """URL, headers, subprotocols and proxy: shared by ``connect`` and ``record``."""
    command.add_argument("url", type=_ws_url, help="ws:// or wss:// URL")
    command.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        type=_header,
        metavar="NAME:VALUE",
        help="extra handshake header (repeatable)",
    )
    command.add_argument(
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="subprotocol to offer (repeatable)",
    )
    command.add_argument(
        "--proxy",
        default=None,
        metavar="URL",
        help='http://, https:// or socks5:// proxy ("" for none; default: from '
        "HTTPS_PROXY / ALL_PROXY)",
    )
    command.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log the library's lifecycle lines (-v) and frames (-vv) on stderr",
    )


def _add_connect_parser(commands: Any) -> None:
    connect = commands.add_parser(
        "connect",
        help="interactive client: stdin lines are sent, messages are printed",
        description="Connect to URL, send each line of stdin as a text message and print "
        "every message received on stdout (JSON pretty-printed and coloured on a terminal, "
        "one compact line per message otherwise). Connection events go to stderr. At end of "
        "input, keep receiving --linger seconds, then close. Exit status: 0 after a normal "
        "close, 1 after an error.",
    )
    _add_connection_options(connect)
    connect.add_argument(
        "--raw",
        action="store_true",
        help="print text messages exactly as received (binary ones as hex)",
    )
    connect.add_argument(
        "--heartbeat",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="send a ping every SECONDS; a peer that stops answering is dropped",
    )
    connect.add_argument(
        "--no-reconnect",
        action="store_true",
        help="exit when the connection drops instead of reconnecting",
    )
    connect.add_argument(
        "--linger",
        type=_non_negative_float,
        default=0.0,
        metavar="SECONDS",
        help="keep receiving this long after end of input, 'inf' until the server closes "
        "(default 0)",
    )


# -- argument helpers -------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


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
