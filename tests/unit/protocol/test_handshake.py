"""The opening handshake response, whatever its TCP segmentation (issue 11, items 1 and 10).

A response split at any byte must parse exactly as unsplit: same status, headers,
Retry-After, body and fatal/retriable classification; frames sent with the 101 are
delivered. A hostile head (ten thousand headers, an endless line) is refused with what was
wrong and the status when the status line came.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.protocol.wire import accept_for, make_connection, outcome, pieces, server_frame

from jetsocket import HandshakeError, TimeoutError
from jetsocket._engine._retry import is_fatal

Response = Callable[[str], bytes]


def valid_101(accept: str) -> bytes:
    head = (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    ).encode()
    # Frames may follow the 101 in the same segment (RFC 6455 section 4.1).
    return head + server_frame(0x1, b"hello") + server_frame(0x1, b"world")


def refusal_401(accept: str) -> bytes:
    body = b'{"error":"bad key"}'
    return (
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def refusal_429(accept: str) -> bytes:
    return b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nslow"


def refusal_503_empty(accept: str) -> bytes:
    return b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n"


def many_headers(status: str) -> Response:
    def build(accept: str) -> bytes:
        lines = "".join(f"X-H{i}: {i}\r\n" for i in range(10_000))
        return f"HTTP/1.1 {status}\r\n{lines}\r\n".encode()

    return build


RESPONSES: dict[str, Response] = {
    "101": valid_101,
    "401": refusal_401,
    "429": refusal_429,
    "503": refusal_503_empty,
}


async def deliver(response: Response, cuts: list[int]) -> tuple[object, ...]:
    conn, transport, rec = make_connection(subprotocols=["chat"])
    data = response(accept_for(bytes(transport.written)))
    for piece in pieces(data, cuts):
        conn.data_received(piece)
    return await outcome(conn, rec)


def run(response: Response, cuts: list[int]) -> tuple[object, ...]:
    return asyncio.run(deliver(response, cuts))


# -- expected outcomes, unsplit --------------------------------------------------------------


def test_unsplit_outcomes_are_the_expected_ones() -> None:
    assert run(valid_101, []) == ("open", "chat", ["hello", "world"])
    kind, status, headers, retry_after, body, fatal, _ = run(refusal_401, [])
    assert (kind, status, retry_after, body, fatal) == (
        "refused",
        401,
        None,
        b'{"error":"bad key"}',
        True,
    )
    assert ("WWW-Authenticate", "Bearer") in headers  # type: ignore[operator]
    kind, status, _, retry_after, body, fatal, _ = run(refusal_429, [])
    assert (kind, status, retry_after, body, fatal) == ("refused", 429, 7.0, b"slow", False)
    assert run(refusal_503_empty, [])[1:4] == (
        503,
        [("Content-Length", "0"), ("Retry-After", "2")],
        2.0,
    )


# -- regressions: splits the old code misparsed ----------------------------------------------


@pytest.mark.parametrize("cut", [1, 5, 8, 9, 11, 12, 13, 30])
def test_101_split_in_its_first_bytes_opens(cut: int) -> None:
    # Before: a 101 split within "HTTP/1.1 101" was handed to websockets without its start.
    assert run(valid_101, [cut]) == ("open", "chat", ["hello", "world"])


@pytest.mark.parametrize("name", ["401", "429"])
@pytest.mark.parametrize("cut", [3, 12, 20, 40])
def test_refusal_split_anywhere_keeps_status_headers_and_class(name: str, cut: int) -> None:
    # Before: a split 401 lost its status (0): retried for ever instead of fatal.
    assert run(RESPONSES[name], [cut]) == run(RESPONSES[name], [])


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_one_byte_at_a_time_parses_as_unsplit(name: str) -> None:
    response = RESPONSES[name]
    size = len(response("x" * 28))
    assert run(response, list(range(1, size))) == run(response, [])


# -- property: any split, same outcome --------------------------------------------------------


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(RESPONSES)),
    cuts=st.lists(st.integers(1, 400), max_size=12),
)
def test_any_split_parses_exactly_as_unsplit(name: str, cuts: list[int]) -> None:
    response = RESPONSES[name]
    assert run(response, cuts) == run(response, [])


@settings(max_examples=25, derandomize=True, deadline=None)
@given(status=st.sampled_from(["101 Switching Protocols", "401 Unauthorized"]), data=st.data())
def test_too_many_headers_split_anywhere_is_named_with_its_status(
    status: str, data: st.DataObject
) -> None:
    response = many_headers(status)
    size = len(response(""))
    cuts = data.draw(st.lists(st.integers(1, size - 1), max_size=6))
    kind, code, *_, fatal, text = run(response, cuts)
    assert kind == "refused"
    assert code == int(status[:3])
    assert fatal is (code == 401)
    assert "too many headers" in str(text)
    assert f"HTTP {code}" in str(text)


# -- item 10: a hostile head says what was wrong ----------------------------------------------


def test_ten_thousand_headers_name_the_problem_and_the_status() -> None:
    kind, status, _, _, _, fatal, text = run(many_headers("101 Switching Protocols"), [])
    assert (kind, status, fatal) == ("refused", 101, False)
    assert text == "invalid handshake response (HTTP 101): too many headers (more than 128)"


def test_a_header_line_too_long_is_named() -> None:
    def long_line(accept: str) -> bytes:
        return b"HTTP/1.1 429 Too Many Requests\r\nX-Junk: " + b"a" * 9000

    kind, status, *_, text = run(long_line, [])
    assert (kind, status) == ("refused", 429)
    assert "header line is longer than 8192 bytes" in str(text)


def test_an_endless_status_line_is_named() -> None:
    kind, status, *_, text = run(lambda accept: b"HTTP/1.1 " + b"9" * 10_000, [])
    assert (kind, status) == ("refused", 0)
    assert "status line is longer than 8192 bytes" in str(text)


def test_a_head_too_large_in_total_is_named() -> None:
    def big(accept: str) -> bytes:
        return b"HTTP/1.1 101 OK\r\n" + b"".join(
            b"X-%d: %s\r\n" % (i, b"v" * 8000) for i in range(9)
        )

    kind, status, *_, text = run(big, [])
    assert (kind, status) == ("refused", 101)
    assert "larger than 64 KiB" in str(text)


async def test_a_refusal_whose_body_never_ends_reports_its_status() -> None:
    # The body is read to EOF (no Content-Length); a server that keeps the socket open
    # used to produce a bare TimeoutError, losing the 401 (fatal) for a retriable error.
    conn, _, _ = make_connection()
    conn.data_received(b"HTTP/1.1 401 Unauthorized\r\nX-Reason: key revoked\r\n\r\npartial")
    with pytest.raises(HandshakeError) as info:
        await conn.wait_open(0.05)
    assert info.value.status_code == 401
    assert info.value.headers == {"X-Reason": "key revoked"}
    assert is_fatal(info.value)
    assert "did not end" in str(info.value)


async def test_a_silent_server_is_still_a_timeout() -> None:
    conn, _, _ = make_connection()
    with pytest.raises(TimeoutError):
        await conn.wait_open(0.02)


async def test_eof_in_the_middle_of_the_head_says_so_with_the_status() -> None:
    conn, _, _ = make_connection()
    conn.data_received(b"HTTP/1.1 403 Forbidden\r\nX-A: 1\r\n")
    conn.eof_received()
    with pytest.raises(HandshakeError) as info:
        await conn.wait_open(0.5)
    assert info.value.status_code == 403
    assert "HTTP 403" in str(info.value)
    assert "connection closed while reading HTTP headers" in str(info.value)


async def test_an_invalid_accept_split_is_still_refused_with_101() -> None:
    conn, _, _ = make_connection()
    data = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    data += b"Sec-WebSocket-Accept: wrong\r\n\r\n"
    for piece in pieces(data, [4, 17, 60]):
        conn.data_received(piece)
    with pytest.raises(HandshakeError) as info:
        await conn.wait_open(0.5)
    assert info.value.status_code == 101
    assert "Sec-WebSocket-Accept" in str(info.value)
