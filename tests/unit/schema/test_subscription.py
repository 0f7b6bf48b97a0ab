"""``Subscription[M]`` declarations, ``Ack`` and ``message_types_of`` (no sockets)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Generic, Optional, TypedDict, TypeVar, Union

import pytest

from jetsocket.schema import Ack, Message, Subscription, field
from jetsocket.schema._subscription import message_types_of

M = TypeVar("M")
ROOT = Path(__file__).resolve().parents[3]


class Trade(Message, tag="trade", tag_field="e"):
    symbol: str = field(name="s")
    price: float = field(name="p")


class Kline(Message, tag="kline", tag_field="e"):
    symbol: str = field(name="s")
    close: float = field(name="c")


class Ticker(Message, tag="ticker", tag_field="e"):
    symbol: str = field(name="s")


class Trades(Subscription[Trade]):
    symbol: str
    interval: str = "raw"

    @property
    def topic(self) -> str:
        return f"{self.symbol}@trade"

    def subscribe_message(self, request_id: int) -> object:
        return {"method": "SUBSCRIBE", "params": [self.topic], "id": request_id}

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        if isinstance(msg, dict) and msg.get("id") == request_id:
            return Ack(ok=msg.get("error") is None, reason=str(msg.get("error") or ""))
        return None


class Market(Subscription[Trade | Kline]):
    symbol: str

    def subscribe_message(self, request_id: int) -> object:
        return {"sub": self.symbol, "id": request_id}


class Bare(Subscription[Ticker]):
    pass


class Untyped(Subscription):  # type: ignore[type-arg]
    pass


class FastTrades(Trades):
    buffer = 10
    overflow_policy = "drop_newest"
    stale_after = 5.0
    on_stale = "reconnect"


# -- declaration ---------------------------------------------------------------------------


def test_subclass_is_frozen_keyword_only_dataclass() -> None:
    sub = Trades(symbol="btcusdt")
    assert dataclasses.is_dataclass(sub)
    assert sub.symbol == "btcusdt"
    assert sub.interval == "raw"
    assert repr(sub) == "Trades(symbol='btcusdt', interval='raw')"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sub.symbol = "ethusdt"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Trades("btcusdt")  # type: ignore[call-arg]


def test_equal_subscriptions_are_one_key() -> None:
    a, b = Trades(symbol="btcusdt"), Trades(symbol="btcusdt")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, Trades(symbol="ethusdt")}) == 2
    # Same fields, different class: different subscriptions.
    other: object = Market(symbol="btcusdt")
    assert other != Trades(symbol="btcusdt")


def test_class_settings_are_not_fields() -> None:
    sub = FastTrades(symbol="btcusdt")
    assert [f.name for f in dataclasses.fields(sub)] == ["symbol", "interval"]
    assert (sub.buffer, sub.overflow_policy, sub.stale_after, sub.on_stale) == (
        10,
        "drop_newest",
        5.0,
        "reconnect",
    )
    with pytest.raises(TypeError):
        FastTrades(symbol="btcusdt", buffer=5)  # type: ignore[call-arg]


def test_defaults_of_the_base_class() -> None:
    assert (Subscription.buffer, Subscription.overflow_policy) == (10_000, "drop_oldest")
    assert (Subscription.stale_after, Subscription.on_stale) == (None, "resubscribe")
    sub = Bare()
    assert sub.topic == "Bare"
    assert sub.unsubscribe_message(1) is None
    assert sub.matches(Ticker(symbol="X")) is True
    assert sub.sequence(Ticker(symbol="X")) is None
    assert sub.parse_ack({"id": 1}, 1) is None
    with pytest.raises(NotImplementedError, match="Bare must define subscribe_message"):
        sub.subscribe_message(1)


def test_declares_ack_only_when_parse_ack_is_overridden() -> None:
    assert Trades.declares_ack()
    assert FastTrades.declares_ack()  # inherited override
    assert not Market.declares_ack()
    assert not Bare.declares_ack()


def test_parse_ack_reads_the_answer_of_its_request() -> None:
    sub = Trades(symbol="btcusdt")
    assert sub.parse_ack({"result": None, "id": 3}, 3) == Ack(ok=True)
    assert sub.parse_ack({"result": None, "id": 4}, 3) is None
    assert sub.parse_ack({"error": "bad", "id": 3}, 3) == Ack(ok=False, reason="bad")
    assert sub.subscribe_message(7) == {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 7}


# -- message types: what the client routes to a subscription's stream ---------------------------


def test_message_types_follow_the_generic_argument() -> None:
    assert Trades._message_types == (Trade,)
    assert Market._message_types == (Trade, Kline)
    assert FastTrades._message_types == (Trade,)  # inherited from Trades
    assert Untyped._message_types == (object,)


def test_message_types_of() -> None:
    assert message_types_of(Trade) == (Trade,)
    assert message_types_of(Trade | Kline) == (Trade, Kline)
    assert message_types_of(Union[Trade, Kline]) == (Trade, Kline)  # noqa: UP007
    assert message_types_of(Trade | (Kline | Ticker)) == (Trade, Kline, Ticker)
    assert message_types_of(Optional[Trade]) == (Trade, type(None))  # noqa: UP045
    assert message_types_of(dict[str, Any]) == (dict,)
    assert message_types_of(list[Trade] | Kline) == (list, Kline)


def test_subscription_of_any_receives_everything() -> None:
    assert message_types_of(Any) == (object,)


class Quote(TypedDict):
    symbol: str
    bid: float


def test_typed_dict_subscription_routes_dicts() -> None:
    assert message_types_of(Quote) == (dict,)


class VenueTopic(Subscription[M], Generic[M]):
    """A venue's common base, generic in the message type."""

    name: str

    def subscribe_message(self, request_id: int) -> object:
        return {"op": "subscribe", "args": [self.name], "req_id": str(request_id)}


class VenueTrades(VenueTopic[Trade]):
    pass


def test_message_types_through_a_generic_base() -> None:
    assert VenueTrades._message_types == (Trade,)


# -- Ack -----------------------------------------------------------------------------------------


def test_ack() -> None:
    ack = Ack(ok=True)
    assert (ack.reason, ack.failed_topics) == ("", ())
    partial = Ack(ok=True, reason="1 refused", failed_topics=("tickers.X",))
    assert partial.failed_topics == ("tickers.X",)
    assert partial == Ack(True, "1 refused", ("tickers.X",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ack.ok = False  # type: ignore[misc]


# -- the field() helper under mypy -----------------------------------------------------------------


def test_renamed_fields_stay_required_for_mypy(tmp_path: Path) -> None:
    case = tmp_path / "case.py"
    case.write_text(
        textwrap.dedent(
            """
            from jetsocket.schema import Message, field

            class Trade(Message):
                symbol: str = field(name="s")
                price: float

            Trade(price=1.0)
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(case)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "[misc]" not in proc.stdout, proc.stdout
    assert 'Missing named argument "symbol"' in proc.stdout or "[call-arg]" in proc.stdout
