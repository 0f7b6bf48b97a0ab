"""Deterministic market model and wire encoding of the simulator's feed messages.

Prices and quantities are kept as integers (price in ticks, quantity in lots) so that the
random walk is exact and the decimal strings on the wire are formatted without float noise.
Every event of a symbol (trade, candle update or book update) is preceded by one market
trade, which moves the price; the random generator is seeded from ``(seed, symbol)`` only,
so a given sequence of events always produces the same prices, quantities and ids.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeAlias

import msgspec

__all__ = ["BookModel", "Market", "StreamKind", "StreamSpec", "parse_stream"]

# Price of the well-known symbols; others get a deterministic price derived from the name.
_DEFAULT_PRICES = {
    "BTCUSDT": "43250.00",
    "ETHUSDT": "2250.00",
    "BNBUSDT": "310.00",
    "SOLUSDT": "95.00",
    "XRPUSDT": "0.6000",
    "DOGEUSDT": "0.08000",
}
_QTY_DECIMALS = 4
_QTY_SCALE = 10**_QTY_DECIMALS
_INV_MEAN_LOTS = 1.0 / 1500.0  # mean trade size 0.15
# Largest relative price step of one trade (0.025 %; standard deviation about 0.01 %).
_STEP = 2.5e-4
_INTERVAL_RE = re.compile(r"(\d+)([smhdw])")
_BOOK_DEPTH = 20  # levels per side of the simulated order book
_BOOK_QTY_MEAN = 1.0 / 8000.0  # mean level size 0.8
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}

_encode = msgspec.json.Encoder().encode


# The kind of message a stream carries (the stream name's suffix).
StreamKind: TypeAlias = Literal["trade", "kline", "bookTicker", "book"]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A parsed stream name such as ``btcusdt@kline_1m``."""

    name: str
    symbol: str
    kind: StreamKind
    interval: str = ""
    interval_ms: int = 0


def parse_stream(name: object, symbols: frozenset[str]) -> StreamSpec | str:
    """Parse a stream name; return the spec, or an error message if it is not served.

    Symbols are matched case-insensitively (Binance uses lower case in stream names).
    """
    if not isinstance(name, str):
        return f"stream names must be strings, got {name!r}"
    symbol, sep, kind = name.partition("@")
    symbol = symbol.upper()
    if not sep or symbol not in symbols:
        return f"unknown stream {name!r} (symbols: {', '.join(sorted(symbols))})"
    if kind == "trade":
        return StreamSpec(name, symbol, "trade")
    if kind == "bookTicker":
        return StreamSpec(name, symbol, "bookTicker")
    if kind == "book":
        return StreamSpec(name, symbol, "book")
    if kind.startswith("kline_"):
        interval = kind[len("kline_") :]
        match = _INTERVAL_RE.fullmatch(interval)
        if match and int(match[1]) > 0:
            interval_ms = int(match[1]) * _UNIT_MS[match[2]]
            return StreamSpec(name, symbol, "kline", interval, interval_ms)
    return f"unknown stream {name!r} (kinds: trade, kline_<n><s|m|h|d|w>, bookTicker, book)"


def default_price(symbol: str) -> str:
    """The start price of ``symbol`` when none is given."""
    if symbol in _DEFAULT_PRICES:
        return _DEFAULT_PRICES[symbol]
    # crc32 (not hash()) so the price is the same in every process.
    return f"{10 + zlib.crc32(symbol.encode()) % 990}.00"


