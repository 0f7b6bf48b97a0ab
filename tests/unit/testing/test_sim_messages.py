"""Unit tests of the simulator's typed messages and decode_message()."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from jetsocket.testing import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    Kline,
    Response,
    ResponseError,
    Trade,
    decode_message,
)

TRADE = (
    b'{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":12345,"p":"43250.12",'
    b'"q":"0.0015","T":1700000000120,"m":true,"seq":7}'
)
KLINE = (
    b'{"e":"kline","E":1,"s":"BTCUSDT","seq":2,"k":{"t":0,"T":59999,"s":"BTCUSDT","i":"1m",'
    b'"f":1,"L":5,"o":"1.00","c":"2.00","h":"2.50","l":"0.50","v":"3.0000","n":5,"x":false,'
    b'"q":"4.000000"}}'
)
BOOK = (
    b'{"e":"bookTicker","u":3,"E":1,"s":"ETHUSDT","b":"2249.99","B":"1.5000",'
    b'"a":"2250.01","A":"0.2500","seq":3}'
)


def test_decode_trade() -> None:
    msg = decode_message(TRADE)
    assert msg == Trade(
        event_time=1700000000123,
        symbol="BTCUSDT",
        trade_id=12345,
        price=Decimal("43250.12"),
        qty=Decimal("0.0015"),
        trade_time=1700000000120,
        buyer_is_maker=True,
        seq=7,
    )


def test_decode_kline_and_book() -> None:
    kline = decode_message(KLINE)
    assert isinstance(kline, Kline)
    assert kline.bar.high == Decimal("2.50")
    assert kline.bar.trades == 5
    book = decode_message(BOOK.decode())  # str is accepted too
    assert isinstance(book, BookTicker)
    assert book.ask - book.bid == Decimal("0.02")


def test_decode_responses() -> None:
    assert decode_message(b'{"result":null,"id":1}') == Response(id=1)
    listed = decode_message(b'{"result":["btcusdt@trade"],"id":"a"}')
    assert listed == Response(id="a", result=["btcusdt@trade"])
    error = decode_message(b'{"error":{"code":2,"msg":"bad"},"id":null}')
    assert error == Response(id=None, error=ResponseError(code=2, msg="bad"))


@pytest.mark.parametrize(
    "payload",
    [
        b'{"e":"trade","s":"BTCUSDT"}',  # a broken feed message is not an empty reply
        b'{"e":"depth","s":"BTCUSDT"}',
        b'{"foo":1}',
        b"[1, 2]",
    ],
)
def test_decode_rejects(payload: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_message(payload)


def test_decode_rejects_non_json() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_message(b"not json")


def test_feed_messages_round_trip() -> None:
    for payload in (TRADE, KLINE, BOOK):
        msg = decode_message(payload)
        assert decode_message(msgspec.json.encode(msg)) == msg


def test_decode_order_book_messages() -> None:
    snapshot = decode_message(
        b'{"e":"bookSnapshot","E":5,"s":"BTCUSDT","u":41,"b":[["43249.68","0.3737"]],"cs":-5,'
        b'"a":[["43251.84","1.2802"],["43254.00","0.3568"]],"seq":41}'
    )
    assert snapshot == BookSnapshot(
        event_time=5,
        symbol="BTCUSDT",
        version=41,
        bids=((Decimal("43249.68"), Decimal("0.3737")),),
        asks=((Decimal("43251.84"), Decimal("1.2802")), (Decimal("43254.00"), Decimal("0.3568"))),
        checksum=-5,
        seq=41,
    )
    delta = decode_message(
        b'{"e":"bookDelta","E":6,"s":"BTCUSDT","u":42,"b":[["43249.68","0.0000"]],"a":[],"cs":7,"seq":42}'
    )
    assert isinstance(delta, BookDelta)
    assert delta.bids == ((Decimal("43249.68"), Decimal(0)),)
    assert delta.asks == ()
    assert delta.checksum == 7
    assert decode_message(msgspec.json.encode(delta)) == delta
    with pytest.raises(msgspec.ValidationError):
        decode_message(b'{"e":"bookDelta","E":6,"s":"X","u":1,"b":[["1"]],"a":[],"cs":0,"seq":1}')
