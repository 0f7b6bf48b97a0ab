"""The receive side of the engine: decode each batch, run per-message features, route.

The hot path: the wire connection hands every complete message of one read chunk to
:meth:`Receiver.process` as one list; it is decoded with one ``map`` over the list. With
the compiled frame scanner and a msgspec decoder (:attr:`Receiver.wire_decode`), the
scanner decodes each message as it parses it and the batch arrives decoded
(:meth:`Receiver.process_decoded`): no payload object, no second list. Only
when a feature needs it (sequence ids, application pongs, typed handlers, ``message``
events) is there Python code per message. A router installed by the schema layer then
takes the batch (streams, acks) and returns what the engine's own queue should see.

A message that fails to decode becomes a :class:`Failure` at its position (strict mode), so
an invalid message never hangs a consumer and never hides the valid messages around it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import msgspec

from jetsocket._engine._config import ReplayConfig
from jetsocket._engine._events import ErrorEvent, EventRegistry, GapEvent, MessageEvent
from jetsocket._engine._queue import Failure, MessageQueue
from jetsocket._engine._sequence import SequenceTracker
from jetsocket._exceptions import MessageDecodeError

__all__ = ["Fallback", "Joiner", "Receiver", "Router"]

#: Takes a decoded batch, returns what the engine's queue should still see.
Router = Callable[[list[Any]], list[Any]]
#: Turns a payload the typed decoder rejected into a value (or raises to refuse it).
Fallback = Callable[[Any, BaseException], Any]

# What _decode_one returns for a payload that is dropped (non-strict mode).
_SKIP: Any = object()

# Decoded types -> whether msgspec may keep a view of the input in a decoded value.
_KEEPS_INPUT: dict[object, bool] = {}


def _keeps_input(tp: object) -> bool:
    """True unless ``tp`` surely has no ``msgspec.Raw`` anywhere (a Raw keeps its input).

    A decoded ``Raw`` refers to the buffer it was decoded from: fed a view into a received
    chunk, it would keep the whole chunk alive; fed a copy of its payload, only that.
    """
    try:
        return _KEEPS_INPUT[tp]
    except (KeyError, TypeError):
        pass
    keeps = False
    try:
        stack: list[Any] = [msgspec.inspect.type_info(tp)]
    except Exception:
        keeps = True  # cannot tell: copy
        stack = []
    seen: set[int] = set()
    nodes = (msgspec.inspect.Type, msgspec.inspect.Field)
    while stack and not keeps:
        node = stack.pop()
        if isinstance(node, msgspec.inspect.RawType):
            keeps = True
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, nodes) and id(node) not in seen:
            seen.add(id(node))
            stack.extend(getattr(node, name) for name in node.__struct_fields__)
    with contextlib.suppress(TypeError):  # an unhashable type is not cached
        _KEEPS_INPUT[tp] = keeps
    return keeps


def wire_decoder(decode: Callable[[Any], Any] | None) -> tuple[Callable[[Any], Any], bool] | None:
    """``(decode, copy_payloads)`` when ``decode`` may run inside the frame scanner, else None.

    Only msgspec JSON decoders qualify: pure functions of their input that keep nothing of
    it but ``Raw`` values (then ``copy_payloads`` is True). A user's ``deserializer`` or a
    pydantic model may run arbitrary code, so it keeps running after the chunk is parsed.
    """
    owner = getattr(decode, "__self__", None)
    if decode is None or not isinstance(owner, msgspec.json.Decoder):
        return None
    return decode, _keeps_input(owner.type)


class Joiner(Protocol):
    """A rotation's new connection merging into the stream (``Link``)."""

    def check_joining(self) -> None:
        """The old connection delivered a batch: release the held messages if they met."""

    def end_joining(self) -> None:
        """A connection ended: release the held messages."""


