"""Wire-level defences (issue 11): pong coalescing (item 9) and abort reasons (item 10)."""

from __future__ import annotations

from tests.unit.protocol.wire import client_frames, open_wire, server_frame

from jetsocket import ConnectionClosedError

HIGH_WATER = 64 * 1024


def ping(i: int) -> bytes:
    return server_frame(0x9, b"%07d" % i)


async def test_a_ping_flood_to_a_peer_that_does_not_read_owes_one_pong() -> None:
    # RFC 6455 5.5.3: only the latest ping needs an answer. Before: 500 000 pings queued
    # 500 000 pongs (about 5.5 MB) in the transport's write buffer, without bound.
    conn, transport, rec = await open_wire(high_water=HIGH_WATER)
    count = 500_000
    batch = 10_000
    for start in range(0, count, batch):
        conn.data_received(b"".join(ping(i) for i in range(start, start + batch)))
    assert len(rec.pings) == count  # every ping is still reported to the listener
    assert conn.write_paused
    # Pongs were written until the high-water mark tripped, then coalesced.
    written = len(transport.written)
    assert written <= HIGH_WATER + 64, written
    before = client_frames(bytes(transport.written))
    assert all(op == 0xA for op, _ in before)
    # The peer reads again: exactly one pong, answering the latest ping.
    transport.drain_all()
    after = client_frames(bytes(transport.written))
    assert after[len(before) :] == [(0xA, b"%07d" % (count - 1))]
    assert not conn.write_paused


async def test_pongs_are_immediate_while_the_peer_reads() -> None:
    conn, transport, _ = await open_wire(high_water=HIGH_WATER)
    conn.data_received(ping(1) + ping(2) + ping(3))
    assert client_frames(bytes(transport.written)) == [
        (0xA, b"0000001"),
        (0xA, b"0000002"),
        (0xA, b"0000003"),
    ]


async def test_no_owed_pong_after_a_close_frame() -> None:
    conn, transport, _ = await open_wire(high_water=10)
    conn.data_received(ping(1))  # written, then paused (above 10 bytes)
    conn.data_received(ping(2))  # owed
    conn.data_received(server_frame(0x8, b"\x03\xe8"))  # the server closes; we echo
    transport.drain_all()
    frames = client_frames(bytes(transport.written))
    # RFC 6455 5.5.1: nothing after our close frame, not even the owed pong.
    assert frames == [(0xA, b"0000001"), (0x8, b"\x03\xe8")]


async def test_abort_with_a_code_reports_it_instead_of_1006() -> None:
    # Before: a dead peer found by the heartbeat was "closed by server: code 1006".
    conn, transport, rec = await open_wire()
    conn.abort(1011, "heartbeat timeout")
    assert transport.aborted
    [exc] = rec.lost
    assert (exc.code, exc.reason) == (1011, "heartbeat timeout")
    assert str(exc) == "connection dropped by client: code 1011 (heartbeat timeout)"
    # Not a clean end (by_server=False would read as "we closed"): iteration raises it.
    assert exc.by_server
    err = conn.closed_error()
    assert (err.code, err.reason, str(err)) == (exc.code, exc.reason, str(exc))
    # A close frame with the code was attempted first (best effort).
    assert client_frames(bytes(transport.written)) == [(0x8, b"\x03\xf3heartbeat timeout")]


async def test_abort_without_a_code_is_still_1006() -> None:
    conn, _, rec = await open_wire()
    conn.abort()
    [exc] = rec.lost
    assert isinstance(exc, ConnectionClosedError)
    assert (exc.code, exc.reason, exc.by_server) == (1006, "", True)


async def test_abort_with_an_unsendable_code_reports_it_all_the_same() -> None:
    conn, transport, rec = await open_wire()
    conn.abort(1006, "x" * 300)
    [exc] = rec.lost
    assert exc.code == 1006
    assert len(exc.reason.encode()) <= 123
    assert transport.written == b""  # 1006 may not be sent (RFC 6455 7.4.1)
