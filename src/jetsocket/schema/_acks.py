"""Pending subscribe/unsubscribe requests and the matching of acks to them.

Every request that waits for an answer is a :class:`PendingRequest`: the subscriptions it
carries, each resolved separately (one request may be answered by several acks: OKX acks a
batched subscribe topic by topic, Kraken v2 symbol by symbol), and a future completed once
every subscription of the request has its answer.

An incoming message is offered to the pending requests whose answer is still awaited, oldest
first. How an ack finds its request depends on the subscription's ``ack`` mode:

* ``"id"``: the request whose id the answer carries (``Ack.request_id``);
* ``"topic"``: the waiting subscriptions whose ``topic`` the answer names (``Ack.topics``);
* ``"all"``: the same, with an answer listing every topic now subscribed (Coinbase);
* ``"order"``: the oldest waiting request;
* no mode, ``parse_ack`` overridden: the first request whose ``parse_ack`` recognises it.

An answer that names nothing (a venue error without id or topic) answers the oldest waiting
request of its mode. An ack that matches no waiting request (late, or a second
``subscriptions`` message that confirms what was already confirmed) is consumed all the
same, so it never surfaces as an unknown message.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

from jetsocket._exceptions import SubscriptionError
from jetsocket.schema._subscription import Ack, Subscription

__all__ = ["AckBook", "PendingRequest"]

#: Called when an ack assigns a channel id to a subscription.
OnChannel = Callable[[Subscription[Any], Hashable], None]
#: Reports an exception raised by user code (``read_ack``/``parse_ack``) with a context.
OnError = Callable[[BaseException, str], None]


class PendingRequest:
    """One sent request awaiting its answer(s)."""

    __slots__ = ("future", "mode", "request_id", "results", "subs", "unsubscribe", "waiting")

    def __init__(
        self,
        request_id: int,
        subs: list[Subscription[Any]],
        future: asyncio.Future[None],
        *,
        unsubscribe: bool = False,
    ) -> None:
        self.request_id = request_id
        self.subs = subs
        self.mode = type(subs[0]).ack
        self.unsubscribe = unsubscribe
        self.waiting: list[Subscription[Any]] = list(subs)
        self.results: dict[Subscription[Any], SubscriptionError | None] = {}
        self.future = future

    @property
    def live(self) -> bool:
        """Still awaiting an answer."""
        return bool(self.waiting) and not self.future.done()

    def resolve(self, sub: Subscription[Any], ack: Ack) -> None:
        """Record ``ack`` as the answer for ``sub``."""
        if sub not in self.waiting:
            return
        self.waiting.remove(sub)
        ok = ack.ok and sub.topic not in ack.failed_topics
        failed = ack.failed_topics if ack.failed_topics else ((sub.topic,) if not ok else ())
        self.results[sub] = None if ok else SubscriptionError(sub, ack.reason or "refused", failed)
        if not self.waiting and not self.future.done():
            self.future.set_result(None)

    def errors(self, missing: str) -> list[SubscriptionError]:
        """The failures of this request (``missing`` for the subscriptions never answered)."""
        out = [e for s in self.subs if (e := self.results.get(s)) is not None]
        out.extend(SubscriptionError(s, missing) for s in self.subs if s in self.waiting)
        return out


class AckBook:
    """The client's pending requests, by request id, in sending order."""

    __slots__ = ("_on_channel", "_on_error", "_recent", "_recent_set", "pending")

    def __init__(self, on_channel: OnChannel, on_error: OnError) -> None:
        self.pending: dict[int, PendingRequest] = {}
        self._on_channel = on_channel
        self._on_error = on_error
        # Ids of requests answered or timed out lately: their late acks are consumed.
        self._recent: deque[str] = deque()
        self._recent_set: set[str] = set()

    def add(self, request: PendingRequest) -> None:
        """Register a request (before it is sent, so a fast answer cannot be missed)."""
        self.pending[request.request_id] = request

    def remove(self, request: PendingRequest) -> None:
        """Forget a request (answered, timed out, or its send failed)."""
        self.pending.pop(request.request_id, None)
        rid = str(request.request_id)
        if rid not in self._recent_set:
            self._recent.append(rid)
            self._recent_set.add(rid)
            if len(self._recent) > 1024:
                self._recent_set.discard(self._recent.popleft())

    def supersede(self, subs: list[Subscription[Any]]) -> None:
        """A new connection re-sends ``subs``: answers awaited on the old one never come.

        Their waiting subscribe requests are settled as accepted (the subscription stays
        declared; the resubscribe's own answer decides, reported like any resubscribe),
        so a stale request can neither wait for ``ack_timeout`` nor take a new answer.
        """
        again = set(subs)
        for request in self.pending.values():
            if request.live:
                for sub in [s for s in request.waiting if s in again]:
                    request.resolve(sub, Ack(ok=True))

    def _read(self, sub: Subscription[Any], msg: Any, request_id: int | None) -> Ack | None:
        # User code: a bug in it is reported, never breaks the connection's reading.
        try:
            if request_id is None:
                return sub.read_ack(msg)
            return sub.parse_ack(msg, request_id)
        except Exception as exc:
            hook = "read_ack" if request_id is None else "parse_ack"
            self._on_error(exc, f"{type(sub).__name__}.{hook}")
            return None

    def offer(self, msg: Any) -> bool:
        """Give ``msg`` to the waiting requests; True if it was an ack (consumed)."""
        tried: set[type] = set()
        for request in list(self.pending.values()):
            first = request.subs[0]
            if request.mode is None:
                if request.live:
                    ack = self._read(first, msg, request.request_id)
                    if ack is not None:
                        self._apply(request, ack)
                        return True
                continue
            cls = type(first)
            if cls in tried:
                continue
            tried.add(cls)
            ack = self._read(first, msg, None)
            if ack is not None and self._dispatch(request.mode, ack):
                return True
        return False

    def late(self, msg: Any, readers: tuple[Subscription[Any], ...]) -> bool:
        """True if ``msg`` is an ack nobody awaits any more (consumed quietly)."""
        for sub in readers:
            ack = self._read(sub, msg, None)
            if ack is not None:
                # A refusal nobody awaits is a venue error: reported, not swallowed.
                return ack.ok and self._ours(type(sub).ack, ack)
        return False

    def _ours(self, mode: str | None, ack: Ack) -> bool:
        if mode != "id" or ack.request_id is None:
            return True
        # An id answer is ours only if we issued that id: the others (answers to the
        # user's own requests) go on to expect() and the client's iterator.
        rid = str(ack.request_id)
        return rid in self._recent_set or any(str(r) == rid for r in self.pending)

    def _apply(self, request: PendingRequest, ack: Ack) -> None:
        subs = list(request.waiting)
        if ack.topics or ack.complete:
            listed = [s for s in subs if s.topic in ack.topics]
            if ack.complete:
                # The request's one answer: what it leaves out was refused.
                refusal = Ack(ok=False, reason=ack.reason or "left out of the venue's answer")
                for sub in subs:
                    if sub not in listed:
                        request.resolve(sub, refusal)
            subs = listed
        for sub in subs:
            self._resolve(request, sub, ack)

    def _resolve(self, request: PendingRequest, sub: Subscription[Any], ack: Ack) -> None:
        if ack.channel is not None and ack.ok and not request.unsubscribe:
            self._on_channel(sub, ack.channel)
        request.resolve(sub, ack)

    def _dispatch(self, mode: str, ack: Ack) -> bool:
        """Resolve what ``ack`` answers; False if it is not an answer of ours.

        A refusal that answers no waiting request is not consumed: it goes on to be
        reported as a venue error.
        """
        if not self._ours(mode, ack):
            return False
        live = [r for r in self.pending.values() if r.live and r.mode == mode]
        resolved = 0
        if not live:
            pass  # late, or confirming what was confirmed already
        elif mode == "id" and ack.request_id is not None:
            rid = str(ack.request_id)
            for request in live:
                if str(request.request_id) == rid:
                    resolved += len(request.waiting)
                    self._apply(request, ack)
        elif mode in ("topic", "all") and ack.topics:
            topics = set(ack.topics)
            for request in live:
                for sub in [s for s in request.waiting if s.topic in topics]:
                    resolved += 1
                    self._resolve(request, sub, ack)
        else:
            # "order", or an answer naming neither id nor topic: the oldest waiting request.
            oldest = live[0]
            for sub in list(oldest.waiting):
                resolved += 1
                self._resolve(oldest, sub, ack)
        return resolved > 0 or ack.ok
