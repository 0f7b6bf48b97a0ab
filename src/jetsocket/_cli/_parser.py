"""The ``jetsocket`` command's arguments (no command is imported here: each runs lazily)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any

import jetsocket

__all__ = ["build_parser"]


class _VersionAction(argparse.Action):
    """``--version``: the version, then which frame reader runs (compiled or pure)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from jetsocket._protocol._reader import _SCAN_STATUS  # noqa: PLC0415

        print(f"{jetsocket.__version__}\nreader: {_SCAN_STATUS}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``jetsocket`` command."""
    parser = argparse.ArgumentParser(
        prog="jetsocket",
        description="jetsocket: typed, resilient, fast WebSocket client (tools).",
        epilog="`jetsocket URL` is short for `jetsocket connect URL`.",
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo_parser(commands)
    _add_connect_parser(commands)
    _add_record_parser(commands)
    _add_replay_parser(commands)
    return parser


def _add_demo_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="typed client vs. the embedded exchange simulator, with faults (offline)",
        description="Start the embedded exchange simulator behind a fault-injecting proxy, "
        "subscribe a typed jetsocket Client to its trade, kline and book-ticker streams and "
        "an order book, cut the connections every few seconds (resets and one half-open "
        "connection) and check that every stream resumes without a sequence gap, and that "
        "the order book survives an injected gap (resync from a fresh snapshot). Live view "
        "with rich on a terminal, plain progress lines otherwise. Exits 0 only if no gap "
        "and no lost message was seen and the book equals the simulator's at the end.",
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
    demo.add_argument(
        "--no-faults",
        action="store_true",
        help="stream without injecting any fault (nor the order book's gap)",
    )
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


def _add_record_parser(commands: Any) -> None:
    record = commands.add_parser(
        "record",
        help="record a session into a cassette file (for offline replay)",
        description="Connect to URL, send each --send message in order, and record the "
        "handshake and every frame in both directions, with its time offset, into FILE (a "
        "jetsocket cassette: JSON lines, see the cassettes guide), until --count messages "
        "were received, --duration seconds passed, the server closed, or Ctrl-C. "
        "Credentials are never written: URL query values and user info, secret-looking "
        "headers, JSON members named like credentials and every --secret are replaced by "
        "***. Exit status: 0 when the recording is complete, 1 on a connection error.",
    )
    _add_connection_options(record)
    record.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the cassette file to write"
    )
    record.add_argument(
        "--send",
        action="append",
        default=[],
        metavar="TEXT",
        help="text message to send once connected (repeatable, sent in order)",
    )
    record.add_argument(
        "--count",
        type=_positive_int,
        default=None,
        metavar="N",
        help="stop after N messages from the server",
    )
    record.add_argument(
        "--duration",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="stop after SECONDS",
    )
    record.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="VALUE",
        help="a value never to write (API key, token...), replaced by *** (repeatable)",
    )


def _add_replay_parser(commands: Any) -> None:
    replay = commands.add_parser(
        "replay",
        help="serve a cassette to any client that connects",
        description="Serve the session recorded in FILE to every client that connects: "
        "answer the handshake (recorded subprotocol), play the server's frames with the "
        "recorded timing (--speed) and, where the recording shows the client sending a "
        "message before the server answered, wait for it first. A client message the "
        "cassette does not expect closes that connection with 1008 and is reported on "
        "stderr. Runs until Ctrl-C (or after --once connection).",
    )
    replay.add_argument("file", metavar="FILE", help="the cassette file to serve")
    replay.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    replay.add_argument(
        "--port", type=_port, default=0, metavar="P", help="port to listen on (default: any free)"
    )
    replay.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="1|max|X",
        help="1: recorded timing (default), max: as fast as possible, X: X times faster",
    )
    replay.add_argument(
        "--once",
        action="store_true",
        help="exit after the first client's session (status 1 if it deviated)",
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


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0, got 0")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


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
