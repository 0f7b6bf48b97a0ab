"""The public API: sorted ``__all__``, every name real and documented, privacy by name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import msgspec
import pytest

import jetsocket
from jetsocket._engine._options import OPTION_NAMES, option_table
from jetsocket.schema import Client, Message, Stream, Subscription, SyncStream, field

PUBLIC_PACKAGES = [
    "jetsocket",
    "jetsocket.book",
    "jetsocket.schema",
    "jetsocket.testing",
    "jetsocket.presets",
]


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    assert len(exported) == len(set(exported))
    for attr in exported:
        assert hasattr(module, attr), attr


def test_public_objects_have_docstrings() -> None:
    for attr in jetsocket.__all__:
        obj = getattr(jetsocket, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{attr} has no docstring"


def test_implementation_modules_are_private() -> None:
    public = {
        "jetsocket.book",
        "jetsocket.testing",
        "jetsocket.schema",
        "jetsocket.presets",
        "jetsocket.__main__",
    }
    for info in pkgutil.walk_packages(jetsocket.__path__, "jetsocket."):
        leaf = info.name.rsplit(".", 1)[-1]
        assert (
            leaf.startswith("_")
            or info.name in public
            or any(info.name.startswith(p + ".") for p in public)
        ), info.name


def test_timeout_error_is_builtin() -> None:
    assert issubclass(jetsocket.TimeoutError, TimeoutError)
    assert issubclass(jetsocket.ConnectionError, ConnectionError)
    assert issubclass(jetsocket.HandshakeError, jetsocket.JetSocketError)
    assert issubclass(jetsocket.MessageDecodeError, ValueError)
    assert issubclass(jetsocket.InvalidStateError, RuntimeError)


@pytest.mark.parametrize("name", ["jetsocket", "jetsocket.schema"])
def test_public_objects_report_the_public_module(name: str) -> None:
    module = importlib.import_module(name)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__ == name, attr
            assert getattr(importlib.import_module(obj.__module__), obj.__qualname__) is obj
        if inspect.isclass(obj):
            # Annotations still resolve (they were written in the private module).
            typing.get_type_hints(obj, include_extras=True)


def test_user_subclasses_still_introspect() -> None:
    class Tick(Message, tag="tick"):
        price: float = field(name="p")

    class Ticks(Subscription[Tick]):
        symbol: str

        def subscribe_message(self, request_id: int) -> object:
            return {"id": request_id}

    hints = typing.get_type_hints(Ticks)
    assert hints["symbol"] is str
    assert hints["stale_after"] == typing.ClassVar[float | None]
    assert msgspec.json.decode(b'{"type": "tick", "p": 1.5}', type=Tick) == Tick(price=1.5)
    assert len(option_table()) == len(typing.get_type_hints(jetsocket.WebSocketOptions))


# -- sync parity: each blocking facade offers what its async counterpart offers ---------------

# Names only the async class has, each with the reason the facade leaves it out.
ASYNC_ONLY = {
    # Engine plumbing for upper layers (schema Client, sync facade); the facade reaches the
    # engine through `.websocket` for these.
    "WebSocket": {
        "add_finish_hook",
        "drop_connection",
        "outbox",
        "pause_reading",
        "queue",
        "report_error",
        "resume_reading",
        "set_overlap_watch",
        "set_router",
        "share_handlers",
    },
    "Client": {
        # Class-level declarations of a venue (read by Client.__init__), not instance API.
        *(option for option in OPTION_NAMES if hasattr(Client, option)),
        "ack_timeout",
        "max_streams_per_connection",
        "max_topics_per_message",
        "message_type",
        "unknown_messages",
        # Hooks a Client subclass overrides; they run on the loop thread for both.
        "batch_subscribe_message",
        "on_connect",
        "venue_error",
        # The classmethod that builds the facade itself.
        "sync",
    },
    # The Client's bookkeeping on each stream (staleness clock, the consumer queue the
    # facade reads); public attributes today, not part of the documented Stream API.
    "Stream": {"last_message_at", "queue", "subscribed_at"},
}
# Names only the facade has, each with its reason.
SYNC_ONLY = {
    # `websocket` / `client`: the async object behind the facade (for handlers);
    # `iter_messages`: iteration with an idle timeout (async users wrap `recv(timeout)`).
    "WebSocket": {"iter_messages", "websocket"},
    # Inherited from SyncWebSocket, acting on the primary connection; async Client users
    # reach them through `client.websocket` (`add_on_open`, `latency_ms`, `send_raw`,
    # `settings`, `subprotocol`, `batches`); `next(client)` (Client has no `__anext__`).
    "Client": {
        "__next__",
        "add_on_open",
        "batches",
        "client",
        "iter_messages",
        "latency_ms",
        "send_raw",
        "settings",
        "subprotocol",
    },
    "Stream": {"iter_messages"},
}
# Protocol methods that correspond one to one.
PAIRED = {
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
}


def _public_names(obj: object) -> set[str]:
    names = {n for n in dir(obj) if not n.startswith("_")}
    names |= {PAIRED.get(n, n) for n in PAIRED if hasattr(obj, n)}
    names |= {n for n in PAIRED.values() if hasattr(obj, n)}
    return names


class _Tick(Message, tag="tick"):
    price: float = 0.0


class _Ticks(Subscription[_Tick]):
    def subscribe_message(self, request_id: int) -> object:
        return {"id": request_id}


class _Venue(Client[_Tick]):
    uri = "ws://127.0.0.1:9/"


def _pairs() -> dict[str, tuple[object, object]]:
    # Instances, not classes: Stream's counters and subscription are instance attributes.
    ws = jetsocket.WebSocket("ws://127.0.0.1:9/")
    sync_ws = jetsocket.SyncWebSocket("ws://127.0.0.1:9/")
    sync_client = _Venue.sync()
    stream: Stream[_Tick] = Stream(_Ticks(), sync_client.client.unsubscribe, lambda s, b: None)
    return {
        "WebSocket": (ws, sync_ws),
        "Client": (sync_client.client, sync_client),
        "Stream": (stream, SyncStream(sync_client, stream)),
    }


@pytest.mark.parametrize("name", ["WebSocket", "Client", "Stream"])
def test_sync_facade_parity(name: str) -> None:
    async_obj, sync_obj = _pairs()[name]
    async_names, sync_names = _public_names(async_obj), _public_names(sync_obj)
    missing = async_names - sync_names - ASYNC_ONLY[name]
    assert not missing, f"Sync{name} lacks {sorted(missing)}"
    extra = sync_names - async_names - SYNC_ONLY[name]
    assert not extra, f"Sync{name} has undeclared extras {sorted(extra)}"
    # Every justified difference is still real (the lists do not rot).
    assert ASYNC_ONLY[name] <= async_names - sync_names
    assert SYNC_ONLY[name] <= sync_names - async_names


@pytest.mark.parametrize("name", ["WebSocket", "Client", "Stream"])
def test_sync_facade_methods_take_the_same_parameters(name: str) -> None:
    async_obj, sync_obj = _pairs()[name]
    pairs = [(n, n) for n in _public_names(async_obj) & _public_names(sync_obj)]
    pairs += [(a, s) for a, s in PAIRED.items() if hasattr(async_obj, a) and hasattr(sync_obj, s)]
    compared = 0
    for async_name, sync_name in pairs:
        async_attr = getattr(type(async_obj), async_name, None)
        sync_attr = getattr(type(sync_obj), sync_name, None)
        if not (inspect.isfunction(async_attr) and inspect.isfunction(sync_attr)):
            continue  # properties and instance attributes
        async_params = list(inspect.signature(async_attr).parameters.values())
        sync_params = list(inspect.signature(sync_attr).parameters.values())
        assert [(p.name, p.kind, p.default) for p in async_params] == [
            (p.name, p.kind, p.default) for p in sync_params
        ], f"{name}.{async_name} vs Sync{name}.{sync_name}"
        compared += 1
    assert compared >= 3
