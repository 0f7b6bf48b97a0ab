"""Typed messages over a real connection: the compiled scanner (decoding as it parses) and
the pure-Python reader deliver the same values, failures and counts.

The server mixes what the scanner decodes (plain text and binary frames) with what only the
Python loop handles (fragmented and compressed messages, pings in between) and with
payloads the decoder rejects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import msgspec
import pytest
from tests.conftest import ws_server
from websockets.asyncio.server import ServerConnection

import jetsocket


class Tick(msgspec.Struct):
    s: str
    p: float


def tick(i: int) -> str:
    return json.dumps({"s": f"S{i}", "p": i + 0.5})


async def handler(ws: ServerConnection) -> None:
    await ws.send(tick(0))
    await ws.send(tick(1).encode())  # binary
    await ws.send('{"s": "bad", "p": "x"}')  # rejected by the decoder

    async def parts() -> AsyncIterator[str]:
        text = tick(2)
        yield text[:5]
        yield text[5:]

    await ws.send(parts())  # fragmented: the Python loop
    await ws.ping(b"between")
    await ws.send("x" * 3000)  # large, compressible: compressed when negotiated; rejected
    await ws.send(tick(3))
    await ws.close()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("strict", [True, False])
async def test_both_reader_paths_deliver_the_same(
    reader_path: str, strict: bool, compress: bool
) -> None:
    got: list[object] = []
    async with ws_server(handler) as uri:
        ws = jetsocket.WebSocket(
            uri, message_type=Tick, strict=strict, compress=compress, reconnect=False
        )
        async with ws:
            it = aiter(ws)
            while True:
                try:
                    got.append(await anext(it))
                except StopAsyncIteration:
                    break
                except jetsocket.MessageDecodeError as exc:
                    got.append(("failure", exc.payload[:10]))
                    it = aiter(ws)  # a raised step ends an iterator: continue with a new one
        stats = ws.stats()
    ticks = [Tick(f"S{i}", i + 0.5) for i in range(4)]
    failures = [("failure", '{"s": "bad'), ("failure", "x" * 10)] if strict else []
    want = [*ticks[:2], *failures[:1], ticks[2], *failures[1:], ticks[3]]
    assert got == want
    assert (stats.messages_received, stats.validation_errors) == (6, 2)
