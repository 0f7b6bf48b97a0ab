"""``Subscription[M]``: a declared stream of ``M`` messages, re-sent after every reconnect."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Hashable
from dataclasses import dataclass
from typing import (
    Any,
    ClassVar,
    Generic,
    Literal,
    TypeVar,
    Union,
    get_args,
    get_origin,
    is_typeddict,
)

from typing_extensions import dataclass_transform

__all__ = ["Ack", "Subscription", "message_types_of"]

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's answer to a subscribe or unsubscribe request.

    Attributes:
        ok: The request succeeded (for every topic not listed in ``failed_topics``).
        reason: The server's explanation when it failed.
        failed_topics: Topics the server refused while accepting the others (e.g. Bybit's
            per-topic fail list).
    """

    ok: bool
    reason: str = ""
    failed_topics: tuple[str, ...] = ()


def message_types_of(tp: Any) -> tuple[type, ...]:
    """Flatten ``A | B`` (or a single class) into a tuple of classes."""
    if tp is Any:
        return (object,)
    if is_typeddict(tp):
        return (dict,)  # TypedDicts decode to plain dicts
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        out: list[type] = []
        for arg in get_args(tp):
            out.extend(message_types_of(arg))
        return tuple(out)
    if isinstance(tp, type):
        return (tp,)
    return (origin,) if isinstance(origin, type) else (object,)


@dataclass_transform(
    kw_only_default=True, frozen_default=True, field_specifiers=(dataclasses.field,)
)
class Subscription(Generic[M]):
    """Declares what to send to subscribe, and which messages come back.

    Subclasses are frozen, keyword-only dataclasses (hashable: the client keeps them in a
    set). Override :meth:`subscribe_message` (required) and whichever of the other hooks the
    venue needs.

    Example:
        >>> class Trades(Subscription[Trade]):
        ...     symbol: str
        ...
        ...     def subscribe_message(self, request_id: int) -> object:
        ...         return {"method": "SUBSCRIBE", "params": [self.topic], "id": request_id}
        ...
        ...     def matches(self, msg: Trade) -> bool:
        ...         return msg.symbol == self.symbol.upper()

    Attributes:
        stale_after: Seconds without a message after which the subscription is considered
            stale (None: never).
        on_stale: What to do then: re-send the subscription or reconnect.
        buffer: Capacity of the subscription's :class:`Stream` queue.
        overflow_policy: ``drop_oldest`` (default), ``drop_newest``, ``error`` or ``block``
            (pauses the whole connection until the stream is consumed).
    """

    stale_after: ClassVar[float | None] = None
    on_stale: ClassVar[Literal["resubscribe", "reconnect"]] = "resubscribe"
    buffer: ClassVar[int] = 10_000
    overflow_policy: ClassVar[str] = "drop_oldest"
    _message_types: ClassVar[tuple[type, ...]] = (object,)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Subscription[Trade], or an intermediate generic base: VenueTopic[Trade].
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Subscription):
                args = get_args(base)
                if len(args) == 1 and not isinstance(args[0], TypeVar):
                    cls._message_types = message_types_of(args[0])
        dataclass(frozen=True, kw_only=True)(cls)

    @property
    def topic(self) -> str:
        """The venue's topic name (used for batching); defaults to the class name."""
        return type(self).__name__

    def subscribe_message(self, request_id: int) -> object:
        """The message that subscribes (sent with the client's serializer)."""
        raise NotImplementedError(f"{type(self).__name__} must define subscribe_message()")

    def unsubscribe_message(self, request_id: int) -> object | None:
        """The message that unsubscribes, or None when the venue has none."""
        return None

    def matches(self, msg: M) -> bool:
        """True if ``msg`` (already of type M) belongs to this subscription."""
        return True

    def parse_ack(self, msg: Any, request_id: int) -> Ack | None:
        """Recognise the ack of request ``request_id`` among untyped messages.

        Override to make :meth:`Client.subscribe` wait for the ack. ``msg`` is the decoded
        JSON of a message that matched none of the client's message types. Return None if
        ``msg`` is not that ack.
        """
        return None

    def sequence(self, msg: M) -> int | None:
        """The message's sequence number, for gap detection (None: not sequenced)."""
        return None

    def conflate_key(self, msg: M) -> Hashable | None:
        """Override to conflate: the key (symbol, instrument) of a latest-value message.

        When overridden, the stream keeps only the newest waiting message per key while
        its consumer lags (a newer one replaces it in place, counted in
        :attr:`Stream.conflated`); a consumer that keeps up still sees every message.
        Return None for messages that must never be conflated. See the conflation guide.
        """
        return None

    @classmethod
    def declares_conflation(cls) -> bool:
        """True if the subclass overrides :meth:`conflate_key`."""
        return cls.conflate_key is not Subscription.conflate_key

    @classmethod
    def declares_ack(cls) -> bool:
        """True if the subclass overrides :meth:`parse_ack`."""
        return cls.parse_ack is not Subscription.parse_ack
