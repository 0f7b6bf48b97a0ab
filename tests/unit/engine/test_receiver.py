"""Receiver: a batch the frame scanner decoded gives what the map-decoded batch gives.

``process_decoded(messages, raw_at)`` must equal ``process(payloads)`` when ``messages`` is
``payloads`` decoded except at ``raw_at``: same values, failures, skips, fallbacks, counts
and ``error`` events, whichever payloads the scanner left undecoded.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest

import jetsocket
from jetsocket._engine._queue import Failure
from jetsocket._engine._receiver import Receiver, wire_decoder


class Tick(msgspec.Struct):
    s: str
    p: float


class WithRaw(msgspec.Struct):
    s: str
    extra: dict[str, msgspec.Raw]


PAYLOADS = [b'{"s":"A","p":1}', b"{broken", b'{"s":"B","p":2}', b'"ack"', b'{"s":"C","p":3}']


def receiver(strict: bool, fallback: bool) -> tuple[Receiver, list[object]]:
    ws: jetsocket.WebSocket[Tick] = jetsocket.WebSocket(
        "ws://127.0.0.1:9/x", message_type=Tick, strict=strict
    )
    errors: list[object] = []
    ws.on("error")(lambda event: errors.append(str(event.error)))
    rec = ws._receiver
    if fallback:
        rec.set_fallback(
            lambda payload, exc: ("fallback", payload) if payload == b'"ack"' else 1 / 0,
            (msgspec.DecodeError, msgspec.ValidationError),
        )
    return rec, errors


def shown(items: list[Any]) -> list[Any]:
    return [("failure", str(m.exc)) if isinstance(m, Failure) else m for m in items]


@pytest.mark.parametrize(("strict", "fallback"), list(itertools.product([True, False], repeat=2)))
def test_process_decoded_equals_process(strict: bool, fallback: bool) -> None:
    ref, ref_errors = receiver(strict, fallback)
    want = shown(ref.process(list(PAYLOADS)))
    wire = ref.wire_decode
    assert wire is not None
    decode, copy = wire
    assert not copy
    for size in range(len(PAYLOADS) + 1):
        for left in itertools.combinations(range(len(PAYLOADS)), size):
            rec, errors = receiver(strict, fallback)
            messages: list[Any] = []
            raw_at = set(left)
            for i, payload in enumerate(PAYLOADS):
                try:
                    messages.append(payload if i in raw_at else decode(memoryview(payload)))
                except msgspec.DecodeError:
                    messages.append(payload)  # the scanner leaves a rejected payload as is
                    raw_at.add(i)
            assert shown(rec.process_decoded(messages, sorted(raw_at))) == want
            assert (rec.received, rec.errors, rec.validation_errors) == (
                ref.received,
                ref.errors,
                ref.validation_errors,
            )
            assert errors == ref_errors


def test_wire_decoder_is_for_msgspec_decoders_only() -> None:
    tick = msgspec.json.Decoder(Tick).decode
    assert wire_decoder(tick) == (tick, False)
    raw = msgspec.json.Decoder(WithRaw).decode
    assert wire_decoder(raw) == (raw, True)  # a Raw would keep a view of the whole chunk
    union = msgspec.json.Decoder(list[Tick] | dict[str, WithRaw]).decode
    assert wire_decoder(union) == (union, True)
    assert wire_decoder(None) is None
    assert wire_decoder(lambda payload: payload) is None  # user code: not in the scanner
    assert wire_decoder(msgspec.msgpack.Decoder(Tick).decode) is None
    assert jetsocket.WebSocket("ws://127.0.0.1:9/x", raw=True)._receiver.wire_decode is None
