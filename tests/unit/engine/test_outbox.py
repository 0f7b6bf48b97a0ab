"""Outbox: sending on the current connection, waiting, holding or refusing without one."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from jetsocket import ConnectionClosedError, InvalidStateError, ReplayConfig, TimeoutError
from jetsocket._engine._options import resolve
from jetsocket._engine._outbox import Outbox, encode_raw
from jetsocket._engine._state import ConnectionState
from jetsocket._protocol._connection import WireConnection

_S = ConnectionState


class FakeConn:
    """Records frames; open until told otherwise."""

    def __init__(self) -> None:
        self.frames: list[tuple[bytes, bool]] = []
        self.is_open = True
        self.write_paused = False

    def send_message(self, payload: bytes, text: bool) -> None:
        # As WireConnection.send_message: a connection that is not open raises its close.
        if not self.is_open:
            raise self.closed_error()
        self.frames.append((payload, text))

    def closed_error(self) -> ConnectionClosedError:
        return ConnectionClosedError(1006, "", by_server=True)


class Engine:
    def __init__(self, state: ConnectionState = _S.CONNECTED) -> None:
        self.state = state
        self.end: BaseException | None = None


def make(engine: Engine, **options: Any) -> Outbox:
    return Outbox(
        resolve(options).send,
        state=lambda: engine.state,
        end=lambda: engine.end,
    )


def conn_of(fake: FakeConn) -> WireConnection:
    return cast(WireConnection, fake)


async def test_sends_on_the_attached_connection_and_counts() -> None:
    engine = Engine()
    outbox = make(engine)
    fake = FakeConn()
    outbox.attach(conn_of(fake))
    await outbox.send(*outbox.encode({"a": 1}))
    await outbox.send(*outbox.encode(b"\x01"))
    assert fake.frames == [(b'{"a":1}', True), (b"\x01", False)]
    assert outbox.sent == 2


async def test_idle_and_closed_engines_refuse_clearly() -> None:
    engine = Engine(_S.IDLE)
    outbox = make(engine)
    with pytest.raises(InvalidStateError, match="connect"):
        await outbox.send(b"x", False)
    engine.state = _S.CLOSED
    engine.end = ConnectionClosedError(1000, "bye", by_server=False)
    with pytest.raises(ConnectionClosedError):
        await outbox.send(b"x", False)


async def test_raise_mode_refuses_while_reconnecting() -> None:
    outbox = make(Engine(_S.RECONNECTING))
    with pytest.raises(InvalidStateError, match="reconnecting"):
        await outbox.send(b"x", False)


async def test_wait_mode_sends_once_attached() -> None:
    engine = Engine(_S.RECONNECTING)
    outbox = make(engine, send_while_reconnecting="wait", send_timeout=5.0)
    sending = asyncio.create_task(outbox.send(b"x", True))
    await asyncio.sleep(0)
    assert not sending.done()
    fake = FakeConn()
    engine.state = _S.CONNECTED
    outbox.attach(conn_of(fake))
    await asyncio.wait_for(sending, 5)
    assert fake.frames == [(b"x", True)]


async def test_wait_mode_times_out() -> None:
    outbox = make(Engine(_S.RECONNECTING), send_while_reconnecting="wait", send_timeout=0.01)
    with pytest.raises(TimeoutError, match="send_timeout"):
        await outbox.send(b"x", True)


async def test_waiting_senders_see_the_close() -> None:
    engine = Engine(_S.RECONNECTING)
    outbox = make(engine, send_while_reconnecting="wait")
    sending = asyncio.create_task(outbox.send(b"x", True))
    await asyncio.sleep(0)
    engine.state = _S.CLOSED
    engine.end = ConnectionClosedError(1000, "", by_server=False)
    outbox.release()
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(sending, 5)


async def test_full_buffer_holds_then_replays_in_order() -> None:
    engine = Engine(_S.RECONNECTING)
    outbox = make(engine, replay=ReplayConfig(mode="full_buffer", max_pending_sends=2))
    await outbox.send(b"1", True)
    await outbox.send(b"2", True)
    with pytest.raises(InvalidStateError, match="already held"):
        await outbox.send(b"3", True)
    fake = FakeConn()
    engine.state = _S.CONNECTED
    outbox.attach(conn_of(fake))
    assert await outbox.replay_held() == 2
    assert fake.frames == [(b"1", True), (b"2", True)]


async def test_a_closing_connection_raises_its_close() -> None:
    outbox = make(Engine())
    fake = FakeConn()
    outbox.attach(conn_of(fake))
    fake.is_open = False
    with pytest.raises(ConnectionClosedError):
        await outbox.send(b"x", True)


def test_no_sending_without_waiting_while_reconnecting() -> None:
    outbox = make(Engine(_S.RECONNECTING))
    assert not outbox.can_send_nowait()


def test_encode_raw_checks_text() -> None:
    assert encode_raw("é", None) == ("é".encode(), True)
    assert encode_raw(b"\xff", None) == (b"\xff", False)
    with pytest.raises(ValueError, match="UTF-8"):
        encode_raw(b"\xff", binary=False)
    with pytest.raises(TypeError):
        encode_raw(3, None)  # type: ignore[arg-type]
