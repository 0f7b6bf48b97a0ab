"""SyncWebSocket sends written from the calling thread: never interleaved, never reordered.

``SyncWebSocket.send`` writes a frame on the socket from the calling thread when nothing
waits before it, and hands the rest to the loop thread otherwise, under one lock shared
with the loop's own writes (pings, pongs, application pings, close). These tests stress
that design with many sender threads while the loop writes too, with socket buffers made
small so partial writes happen, and check every byte the server received.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from tests.conftest import sync_ws_server
from websockets.sync.server import ServerConnection
from websockets.utils import accept_key

import jetsocket
from jetsocket import HeartbeatConfig

_TIMEOUT = 20.0


@dataclass
class Frame:
    fin: bool
    opcode: int
    payload: bytes


@dataclass
class Recorded:
    """Every client frame the raw server parsed, and what went wrong, if anything."""

    frames: list[Frame] = field(default_factory=list)
    error: str | None = None
    after_close: int = 0  # frames received after the client's close frame
    done: threading.Event = field(default_factory=threading.Event)


def _recv_exact(conn: socket.socket, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    out = bytes(buf[:n])
    del buf[:n]
    return out


def _read_frame(conn: socket.socket, buf: bytearray) -> Frame:
    b0, b1 = _recv_exact(conn, buf, 2)
    if not b1 & 0x80:
        raise ValueError("unmasked client frame")
    if b0 & 0x70:
        raise ValueError(f"RSV bits set: {b0:#x}")
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", _recv_exact(conn, buf, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", _recv_exact(conn, buf, 8))
    mask = _recv_exact(conn, buf, 4)
    data = _recv_exact(conn, buf, n)
    payload = bytes(b ^ mask[i & 3] for i, b in enumerate(data)) if n < 64 else _unmask(data, mask)
    return Frame(bool(b0 & 0x80), b0 & 0x0F, payload)


def _unmask(data: bytes, mask: bytes) -> bytes:
    key = int.from_bytes((mask * (len(data) // 4 + 1))[: len(data)], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(len(data), "big")


def _server_frame(opcode: int, payload: bytes) -> bytes:
    return bytes([0x80 | opcode, len(payload)]) + payload


@pytest.fixture
def raw_server() -> Iterator[tuple[str, Recorded]]:
    """A raw WebSocket server that parses every client frame strictly and pings often.

    It answers pings, sends a ping after every 7th data frame (so the loop writes pongs
    while threads write data), echoes the close and shuts its side down, and keeps
    reading until EOF so a frame sent after the close frame is seen.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    rec = Recorded()

    def serve_one() -> None:
        conn, _ = listener.accept()
        buf = bytearray()
        try:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    raise EOFError
                buf += chunk
            head, _, rest = bytes(buf).partition(b"\r\n\r\n")
            buf = bytearray(rest)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = accept_key(key.decode()).encode()
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            closed = False
            data_frames = 0
            while True:
                frame = _read_frame(conn, buf)
                if closed:
                    rec.after_close += 1
                    continue
                rec.frames.append(frame)
                if frame.opcode == 0x9:
                    conn.sendall(_server_frame(0xA, frame.payload))
                elif frame.opcode == 0x8:
                    closed = True
                    conn.sendall(_server_frame(0x8, frame.payload[:2]))
                    # RFC 6455 7.1.1: the server closes TCP first; keep reading until the
                    # client's EOF so a frame written after its close frame is seen.
                    conn.shutdown(socket.SHUT_WR)
                elif frame.opcode in (0x1, 0x2):
                    data_frames += 1
                    if data_frames % 7 == 0:
                        conn.sendall(_server_frame(0x9, str(data_frames).encode()))
        except EOFError:
            pass
        except Exception as exc:  # reported by the test
            rec.error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
            rec.done.set()

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{listener.getsockname()[1]}/", rec
    listener.close()
    thread.join(_TIMEOUT)


def _shrink_send_buffer(ws: jetsocket.SyncWebSocket[str | bytes]) -> None:
    # Small kernel buffers make the calling thread's writes partial: the rest must be
    # handed to the loop and written before any later frame.
    conn = ws.websocket._conn
    assert conn is not None
    transport = conn._transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


def _message(tid: int, seq: int, rng: random.Random) -> bytes:
    # Sizes from a few bytes to 70 kB (7-, 16- and 64-bit length forms), most of them
    # larger than the shrunk socket buffer.
    size = rng.choice((0, 10, 120, 200, 5000, 12_000, 30_000, 70_000))
    return f"{tid}:{seq}:".encode() + b"x" * size


def _check_threads(
    payloads: list[bytes], sent: dict[int, list[bytes]], *, exact: bool = True
) -> None:
    """Each thread's messages arrived whole and in order (all of them when ``exact``)."""
    got: dict[int, list[bytes]] = {}
    for p in payloads:
        if p.startswith(b"{"):
            continue  # an application ping of the heartbeat
        tid = int(p.split(b":", 1)[0])
        got.setdefault(tid, []).append(p)
    for tid, messages in sent.items():
        assert got.get(tid, []) == messages, f"thread {tid}: messages missing or reordered"


