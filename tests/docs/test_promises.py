"""Promises the documentation makes that the code once broke (issue 14, part 3).

Each test states a documented behaviour that once failed. (Held delivery until the
``on_open`` hooks finished and blocking facade calls from handlers have their regression
tests in tests/integration/test_engine_promises.py.)
"""

from __future__ import annotations

import jetsocket
from jetsocket.schema import Client, Message

FAST = jetsocket.BackoffConfig(base=0.01, cap=0.05, seed=1)


class Tick(Message):
    price: float


class Venue(Client[Tick]):
    uri = "wss://stream.example.com/ws"


def test_uri_given_to_a_client_is_its_uri() -> None:
    venue = Venue(uri="ws://127.0.0.1:8765/ws")
    assert venue.uri == "ws://127.0.0.1:8765/ws"
