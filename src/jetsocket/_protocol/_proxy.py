"""Connecting through a proxy: HTTP ``CONNECT`` (to a plain or a TLS proxy) and SOCKS.

Two entry points:

* :func:`open_proxy_tunnel` returns a connected, non-blocking socket tunnelled to
  ``host:port`` through an ``http://``, ``socks5://``, ``socks5h://``, ``socks4://`` or
  ``socks4a://`` proxy, ready for ``loop.create_connection(factory, sock=sock, ssl=...)``.
* :func:`create_proxied_connection` is ``loop.create_connection`` through any supported
  proxy, ``https://`` proxies included. :func:`~jetsocket._protocol._open.open_connection`
  uses it.

Why two: through an ``https://`` proxy (TLS between client and proxy) the tunnel lives
*inside* a TLS session, so no plain socket can carry it, and asyncio cannot adopt an
``ssl.SSLSocket``. For that case the ``CONNECT`` exchange runs as an asyncio protocol on the
TLS transport to the proxy; the transport is then handed to the WebSocket protocol
(``transport.set_protocol``) and, for ``wss://``, wrapped once more with ``loop.start_tls``
(TLS in TLS: supported by asyncio's SSL implementation since Python 3.11, and by uvloop).
Plain ``http://`` and SOCKS proxies yield a socket, so the WebSocket's own TLS is set up by
``create_connection(sock=...)`` exactly as without a proxy.

SOCKS goes through python-socks (``pip install jetsocket[socks]``), imported only when a SOCKS
proxy is used. ``socks5h``/``socks4a`` let the proxy resolve the host name; ``socks5``/
``socks4`` resolve it locally.

Proxy credentials (``user:pass@`` in the proxy URL, percent-encoded) are sent only in the
``Proxy-Authorization`` header (RFC 9110 section 11.7.2, Basic scheme of RFC 7617) or in the
SOCKS5 username/password sub-negotiation (RFC 1929). Errors and logs show a proxy as
:func:`redact_proxy` renders it: ``http://***@proxy.example:3128``.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import logging
import os
import socket
import ssl as _ssl
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar, cast

from websockets.exceptions import InvalidProxy
from websockets.http11 import USER_AGENT
from websockets.proxy import parse_proxy
from websockets.uri import WebSocketURI

from jetsocket._exceptions import ProxyError, TimeoutError
from jetsocket._protocol._redact import MASK, redact_text

__all__ = [
    "ProxyError",
    "create_proxied_connection",
    "open_proxy_tunnel",
    "proxy_from_environment",
    "redact_proxy",
    "resolve_proxy",
]

logger = logging.getLogger("jetsocket")

P = TypeVar("P", bound=asyncio.Protocol)

# A CONNECT answer head larger than this is not a proxy talking to us.
_MAX_HEAD = 16 * 1024
_SOCKS_SCHEMES = frozenset({"socks5", "socks5h", "socks4", "socks4a"})
# HTTP statuses to CONNECT after which retrying cannot help: 403 the proxy forbids the
# destination, 407 the credentials are missing or wrong (retrying may lock the account).
_FATAL_STATUS = frozenset({403, 407})
# SOCKS5 reply 0x02 (RFC 1928 section 6): connection not allowed by ruleset.
_FATAL_SOCKS = frozenset({2})
_SOCKS_HINT = "pip install 'jetsocket[socks]'"


@dataclass(frozen=True, slots=True, repr=False)
class _Proxy:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    redacted: str

    def __repr__(self) -> str:
        return f"_Proxy({self.redacted!r})"

    def scrub(self, text: str) -> str:
        """Remove the credentials from a third-party error message, should it echo them."""
        # Shorter values would mangle ordinary words and are no secret anyway.
        return redact_text(text, [s for s in (self.password, self.username) if s and len(s) >= 3])


def redact_proxy(proxy: str) -> str:
    """Return ``proxy`` without its credentials: ``http://***@host:3128``.

    The user name is hidden too: some providers put an API key there.
    """
    if not isinstance(proxy, str):
        return "<invalid proxy URL>"
    try:
        parts = urllib.parse.urlsplit(proxy)
        host = parts.hostname
    except ValueError:
        return "<invalid proxy URL>"
    if not parts.scheme or not host:
        return "<invalid proxy URL>"
    try:
        port = parts.port
    except ValueError:
        return "<invalid proxy URL>"
    auth = f"{MASK}@" if "@" in parts.netloc else ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{auth}{host}" + (f":{port}" if port is not None else "")


def _parse(proxy: str) -> _Proxy:
    if not isinstance(proxy, str):
        raise TypeError(f"proxy must be a str, got {type(proxy).__name__}")
    redacted = redact_proxy(proxy)
    problem = None
    try:
        parsed = parse_proxy(proxy)
    except InvalidProxy as exc:
        # InvalidProxy's str() repeats the whole URL, credentials included: keep its reason.
        problem = exc.msg
    except ValueError:  # a bad port or percent-encoding; the text may quote the URL
        problem = "bad port or encoding"
    if problem is not None:
        # Raised outside the except blocks: "from None" only hides the context from
        # tracebacks, __context__ would still hold the URL with its password.
        raise ValueError(f"invalid proxy URL {redacted}: {problem}")
    return _Proxy(
        parsed.scheme, parsed.host, parsed.port, parsed.username, parsed.password, redacted
    )


# Where urllib reads proxies from the environment only (macOS and Windows also ask the
# system's settings when the environment names none).
_ENV_ONLY: Final = sys.platform not in ("darwin", "win32")


# The variables proxy_from_environment() uses (urllib reads lower case, then upper case).
_PROXY_VARIABLES: Final = tuple(
    f"{scheme}_proxy".upper() if upper else f"{scheme}_proxy"
    for scheme in ("ws", "wss", "socks", "https", "http", "all")
    for upper in (False, True)
)


def proxy_from_environment(uri: WebSocketURI) -> str | None:
    """Return the proxy the environment configures for ``uri``, or None.

    ``NO_PROXY`` is honoured; then, like ``websockets``: ``WSS_PROXY`` (``WS_PROXY`` for
    ``ws://``), ``SOCKS_PROXY``, ``HTTPS_PROXY``, ``HTTP_PROXY`` (``ws://`` only), and
    finally ``ALL_PROXY``. Lower-case names win over upper-case ones (``urllib``'s rules).
    A value without a scheme (``proxy:3128``) means ``http://``, as with curl.
    """
    if _ENV_ONLY and not any(name in os.environ for name in _PROXY_VARIABLES):
        # None of the variables read below is set: what urllib would conclude after
        # reading the whole environment four times (~70 us per connection). Twelve
        # lookups, not a walk over the environment (~36 us with 36 variables); names in
        # mixed case (``Https_Proxy``), which curl ignores too, are not looked for.
        return None
    if urllib.request.proxy_bypass(f"{uri.host}:{uri.port}"):
        return None
    proxies = urllib.request.getproxies()
    # RFC 6455 section 4.1 leaves the choice to the client; a ws/wss-specific setting
    # wins, then SOCKS, then the HTTPS proxy (CONNECT tunnels are what it is for).
    names = (
        ("wss", "socks", "https", "all") if uri.secure else ("ws", "socks", "https", "http", "all")
    )
    for name in names:
        value = proxies.get(name)
        if not value:
            continue
        if name == "socks" and value.startswith("http://"):
            # macOS system settings report SOCKS proxies as {"socks": "http://host:port"}.
            value = "socks5h://" + value[len("http://") :]
        if "://" not in value:
            value = "http://" + value
        return value
    return None


def resolve_proxy(proxy: str | bool | None, uri: WebSocketURI) -> str | None:
    """Return the proxy URL to use for ``uri``, or None for a direct connection.

    Args:
        proxy: A proxy URL; True or None: from the environment
            (:func:`proxy_from_environment`); False or ``""``: connect directly.
        uri: The WebSocket URI.

    Raises:
        ValueError: The proxy URL is invalid or its scheme unsupported.
    """
    if proxy is False or proxy == "":
        return None
    if proxy is True or proxy is None:
        proxy = proxy_from_environment(uri)
        if proxy is None:
            return None
    if not isinstance(proxy, str):
        raise TypeError(f"proxy must be a str, bool or None, got {type(proxy).__name__}")
    _parse(proxy)  # fail early, with a redacted message
    return proxy


# -- HTTP CONNECT ---------------------------------------------------------------------------


def _authority(host: str, port: int) -> str:
    # RFC 9110 section 9.3.6: CONNECT takes the authority form host:port; IPv6 in brackets.
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _connect_request(proxy: _Proxy, host: str, port: int) -> bytes:
    target = _authority(host, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", f"User-Agent: {USER_AGENT}"]
    if proxy.username is not None:
        token = f"{proxy.username}:{proxy.password or ''}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(token).decode('ascii')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _check_answer(head: bytes, proxy: _Proxy, host: str, port: int) -> None:
    """Raise :class:`ProxyError` unless ``head`` is a 2xx answer to CONNECT."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ProxyError(
            f"proxy {proxy.redacted} sent an invalid answer to CONNECT: {lines[0][:80]!r}",
            proxy=proxy.redacted,
        )
    status = int(code)
    # RFC 9110 section 15.3: any 2xx means the tunnel is open; bytes after the head are
    # the destination's.
    if 200 <= status < 300:
        return
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    text = (
        f"proxy {proxy.redacted} refused CONNECT to {_authority(host, port)}: "
        f"HTTP {status} {reason}".rstrip()
    )
    if status == 407:
        text += (
            " (credentials rejected)"
            if proxy.username is not None
            else " (put credentials in the proxy URL: http://user:password@host:port)"
        )
    raise ProxyError(
        text,
        proxy=proxy.redacted,
        status_code=status,
        headers=headers,
        fatal=status in _FATAL_STATUS,
    )


async def _connect_tcp(proxy: _Proxy) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ProxyError(
            f"cannot resolve proxy {proxy.redacted}: {exc}", proxy=proxy.redacted
        ) from exc
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise ProxyError(
        f"cannot connect to proxy {proxy.redacted}: {error}", proxy=proxy.redacted
    ) from error


async def _read_head(sock: socket.socket, proxy: _Proxy) -> bytes:
    """Read the answer head to CONNECT, and not one byte more.

    Bytes after the head belong to the tunnel and must stay in the socket for the next
    owner: reading one byte at a time is the portable way to never over-read, and costs
    nothing next to a network round trip (the head is a few dozen bytes).
    """
    loop = asyncio.get_running_loop()
    head = bytearray()
    while not head.endswith(b"\r\n\r\n"):
        byte = await loop.sock_recv(sock, 1)
        if not byte:
            raise ProxyError(
                f"proxy {proxy.redacted} closed the connection without answering CONNECT",
                proxy=proxy.redacted,
            )
        head += byte
        if len(head) > _MAX_HEAD:
            raise ProxyError(
                f"proxy {proxy.redacted} sent an oversized answer to CONNECT",
                proxy=proxy.redacted,
            )
    return bytes(head)


async def _http_tunnel(proxy: _Proxy, host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = await _connect_tcp(proxy)
    try:
        await loop.sock_sendall(sock, _connect_request(proxy, host, port))
        _check_answer(await _read_head(sock, proxy), proxy, host, port)
    except OSError as exc:
        sock.close()
        if isinstance(exc, ProxyError):
            raise
        raise ProxyError(
            f"connection to proxy {proxy.redacted} failed: {exc}", proxy=proxy.redacted
        ) from exc
    except BaseException:
        sock.close()
        raise
    return sock


class _TunnelProtocol(asyncio.Protocol):
    """Sends ``CONNECT`` on a (TLS) transport and waits for the answer head."""

    def __init__(self, request: bytes, proxy: _Proxy) -> None:
        self._request = request
        self._proxy = proxy
        self.buffer = bytearray()
        self.head: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's TLS transport is not an
        # asyncio.Transport subclass, though it implements the interface.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.head.done():
            return  # tunnel bytes arriving early: kept in buffer for the next protocol
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(self.buffer[: end + 4])
            del self.buffer[: end + 4]
            # Hold further bytes in the socket until the WebSocket protocol takes over.
            assert self.transport is not None
            self.transport.pause_reading()
            self.head.set_result(head)
        elif len(self.buffer) > _MAX_HEAD:
            self._fail("sent an oversized answer to CONNECT")

    def eof_received(self) -> bool | None:
        self._fail("closed the connection without answering CONNECT")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f" ({exc})" if exc is not None else ""
        self._fail(f"closed the connection without answering CONNECT{reason}")

    def _fail(self, what: str) -> None:
        if not self.head.done():
            msg = self._proxy.scrub(f"proxy {self._proxy.redacted} {what}")
            self.head.set_exception(ProxyError(msg, proxy=self._proxy.redacted))


async def _via_tls_proxy(
    protocol_factory: Callable[[], P],
    proxy: _Proxy,
    host: str,
    port: int,
    *,
    ssl: _ssl.SSLContext | None,
    server_hostname: str | None,
    proxy_ssl: _ssl.SSLContext | None,
) -> tuple[asyncio.Transport, P]:
    loop = asyncio.get_running_loop()
    request = _connect_request(proxy, host, port)
    context = proxy_ssl if proxy_ssl is not None else _ssl.create_default_context()
    try:
        transport, tunnel = await loop.create_connection(
            lambda: _TunnelProtocol(request, proxy),
            proxy.host,
            proxy.port,
            ssl=context,
            server_hostname=proxy.host,
        )
    except OSError as exc:
        raise ProxyError(
            f"cannot connect to proxy {proxy.redacted}: {exc}", proxy=proxy.redacted
        ) from exc
    try:
        _check_answer(await tunnel.head, proxy, host, port)
        protocol = protocol_factory()
        if ssl is None:
            transport.set_protocol(protocol)
            protocol.connection_made(transport)
            if tunnel.buffer:
                protocol.data_received(bytes(tunnel.buffer))
            transport.resume_reading()
            return transport, protocol
        if tunnel.buffer:
            # The destination spoke before our TLS ClientHello: not a TLS server.
            raise ProxyError(
                f"destination {_authority(host, port)} sent data before the TLS handshake",
                proxy=proxy.redacted,
            )
        inner = await loop.start_tls(transport, protocol, ssl, server_hostname=server_hostname)
        if inner is None:  # only when the loop was closed meanwhile
            raise ProxyError("event loop closed during TLS setup", proxy=proxy.redacted)
        # start_tls does not call connection_made (its SSLProtocol is created with
        # call_connection_made=False): the new transport is ours to announce.
        protocol.connection_made(inner)
        return inner, protocol
    except BaseException:
        if not tunnel.head.done():
            tunnel.head.cancel()  # nobody will read a later failure
        transport.abort()
        raise


# -- SOCKS ----------------------------------------------------------------------------------


async def _socks_tunnel(proxy: _Proxy, host: str, port: int, timeout: float) -> socket.socket:
    # Imported here: python-socks is an optional extra, needed only for SOCKS proxies.
    try:
        import python_socks  # noqa: PLC0415
        from python_socks.async_.asyncio import Proxy as SocksProxy  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(
            f"{proxy.scheme}:// proxies need the optional python-socks package: {_SOCKS_HINT}"
        ) from exc
    kind = (
        python_socks.ProxyType.SOCKS5
        if proxy.scheme.startswith("socks5")
        else python_socks.ProxyType.SOCKS4
    )
    # socks5h/socks4a: the proxy resolves the name (DNS stays on the proxy's side).
    rdns = proxy.scheme in ("socks5h", "socks4a")
    client = SocksProxy(kind, proxy.host, proxy.port, proxy.username, proxy.password, rdns)
    try:
        return await client.connect(host, port, timeout=timeout)
    except python_socks.ProxyTimeoutError:
        raise TimeoutError(
            f"SOCKS proxy {proxy.redacted} did not open a tunnel to "
            f"{_authority(host, port)} within {timeout}s"
        ) from None
    except python_socks.ProxyConnectionError as exc:
        raise ProxyError(
            proxy.scrub(f"cannot connect to proxy {proxy.redacted}: {exc.strerror or exc}"),
            proxy=proxy.redacted,
        ) from None
    except python_socks.ProxyError as exc:
        code = exc.error_code
        detail = proxy.scrub(str(exc))
        raise ProxyError(
            f"SOCKS proxy {proxy.redacted} refused a tunnel to {_authority(host, port)}: {detail}",
            proxy=proxy.redacted,
            socks_code=code,
            fatal=code in _FATAL_SOCKS or "authentication" in detail.lower(),
        ) from None


# -- entry points ---------------------------------------------------------------------------


async def _open_tunnel(proxy: _Proxy, host: str, port: int, timeout: float) -> socket.socket:
    if proxy.scheme == "http":
        sock = await _http_tunnel(proxy, host, port)
    elif proxy.scheme in _SOCKS_SCHEMES:
        sock = await _socks_tunnel(proxy, host, port, timeout)
    else:
        raise ValueError(
            f"{proxy.scheme}:// proxies yield no plain socket; use create_proxied_connection"
        )
    logger.debug("jetsocket: tunnel to %s open via %s", _authority(host, port), proxy.redacted)
    return sock


def _timeout_error(proxy: _Proxy, host: str, port: int, timeout: float) -> TimeoutError:
    return TimeoutError(
        f"no tunnel to {_authority(host, port)} through proxy {proxy.redacted} within {timeout}s"
    )


async def open_proxy_tunnel(proxy: str, host: str, port: int, *, timeout: float) -> socket.socket:
    """Open a TCP tunnel to ``host:port`` through ``proxy``; return its socket.

    The socket is connected and non-blocking: pass it to
    ``loop.create_connection(factory, sock=sock, ssl=..., server_hostname=...)``.

    Args:
        proxy: ``http://[user:password@]host[:port]`` (HTTP ``CONNECT``) or ``socks5://``,
            ``socks5h://``, ``socks4://``, ``socks4a://`` (python-socks). ``https://``
            proxies cannot yield a plain socket: use :func:`create_proxied_connection`.
        host: Destination host name or address.
        port: Destination port.
        timeout: Bound in seconds on reaching the proxy and opening the tunnel.

    Returns:
        The tunnelled socket.

    Raises:
        ProxyError: The proxy is unreachable or refused (``status_code`` 407: credentials
            needed or rejected).
        TimeoutError: ``timeout`` elapsed.
        ValueError: Invalid or unsupported proxy URL.
        ImportError: A SOCKS proxy without python-socks installed.
    """
    parsed = _parse(proxy)
    try:
        async with asyncio.timeout(timeout):
            return await _open_tunnel(parsed, host, port, timeout)
    except builtins.TimeoutError as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise _timeout_error(parsed, host, port, timeout) from None


async def create_proxied_connection(
    protocol_factory: Callable[[], P],
    proxy: str,
    host: str,
    port: int,
    *,
    ssl: _ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    proxy_ssl: _ssl.SSLContext | None = None,
    timeout: float = 10.0,
) -> tuple[asyncio.Transport, P]:
    """``loop.create_connection`` to ``host:port`` through ``proxy``.

    Args:
        protocol_factory: Builds the protocol that owns the connection.
        proxy: ``http://``, ``https://`` (TLS to the proxy), ``socks5://``, ``socks5h://``,
            ``socks4://`` or ``socks4a://`` URL, with optional ``user:password@``.
        host: Destination host.
        port: Destination port.
        ssl: TLS settings for the destination (``wss://``), None for plain TCP.
        server_hostname: Name checked against the destination's certificate.
        proxy_ssl: TLS settings for an ``https://`` proxy (default: verified, system CAs).
        timeout: Bound in seconds on the whole setup (tunnel and TLS).

    Returns:
        ``(transport, protocol)`` as ``loop.create_connection`` returns them.

    Raises:
        ProxyError: The proxy is unreachable or refused the tunnel.
        TimeoutError: ``timeout`` elapsed.
        OSError: The TLS handshake with the destination failed (e.g. ``ssl.SSLError``).
        ValueError: Invalid proxy URL, or ``proxy_ssl`` for a proxy that is not https.
        ImportError: A SOCKS proxy without python-socks installed.
    """
    parsed = _parse(proxy)
    if proxy_ssl is not None and parsed.scheme != "https":
        raise ValueError(f"proxy_ssl given for a {parsed.scheme}:// proxy; use https://")
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            if parsed.scheme == "https":
                return await _via_tls_proxy(
                    protocol_factory,
                    parsed,
                    host,
                    port,
                    ssl=ssl,
                    server_hostname=server_hostname,
                    proxy_ssl=proxy_ssl,
                )
            sock = await _open_tunnel(parsed, host, port, timeout)
            try:
                return await loop.create_connection(
                    protocol_factory,
                    sock=sock,
                    ssl=ssl,
                    server_hostname=server_hostname if ssl is not None else None,
                )
            except BaseException:
                sock.close()
                raise
    except builtins.TimeoutError as exc:
        if isinstance(exc, TimeoutError):
            raise
        raise _timeout_error(parsed, host, port, timeout) from None
