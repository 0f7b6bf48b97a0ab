"""Checks of user-supplied connection settings, run before any socket is opened.

Each function raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value) with a
message that says what is wrong and never repeats a credential: the URI is shown redacted,
and no exception raised here carries a ``__context__`` that would (a context keeps the
original exception, whose text often repeats the whole URI, query string included).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Mapping

from websockets.exceptions import InvalidURI
from websockets.uri import WebSocketURI, parse_uri

from jetsocket._protocol._redact import redact_uri

__all__ = ["validate_headers", "validate_subprotocols", "validate_uri"]

# RFC 7230 section 3.2.6 token characters; RFC 6455 section 4.1 requires subprotocols (and
# RFC 7230 requires header names) to be tokens.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def validate_uri(uri: object) -> WebSocketURI:
    """Check a WebSocket URI and return it parsed.

    Checks: a ``str``; no whitespace or control character; scheme ``ws`` or ``wss``; a
    host; an IPv6 literal in closed brackets and valid; a port in 1-65535; no fragment
    (RFC 6455 section 3); user info with a password when present.

    Args:
        uri: The URI to check.

    Returns:
        The parsed URI (``websockets.uri.WebSocketURI``).

    Raises:
        TypeError: ``uri`` is not a ``str``.
        ValueError: What is wrong with it (the URI is shown redacted).
    """
    if not isinstance(uri, str):
        raise TypeError(f"uri must be a str, got {type(uri).__name__}")
    problem = _uri_problem(uri)
    if problem is None:
        try:
            return parse_uri(uri)
        except (InvalidURI, ValueError) as exc:
            # Keep the reason only: InvalidURI's text repeats the whole URI.
            problem = exc.msg if isinstance(exc, InvalidURI) else "malformed URI"
    # Raised outside the except block: no __context__ holding the URI.
    raise ValueError(f"invalid WebSocket URI {redact_uri(uri)}: {problem}")


def _uri_problem(uri: str) -> str | None:
    if _CONTROL.search(uri):
        return "it contains whitespace or a control character"
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError:
        # The only ValueError urlsplit raises for a str: "Invalid IPv6 URL".
        authority = uri.partition("://")[2].partition("/")[0].partition("?")[0]
        if "[" in authority and "]" in authority:
            return "the host in brackets is not a valid IPv6 address"
        return "an IPv6 address must be enclosed in '[' and ']' (unclosed bracket)"
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        shown = f"{scheme!r}" if scheme else "none"
        return f"the scheme must be ws:// or wss:// (got {shown})"
    netloc = parts.netloc.rpartition("@")[2]
    if not netloc:
        return "hostname isn't provided"
    if netloc.startswith("["):
        literal = netloc[1 : netloc.find("]")]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return "the host in brackets is not a valid IPv6 address"
    elif netloc.count(":") > 1:
        return "an IPv6 address must be enclosed in '[' and ']' (ws://[::1]:8080/)"
    if not parts.hostname:
        return "hostname isn't provided"
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        _, _, raw = netloc.rpartition("]") if netloc.startswith("[") else ("", "", netloc)
        shown_port = raw.rpartition(":")[2]
        return f"the port must be an integer from 1 to 65535 (got {shown_port!r})"
    if parts.fragment or uri.endswith("#"):
        return "a fragment (#...) is not allowed (RFC 6455 section 3)"
    return None


def validate_subprotocols(subprotocols: object) -> list[str]:
    """Check the subprotocols to offer and return them as a list.

    RFC 6455 section 4.1: each is a non-empty token (RFC 7230 section 3.2.6: no space,
    comma, CR, LF or separator) and all are distinct. A value that is not a token would
    corrupt the ``Sec-WebSocket-Protocol`` header (``"x,y"`` is two subprotocols) or inject
    headers (CR/LF).

    Args:
        subprotocols: An iterable of ``str``, or None (none offered).

    Returns:
        The subprotocols, in order.

    Raises:
        TypeError: Not an iterable of ``str`` (a bare ``str`` is refused too: it would be
            offered character by character).
        ValueError: An empty, non-token or duplicate subprotocol.
    """
    if subprotocols is None:
        return []
    if isinstance(subprotocols, str | bytes) or not isinstance(subprotocols, Iterable):
        raise TypeError(
            "subprotocols must be a list of str (e.g. ['graphql-ws']), "
            f"got {type(subprotocols).__name__}"
        )
    out: list[str] = []
    for value in subprotocols:
        if not isinstance(value, str):
            raise TypeError(f"each subprotocol must be a str, got {type(value).__name__}")
        if not value:
            raise ValueError("a subprotocol must not be empty")
        if not _TOKEN.fullmatch(value):
            bad = next(c for c in value if not _TOKEN.fullmatch(c))
            raise ValueError(
                f"invalid subprotocol {value[:64]!r}: {bad!r} is not allowed "
                "(RFC 6455 section 4.1: a token, without spaces, commas or separators)"
            )
        if value in out:
            raise ValueError(f"subprotocol {value!r} is offered twice")
        out.append(value)
    return out


def validate_headers(headers: object) -> dict[str, str]:
    """Check extra handshake headers and return them as a dict.

    Args:
        headers: A mapping of header name to value, or None.

    Returns:
        The headers.

    Raises:
        TypeError: Not a mapping of ``str`` to ``str``.
        ValueError: A name that is not a token, or a CR, LF or NUL in a name or value
            (header injection, request splitting).
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"extra headers must be a mapping, got {type(headers).__name__}")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            bad = name if not isinstance(name, str) else value
            raise TypeError(f"header names and values must be str, got {type(bad).__name__}")
        for part in (name, value):
            if "\r" in part or "\n" in part or "\0" in part:
                raise ValueError(f"header {name[:64]!r} contains a CR, LF or NUL character")
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name[:64]!r}")
        out[name] = value
    return out
