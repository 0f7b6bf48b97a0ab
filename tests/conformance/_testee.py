"""Echo clients ("testees") that the conformance runner drives through the Autobahn cases.

A testee is an async function ``echo(uri)``: it opens one WebSocket connection to ``uri``,
sends every message it receives back with the same type (text stays text, binary stays
binary) and returns when the server ends the connection. It must not decide anything about
the verdict: the fuzzing server judges the bytes on the wire.

Errors that a conforming client is *expected* to raise when the server misbehaves on
purpose (a protocol error, an abnormal close) are listed in ``Testee.expected_errors``; any
other exception escaping the echo loop is a crash of the client and fails the run.

``jetsocket`` is the client under test. The ``websockets`` testees are references: they
validate the harness itself and document what a mature client scores.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

# Case 9.1.6 / 9.2.6 send a 16 MiB message and 9.x echoes it back; 12.x/13.x stay far
# below. 32 MiB leaves room without making "unbounded" the configuration under test.
MAX_MESSAGE_SIZE = 32 * 1024 * 1024

Echo = Callable[[str], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Testee:
    """A client under test.

    Attributes:
        name: Agent name reported to the fuzzing server (appears in the report).
        echo: ``echo(uri)`` runs one case: echo every message until the server closes.
        expected_errors: Exception types a conforming client raises when the server
            violates the protocol on purpose; anything else is reported as a crash.
    """

    name: str
    echo: Echo
    expected_errors: tuple[type[BaseException], ...]


async def jetsocket_echo(uri: str) -> None:
    """Echo with jetsocket's raw client (no decoding, no reconnect, deflate offered)."""
    # Imported here so that the harness (and the websockets reference run) still works
    # while jetsocket's engine is being written or is broken.
    import jetsocket  # noqa: PLC0415

    ws = jetsocket.WebSocket(
        uri,
        raw=True,
        reconnect=False,
        max_message_size=MAX_MESSAGE_SIZE,
        compress=True,
        # Compress every echo, however small. Sending small messages uncompressed (the
        # default threshold, 128 bytes) is allowed by RFC 7692 section 6, but kosoku hands
        # an uncompressed message to the 12.x/13.x case code as ``str``, whose
        # ``hashlib.sha1().update(msg)`` then raises: verdict ERROR for the 16- and 64-byte
        # rows (12.*.1, 12.*.2, 13.*.1, 13.*.2). A kosoku bug, not a client one.
        compression_threshold=0,
    )
    async with ws:
        async for msg in ws:
            await ws.send_raw(msg, binary=isinstance(msg, bytes))


async def _websockets_echo(uri: str, *, client_no_context_takeover: bool) -> None:
    # websockets' default offer is ``permessage-deflate; client_max_window_bits`` (memLevel
    # 5); the variant adds ``client_no_context_takeover`` (RFC 7692 section 7.1.1.1), the
    # hint the 13.2/13.5/13.6 server policies require before they accept the offer.
    deflate = ClientPerMessageDeflateFactory(
        client_no_context_takeover=client_no_context_takeover,
        compress_settings={"memLevel": 5},
    )
    async with ws_connect(
        uri,
        max_size=MAX_MESSAGE_SIZE,
        extensions=[deflate],
        compression=None,
        # The fuzzing server times every case itself; websockets' own keepalive pings
        # would add unexpected pongs/pings to what the cases compare.
        ping_interval=None,
        open_timeout=10,
        close_timeout=10,
    ) as ws:
        async for msg in ws:
            await ws.send(msg)


async def websockets_echo(uri: str) -> None:
    """Echo with websockets' asyncio client and its default permessage-deflate offer."""
    await _websockets_echo(uri, client_no_context_takeover=False)


async def websockets_nct_echo(uri: str) -> None:
    """Echo with websockets' client, also offering ``client_no_context_takeover``."""
    await _websockets_echo(uri, client_no_context_takeover=True)


def _jetsocket_errors() -> tuple[type[BaseException], ...]:
    import jetsocket  # noqa: PLC0415

    return (jetsocket.JetSocketError,)


_WEBSOCKETS_ERRORS: tuple[type[BaseException], ...] = (
    websockets.exceptions.WebSocketException,
    OSError,
)


def get_testee(name: str) -> Testee:
    """Return the testee called ``name`` (``jetsocket``, ``websockets``, ``websockets-nct``).

    Raises:
        KeyError: If ``name`` is not a known testee.
        ImportError: If the testee's library cannot be imported.
    """
    if name == "jetsocket":
        return Testee("jetsocket", jetsocket_echo, _jetsocket_errors())
    if name == "websockets":
        return Testee("websockets", websockets_echo, _WEBSOCKETS_ERRORS)
    if name == "websockets-nct":
        return Testee("websockets-nct", websockets_nct_echo, _WEBSOCKETS_ERRORS)
    raise KeyError(f"unknown testee {name!r}; choose from {', '.join(TESTEE_NAMES)}")


TESTEE_NAMES = ("jetsocket", "websockets", "websockets-nct")