def _run_senders(
    ws: jetsocket.SyncWebSocket[str | bytes],
    threads: int,
    per_thread: int,
    on_sent: Callable[[], None] | None = None,
) -> dict[int, list[bytes]]:
    """Start ``threads`` senders at once; return what each one sent successfully."""
    sent: dict[int, list[bytes]] = {tid: [] for tid in range(threads)}
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def sender(tid: int) -> None:
        rng = random.Random(tid)
        start.wait(_TIMEOUT)
        try:
            for seq in range(per_thread):
                msg = _message(tid, seq, rng)
                if seq % 2:
                    ws.send_raw(msg, binary=bool(seq % 4 == 1))
                else:
                    ws.send(msg.decode())
                sent[tid].append(msg)
                if on_sent is not None:
                    on_sent()
        except (jetsocket.ConnectionClosedError, jetsocket.InvalidStateError):
            pass  # closed under us (the close race test)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=sender, args=(tid,)) for tid in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(_TIMEOUT)
        assert not w.is_alive()
    assert not errors, errors
    return sent


def test_many_threads_while_the_loop_pings_and_pongs(raw_server: tuple[str, Recorded]) -> None:
    uri, rec = raw_server
    hb = HeartbeatConfig(
        interval=0.002, timeout=10.0, use_application_ping=True, payload={"op": "ping"}
    )
    with jetsocket.SyncWebSocket(uri, raw=True, compress=False, heartbeat=hb) as ws:
        _shrink_send_buffer(ws)
        sent = _run_senders(ws, threads=8, per_thread=30)
        assert ws.stats().messages_sent >= 8 * 30
    assert rec.done.wait(_TIMEOUT)
    assert rec.error is None, rec.error
    assert rec.after_close == 0
    assert all(f.fin for f in rec.frames)
    assert rec.frames[-1].opcode == 0x8
    ops = {f.opcode for f in rec.frames}
    assert {0x1, 0x2, 0x8, 0x9, 0xA} <= ops  # data, close, loop pings and pongs
    data = [f.payload for f in rec.frames if f.opcode in (0x1, 0x2)]
    _check_threads(data, sent)
    # Pongs answer the server's pings (whose payloads count data frames), in order.
    pongs = [int(f.payload) for f in rec.frames if f.opcode == 0xA]
    assert pongs == sorted(pongs)


def test_close_racing_sends_leaves_nothing_after_the_close(
    raw_server: tuple[str, Recorded],
) -> None:
    uri, rec = raw_server
    ws: jetsocket.SyncWebSocket[str | bytes] = jetsocket.SyncWebSocket(
        uri, raw=True, compress=False
    )
    ws.connect()
    _shrink_send_buffer(ws)
    enough = threading.Event()
    count = [0]
    lock = threading.Lock()
    done: dict[int, list[bytes]] = {}

    def on_sent() -> None:
        with lock:
            count[0] += 1
            if count[0] == 300:
                enough.set()

    def run() -> None:
        done.update(_run_senders(ws, threads=6, per_thread=100_000, on_sent=on_sent))

    runner = threading.Thread(target=run)
    runner.start()
    # Close while every thread is still sending (each would send far more than this).
    assert enough.wait(_TIMEOUT)
    ws.close()
    runner.join(_TIMEOUT)
    assert not runner.is_alive()
    assert rec.done.wait(_TIMEOUT)
    assert rec.error is None, rec.error
    assert rec.after_close == 0, "frames written after the close frame"
    assert rec.frames[-1].opcode == 0x8
    data = [f.payload for f in rec.frames if f.opcode in (0x1, 0x2)]
    # Every send that returned is on the wire, before the close, in order.
    _check_threads(data, done)


@pytest.mark.parametrize("compress", [True, False])
def test_compressed_and_plain_sends_from_threads_stay_in_order(compress: bool) -> None:
    """With permessage-deflate (context takeover) a reordered frame would not inflate."""
    received: list[bytes] = []
    finished = threading.Event()

    def handler(conn: ServerConnection) -> None:
        try:
            for msg in conn:
                received.append(msg.encode() if isinstance(msg, str) else msg)
        finally:
            finished.set()

    with sync_ws_server(handler, max_size=None) as uri:
        hb = HeartbeatConfig(
            interval=0.002, timeout=10.0, use_application_ping=True, payload={"op": "ping"}
        )
        with jetsocket.SyncWebSocket(
            uri, raw=True, compress=compress, compression_threshold=100, heartbeat=hb
        ) as ws:
            _shrink_send_buffer(ws)
            sent = _run_senders(ws, threads=6, per_thread=30)
        assert finished.wait(_TIMEOUT)
    _check_threads(received, sent)
