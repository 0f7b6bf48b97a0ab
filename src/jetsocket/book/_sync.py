"""Keeping a book correct from a venue's stream: sequences, checksums, resync.

:class:`BookSync` is fed every message of a book subscription (``feed(msg)``, or
``await run(stream)``); a *parse* function turns a venue message into a
:class:`BookUpdate` (snapshot or deltas, with the venue's sequence numbers and checksum).
Two procedures (recipes) cover the venues:

``BookSync.stream_snapshot(...)`` - the venue sends a snapshot on the stream, then deltas
(Coinbase, Kraken v2, OKX). Deltas before the snapshot are dropped. On a gap or a failed
checksum the book goes *resyncing* and asks for a new snapshot: ``resubscribe`` (your
callable, or :meth:`BookSync.follow` which unsubscribes and subscribes a
:class:`~jetsocket.schema.Client` subscription itself); the next snapshot makes it live.

``BookSync.rest_snapshot(...)`` - the venue streams deltas only and the snapshot comes
from a REST call (Binance ``depth``): deltas are buffered, the snapshot fetched, stale
deltas dropped and the rest applied, following Binance's rules for ``U`` (first update
id), ``u`` (last) and, on futures, ``pu`` (the previous event's ``u``). A gap starts the
procedure again.

The state (:attr:`BookSync.state`) is ``"empty"`` (nothing yet), ``"syncing"`` (waiting for
the first snapshot), ``"live"`` (the book is correct) or ``"resyncing"`` (a gap or a bad
checksum was seen; the book is stale until the next snapshot). Every change of state,
gap and checksum failure is reported to ``on_event`` as a :class:`BookEvent`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, Literal

from jetsocket.book._book import OrderBook
from jetsocket.book._levels import N

if TYPE_CHECKING:
    from jetsocket.schema import Client, Subscription

__all__ = ["BookEvent", "BookState", "BookSync", "BookUpdate"]

_log = logging.getLogger("jetsocket.book")

BookState = Literal["empty", "syncing", "live", "resyncing"]
EventKind = Literal["live", "resyncing", "gap", "checksum_failed", "snapshot_failed"]

_MAX_BUFFER: Final = 100_000  # deltas held while a REST snapshot is fetched
_RETRY_FIRST: Final = 0.1
_RETRY_CAP: Final = 5.0


@dataclass(frozen=True, slots=True)
class BookUpdate(Generic[N]):
    """One venue message, normalised: a snapshot or deltas, and its bookkeeping.

    Attributes:
        bids: ``(price, qty)`` of the bids (deltas: new quantity, 0 removes the level).
        asks: Same for the asks.
        snapshot: True when this replaces the whole book.
        first: The first sequence this message covers (Binance ``U``), if the venue says.
        last: The last sequence it covers (Binance ``u``, OKX ``seqId``; a snapshot's
            ``lastUpdateId``), if the venue says.
        prev: The last sequence of the previous message, as the venue states it (Binance
            futures ``pu``, OKX ``prevSeqId``).
        checksum: The venue's checksum of the book after this message.
    """

    bids: Sequence[tuple[N, N]] = ()
    asks: Sequence[tuple[N, N]] = ()
    snapshot: bool = False
    first: int | None = None
    last: int | None = None
    prev: int | None = None
    checksum: int | None = None


@dataclass(frozen=True, slots=True)
class BookEvent:
    """Something happened to a book.

    Attributes:
        kind: ``"live"`` (synced), ``"resyncing"``, ``"gap"``, ``"checksum_failed"`` or
            ``"snapshot_failed"`` (a REST snapshot could not be fetched; retried).
        symbol: The book's instrument.
        state: The book's state after the event.
        reason: What was seen, for humans.
        sequence: The book's sequence at the time.
    """

    kind: EventKind
    symbol: str
    state: BookState
    reason: str
    sequence: int | None


Parse = Callable[[Any], "BookUpdate[N] | None"]
Checksum = Callable[[OrderBook[N]], int]
Snapshot = Callable[[], "BookUpdate[N] | Awaitable[BookUpdate[N]]"]
Resubscribe = Callable[[], "Awaitable[None] | None"]


class BookSync(Generic[N]):
    """Feeds an :class:`OrderBook` from a venue's messages and keeps it correct.

    Build it with a recipe: :meth:`stream_snapshot` or :meth:`rest_snapshot`.

    Attributes:
        book: The book kept.
        gaps: Sequence gaps seen.
        checksum_failures: Checksums that did not match.
        resyncs: Resyncs started.
        applied: Delta messages applied.
        dropped: Messages dropped (before a snapshot, stale, or while resyncing).
    """

    def __init__(
        self,
        book: OrderBook[N],
        parse: Parse[N],
        *,
        mode: Literal["stream", "rest"],
        checksum: Checksum[N] | None = None,
        resubscribe: Resubscribe | None = None,
        snapshot: Snapshot[N] | None = None,
        futures: bool = False,
        on_event: Callable[[BookEvent], None] | None = None,
    ) -> None:
        if mode == "rest" and snapshot is None:
            raise ValueError("a REST-snapshot book needs snapshot=")
        self.book: OrderBook[N] = book
        self._parse: Parse[N] = parse
        self._mode = mode
        self._checksum: Checksum[N] | None = checksum
        self._resubscribe = resubscribe
        self._snapshot: Snapshot[N] | None = snapshot
        self._futures = futures
        self._on_event = on_event
        self._state: BookState = "empty"
        self._buffer: deque[BookUpdate[N]] = deque(maxlen=_MAX_BUFFER)
        self._task: asyncio.Task[None] | None = None
        self._live = asyncio.Event()
        self._fetching = False  # a blocking snapshot fetch is running (no event loop)
        self._follow_stream: Any = None
        self.gaps = 0
        self.checksum_failures = 0
        self.resyncs = 0
        self.applied = 0
        self.dropped = 0

    # -- recipes --------------------------------------------------------------------------

    @classmethod
    def stream_snapshot(
        cls,
        book: OrderBook[N],
        parse: Parse[N],
        *,
        checksum: Checksum[N] | None = None,
        resubscribe: Resubscribe | None = None,
        on_event: Callable[[BookEvent], None] | None = None,
    ) -> BookSync[N]:
        """Snapshot on the stream, then deltas (Coinbase, Kraken v2, OKX).

        Args:
            book: The book to keep.
            parse: Venue message -> :class:`BookUpdate` (None: not a book message).
            checksum: Computes the venue's checksum of the book, compared with each
                message's (``kraken_checksum``, ``okx_checksum``).
            resubscribe: Asks the venue for a new snapshot (sync or async callable);
                :meth:`follow` provides it for a ``Client`` subscription.
            on_event: Called with every :class:`BookEvent`.
        """
        return cls(
            book,
            parse,
            mode="stream",
            checksum=checksum,
            resubscribe=resubscribe,
            on_event=on_event,
        )

    @classmethod
    def rest_snapshot(
        cls,
        book: OrderBook[N],
        parse: Parse[N],
        snapshot: Snapshot[N],
        *,
        futures: bool = False,
        checksum: Checksum[N] | None = None,
        on_event: Callable[[BookEvent], None] | None = None,
    ) -> BookSync[N]:
        """Buffer deltas, fetch a snapshot, drop stale deltas, apply (Binance ``depth``).

        Args:
            book: The book to keep.
            parse: Venue message -> :class:`BookUpdate` with ``first``/``last`` (``U``/``u``)
                and, on futures, ``prev`` (``pu``).
            snapshot: Fetches the REST snapshot (sync or async callable) as a
                :class:`BookUpdate` with ``last`` = ``lastUpdateId``.
            futures: Binance futures rules (``pu`` chains events; the first applied event
                has ``U <= lastUpdateId <= u``) instead of spot's (``U`` follows the last
                ``u``; the first applied event has ``U <= lastUpdateId + 1 <= u``).
            checksum: Optional checksum of the book, compared with each message's.
            on_event: Called with every :class:`BookEvent`.
        """
        return cls(
            book,
            parse,
            mode="rest",
            snapshot=snapshot,
            futures=futures,
            checksum=checksum,
            on_event=on_event,
        )

    # -- state ----------------------------------------------------------------------------

    @property
    def state(self) -> BookState:
        """``"empty"``, ``"syncing"``, ``"live"`` or ``"resyncing"``."""
        return self._state

    @property
    def is_live(self) -> bool:
        """True while the book is known to be correct."""
        return self._state == "live"

    async def wait_live(self, timeout: float | None = None) -> None:
        """Wait until the book is live.

        Raises:
            TimeoutError: Not live within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            await self._live.wait()

    def _set_state(self, state: BookState) -> None:
        self._state = state
        if state == "live":
            self._live.set()
        else:
            self._live.clear()

    def _emit(self, kind: EventKind, reason: str) -> None:
        book = self.book
        event = BookEvent(kind, book.symbol, self._state, reason, book.sequence)
        level = logging.INFO if kind == "live" else logging.WARNING
        _log.log(level, "book %s: %s: %s", book.symbol or "?", kind, reason)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a failing handler never breaks the book
                _log.exception("book %s: on_event handler failed", book.symbol or "?")

    # -- feeding --------------------------------------------------------------------------

    def feed(self, message: Any) -> None:
        """Process one venue message (not a book message: ignored)."""
        update = self._parse(message)
        if update is None:
            return
        if self._mode == "stream":
            self._feed_stream(update)
        else:
            self._feed_rest(update)

    async def run(self, source: AsyncIterable[Any]) -> None:
        """Feed every message of ``source`` (a stream, a WebSocket) until it ends."""
        async for message in source:
            self.feed(message)

    async def follow(self, client: Client[Any], subscription: Subscription[Any]) -> None:
        """Subscribe ``client`` to ``subscription`` and feed the book until the client closes.

        A resync unsubscribes and subscribes again (stream-snapshot venues send a fresh
        snapshot on subscribe); the book goes live again on that snapshot.
        """
        owns_resubscribe = self._resubscribe is None
        while True:
            stream = await client.subscribe(subscription)
            self._follow_stream = stream
            if owns_resubscribe:
                self._resubscribe = lambda: client.unsubscribe(subscription)
            resubscribing = False
            try:
                async for message in stream:
                    self.feed(message)
            except Exception:
                if self._state != "resyncing":
                    raise
                resubscribing = True
            else:
                resubscribing = self._state == "resyncing" and client.is_connected
            finally:
                self._follow_stream = None
            if not resubscribing:
                return

    # -- snapshot on the stream -------------------------------------------------------------

    def _feed_stream(self, update: BookUpdate[N]) -> None:
        book = self.book
        if update.snapshot:
            book.load(update.bids, update.asks, sequence=update.last)
            if not self._checksum_ok(update):
                return
            self._set_state("live")
            self._emit("live", "snapshot applied")
            return
        if self._state != "live":
            if self._state == "empty":
                self._set_state("syncing")
            self.dropped += 1  # deltas before the snapshot
            return
        gap = self._gap(update)
        if gap == "stale":
            self.dropped += 1
            return
        if gap:
            self._lost(gap)
            return
        book.update(update.bids, update.asks, sequence=update.last)
        self.applied += 1
        self._checksum_ok(update)

    def _gap(self, update: BookUpdate[N]) -> str:
        """Why ``update`` does not follow the book ("" when it does, "stale" if older)."""
        seq = self.book.sequence
        if seq is None:
            return ""
        if update.prev is not None:
            if update.prev != seq:
                if update.last is not None and update.last <= seq:
                    return "stale"
                return f"previous sequence {update.prev}, the book is at {seq}"
            return ""
        if update.last is not None and update.last <= seq:
            return "stale"
        if update.first is not None:
            if update.first > seq + 1:
                return f"first sequence {update.first} after {seq}: {update.first - seq - 1} lost"
            return ""
        if update.last is not None and update.last != seq + 1:
            return f"sequence {update.last} after {seq}: {update.last - seq - 1} lost"
        return ""

    def _checksum_ok(self, update: BookUpdate[N]) -> bool:
        if self._checksum is None or update.checksum is None:
            return True
        mine = self._checksum(self.book)
        if mine == update.checksum:
            return True
        self.checksum_failures += 1
        self._emit("checksum_failed", f"checksum {mine} computed, {update.checksum} sent")
        self._resync(f"checksum mismatch at sequence {self.book.sequence}")
        return False

    def _lost(self, reason: str) -> None:
        self.gaps += 1
        self._emit("gap", reason)
        self._resync(reason)

    def _resync(self, reason: str) -> None:
        if self._state == "resyncing":
            return
        self.resyncs += 1
        self._set_state("resyncing")
        self._emit("resyncing", reason)
        if self._mode == "rest":
            self._buffer.clear()
            self._start_snapshot()
            return
        action = self._resubscribe
        if action is None:
            return  # the next snapshot on the stream (e.g. after a reconnect) heals it
        result = action()
        if inspect.isawaitable(result):
            self._spawn(_await(result))

    # -- REST snapshot (Binance) -----------------------------------------------------------

    def _feed_rest(self, update: BookUpdate[N]) -> None:
        if update.snapshot:
            self._apply_snapshot(update)
            return
        if self._state != "live":
            self._buffer.append(update)
            if self._state == "empty":
                self._set_state("syncing")
                self._start_snapshot()
            return
        self._apply_delta(update)

    def _apply_delta(self, update: BookUpdate[N]) -> None:
        seq = self.book.sequence
        assert seq is not None
        last = update.last
        if self._futures:
            if update.prev is not None and update.prev != seq:
                if last is not None and last <= seq:
                    self.dropped += 1
                    return
                self._lost(f"pu {update.prev} is not the previous u {seq}")
                return
        else:
            if last is not None and last <= seq:
                self.dropped += 1  # older than the book: ignore (Binance spot rule)
                return
            if update.first is not None and update.first > seq + 1:
                self._lost(f"U {update.first} after u {seq}: {update.first - seq - 1} lost")
                return
        self.book.update(update.bids, update.asks, sequence=last)
        self.applied += 1
        self._checksum_ok(update)

    def _apply_snapshot(self, snap: BookUpdate[N]) -> bool:
        """Apply a REST snapshot and the buffered deltas; False to fetch another one."""
        lid = snap.last
        if lid is None:
            raise ValueError("a REST snapshot needs last= (lastUpdateId)")
        buffer = self._buffer
        if buffer and buffer[0].first is not None and lid + 1 < buffer[0].first:
            # Older than everything buffered: deltas in between are missing (spot rule:
            # "if lastUpdateId < U of the first event, get a new snapshot").
            return False
        # Drop what the snapshot already contains.
        while (
            buffer
            and buffer[0].last is not None
            and (buffer[0].last < lid if self._futures else buffer[0].last <= lid)
        ):
            buffer.popleft()
            self.dropped += 1
        if buffer:
            first = buffer[0]
            target = lid if self._futures else lid + 1
            if (
                first.first is not None
                and first.last is not None
                and not (first.first <= target <= first.last)
            ):
                return False
        self.book.load(snap.bids, snap.asks, sequence=lid)
        self._set_state("live")
        pending = list(buffer)
        buffer.clear()
        if self._futures and pending:
            # The first event is accepted on U/u alone; later ones chain with pu.
            head = pending.pop(0)
            self.book.update(head.bids, head.asks, sequence=head.last)
            self.applied += 1
        for update in pending:
            self._apply_delta(update)
            if self._state != "live":
                return True  # a gap inside the buffer: a new snapshot is on its way
        if self._state == "live":
            self._emit("live", f"snapshot {lid} applied with {len(pending)} buffered deltas")
        return True

    def _start_snapshot(self) -> None:
        if self._fetching or (self._task is not None and not self._task.done()):
            return  # the fetch in progress starts again if the book is not live after it
        fetch = self._snapshot
        assert fetch is not None
        if _has_loop():
            self._task = self._spawn(self._fetch_loop())
            return
        # A blocking program (sync facade): fetch now, in this thread.
        self._fetching = True
        try:
            for _ in range(10):
                result = fetch()
                if inspect.isawaitable(result):
                    raise TypeError("an async snapshot callable needs a running event loop")
                if self._apply_snapshot(result) and self._state == "live":
                    return
            self._emit("snapshot_failed", "10 snapshots in a row did not meet the stream")
        finally:
            self._fetching = False

    async def _fetch_loop(self) -> None:
        fetch = self._snapshot
        assert fetch is not None
        delay = _RETRY_FIRST
        while self._state != "live":
            try:
                result = fetch()
                snap = await result if inspect.isawaitable(result) else result
            except Exception as exc:
                self._emit("snapshot_failed", f"{type(exc).__name__}: {exc}")
            else:
                if not self._apply_snapshot(snap):
                    self._emit("snapshot_failed", f"snapshot {snap.last} does not meet the stream")
                elif self._state == "live":
                    return
                # else: a gap inside the buffered deltas; fetch again
            await asyncio.sleep(delay)  # retry pacing, not synchronisation
            delay = min(delay * 2, _RETRY_CAP)

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(_report)
        return task

    def close(self) -> None:
        """Stop a snapshot fetch in progress."""
        if self._task is not None:
            self._task.cancel()

    def __repr__(self) -> str:
        return (
            f"<BookSync {self.book.symbol or '?'} {self._mode}: {self._state}, "
            f"applied {self.applied}, gaps {self.gaps}, checksum failures "
            f"{self.checksum_failures}, resyncs {self.resyncs}>"
        )


async def _await(result: Awaitable[None]) -> None:
    await result


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("book resync failed", exc_info=task.exception())


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
