"""Unit tests of the simulator's market model and stream names (no sockets)."""

from __future__ import annotations

import zlib
from decimal import Decimal

import msgspec
import pytest

from jetsocket.testing import BookDelta, BookSnapshot, BookTicker, Kline, Trade, decode_message
from jetsocket.testing._market import (
    Market,
    StreamKind,
    StreamSpec,
    _fmt,
    default_price,
    parse_stream,
)

SYMBOLS = frozenset({"BTCUSDT", "ETHUSDT"})


@pytest.mark.parametrize(
    ("name", "kind", "interval", "interval_ms"),
    [
        ("btcusdt@trade", "trade", "", 0),
        ("BTCUSDT@trade", "trade", "", 0),
        ("ethusdt@bookTicker", "bookTicker", "", 0),
        ("btcusdt@kline_1m", "kline", "1m", 60_000),
        ("btcusdt@kline_1s", "kline", "1s", 1_000),
        ("btcusdt@kline_4h", "kline", "4h", 14_400_000),
        ("btcusdt@kline_1d", "kline", "1d", 86_400_000),
    ],
)
def test_parse_stream_accepts(name: str, kind: StreamKind, interval: str, interval_ms: int) -> None:
    spec = parse_stream(name, SYMBOLS)
    assert isinstance(spec, StreamSpec)
    assert spec.name == name
    assert spec.kind is kind
    assert spec.interval == interval
    assert spec.interval_ms == interval_ms
    assert spec.symbol in SYMBOLS


@pytest.mark.parametrize(
    "name",
    [
        "dogeusdt@trade",  # symbol not served
        "btcusdt",  # no kind
        "btcusdt@depth",  # kind not served
        "btcusdt@kline_",  # no interval
        "btcusdt@kline_0m",  # empty interval
        "btcusdt@kline_1y",  # unknown unit
        "btcusdt@booktickers",
        42,
        None,
    ],
)
def test_parse_stream_rejects(name: object) -> None:
    error = parse_stream(name, SYMBOLS)
    assert isinstance(error, str)
    assert error


def test_fmt() -> None:
    assert _fmt(4325012, 2) == "43250.12"
    assert _fmt(15, 4) == "0.0015"
    assert _fmt(0, 2) == "0.00"
    assert _fmt(10**20 + 1, 8) == "1000000000000.00000001"  # no float rounding


def test_default_price_is_stable() -> None:
    assert default_price("BTCUSDT") == "43250.00"
    assert default_price("ZZZUSDT") == default_price("ZZZUSDT")
    assert Decimal(default_price("ZZZUSDT")) >= 10


def _trades(seed: int, symbol: str = "BTCUSDT", n: int = 200) -> list[Trade]:
    market = Market(symbol, default_price(symbol), seed)
    out = []
    for seq in range(1, n + 1):
        market.trade()
        msg = decode_message(market.trade_message(seq, 1_700_000_000_000))
        assert isinstance(msg, Trade)
        out.append(msg)
    return out


def test_market_is_deterministic_per_seed_and_symbol() -> None:
    assert _trades(1) == _trades(1)
    assert [t.price for t in _trades(1)] != [t.price for t in _trades(2)]
    assert [t.price for t in _trades(1, "ETHUSDT")] != [t.price for t in _trades(1)]


def test_trades_are_plausible() -> None:
    trades = _trades(3, n=2000)
    ids = [t.trade_id for t in trades]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert [t.seq for t in trades] == list(range(1, 2001))
    for t in trades:
        assert t.price > 0
        assert t.qty > 0
        assert t.symbol == "BTCUSDT"
        assert t.price.as_tuple().exponent == -2
        assert t.qty.as_tuple().exponent == -4
    # A random walk of 0.01 % steps stays near its start over 2000 trades.
    assert Decimal("30000") < trades[-1].price < Decimal("60000")
    assert {t.buyer_is_maker for t in trades} == {True, False}


def test_price_precision_follows_start_price() -> None:
    market = Market("DOGEUSDT", "0.08000", 1)
    market.trade()
    msg = decode_message(market.trade_message(1, 0))
    assert isinstance(msg, Trade)
    assert msg.price.as_tuple().exponent == -5
    assert Decimal("0.07") < msg.price < Decimal("0.09")


def test_book_ticker_spread_is_positive() -> None:
    market = Market("ETHUSDT", "2250.00", 5)
    for seq in range(1, 500):
        market.trade()
        msg = decode_message(market.book_message(seq, 0))
        assert isinstance(msg, BookTicker)
        assert msg.ask > msg.bid > 0
        assert msg.update_id == msg.seq == seq
        assert msg.bid_qty > 0
        assert msg.ask_qty > 0


