"""The schema client's router: each decoded batch to acks, ``expect()``, streams, or the client.

Runs on the loop thread once per received batch (installed with ``WebSocket.set_router``).
A message goes, in this order, to a waiting subscribe request (its ack), to a pending
``expect()``, to every stream whose subscription claims it (after its channel, sequence and
dedup checks), and otherwise to the client's own queue. A message matching no declared type
arrives as :class:`Unmatched`: acks and ``expect()`` see its JSON; what is left follows the
client's ``unknown_messages`` policy, and malformed or invalid messages and venue errors are
reported (an ``error`` event, context ``"decode"``) and counted in every mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from jetsocket._engine._events import ErrorEvent, EventRegistry, GapEvent
from jetsocket._engine._queue import Failure
from jetsocket._engine._websocket import WebSocket
from jetsocket._exceptions import MessageDecodeError
from jetsocket.schema._acks import AckBook
from jetsocket.schema._subscription import Stream, Subscription, message_types_of


class RouterHost(Protocol):
    """The parts of its client a :class:`Router` reads (a schema ``Client`` is one)."""

    @property
    def _streams(self) -> dict[Subscription[Any], Stream[Any]]: ...
    @property
    def _expect(self) -> list[tuple[Callable[[Any], bool], asyncio.Future[Any]]]: ...
    @property
    def _acks(self) -> AckBook: ...
    @property
    def _events(self) -> EventRegistry: ...
    @property
    def _message_type(self) -> Any: ...
    @property
    def _unknown_policy(self) -> str: ...
    @property
    def _primary(self) -> WebSocket[Any]: ...
    def _on_gap(self, stream: Stream[Any], gap: GapEvent) -> None: ...
    def venue_error(self, msg: Any) -> str | None: ...


__all__ = ["Router", "RouterHost", "Unmatched"]


class Unmatched:
    """A message that decoded as JSON but matched none of the client's message types.

    Acks and login answers arrive like this; :meth:`Client.expect` and
    ``Subscription.parse_ack`` consume them. The rest follow ``unknown_messages``.

    Attributes:
        data: The decoded JSON value.
        error: Why the typed decoder rejected it.
    """

    __slots__ = ("data", "error", "payload", "valid_json")

    def __init__(
        self, data: Any, payload: bytes | str, error: BaseException, valid_json: bool = True
    ) -> None:
        self.data = data
        self.payload = payload
        self.error = error
        self.valid_json = valid_json

    def __repr__(self) -> str:
        return f"Unmatched({self.data!r})"


def _tag_values(tp: Any) -> dict[str, set[object]]:
    """The tag values of the tagged Structs of a union, by tag field."""
    out: dict[str, set[object]] = {}
    for cls in message_types_of(tp):
        if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
            config = cls.__struct_config__
            if config.tag_field is not None and config.tag is not None:
                out.setdefault(config.tag_field, set()).add(config.tag)
    return out


_NO_PLAIN: dict[type, Stream[Any]] = {}


class Router:
    """Routes the batches of every shard of one client."""

    __slots__ = (
        "_client",
        "_readers",
        "_tags",
        "cache",
        "decode_failures",
        "duplicates",
        "plain",
        "unknown",
    )

    def __init__(self, client: RouterHost, message_type: Any) -> None:
        self._client = client
        self._tags = _tag_values(message_type)
        self._readers: tuple[Subscription[Any], ...] | None = None
        self.cache: dict[type, tuple[Stream[Any], ...]] = {}
        # Classes claimed by exactly one stream with no per-message hooks: the fast path.
        self.plain: dict[type, Stream[Any]] = {}
        self.unknown = 0
        self.decode_failures = 0
        self.duplicates = 0

    def changed(self) -> None:
        """The subscriptions changed: forget what was derived from them."""
        self.cache.clear()
        self.plain.clear()
        self._readers = None

    def streams_for(self, cls: type) -> tuple[Stream[Any], ...]:
        """The streams whose subscription is declared for ``cls`` (cached per class)."""
        client = self._client
        streams = tuple(
            st
            for st in client._streams.values()
            if any(issubclass(cls, t) for t in type(st.subscription)._message_types)
        )
        self.cache[cls] = streams
        if len(streams) == 1 and streams[0]._plain:
            self.plain[cls] = streams[0]
        return streams

    def ack_readers(self) -> tuple[Subscription[Any], ...]:
        """One subscription per class declaring ``ack``: they recognise late acks."""
        readers = self._readers
        if readers is None:
            by_class: dict[type, Subscription[Any]] = {}
            for sub in self._client._streams:
                if type(sub).ack is not None:
                    by_class.setdefault(type(sub), sub)
            readers = self._readers = tuple(by_class.values())
        return readers

    def route(self, batch: list[Any]) -> list[Any]:
        """Route a batch; return what the primary engine's queue should still see."""
        client = self._client
        out: list[Any] = []
        cache = self.cache
        expect = client._expect
        acks = client._acks
        awaiting = bool(acks.pending)
        touched: list[Stream[Any]] = []  # streams given messages from this batch
        # The fast path, unless a waiting request or expect() must see messages first.
        plain = self.plain if not (awaiting or expect) else _NO_PLAIN
        plain_stream = plain.get
        for msg in batch:
            cls = msg.__class__
            stream = plain_stream(cls)
            if stream is not None:
                stream._batch.append(msg)  # flushed below with the other plain streams
                continue
            if cls is Unmatched:
                self.unmatched(msg, out, awaiting)
                continue
            if cls is Failure:
                out.append(msg)
                continue
            # A declared (typed) ack or error type is offered to the waiting requests.
            if awaiting and acks.offer(msg):
                continue
            if expect and self.expected(msg):
                continue
            streams = cache.get(cls)
            if streams is None:
                streams = self.streams_for(cls)
            claimed = False
            for stream in streams:
                if stream._plain:
                    # matches(), sequence() etc. not overridden: no per-message hook calls.
                    claimed = True
                    if not stream._batch:
                        touched.append(stream)
                    stream._batch.append(msg)
                    continue
                sub = stream.subscription
                item = msg
                gap = None
                try:
                    if stream._by_channel:
                        channel = sub.channel_of(msg)
                        if channel is None or channel != stream.channel:
                            continue
                    if not sub.matches(msg):
                        continue
                    if stream._tracked:
                        claimed = True
                        item, gap = stream._admit(msg)
                        if item is None:
                            self.duplicates += 1
                            continue
                except Exception as exc:
                    # A bug in user code must not kill the connection (on every reconnect).
                    client._primary.report_error(exc, f"{type(sub).__name__} routing")
                    continue
                claimed = True
                if not stream._batch:
                    touched.append(stream)
                stream._batch.append(item)
                if gap is not None:
                    client._on_gap(stream, gap)
            if not claimed:
                out.append(msg)
        # One extend and one wake per stream and batch, not per message (and no walk over
        # every subscription when a batch only concerned a few).
        for stream in touched:
            stream._flush()
        for stream in plain.values():
            if stream._batch:
                stream._flush()
        return out

    def route_to_primary(self, batch: list[Any]) -> list[Any]:
        """A shard's router: what no stream claims goes to the primary's queue."""
        client = self._client
        rest = self.route(batch)
        if rest:
            client._primary.queue.push_batch(rest)
        return []

    def expected(self, data: Any) -> bool:
        """Give ``data`` to the first pending ``expect()`` it satisfies."""
        for predicate, future in self._client._expect:
            if not future.done() and predicate(data):
                future.set_result(data)
                return True
        return False

    def unmatched(self, msg: Unmatched, out: list[Any], awaiting: bool) -> None:
        """Acks, ``expect()``, then the ``unknown_messages`` policy."""
        client = self._client
        data = msg.data
        if awaiting and client._acks.offer(data):
            return
        if client._expect and self.expected(data):
            return
        if msg.valid_json and client._acks.late(data, self.ack_readers()):
            return
        self.unknown += 1
        problem = self.problem(msg)
        policy = client._unknown_policy
        err = None
        if problem is not None or policy == "error":
            # Malformed, invalid or a venue error: reported and counted in every mode; an
            # unknown type only under "error" (declared as noise by "ignore"/"deliver").
            err = MessageDecodeError(problem or str(msg.error), msg.payload, client._message_type)
            err.__cause__ = msg.error
            self.decode_failures += 1
            client._events.emit("error", ErrorEvent(error=err, context="decode"))
        if policy == "deliver":
            out.append(msg)
        elif policy == "error" and err is not None:
            out.append(Failure(err))

    def problem(self, msg: Unmatched) -> str | None:
        """Why an unmatched message is an error, or None for a merely unknown message."""
        client = self._client
        if not msg.valid_json:
            return f"malformed JSON: {msg.error}"
        data = msg.data
        try:
            reason = client.venue_error(data)
        except Exception as exc:
            client._primary.report_error(exc, f"{type(client).__name__}.venue_error")
            reason = None
        if reason is not None:
            return f"venue error: {reason}"
        if isinstance(data, dict):
            for tag_field, tags in self._tags.items():
                value = data.get(tag_field)
                if isinstance(value, (str, int)) and value in tags:
                    return f"invalid {tag_field}={value!r} message: {msg.error}"
        return None