class Receiver:
    """Decoding and per-message features of one engine (all its connections).

    Args:
        decode: The payload decoder (None: deliver payloads as they are).
        decode_errors: What ``decode`` raises for a payload it rejects.
        message_type: The declared type (named in decode errors).
        strict: Store decode failures in the stream (True) or skip them (False); both
            emit an ``error`` event with context ``"decode"`` and are counted.
        replay: Sequence tracking settings (None: none).
        dedup: Drop messages whose sequence id was already seen.
        dedup_window: How many recent sequence ids are remembered.
        pong_matcher: Recognises application pongs (not delivered).
        on_app_pong: Called for each application pong.
        events: The engine's event registry.
        queue: Where :meth:`deliver` pushes each processed batch (the engine's queue).
    """

    __slots__ = (
        "_decode",
        "_decode_errors",
        "_dedup",
        "_events",
        "_fallback",
        "_features",
        "_matcher",
        "_message_type",
        "_met",
        "_on_app_pong",
        "_queue",
        "_seq",
        "_seq_extract",
        "_strict",
        "duplicates",
        "errors",
        "gaps",
        "joiner",
        "received",
        "router",
        "validation_errors",
        "wire_decode",
    )

    def __init__(
        self,
        *,
        decode: Callable[[Any], Any] | None,
        decode_errors: tuple[type[BaseException], ...],
        message_type: object,
        strict: bool,
        replay: ReplayConfig | None,
        dedup: bool,
        dedup_window: int,
        pong_matcher: Callable[[Any], bool] | None,
        on_app_pong: Callable[[], None],
        events: EventRegistry,
        queue: MessageQueue[Any],
    ) -> None:
        self._decode = decode
        self._decode_errors = decode_errors
        self._message_type = message_type
        self._strict = strict
        self._events = events
        extractor = replay.sequence_extractor if replay is not None else None
        self._seq_extract: Callable[[Any], int | None] | None = extractor
        self._seq = SequenceTracker(dedup_window) if extractor is not None else None
        self._dedup = dedup and extractor is not None
        self._matcher = pong_matcher
        # Per-message work is needed only for these features (or handlers, see process):
        # otherwise a batch is delivered with no per-message Python code at all.
        self._features = extractor is not None or pong_matcher is not None
        self._on_app_pong = on_app_pong
        # The queue itself, not its bound push_batch: no extra object per client (idle
        # clients are counted in bytes).
        self._queue = queue
        self._fallback: Fallback | None = None
        #: ``(decode, copy_payloads)`` for the frame scanner (see :meth:`process_decoded`).
        self.wire_decode = wire_decoder(decode)
        self.router: Router | None = None
        #: A rotation's new connection holding its sequenced messages back
        #: (``Link.start_joining``): told after each delivered batch, as the old
        #: connection's progress may be what lets them through.
        self.joiner: Joiner | None = None
        self._met: asyncio.Future[None] | None = None
        self.received = 0
        self.errors = 0
        self.validation_errors = 0
        self.duplicates = 0
        self.gaps = 0

    @property
    def queue(self) -> MessageQueue[Any]:
        """The engine's queue, where :meth:`deliver` pushes."""
        return self._queue

    def use_events(self, events: EventRegistry) -> None:
        """Report to ``events`` from now on (the shards of one client share one registry)."""
        self._events = events

    @property
    def last_sequence(self) -> int | None:
        """The highest sequence id seen (None without sequence tracking)."""
        return self._seq.last if self._seq is not None else None

    def watch_meeting(self) -> asyncio.Future[None] | None:
        """A future resolved once a rotation's streams meet (None without sequence ids).

        They meet when the old connection delivered one of the ids the new one holds back
        (``Link.start_joining``): from there on the new connection carries everything, so
        the old one can be closed without a hole.
        """
        if self._seq is None:
            return None
        if self._met is not None:
            self._met.cancel()
        self._met = asyncio.get_running_loop().create_future()
        return self._met

    def streams_met(self) -> None:
        """Resolve the :meth:`watch_meeting` future (the joining link saw the streams meet)."""
        met, self._met = self._met, None
        if met is not None and not met.done():
            met.set_result(None)

    def set_fallback(self, fallback: Fallback, errors: tuple[type[BaseException], ...]) -> None:
        """Give payloads rejected by ``decode`` (raising ``errors``) to ``fallback``."""
        self._fallback = fallback
        self._decode_errors = errors

    def process(self, messages: list[Any]) -> list[Any]:
        """Decode a batch of payloads and run per-message features; return the result."""
        return self.release(self.decode_batch(messages))

    def process_decoded(self, messages: list[Any], raw_at: list[int]) -> list[Any]:
        """:meth:`process` for a batch the frame scanner already decoded with ``wire_decode``.

        Args:
            messages: The batch, decoded except at the indices ``raw_at``.
            raw_at: Indices (ascending) of the payloads still to decode: decoded here as
                :meth:`process` decodes, so both paths give the same values, failures,
                fallbacks, counts and events.
        """
        return self.release(self.decode_batch_decoded(messages, raw_at))

    def decode_batch(self, messages: list[Any]) -> list[Any]:
        """The decoding half of :meth:`process` (counted as received)."""
        self.received += len(messages)
        decode = self._decode
        if decode is not None:
            try:
                messages = list(map(decode, messages))
            except Exception:
                messages = self._decode_each(messages)
        return messages

    def decode_batch_decoded(self, messages: list[Any], raw_at: list[int]) -> list[Any]:
        """The decoding half of :meth:`process_decoded`."""
        self.received += len(messages)
        if raw_at:
            messages = self._decode_at(messages, raw_at)
        return messages

    def release(self, messages: list[Any]) -> list[Any]:
        """The other half: per-message features (sequence ids, handlers), then the router."""
        if self._features or self._events.per_message:
            messages = self._per_message(messages)
        router = self.router
        if router is not None:
            messages = router(messages)
        return messages

    def deliver(self, messages: list[Any]) -> None:
        """:meth:`process` a batch and push the result to the engine's queue.

        The engine's hot path, once per read chunk (not per message).
        """
        self._queue.push_batch(self.process(messages))
        if self.joiner is not None:
            self.joiner.check_joining()

    def deliver_decoded(self, messages: list[Any], raw_at: list[int]) -> None:
        """:meth:`process_decoded` a batch and push the result to the engine's queue."""
        self._queue.push_batch(self.process_decoded(messages, raw_at))
        if self.joiner is not None:
            self.joiner.check_joining()

    # -- a rotation's new connection (see Link.start_joining) ---------------------------

    @property
    def sequenced(self) -> bool:
        """True when messages carry sequence ids (``ReplayConfig.sequence_extractor``)."""
        return self._seq is not None

    def split_sequenced(self, messages: list[Any]) -> tuple[list[Any], list[int], list[Any]]:
        """``(messages with a sequence id, their ids, the others)``, each in order."""
        extract = self._seq_extract
        sequenced: list[Any] = []
        ids: list[int] = []
        others: list[Any] = []
        for msg in messages:
            seq = None if extract is None or msg.__class__ is Failure else extract(msg)
            if seq is None:
                others.append(msg)
            else:
                sequenced.append(msg)
                ids.append(seq)
        return sequenced, ids, others

    def delivered_any(self, ids: Iterable[int]) -> bool:
        """True when one of ``ids`` (ascending) was already delivered (the streams met)."""
        tracker = self._seq
        if tracker is None or tracker.last is None:
            return False
        last = tracker.last
        for seq in ids:
            if seq > last:
                return False  # every later id is newer than anything delivered
            if seq in tracker:
                return True
        return False

    def _decode_at(self, messages: list[Any], raw_at: list[int]) -> list[Any]:
        # The payloads the scanner left undecoded: decoded one by one, as _decode_each does.
        decode = self._decode
        if decode is None:
            return messages
        skipped = False
        for i in raw_at:
            item = messages[i] = self._decode_one(messages[i])
            skipped = skipped or item is _SKIP
        if skipped:
            return [m for m in messages if m is not _SKIP]
        return messages

    def _decode_each(self, messages: list[Any]) -> list[Any]:
        # Slow path, only after a failure: find which messages fail, keep the others.
        if self._decode is None:
            return messages
        out = [self._decode_one(payload) for payload in messages]
        return [m for m in out if m is not _SKIP]

    def _decode_one(self, payload: Any) -> Any:
        """Decode one payload: its value, a :class:`Failure` (strict) or ``_SKIP``."""
        decode = self._decode
        assert decode is not None
        try:
            return decode(payload)
        except self._decode_errors as exc:
            fallback = self._fallback
            if fallback is not None:
                # The schema layer turns acks, pongs and unknown messages into values
                # of its own instead of failures (off the fast path).
                try:
                    return fallback(payload, exc)
                except Exception:
                    pass
            err = MessageDecodeError(str(exc), payload, self._message_type)
            err.__cause__ = exc
            self.decode_failed(err)
            return Failure(err) if self._strict else _SKIP

    def decode_failed(self, err: MessageDecodeError) -> None:
        """Count a message that failed to decode and report it (an ``error`` event)."""
        self.validation_errors += 1
        self.errors += 1
        self._events.emit("error", ErrorEvent(error=err, context="decode"))

    def _per_message(self, messages: list[Any]) -> list[Any]:
        out: list[Any] = []
        extract = self._seq_extract
        tracker = self._seq
        matcher = self._matcher
        events = self._events
        emit_messages = events.has("message")
        typed = events.has_typed
        for msg in messages:
            if msg.__class__ is Failure:
                out.append(msg)
                continue
            if matcher is not None and matcher(msg):
                self._on_app_pong()
                continue
            if extract is not None and tracker is not None:
                seq = extract(msg)
                if seq is not None:
                    duplicate, gap = tracker.observe(seq)
                    if duplicate and self._dedup:
                        self.duplicates += 1
                        continue
                    if gap is not None:
                        self.gaps += 1
                        events.emit("gap", GapEvent(first_missing=gap[0], last_missing=gap[1]))
            if typed:
                events.dispatch(msg)
            if emit_messages:
                events.emit("message", MessageEvent(data=msg))
            out.append(msg)
        return out