def test_kline_accumulates_and_closes_on_boundary() -> None:
    market = Market("BTCUSDT", "43250.00", 9)
    spec = parse_stream("btcusdt@kline_1m", SYMBOLS)
    assert isinstance(spec, StreamSpec)
    minute = 1_700_000_040_000  # a multiple of 60 000
    bars = []
    for i in range(10):
        market.trade()
        msg = decode_message(market.kline_message(spec, i + 1, minute + i * 1000))
        assert isinstance(msg, Kline)
        bars.append(msg.bar)
    last = bars[-1]
    assert last.start_time == minute
    assert last.close_time == minute + 59_999
    assert last.trades == 10
    assert not last.closed
    assert last.low <= last.open <= last.high
    assert last.low <= last.close <= last.high
    assert [b.volume for b in bars] == sorted(b.volume for b in bars)
    # The first update in the next minute reports the finished candle, closed.
    market.trade()
    msg = decode_message(market.kline_message(spec, 11, minute + 60_000))
    assert isinstance(msg, Kline)
    assert msg.bar.closed
    assert msg.bar.start_time == minute
    market.trade()
    msg = decode_message(market.kline_message(spec, 12, minute + 61_000))
    assert isinstance(msg, Kline)
    assert not msg.bar.closed
    assert msg.bar.start_time == minute + 60_000


def test_messages_are_valid_json() -> None:
    market = Market("BTCUSDT", "43250.00", 1)
    market.trade()
    for payload in (market.trade_message(1, 2), market.book_message(2, 3)):
        assert isinstance(msgspec.json.decode(payload), dict)


def test_parse_stream_book() -> None:
    spec = parse_stream("ETHUSDT@book", SYMBOLS)
    assert isinstance(spec, StreamSpec)
    assert spec.kind == "book"
    assert spec.symbol == "ETHUSDT"
    assert "book" in str(parse_stream("btcusdt@nope", SYMBOLS))


def test_book_model_deltas_rebuild_the_book() -> None:
    market = Market("BTCUSDT", "43250.00", 11)
    model = market.book
    start = decode_message(model.snapshot_message(0, 0))
    assert isinstance(start, BookSnapshot)
    assert start.version == 0
    bids, asks = dict(start.bids), dict(start.asks)
    for version in range(1, 301):
        market.trade()
        msg = decode_message(model.delta_message(version, 0))
        assert isinstance(msg, BookDelta)
        assert msg.version == version
        assert msg.bids or msg.asks
        for side, changes in ((bids, msg.bids), (asks, msg.asks)):
            for price, qty in changes:
                if qty == 0:
                    assert price in side  # only existing levels are removed
                    del side[price]
                else:
                    side[price] = qty
        assert msg.checksum == okx_style_checksum(bids, asks)
        # Never crossed, always 20 levels a side, around the last trade price.
        assert max(bids) < min(asks)
        assert len(bids) == len(asks) == 20
        price = Decimal(market.price).scaleb(-2)
        assert max(bids) < price < min(asks)
    final = decode_message(model.snapshot_message(300, 0))
    assert isinstance(final, BookSnapshot)
    assert final.version == 300
    assert dict(final.bids) == bids
    assert dict(final.asks) == asks
    assert list(final.bids) == sorted(final.bids, reverse=True)
    assert list(final.asks) == sorted(final.asks)


def test_book_model_is_deterministic() -> None:
    def run(seed: int) -> list[bytes]:
        market = Market("ETHUSDT", "2250.00", seed)
        out = [market.book.snapshot_message(0, 0)]
        for i in range(50):
            market.trade()
            out.append(market.book.delta_message(i + 1, 0))
        return out

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_book_model_small_prices() -> None:
    market = Market("DOGEUSDT", "0.08000", 1)
    assert market.book.step >= 1
    for i in range(200):
        market.trade()
        market.book.delta_message(i + 1, 0)
    bids, asks = market.book.levels()
    assert all(px > 0 for px, _ in bids)
    assert bids[0][0] < asks[0][0]


def okx_style_checksum(bids: dict[Decimal, Decimal], asks: dict[Decimal, Decimal]) -> int:
    """OKX's algorithm written again from its docs: signed CRC32 of bid:ask levels."""
    b = sorted(bids.items(), reverse=True)[:25]
    a = sorted(asks.items())[:25]
    parts: list[str] = []
    for i in range(max(len(b), len(a))):
        for side in (b, a):
            if i < len(side):
                parts += [str(side[i][0]), str(side[i][1])]
    value = zlib.crc32(":".join(parts).encode())
    return value - 2**32 if value >= 2**31 else value