def _fmt(value: int, decimals: int) -> str:
    """Format the scaled integer ``value`` (>= 0) as a decimal string, ``decimals`` > 0."""
    whole, frac = divmod(value, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


@dataclass(slots=True)
class _Candle:
    start: int
    open: int
    high: int
    low: int
    close: int
    first_id: int
    last_id: int
    trades: int = 0
    volume: int = 0  # lots
    quote_volume: int = 0  # ticks * lots


class Market:
    """The simulated order flow of one symbol on one connection.

    Args:
        symbol: Upper-case symbol (letters, digits, ``-``, ``_``: embedded in JSON as is).
        start_price: Start price as a decimal string; its decimals (at least 2) are the
            price precision.
        seed: Seed; with the symbol it determines every price, quantity and id.

    Attributes:
        decimals: Price decimals.
        price: Last trade price in ticks (``10**-decimals``).
        qty: Last trade quantity in lots (``10**-4``).
        trade_id: Id of the last trade.
        buyer_is_maker: Side of the last trade.
    """

    __slots__ = (
        "_book",
        "_book_tpl",
        "_candles",
        "_pscale",
        "_rng",
        "_trade_tpl",
        "buyer_is_maker",
        "decimals",
        "price",
        "qty",
        "symbol",
        "trade_id",
    )

    def __init__(self, symbol: str, start_price: str, seed: int) -> None:
        self.symbol = symbol
        exponent = Decimal(start_price).as_tuple().exponent
        # At least 2 decimals: every price on the wire then has the form "123.45".
        self.decimals = max(2, -exponent) if isinstance(exponent, int) else 2
        self.price = max(1, int(Decimal(start_price).scaleb(self.decimals)))
        # Seeding with a str is stable across processes and Python versions (it is
        # hashed with SHA-512), unlike hash() of a tuple.
        self._rng = random.Random(f"{seed}:{symbol}")
        self.trade_id = 1_000_000 + self._rng.randrange(1_000_000)
        self.qty = 0
        self.buyer_is_maker = False
        self._candles: dict[int, _Candle] = {}
        self._book: BookModel | None = None
        # The hot path fills %-templates (symbols are validated, safe to embed in JSON):
        # several times faster than building a dict for the JSON encoder.
        px = f"%d.%0{self.decimals}d"
        qx = f"%d.%0{_QTY_DECIMALS}d"
        self._pscale = 10**self.decimals
        self._trade_tpl = (
            f'{{"e":"trade","E":%d,"s":"{symbol}","t":%d,"p":"{px}","q":"{qx}","T":%d,'
            f'"m":%s,"seq":%d}}'
        )
        self._book_tpl = (
            f'{{"e":"bookTicker","u":%d,"E":%d,"s":"{symbol}","b":"{px}","B":"{qx}",'
            f'"a":"{px}","A":"{qx}","seq":%d}}'
        )

    @property
    def book(self) -> BookModel:
        """The market's order book (created on first use, from the random generator)."""
        if self._book is None:
            self._book = BookModel(self)
        return self._book

    def trade(self) -> None:
        """Advance the market by one trade: move the price, draw quantity and side."""
        rng = self._rng
        # Triangular step (sum of two uniforms): cheaper than gauss, same use here.
        step = round((rng.random() + rng.random() - 1.0) * self.price * _STEP)
        self.price = max(1, self.price + step)
        # Exponential sizes: mostly small trades, occasionally a large one.
        self.qty = 1 + int(rng.expovariate(_INV_MEAN_LOTS))
        self.buyer_is_maker = rng.random() < 0.5
        self.trade_id += 1
        for candle in self._candles.values():
            candle.high = max(candle.high, self.price)
            candle.low = min(candle.low, self.price)
            candle.close = self.price
            candle.last_id = self.trade_id
            candle.trades += 1
            candle.volume += self.qty
            candle.quote_volume += self.price * self.qty

    def trade_message(self, seq: int, now_ms: int) -> bytes:
        """Encode a trade event for the last trade."""
        p_whole, p_frac = divmod(self.price, self._pscale)
        q_whole, q_frac = divmod(self.qty, _QTY_SCALE)
        maker = "true" if self.buyer_is_maker else "false"
        args = (now_ms, self.trade_id, p_whole, p_frac, q_whole, q_frac, now_ms, maker, seq)
        return (self._trade_tpl % args).encode()

    def book_message(self, seq: int, now_ms: int) -> bytes:
        """Encode a best bid/ask update around the last price."""
        rng = self._rng
        bid = max(1, self.price - rng.randrange(3))
        ask = bid + 1 + rng.randrange(3)
        bid_qty = 1 + int(rng.expovariate(1.0 / 5000.0))
        ask_qty = 1 + int(rng.expovariate(1.0 / 5000.0))
        scale = self._pscale
        args = (
            seq,
            now_ms,
            *divmod(bid, scale),
            *divmod(bid_qty, _QTY_SCALE),
            *divmod(ask, scale),
            *divmod(ask_qty, _QTY_SCALE),
            seq,
        )
        return (self._book_tpl % args).encode()

    def kline_message(self, spec: StreamSpec, seq: int, now_ms: int) -> bytes:
        """Encode the current candle of ``spec.interval``.

        Candle boundaries follow the wall clock. The first update after a boundary reports
        the finished candle with ``"x": true`` and opens the next one, as an exchange does.
        """
        width = spec.interval_ms
        start = now_ms - now_ms % width
        candle = self._candles.get(width)
        closed = False
        if candle is None:
            candle = self._open_candle(start)
            self._candles[width] = candle
            # The trade that preceded this event belongs to the new candle.
            self._count_last_trade(candle)
        elif candle.start != start:
            closed = True
            self._candles[width] = self._open_candle(start)
        bar: dict[str, Any] = {
            "t": candle.start,
            "T": candle.start + width - 1,
            "s": self.symbol,
            "i": spec.interval,
            "f": candle.first_id,
            "L": candle.last_id,
            "o": _fmt(candle.open, self.decimals),
            "c": _fmt(candle.close, self.decimals),
            "h": _fmt(candle.high, self.decimals),
            "l": _fmt(candle.low, self.decimals),
            "v": _fmt(candle.volume, _QTY_DECIMALS),
            "n": candle.trades,
            "x": closed,
            "q": _fmt(candle.quote_volume, self.decimals + _QTY_DECIMALS),
        }
        return _encode({"e": "kline", "E": now_ms, "s": self.symbol, "k": bar, "seq": seq})

    def _open_candle(self, start: int) -> _Candle:
        # One trade so far: it is the open, high, low and close, the first and last id.
        price, trade_id = self.price, self.trade_id
        return _Candle(start, price, price, price, price, trade_id, trade_id)

    def _count_last_trade(self, candle: _Candle) -> None:
        candle.trades = 1
        candle.volume = self.qty
        candle.quote_volume = self.price * self.qty


class BookModel:
    """The L2 order book of one :class:`Market`: ``depth`` levels a side around its price.

    Levels sit on a grid of :attr:`step` ticks, bids strictly below the last trade price
    and asks strictly above, so the book never crosses. Each :meth:`delta` (after the
    market's trade moved the price) removes the levels the price ran over, adds the ones
    it uncovered and changes the size of one or two others, like a venue's incremental
    depth stream; :attr:`version` counts the deltas (the ``"u"`` of the messages).

    Args:
        market: The market whose price (and random generator) the book follows.
        depth: Levels per side.
    """

    __slots__ = ("asks", "bids", "depth", "market", "step", "version")

    def __init__(self, market: Market, depth: int = _BOOK_DEPTH) -> None:
        self.market = market
        self.depth = depth
        # About 0.005 % of the price per level (at least a tick): a trade moves the price
        # by a level or two, so most deltas touch the top of the book.
        self.step = max(1, market.price // 20_000)
        self.version = 0
        self.bids: dict[int, int] = {}  # price in ticks -> quantity in lots
        self.asks: dict[int, int] = {}
        bids, asks = self._grid()
        rng = market._rng
        for px in bids:
            self.bids[px] = 1 + int(rng.expovariate(_BOOK_QTY_MEAN))
        for px in asks:
            self.asks[px] = 1 + int(rng.expovariate(_BOOK_QTY_MEAN))

    def _grid(self) -> tuple[list[int], list[int]]:
        price, step = self.market.price, self.step
        top_bid = (price - 1) // step * step
        bids = [px for k in range(self.depth) if (px := top_bid - k * step) > 0]
        top_ask = (price // step + 1) * step
        return bids, [top_ask + k * step for k in range(self.depth)]

    def delta(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Move the book to the market's price; return the changed ``(price, qty)`` levels.

        A quantity of 0 removes the level. Bids come best (highest) first, asks lowest first.
        """
        rng = self.market._rng
        grid_bids, grid_asks = self._grid()
        changes: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for side, grid, changed in (
            (self.bids, grid_bids, changes[0]),
            (self.asks, grid_asks, changes[1]),
        ):
            wanted = set(grid)
            for px in [px for px in side if px not in wanted]:
                del side[px]
                changed[px] = 0
            for px in grid:
                if px not in side:
                    side[px] = changed[px] = 1 + int(rng.expovariate(_BOOK_QTY_MEAN))
        # Resting orders come and go: one or two sizes change on every update.
        for _ in range(1 + rng.randrange(2)):
            index = rng.randrange(2) if self.bids else 1
            side, changed = (self.bids, changes[0]) if index == 0 else (self.asks, changes[1])
            px = rng.choice(list(side))
            side[px] = changed[px] = 1 + int(rng.expovariate(_BOOK_QTY_MEAN))
        self.version += 1
        return (
            sorted(changes[0].items(), reverse=True),
            sorted(changes[1].items()),
        )

    def levels(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The whole book: bids best first, asks best first."""
        return sorted(self.bids.items(), reverse=True), sorted(self.asks.items())

    def _encode_side(self, levels: list[tuple[int, int]]) -> list[list[str]]:
        decimals = self.market.decimals
        return [[_fmt(px, decimals), _fmt(qty, _QTY_DECIMALS)] for px, qty in levels]

    def checksum(self) -> int:
        """OKX's checksum of the book: a signed CRC32 of its best 25 levels a side.

        ``bid price:bid size:ask price:ask size`` level by level, best first, the prices
        and sizes as sent (OKX ``books`` channel, public docs); the remaining levels of the
        longer side follow alone. A client recomputes it after each message to check its
        book (``jetsocket.book.okx_checksum``).
        """
        bids, asks = self.levels()
        bid_texts = self._encode_side(bids[:25])
        ask_texts = self._encode_side(asks[:25])
        parts: list[str] = []
        common = min(len(bid_texts), len(ask_texts))
        for bid, ask in zip(bid_texts[:common], ask_texts[:common], strict=True):
            parts += bid
            parts += ask
        for rest in (bid_texts[common:], ask_texts[common:]):
            for level in rest:
                parts += level
        value = zlib.crc32(":".join(parts).encode())
        return value - (1 << 32) if value >= 1 << 31 else value

    def delta_message(self, seq: int, now_ms: int) -> bytes:
        """Apply a :meth:`delta` and encode it (``"e": "bookDelta"``)."""
        bids, asks = self.delta()
        return self._message("bookDelta", bids, asks, seq, now_ms)

    def snapshot_message(self, seq: int, now_ms: int) -> bytes:
        """Encode the whole book (``"e": "bookSnapshot"``) at its current :attr:`version`."""
        bids, asks = self.levels()
        return self._message("bookSnapshot", bids, asks, seq, now_ms)

    def _message(
        self,
        event: str,
        bids: list[tuple[int, int]],
        asks: list[tuple[int, int]],
        seq: int,
        now_ms: int,
    ) -> bytes:
        return _encode(
            {
                "e": event,
                "E": now_ms,
                "s": self.market.symbol,
                "u": self.version,
                "b": self._encode_side(bids),
                "a": self._encode_side(asks),
                "cs": self.checksum(),
                "seq": seq,
            }
        )
