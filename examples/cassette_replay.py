"""Record a session once, then replay it offline: cassettes for WebSocket tests.

Runs offline in about a second::

    python examples/cassette_replay.py

What it shows:

* recording: a ``RecordingProxy`` sits between the client and the "real venue" (here the
  embedded exchange simulator) and writes every frame, both ways, to a cassette file;
  the API key the client sends never reaches the file;
* replaying: once the venue is gone, a ``ReplayServer`` plays the cassette to the same
  client code, which receives exactly the same messages;
* strictness: a client that sends something the cassette does not expect is refused
  (close code 1008) and the deviation is reported.

The same from the command line::

    jetsocket record wss://venue/ws -o session.jsonl --send '{"op": "subscribe"}' --count 20
    jetsocket replay session.jsonl --speed max
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import jetsocket
from jetsocket.testing import Cassette, ExchangeSimulator, RecordingProxy, ReplayServer

API_KEY = "my-secret-api-key-123"
COUNT = 20


async def client(uri: str, symbol: str = "btcusdt") -> list[str]:
    """The code under test: subscribe, then read COUNT messages (raw text)."""
    messages: list[str] = []
    async with jetsocket.WebSocket(uri, raw=True, reconnect=False) as ws:
        request = f'{{"method":"SUBSCRIBE","params":["{symbol}@trade"],"id":1,"key":"{API_KEY}"}}'
        await ws.send_raw(request)
        for _ in range(COUNT + 1):  # the ack, then the trades
            message = await ws.recv(timeout=10)
            messages.append(message if isinstance(message, str) else message.decode())
    return messages


async def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "btc_trades.jsonl"
        # 1. Record against the venue (the simulator stands in for it).
        async with (
            ExchangeSimulator(symbols=("BTCUSDT",), rate=200, seed=7) as venue,
            RecordingProxy(venue.uri, path, secrets=[API_KEY]) as proxy,
        ):
            recorded = await client(proxy.uri)
        cassette = Cassette.load(path)
        session = cassette.sessions[0]
        print(f"recorded {len(session.frames)} frames from {cassette.url}, ended {session.end}")
        print(f"first server message: {recorded[0]}")
        print(f"API key written to the cassette: {API_KEY in path.read_text()}")

        # 2. The venue is gone: replay the cassette to the same code, as fast as possible.
        async with ReplayServer(path, speed="max") as server:
            replayed = await client(server.uri)
            print(f"replayed {len(replayed)} messages offline, identical: {replayed == recorded}")

            # 3. A client that asks for something else is refused, and the server says why.
            try:
                await client(server.uri, symbol="ethusdt")
            except jetsocket.ConnectionClosedError as exc:
                print(f"deviating client refused: code {exc.code}")
            print(f"mismatch reported: {server.mismatches[0].splitlines()[0]}")
        return 0 if replayed == recorded and len(server.mismatches) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
