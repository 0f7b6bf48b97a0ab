"""Resume a feed after a reset without losing a message: sequence replay end to end.

Runs offline in about two seconds::

    python examples/simulator_resume.py

What it shows:

* a venue with replay: ``ExchangeSimulator(sequence="stream")`` numbers each stream's
  messages once (``seq``), keeps producing while the client is away, and a SUBSCRIBE that
  carries ``"resume": {stream: last seq}`` gets everything after it from its history;
* jetsocket's replay mode ``sequence_id``: after a reconnect the client calls
  ``on_replay(last_seq)`` with the last sequence id it received, which sends that
  SUBSCRIBE; ``enable_dedup`` drops any message seen twice and the ``gap`` event would
  report a hole;
* the proof: halfway through, the simulator aborts the connection with messages in flight
  and goes on producing; the consumer still sees every ``seq``, in order, exactly once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import jetsocket
from jetsocket.testing import ExchangeSimulator, Response, Trade, decode_message

STREAM = "btcusdt@trade"
TARGET = 400  # trades to consume before exiting


def seq_of(msg: Any) -> int | None:
    """The sequence id of a feed message (replies to requests have none)."""
    return None if isinstance(msg, Response) else msg.seq


async def main() -> int:
    async with ExchangeSimulator(
        symbols=("BTCUSDT",), rate=200, seed=2024, sequence="stream"
    ) as sim:
        ws: jetsocket.WebSocket[Any]
        subscribed = False

        async def subscribe(ws: jetsocket.WebSocket[Any]) -> None:
            """The first connection subscribes; later ones are resumed by on_replay."""
            nonlocal subscribed
            if not subscribed:
                subscribed = True
                await ws.send({"method": "SUBSCRIBE", "params": [STREAM], "id": 1})

        async def resume(last_seq: int | None) -> None:
            """After a reconnect: continue after the last message received."""
            request: dict[str, Any] = {"method": "SUBSCRIBE", "params": [STREAM], "id": 2}
            if last_seq is not None:
                request["resume"] = {STREAM: last_seq}
            print(f"reconnected: resuming {STREAM} after seq {last_seq}")
            await ws.send(request)

        backoff = jetsocket.BackoffConfig(base=0.05, cap=0.5, seed=1)
        ws = jetsocket.WebSocket(
            sim.uri,
            deserializer=decode_message,
            backoff=backoff,
            replay=jetsocket.ReplayConfig(
                mode="sequence_id", sequence_extractor=seq_of, on_replay=resume
            ),
            buffer=jetsocket.BufferConfig(enable_dedup=True),
        )
        ws.add_on_open(subscribe)
        gaps: list[tuple[int, int]] = []
        ws.on("gap")(lambda event: gaps.append((event.first_missing, event.last_missing)))

        seqs: list[int] = []
        async with ws:
            while len(seqs) < TARGET:
                msg = await ws.recv(timeout=10.0)
                if isinstance(msg, Response):
                    print(f"reply: {msg}")
                    continue
                assert isinstance(msg, Trade)
                seqs.append(msg.seq)
                if len(seqs) == TARGET // 2:
                    await sim.drop_all()  # messages in flight are cut; the market goes on
                    print(f"simulator dropped the connection after seq {msg.seq}")
            stats = ws.stats()
        replayed = sim.stats().messages_replayed

    contiguous = seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    print(f"{len(seqs)} trades, seq {seqs[0]}..{seqs[-1]}: contiguous {contiguous}, gaps {gaps}")
    print(f"replayed by the simulator after the reconnect: {replayed}")
    print(f"client: {stats.reconnect_count} reconnect(s), {stats.duplicates} duplicate(s) dropped")
    return 0 if contiguous and not gaps and stats.reconnect_count == 1 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
