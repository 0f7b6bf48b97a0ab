"""``Message(lax=True)``: numbers and booleans sent as JSON strings (issue 14)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from jetsocket._engine._codec import build_decoder, is_lax
from jetsocket.schema import Message, field


class StrictTrade(Message, tag="trade", tag_field="e"):
    price: float = field(name="p")


class LaxTrade(Message, tag="trade", tag_field="e", lax=True):
    symbol: str = field(name="s")
    price: float = field(name="p")
    qty: int = field(name="q")
    maker: bool = field(name="m")


class LaxChild(LaxTrade, tag="child"):
    extra: float = 0.0


class Kline(Message, tag="kline", tag_field="e"):
    close: float = field(name="c")


class DecimalTrade(Message, tag="trade", tag_field="e"):
    price: Decimal = field(name="p")


BINANCE = b'{"e":"trade","s":"BTCUSDT","p":"43250.12","q":"3","m":"true"}'


def test_lax_message_accepts_numbers_and_booleans_as_strings() -> None:
    decode, _ = build_decoder(LaxTrade)
    trade = decode(BINANCE)
    assert trade == LaxTrade(symbol="BTCUSDT", price=43250.12, qty=3, maker=True)
    # Real JSON numbers still decode.
    assert decode(b'{"e":"trade","s":"X","p":1.5,"q":2,"m":false}').price == 1.5


def test_strict_is_the_default_and_refuses_a_string_number() -> None:
    decode, error = build_decoder(StrictTrade)
    assert error is msgspec.DecodeError
    with pytest.raises(msgspec.DecodeError, match=r"Expected `float`, got `str`"):
        decode(b'{"e":"trade","p":"1.5"}')


def test_lax_keeps_validating() -> None:
    decode, error = build_decoder(LaxTrade)
    with pytest.raises(error):
        decode(b'{"e":"trade","s":"X","p":"not a number","q":"1","m":"true"}')


def test_lax_is_inherited_and_keeps_msgspec_keywords() -> None:
    assert LaxChild.__jetsocket_lax__ is True
    assert StrictTrade.__jetsocket_lax__ is False
    assert LaxChild.__struct_config__.tag == "child"
    assert LaxTrade.__struct_config__.tag_field == "e"
    decode, _ = build_decoder(LaxChild)
    assert decode(b'{"e":"child","s":"X","p":"1","q":"1","m":"false","extra":"2.5"}').extra == 2.5


def test_a_union_is_lax_when_any_member_is() -> None:
    assert is_lax(LaxTrade | Kline)
    assert not is_lax(StrictTrade | Kline)
    decode, _ = build_decoder(LaxTrade | Kline)
    assert decode(b'{"e":"kline","c":"7.5"}') == Kline(close=7.5)


def test_decimal_accepts_strings_either_way() -> None:
    decode, _ = build_decoder(DecimalTrade)
    assert decode(b'{"e":"trade","p":"43250.12"}').price == Decimal("43250.12")


def test_lax_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="lax must be True or False"):

        class Bad(Message, lax="yes"):
            x: int


def test_unknown_class_keywords_are_still_refused() -> None:
    with pytest.raises(TypeError):

        class Bad(Message, nonsense=True):
            x: int
