"""L2 order books that stay correct: sorted levels, venue procedures, checksums.

:class:`OrderBook` holds the levels (O(log n) per change; best bid/ask, spread, depth to
N, immutable :class:`BookView` copies). :class:`BookSync` feeds it from a venue's stream
and keeps it correct: it checks the venue's sequences and checksums and, on a gap or a
mismatch, reports a ``"resyncing"`` state and event and fetches a new snapshot (REST) or
asks for one (re-subscribe). The venues' procedures are recipes
(:meth:`BookSync.stream_snapshot` for Coinbase, Kraken v2 and OKX;
:meth:`BookSync.rest_snapshot` for Binance), their messages are parsed by the
``parse_*`` functions, and their checksums computed by :func:`kraken_checksum` and
:func:`okx_checksum`::

    from decimal import Decimal
    from jetsocket.book import BookSync, OrderBook, okx_checksum, parse_okx_books

    book: OrderBook[Decimal] = OrderBook("BTC-USDT")
    sync = BookSync.stream_snapshot(book, parse_okx_books, checksum=okx_checksum)
    await sync.follow(client, OkxBooks(inst_id="BTC-USDT"))  # re-subscribes on a gap

Why a module of its own rather than part of :mod:`jetsocket.schema`: a book is an
application data structure with a synchronisation procedure, not a declaration of what
flows on the wire. It works with any source of messages (a ``Client`` stream, a plain
``WebSocket``, a replayed cassette, a file) and with the blocking API alike.
"""

from jetsocket.book._book import BookView, OrderBook
from jetsocket.book._checksum import kraken_checksum, okx_checksum
from jetsocket.book._levels import BookSide, Level
from jetsocket.book._sync import BookEvent, BookState, BookSync, BookUpdate
from jetsocket.book._venues import (
    binance_rest_snapshot,
    parse_binance_depth,
    parse_coinbase_level2,
    parse_kraken_book,
    parse_okx_books,
)

__all__ = [
    "BookEvent",
    "BookSide",
    "BookState",
    "BookSync",
    "BookUpdate",
    "BookView",
    "Level",
    "OrderBook",
    "binance_rest_snapshot",
    "kraken_checksum",
    "okx_checksum",
    "parse_binance_depth",
    "parse_coinbase_level2",
    "parse_kraken_book",
    "parse_okx_books",
]
