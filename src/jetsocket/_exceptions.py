"""The jetsocket exception hierarchy.

Every error jetsocket raises derives from :class:`JetSocketError`, so ``except
JetSocketError`` catches all of them. Where a builtin exception has the same meaning it is
mixed in, so code written against the standard library keeps working (``except
TimeoutError`` catches :class:`jetsocket.TimeoutError`)::

    JetSocketError
    ├── ConnectionError (builtins.ConnectionError)
    │   ├── HandshakeError             server answered the opening handshake with non-101
    │   ├── ConnectionClosedError      the connection closed (code, reason, who closed)
    │   └── ProxyError                 the proxy was unreachable or refused the tunnel
    ├── ProtocolError                  the peer broke RFC 6455 (close code 1002/1007/...)
    │   └── MessageTooBigError         a message exceeded max_message_size (1009)
    ├── InvalidStateError (builtins.RuntimeError)
    ├── TimeoutError (builtins.TimeoutError)
    ├── MessageDecodeError (builtins.ValueError)   a payload failed to decode
    ├── BufferOverflowError            the receive buffer overflowed (policy "error")
    └── SubscriptionError              the server refused (or never acked) a subscription
"""

from __future__ import annotations

import builtins
import datetime
import email.utils
from collections.abc import Mapping

__all__ = [
    "BufferOverflowError",
    "ConnectionClosedError",
    "ConnectionError",
    "HandshakeError",
    "InvalidStateError",
    "JetSocketError",
    "MessageDecodeError",
    "MessageTooBigError",
    "ProtocolError",
    "ProxyError",
    "SubscriptionError",
    "TimeoutError",
    "excerpt",
]

_EXCERPT = 200


def excerpt(payload: bytes | bytearray | memoryview | str, limit: int = _EXCERPT) -> str:
    """Return a short printable excerpt of a payload for error messages.

    Args:
        payload: The raw payload.
        limit: Maximum number of characters kept.

    Returns:
        The (possibly truncated) payload as text, with undecodable bytes escaped.
    """
    if isinstance(payload, str):
        text = payload
    else:
        text = bytes(payload[: limit * 4]).decode("utf-8", "backslashreplace")
    if len(text) > limit:
        return text[:limit] + "…"
    return text


class JetSocketError(Exception):
    """Root of every exception raised by jetsocket."""


class ConnectionError(JetSocketError, builtins.ConnectionError):
    """The connection could not be established or was lost."""


class HandshakeError(ConnectionError):
    """The server answered the opening handshake with something other than 101.

    Attributes:
        status_code: The HTTP status code of the response (0 if the response was
            malformed or the handshake failed for another reason).
        headers: The response headers, e.g. to read ``Retry-After``.
        body: An excerpt of the response body.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 0,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers: dict[str, str] = dict(headers or {})
        self.body = body

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds (RFC 9110 10.2.3: seconds or HTTP-date)."""
        for name, value in self.headers.items():
            if name.lower() == "retry-after":
                try:
                    return max(0.0, float(value))
                except ValueError:
                    pass
                try:
                    when = email.utils.parsedate_to_datetime(value)
                except (TypeError, ValueError):
                    return None
                if when.tzinfo is None:
                    when = when.replace(tzinfo=datetime.UTC)
                now = datetime.datetime.now(datetime.UTC)
                return max(0.0, (when - now).total_seconds())
        return None


class ConnectionClosedError(ConnectionError):
    """The WebSocket connection is closed.

    Attributes:
        code: The close code (RFC 6455 section 7.4); 1006 when no close frame was seen.
        reason: The close reason.
        by_server: True when the server initiated the close (or the TCP connection was
            lost), False when this client closed it.
    """

    def __init__(self, code: int, reason: str = "", *, by_server: bool = True) -> None:
        who = "server" if by_server else "client"
        text = f"connection closed by {who}: code {code}"
        if reason:
            text += f" ({reason})"
        super().__init__(text)
        self.code = code
        self.reason = reason
        self.by_server = by_server


class ProtocolError(JetSocketError):
    """The peer violated the WebSocket protocol.

    Attributes:
        code: The close code sent to the peer (1002 protocol error, 1007 invalid
            payload data, 1009 message too big, ...).
    """

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


class MessageTooBigError(ProtocolError):
    """A message (after decompression) exceeded ``max_message_size``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 1009)


class InvalidStateError(JetSocketError, builtins.RuntimeError):
    """The operation is not allowed in the connection's current state."""


class TimeoutError(JetSocketError, builtins.TimeoutError):
    """An operation did not complete in time."""


class MessageDecodeError(JetSocketError, builtins.ValueError):
    """An incoming message could not be decoded into the declared type.

    Attributes:
        payload: An excerpt of the offending payload.
        detail: The decoder's explanation.
    """

    def __init__(self, detail: str, payload: bytes | str, target: object = None) -> None:
        self.payload = excerpt(payload)
        self.detail = detail
        self.target = target
        name = getattr(target, "__name__", None) or (repr(target) if target else "message")
        super().__init__(f"cannot decode {name}: {detail}; payload: {self.payload!r}")


class BufferOverflowError(JetSocketError):
    """The receive buffer overflowed under the ``error`` overflow policy."""


class SubscriptionError(JetSocketError):
    """The server refused a subscription, or did not acknowledge it in time.

    Attributes:
        subscription: The subscription concerned.
        reason: The server's explanation (or "timeout").
        failed_topics: Topics refused when the server accepted the others.
    """

    def __init__(
        self, subscription: object, reason: str, failed_topics: tuple[str, ...] = ()
    ) -> None:
        super().__init__(f"subscription {subscription!r} failed: {reason}")
        self.subscription = subscription
        self.reason = reason
        self.failed_topics = failed_topics


class ProxyError(ConnectionError):
    """The proxy could not be reached or refused to open the tunnel.

    A :class:`jetsocket.ConnectionError`; its message never contains the proxy's
    credentials.

    Attributes:
        proxy: The proxy URL with credentials hidden.
        status_code: HTTP status of the proxy's answer to ``CONNECT`` (407: proxy
            authentication required), 0 when there was none (SOCKS, unreachable proxy).
        headers: Headers of that answer (e.g. ``Proxy-Authenticate``).
        socks_code: The SOCKS reply code (RFC 1928 section 6, e.g. 5: connection refused),
            or None.
        fatal: True when retrying cannot help: credentials refused, destination forbidden.
    """

    def __init__(
        self,
        message: str,
        *,
        proxy: str,
        status_code: int = 0,
        headers: Mapping[str, str] | None = None,
        socks_code: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.proxy = proxy
        self.status_code = status_code
        self.headers: dict[str, str] = dict(headers or {})
        self.socks_code = socks_code
        self.fatal = fatal
