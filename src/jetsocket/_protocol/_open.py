"""Opening a wire connection: TCP (or a proxy tunnel), TLS, the opening handshake."""

from __future__ import annotations

import asyncio
import builtins
import ssl as _ssl
from collections.abc import Iterable, Mapping, Sequence

from jetsocket._exceptions import ConnectionError, ProxyError, TimeoutError
from jetsocket._protocol._connection import WireConnection
from jetsocket._protocol._listener import ConnectionListener, WireTap
from jetsocket._protocol._proxy import create_proxied_connection, resolve_proxy
from jetsocket._protocol._redact import Redactor, redact_uri
from jetsocket._protocol._validate import validate_headers, validate_subprotocols, validate_uri

__all__ = ["open_connection"]


async def open_connection(
    uri: str,
    listener: ConnectionListener,
    *,
    text_as_str: bool,
    max_message_size: int,
    compress: bool = True,
    compression_threshold: int = 128,
    extra_headers: Mapping[str, str] | None = None,
    subprotocols: Sequence[str] | None = None,
    ssl_context: _ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 5.0,
    proxy: str | bool | None = None,
    proxy_ssl_context: _ssl.SSLContext | None = None,
    secrets: Iterable[str] | Redactor = (),
    tap: WireTap | None = None,
) -> WireConnection:
    """Open a TCP (or TLS) connection and run the opening handshake.

    Args:
        uri: ``ws://`` or ``wss://`` URI.
        listener: Receives messages and the end of the connection.
        text_as_str: Deliver text messages as ``str`` (else validated UTF-8 ``bytes``).
        max_message_size: Largest accepted message, after decompression.
        compress: Offer permessage-deflate (RFC 7692).
        compression_threshold: Outgoing messages shorter than this are not compressed.
        extra_headers: Additional handshake headers.
        subprotocols: Subprotocols to offer.
        ssl_context: TLS settings for ``wss`` (default: verified, system CAs).
        connect_timeout: Bound on TCP connect + TLS + handshake.
        close_timeout: Bound on the closing handshake.
        proxy: Proxy URL (``http://``, ``https://``, ``socks5://``, ``socks5h://``, ...);
            True or None: from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` /
            ``NO_PROXY``; False or ``""``: connect directly.
        proxy_ssl_context: TLS settings for an ``https://`` proxy.
        secrets: Secret values (API keys, passphrases...) hidden wherever this
            connection logs or raises, or a ready
            :class:`~jetsocket._protocol._redact.Redactor` (built once per client).
        tap: Sees every byte of the connection, both ways (recording, debugging).

    Returns:
        The open connection.

    Raises:
        HandshakeError: The server refused the upgrade (status, headers, body excerpt).
        ProxyError: The proxy is unreachable or refused the tunnel (``status_code``).
        TimeoutError: ``connect_timeout`` elapsed.
        ConnectionError: The TCP/TLS connection failed.
        TypeError, ValueError: An invalid URI, header, subprotocol or secret (checked
            before any socket is opened).
    """
    # Every argument is checked here, before any socket: an invalid subprotocol raising
    # inside connection_made would leave connect() waiting for its timeout.
    wsuri = validate_uri(uri)
    headers = validate_headers(extra_headers)
    offered = validate_subprotocols(subprotocols)
    redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)
    loop = asyncio.get_running_loop()
    ssl_arg: _ssl.SSLContext | None = None
    if wsuri.secure:
        ssl_arg = ssl_context if ssl_context is not None else _ssl.create_default_context()
    elif ssl_context is not None:
        raise ValueError("ssl_context given for a ws:// URI; use wss://")
    proxy_url = resolve_proxy(proxy, wsuri)
    deadline = loop.time() + connect_timeout

    def factory() -> WireConnection:
        return WireConnection(
            wsuri,
            listener=listener,
            text_as_str=text_as_str,
            max_message_size=max_message_size,
            compress=compress,
            compression_threshold=compression_threshold,
            extra_headers=headers,
            subprotocols=offered,
            close_timeout=close_timeout,
            secrets=redactor,
            tap=tap,
        )

    server_hostname = wsuri.host if ssl_arg is not None else None
    if proxy_url is None:
        opening = loop.create_connection(
            factory, wsuri.host, wsuri.port, ssl=ssl_arg, server_hostname=server_hostname
        )
    else:
        opening = create_proxied_connection(
            factory,
            proxy_url,
            wsuri.host,
            wsuri.port,
            ssl=ssl_arg,
            server_hostname=server_hostname,
            proxy_ssl=proxy_ssl_context,
            timeout=connect_timeout,
        )
    try:
        # asyncio.timeout, not wait_for: no task per connect (clients open many).
        async with asyncio.timeout(connect_timeout):
            _, conn = await opening
    except builtins.TimeoutError:
        raise TimeoutError(
            f"connecting to {redact_uri(uri, redactor)} timed out after {connect_timeout}s"
        ) from None
    except ProxyError:
        raise  # already a ConnectionError, with the proxy's status and a redacted message
    except OSError as exc:
        raise ConnectionError(
            f"cannot connect to {redact_uri(uri, redactor)}: {redactor(str(exc))}"
        ) from exc
    await conn.wait_open(max(0.0, deadline - loop.time()))
    return conn
