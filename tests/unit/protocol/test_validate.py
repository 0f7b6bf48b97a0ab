"""Argument validators (issue 11, items 6 and 7): clear typed errors, no credential echoed."""

from __future__ import annotations

import pytest

from jetsocket._protocol._validate import validate_headers, validate_subprotocols, validate_uri

SECRET = "s3cr3t-t0ken-value"


# -- URIs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "host", "port", "secure"),
    [
        ("ws://example.com/", "example.com", 80, False),
        ("wss://example.com/ws?x=1", "example.com", 443, True),
        ("ws://127.0.0.1:1/", "127.0.0.1", 1, False),
        ("wss://h:65535", "h", 65535, True),
        ("ws://[::1]:8080/feed", "::1", 8080, False),
        ("WSS://EXAMPLE.com/", "example.com", 443, True),
        ("ws://user:pw@h/", "h", 80, False),
    ],
)
def test_valid_uris(uri: str, host: str, port: int, secure: bool) -> None:
    parsed = validate_uri(uri)
    assert (parsed.host, parsed.port, parsed.secure) == (host, port, secure)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (f"ws://h:0/?t={SECRET}", "port must be an integer from 1 to 65535 \\(got '0'\\)"),
        (f"ws://h:65536/?t={SECRET}", "got '65536'"),
        (f"ws://h:99999/?t={SECRET}", "got '99999'"),
        (f"ws://h:-1/?t={SECRET}", "got '-1'"),
        (f"ws://h:abc/?t={SECRET}", "got 'abc'"),
        (f"ws://[::1:8080/?t={SECRET}", "unclosed bracket"),
        (f"ws://[::1/?t={SECRET}", "unclosed bracket"),
        (f"ws://[nothex::zz]/?t={SECRET}", "not a valid IPv6 address"),
        (f"ws://::1/?t={SECRET}", "must be enclosed in '\\[' and '\\]'"),
        (f"http://h/?t={SECRET}", "scheme must be ws:// or wss:// \\(got 'http'\\)"),
        (f"h/?t={SECRET}", "scheme must be ws:// or wss://"),
        (f"ws:///?t={SECRET}", "hostname isn't provided"),
        (f"ws://h/?t={SECRET}#frag", "fragment"),
        (f"ws://h/a b?t={SECRET}", "whitespace or a control character"),
        (f"ws://h/\r\nX: y?t={SECRET}", "whitespace or a control character"),
        (f"ws://{SECRET}@h/", "username provided without password"),
    ],
)
def test_invalid_uris_say_what_is_wrong_without_the_secret(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        validate_uri(uri)
    assert SECRET not in str(info.value)
    assert info.value.__context__ is None  # no original exception holding the URI
    assert info.value.__cause__ is None


@pytest.mark.parametrize("uri", [None, 8080, b"ws://h/", ["ws://h/"]])
def test_a_uri_must_be_a_str(uri: object) -> None:
    with pytest.raises(TypeError, match="uri must be a str"):
        validate_uri(uri)


# -- subprotocols -----------------------------------------------------------------------------


def test_valid_subprotocols() -> None:
    assert validate_subprotocols(None) == []
    assert validate_subprotocols([]) == []
    assert validate_subprotocols(("graphql-ws", "v2.json.ocpp", "mqtt")) == [
        "graphql-ws",
        "v2.json.ocpp",
        "mqtt",
    ]
    assert validate_subprotocols(iter(["a"])) == ["a"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["a\r\nX-Injected: 1"], "'\\\\r' is not allowed"),
        (["a\nb"], "'\\\\n' is not allowed"),
        (["x,y"], "',' is not allowed"),
        (["a b"], "' ' is not allowed"),
        (["a;b"], "';' is not allowed"),
        (["é"], "'é' is not allowed"),
        ([""], "must not be empty"),
        (["chat", "chat"], "offered twice"),
    ],
)
def test_invalid_subprotocol_values(value: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_subprotocols(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("chat", "must be a list of str"),
        (b"chat", "must be a list of str"),
        (5, "must be a list of str"),
        ([b"chat"], "each subprotocol must be a str, got bytes"),
        ([None], "got NoneType"),
        ([1], "got int"),
    ],
)
def test_subprotocols_of_the_wrong_type(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        validate_subprotocols(value)


# -- headers ----------------------------------------------------------------------------------


def test_valid_headers() -> None:
    assert validate_headers(None) == {}
    assert validate_headers({"X-Api-Key": SECRET, "Origin": "https://a"}) == {
        "X-Api-Key": SECRET,
        "Origin": "https://a",
    }


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        ({"X-A": f"{SECRET}\r\nX-B: 1"}, ValueError, "contains a CR, LF or NUL"),
        ({"X-A\n": "v"}, ValueError, "contains a CR, LF or NUL"),
        ({"X A": "v"}, ValueError, "invalid header name"),
        ({"X:A": "v"}, ValueError, "invalid header name"),
        ({"": "v"}, ValueError, "invalid header name"),
        ({"X-A": 1}, TypeError, "must be str, got int"),
        ({1: "v"}, TypeError, "must be str, got int"),
        ([("X-A", "v")], TypeError, "must be a mapping"),
    ],
)
def test_invalid_headers(headers: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        validate_headers(headers)
    assert SECRET not in str(info.value)
