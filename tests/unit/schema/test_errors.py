"""Decode failures and venue errors reach whoever reads, in every ``unknown_messages`` mode."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import pytest

import jetsocket
from jetsocket._engine._queue import Failure
from jetsocket.schema import Client, Message, Stream, Subscription, Unmatched, field

URI = "ws://127.0.0.1:9/ws"  # never connected


class Match(Message, tag="match", tag_field="type"):
    product_id: str
    price: float = field(name="price")


class Venue(Client[Match]):
    uri = URI


class Matches(Subscription[Match]):
    def subscribe_message(self, request_id: int) -> object:
        return {}


MALFORMED = b'{"type": "match", "product_'
UNKNOWN = b'{"type": "ticker", "product_id": "BTC-USD"}'
INVALID = b'{"type": "match", "product_id": "BTC-USD", "price": "not a number"}'
VENUE_ERROR = b'{"type": "error", "message": "Failed to subscribe", "reason": "bad product"}'
GOOD = msgspec.json.encode({"type": "match", "product_id": "BTC-USD", "price": 1.5})
BATCH = [GOOD, MALFORMED, GOOD, UNKNOWN, INVALID, VENUE_ERROR, GOOD]


def run(
    policy: Literal["error", "ignore", "deliver"],
) -> tuple[Client[Any], Stream[Any], list[jetsocket.ErrorEvent]]:
    client = Venue(unknown_messages=policy)
    stream: Stream[Any] = Stream(Matches(), client.unsubscribe, client._block)
    client._streams[Matches()] = stream
    client._shards[0].subs.append(Matches())
    client._changed()
    errors: list[jetsocket.ErrorEvent] = []
    client.on("error")(errors.append)
    client.websocket._on_messages(list(BATCH))  # through the engine's receive path
    return client, stream, errors


def details(errors: list[jetsocket.ErrorEvent]) -> list[str]:
    out = []
    for event in errors:
        assert event.context == "decode"
        assert isinstance(event.error, jetsocket.MessageDecodeError)
        out.append(event.error.detail.split(":")[0])
    return out


def test_error_policy_reports_all_four_and_the_stream_flows() -> None:
    client, stream, errors = run("error")
    assert len(stream.queue.items) == 3  # the valid messages around the bad ones
    assert details(errors) == [
        "malformed JSON",
        "Invalid value 'ticker' - at `$.type`",
        "invalid type='match' message",
        "venue error",
    ]
    stats = client.stats()
    assert stats.validation_errors == 4
    assert stats.errors >= 4
    queued = list(client.websocket.queue.items)
    assert len(queued) == 4
    assert all(isinstance(item, Failure) for item in queued)


def test_ignore_policy_still_reports_and_counts_invalid_messages() -> None:
    client, stream, errors = run("ignore")
    assert len(stream.queue.items) == 3
    # An unknown type is what "ignore" declares as noise: counted, not an error.
    assert details(errors) == ["malformed JSON", "invalid type='match' message", "venue error"]
    assert client.stats().validation_errors == 3
    assert client.unmatched_count == 4
    assert len(client.websocket.queue) == 0


def test_deliver_policy_reports_and_delivers() -> None:
    client, stream, errors = run("deliver")
    assert len(stream.queue.items) == 3
    assert details(errors) == ["malformed JSON", "invalid type='match' message", "venue error"]
    delivered = list(client.websocket.queue.items)
    assert [type(m) for m in delivered] == [Unmatched] * 4
    assert delivered[0].valid_json is False
    assert delivered[0].data == MALFORMED.decode()


async def test_recv_raises_the_failure_in_position() -> None:
    client, _, _ = run("error")
    with pytest.raises(jetsocket.MessageDecodeError, match="malformed JSON"):
        await client.recv(timeout=1)
    with pytest.raises(jetsocket.MessageDecodeError, match="ticker"):
        await client.recv(timeout=1)


class CustomErrors(Venue):
    unknown_messages = "ignore"

    def venue_error(self, msg: Any) -> str | None:
        if isinstance(msg, dict) and msg.get("status") == "rejected":
            return str(msg.get("why"))
        return None


def test_venue_error_hook() -> None:
    client = CustomErrors()
    errors: list[jetsocket.ErrorEvent] = []
    client.on("error")(errors.append)
    client.websocket._on_messages([b'{"status": "rejected", "why": "rate limit"}', VENUE_ERROR])
    (event,) = errors  # the default shape is no longer an error for this client
    assert "rate limit" in str(event.error)


class BrokenHook(Venue):
    def venue_error(self, msg: Any) -> str | None:
        raise KeyError("bug")


def test_failing_venue_error_hook_is_reported() -> None:
    client = BrokenHook()
    errors: list[jetsocket.ErrorEvent] = []
    client.on("error")(errors.append)
    client.websocket._on_messages([UNKNOWN])
    assert [e.context for e in errors] == ["BrokenHook.venue_error", "decode"]


def test_default_venue_error_shapes() -> None:
    client = Venue()
    assert client.venue_error({"type": "error", "message": "m"}) == "m"
    assert client.venue_error({"event": "error", "msg": "okx", "code": "60012"}) == "okx"
    assert client.venue_error({"error": {"code": 2, "msg": "binance"}, "id": 1}) == "binance"
    assert client.venue_error({"error": "kraken"}) == "kraken"
    assert client.venue_error({"type": "match"}) is None
    assert client.venue_error({"error": None}) is None
    assert client.venue_error(["not", "a", "dict"]) is None
