"""Proxies: HTTP CONNECT (plain and TLS proxy), SOCKS5/SOCKS4, and the environment.

Every proxy here is a minimal implementation started on 127.0.0.1 by the test, in front of a
websockets echo server. Tests marked ``xfail(strict=True, reason=NOT_WIRED)`` exercise the
``proxy=`` option of ``jetsocket.WebSocket``; they pass once the lead wires
``_protocol/_proxy.py`` into ``open_connection`` (drop the marks then).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import ssl
import struct
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme
from tests.conftest import ws_server
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.uri import parse_uri

import jetsocket
from jetsocket._protocol._connection import WireConnection
from jetsocket._protocol._proxy import (
    ProxyError,
    create_proxied_connection,
    open_proxy_tunnel,
    proxy_from_environment,
    redact_proxy,
    resolve_proxy,
)

NOT_WIRED = "proxy option not wired yet"
PASSWORD = "pr0xy-p@ss:word"  # needs percent-encoding in a URL
USER = "alice"
USERINFO = f"{USER}:pr0xy-p%40ss%3Aword"
ENV_NAMES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
    "SOCKS_PROXY",
    "REQUEST_METHOD",
)


@pytest.fixture(autouse=True)
def _clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine's own proxy settings must not leak into these tests.
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def echo(ws: ServerConnection) -> None:
    async for msg in ws:
        await ws.send(msg)


# -- test proxies ---------------------------------------------------------------------------


class _Server:
    """An asyncio TCP server whose connection handlers are cancelled on exit."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(
        self,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.tasks.add(task)
            try:
                await handler(reader, writer)
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.transport.abort()
                self.tasks.discard(task)

        self.server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=tls)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.transport.abort()

    try:
        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
    finally:
        up_writer.transport.abort()


@dataclass
class HttpProxy:
    """A minimal HTTP CONNECT proxy (RFC 9110 section 9.3.6)."""

    auth: tuple[str, str] | None = None
    status: int | None = None  # answer this status instead of opening the tunnel
    hang: bool = False  # never answer
    tls: ssl.SSLContext | None = None
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    tunnels: int = 0
    _server: _Server = field(default_factory=_Server)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.port}"

    def url_with(self, userinfo: str) -> str:
        return self.url.replace("://", f"://{userinfo}@")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        self.requests.append((f"{method} {target} {version}", headers))
        if self.hang:
            await asyncio.Event().wait()  # until the test ends (cancelled by stop())
        if self.status is not None:
            writer.write(f"HTTP/1.1 {self.status} Nope\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
            return
        if self.auth is not None:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            if headers.get("proxy-authorization") != f"Basic {token}":
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                )
                await writer.drain()
                return
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        self.tunnels += 1
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await _pipe(reader, writer, up_reader, up_writer)

    async def __aenter__(self) -> HttpProxy:
        await self._server.start(self._handle, self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.stop()


@dataclass
class SocksProxy:
    """A minimal SOCKS5 (RFC 1928, RFC 1929 auth) and SOCKS4/4a proxy (CONNECT only)."""

    auth: tuple[str, str] | None = None
    reply: int = 0  # SOCKS5 reply code to send instead of success
    target: tuple[str, int] | None = None  # connect here whatever was asked
    requests: list[tuple[int, str, int]] = field(default_factory=list)  # (atyp, host, port)
    tunnels: int = 0
    _server: _Server = field(default_factory=_Server)

    def url(self, scheme: str = "socks5", userinfo: str | None = None) -> str:
        auth = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{auth}127.0.0.1:{self._server.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version = (await reader.readexactly(1))[0]
        if version == 4:
            await self._socks4(reader, writer)
            return
        methods = await reader.readexactly((await reader.readexactly(1))[0])
        if self.auth is None:
            writer.write(b"\x05\x00")
        elif 2 not in methods:
            writer.write(b"\x05\xff")
            return
        else:
            writer.write(b"\x05\x02")
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            password = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            ok = (user, password) == self.auth
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                await writer.drain()
                return
        _, _cmd, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = socket.inet_ntoa(await reader.readexactly(4))
        elif atyp == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        self.requests.append((atyp, host, port))
        if self.reply:
            writer.write(bytes([5, self.reply, 0, 1, 0, 0, 0, 0, 0, 0]))
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection(*(self.target or (host, port)))
        self.tunnels += 1
        writer.write(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + b"\x00\x00")
        await _pipe(reader, writer, up_reader, up_writer)

    async def _socks4(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _cmd, port, raw_ip = struct.unpack("!BH4s", await reader.readexactly(7))
        await reader.readuntil(b"\x00")  # user id
        if raw_ip.startswith(b"\x00\x00\x00") and raw_ip != b"\x00\x00\x00\x00":
            host = (await reader.readuntil(b"\x00"))[:-1].decode()  # SOCKS4a: name follows
            atyp = 3
        else:
            host, atyp = socket.inet_ntoa(raw_ip), 1
        self.requests.append((atyp, host, port))
        up_reader, up_writer = await asyncio.open_connection(*(self.target or (host, port)))
        self.tunnels += 1
        writer.write(b"\x00\x5a" + b"\x00" * 6)
        await _pipe(reader, writer, up_reader, up_writer)

    async def __aenter__(self) -> SocksProxy:
        await self._server.start(self._handle)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.stop()


@contextlib.asynccontextmanager
async def closed_port() -> AsyncIterator[int]:
    """A loopback port nobody listens on (bound, not listening, for the test's duration)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture(scope="module")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@contextlib.asynccontextmanager
async def wss_server(tls: ssl.SSLContext) -> AsyncIterator[str]:
    server = await serve(echo, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"wss://127.0.0.1:{port}/"
    finally:
        server.close()
        await server.wait_closed()


# -- a jetsocket wire connection driven directly ----------------------------------------------


class Collector:
    def __init__(self) -> None:
        self.messages: asyncio.Queue[bytes | str] = asyncio.Queue()

    def on_messages(self, messages: list[bytes | str]) -> None:
        for msg in messages:
            self.messages.put_nowait(msg)

    def on_ping(self, payload: bytes) -> None:
        pass

    def on_pong(self, payload: bytes) -> None:
        pass

    def on_connection_lost(self, exc: jetsocket.ConnectionClosedError) -> None:
        pass


async def wire_echo_via(proxy: str, uri: str, **kwargs: Any) -> None:
    """Open a jetsocket ``WireConnection`` to ``uri`` through ``proxy``; check an echo."""
    wsuri = parse_uri(uri)
    collector = Collector()

    def factory() -> WireConnection:
        return WireConnection(
            wsuri,
            listener=collector,
            text_as_str=True,
            max_message_size=1 << 20,
            compress=True,
            compression_threshold=0,
            extra_headers=None,
            subprotocols=None,
            close_timeout=2.0,
        )

    _, conn = await create_proxied_connection(
        factory, proxy, wsuri.host, wsuri.port, timeout=5.0, **kwargs
    )
    await conn.wait_open(5.0)
    conn.send_message(b"through the tunnel", text=True)
    assert await asyncio.wait_for(collector.messages.get(), 5) == "through the tunnel"
    await conn.close()


async def websockets_echo_over(sock: socket.socket, uri: str, **kwargs: Any) -> None:
    """Prove a tunnelled socket works: run websockets' own client over it."""
    async with ws_connect(uri, sock=sock, open_timeout=5, **kwargs) as ws:
        await ws.send("ping through tunnel")
        assert await asyncio.wait_for(ws.recv(), 5) == "ping through tunnel"


# -- HTTP CONNECT -----------------------------------------------------------------------------


async def test_http_tunnel_socket_carries_a_websocket() -> None:
    async with ws_server(echo) as uri, HttpProxy() as proxy:
        wsuri = parse_uri(uri)
        sock = await open_proxy_tunnel(proxy.url, wsuri.host, wsuri.port, timeout=5)
        assert not sock.getblocking()
        await websockets_echo_over(sock, uri)
        request, headers = proxy.requests[0]
        assert request == f"CONNECT 127.0.0.1:{wsuri.port} HTTP/1.1"
        assert headers["host"] == f"127.0.0.1:{wsuri.port}"
        assert "proxy-authorization" not in headers


async def test_http_proxy_basic_auth() -> None:
    async with ws_server(echo) as uri, HttpProxy(auth=(USER, PASSWORD)) as proxy:
        await wire_echo_via(proxy.url_with(USERINFO), uri)
        token = proxy.requests[0][1]["proxy-authorization"].removeprefix("Basic ")
        assert base64.b64decode(token).decode() == f"{USER}:{PASSWORD}"


@pytest.mark.parametrize("userinfo", [None, "alice:wrong-password"])
async def test_http_proxy_407_is_a_typed_fatal_error(userinfo: str | None) -> None:
    async with HttpProxy(auth=(USER, PASSWORD)) as proxy:
        url = proxy.url_with(userinfo) if userinfo else proxy.url
        with pytest.raises(ProxyError) as info:
            await open_proxy_tunnel(url, "127.0.0.1", 9, timeout=5)
    err = info.value
    assert isinstance(err, jetsocket.ConnectionError)
    assert err.status_code == 407
    assert err.fatal
    assert err.headers["Proxy-Authenticate"] == 'Basic realm="test"'
    assert "407" in str(err)
    for text in (str(err), repr(err), err.proxy):
        assert "wrong-password" not in text
        assert "alice" not in text
    if userinfo:
        assert err.proxy == f"http://***@127.0.0.1:{proxy._server.port}"
        assert "credentials rejected" in str(err)
    else:
        assert "http://user:password@host:port" in str(err)


async def test_http_proxy_bad_gateway_is_retriable() -> None:
    async with HttpProxy(status=502) as proxy:
        with pytest.raises(ProxyError) as info:
            await open_proxy_tunnel(proxy.url, "127.0.0.1", 9, timeout=5)
    assert info.value.status_code == 502
    assert not info.value.fatal


async def test_unreachable_proxy() -> None:
    async with closed_port() as port:
        with pytest.raises(ProxyError) as info:
            await open_proxy_tunnel(f"http://{USERINFO}@127.0.0.1:{port}", "x", 1, timeout=5)
    assert "cannot connect to proxy http://***@127.0.0.1" in str(info.value)
    assert "alice" not in str(info.value)
    assert info.value.status_code == 0
    assert not info.value.fatal


async def test_proxy_that_never_answers_times_out() -> None:
    async with HttpProxy(hang=True) as proxy:
        with pytest.raises(jetsocket.TimeoutError, match=r"through proxy http://127\.0\.0\.1"):
            await open_proxy_tunnel(proxy.url, "127.0.0.1", 9, timeout=0.3)


async def test_proxy_closing_without_answer() -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    server = _Server()
    await server.start(close_at_once)
    try:
        with pytest.raises(ProxyError, match="without answering CONNECT"):
            await open_proxy_tunnel(f"http://127.0.0.1:{server.port}", "h", 1, timeout=5)
    finally:
        await server.stop()


async def test_garbage_answer() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")
        await writer.drain()
        await reader.read()

    server = _Server()
    await server.start(garbage)
    try:
        with pytest.raises(ProxyError, match="invalid answer to CONNECT"):
            await open_proxy_tunnel(f"http://127.0.0.1:{server.port}", "h", 1, timeout=5)
    finally:
        await server.stop()


async def test_http_proxy_to_wss_destination(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    async with wss_server(server_tls) as uri, HttpProxy() as proxy:
        await wire_echo_via(proxy.url, uri, ssl=client_tls, server_hostname="127.0.0.1")
        wsuri = parse_uri(uri)
        sock = await open_proxy_tunnel(proxy.url, wsuri.host, wsuri.port, timeout=5)
        await websockets_echo_over(sock, uri, ssl=client_tls)
        assert proxy.tunnels == 2


# -- HTTPS proxy (TLS to the proxy) --------------------------------------------------------------


async def test_https_proxy_to_ws_destination(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    async with ws_server(echo) as uri, HttpProxy(tls=server_tls, auth=(USER, PASSWORD)) as proxy:
        await wire_echo_via(proxy.url_with(USERINFO), uri, proxy_ssl=client_tls)
        assert proxy.tunnels == 1


async def test_https_proxy_to_wss_destination_tls_in_tls(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    async with wss_server(server_tls) as uri, HttpProxy(tls=server_tls) as proxy:
        await wire_echo_via(
            proxy.url, uri, ssl=client_tls, server_hostname="127.0.0.1", proxy_ssl=client_tls
        )
        assert proxy.tunnels == 1


async def test_https_proxy_certificate_is_verified(server_tls: ssl.SSLContext) -> None:
    async with HttpProxy(tls=server_tls) as proxy:
        with pytest.raises(ProxyError, match="CERTIFICATE_VERIFY_FAILED"):
            await wire_echo_via(proxy.url, "ws://127.0.0.1:9/")  # default CAs: unknown issuer
        assert proxy.requests == []


async def test_https_proxy_refusal(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    async with HttpProxy(tls=server_tls, status=403) as proxy:
        with pytest.raises(ProxyError) as info:
            await wire_echo_via(proxy.url, "ws://127.0.0.1:9/", proxy_ssl=client_tls)
    assert info.value.status_code == 403
    assert info.value.fatal


async def test_https_proxy_cannot_yield_a_socket() -> None:
    with pytest.raises(ValueError, match="create_proxied_connection"):
        await open_proxy_tunnel("https://127.0.0.1:1", "h", 1, timeout=1)


async def test_proxy_ssl_only_for_https_proxies(client_tls: ssl.SSLContext) -> None:
    with pytest.raises(ValueError, match="proxy_ssl"):
        await wire_echo_via("http://127.0.0.1:1", "ws://127.0.0.1:9/", proxy_ssl=client_tls)


# -- SOCKS ----------------------------------------------------------------------------------


async def test_socks5_no_auth() -> None:
    async with ws_server(echo) as uri, SocksProxy() as proxy:
        wsuri = parse_uri(uri)
        sock = await open_proxy_tunnel(proxy.url(), wsuri.host, wsuri.port, timeout=5)
        await websockets_echo_over(sock, uri)
        await wire_echo_via(proxy.url("socks5h"), uri)
        assert proxy.requests == [(1, "127.0.0.1", wsuri.port)] * 2


async def test_socks5_user_password() -> None:
    async with ws_server(echo) as uri, SocksProxy(auth=(USER, PASSWORD)) as proxy:
        await wire_echo_via(proxy.url("socks5", USERINFO), uri)
        assert proxy.tunnels == 1


async def test_socks5_bad_credentials() -> None:
    async with SocksProxy(auth=(USER, PASSWORD)) as proxy:
        with pytest.raises(ProxyError) as info:
            await open_proxy_tunnel(proxy.url("socks5", "alice:nope"), "127.0.0.1", 9, timeout=5)
    err = info.value
    assert err.fatal
    assert "authentication" in str(err)
    assert "nope" not in str(err)
    assert "alice" not in str(err)


async def test_socks5_refusal_code() -> None:
    async with SocksProxy(reply=5) as proxy:
        with pytest.raises(ProxyError) as info:
            await open_proxy_tunnel(proxy.url(), "127.0.0.1", 9, timeout=5)
    assert info.value.socks_code == 5
    assert not info.value.fatal


async def test_socks5h_lets_the_proxy_resolve_names() -> None:
    async with ws_server(echo) as uri:
        wsuri = parse_uri(uri)
        name_uri = uri.replace("127.0.0.1", "localhost")
        async with SocksProxy(target=("127.0.0.1", wsuri.port)) as proxy:
            sock = await open_proxy_tunnel(proxy.url("socks5h"), "localhost", wsuri.port, timeout=5)
            await websockets_echo_over(sock, name_uri)
            sock = await open_proxy_tunnel(proxy.url("socks5"), "localhost", wsuri.port, timeout=5)
            await websockets_echo_over(sock, name_uri)
        (remote, local) = proxy.requests
        assert remote == (3, "localhost", wsuri.port)  # the name itself (ATYP 3)
        assert local[0] in (1, 4)  # an address resolved on our side
        assert local[1] in ("127.0.0.1", "::1")


@pytest.mark.parametrize("scheme", ["socks4", "socks4a"])
async def test_socks4(scheme: str) -> None:
    async with ws_server(echo) as uri, SocksProxy() as proxy:
        await wire_echo_via(proxy.url(scheme), uri)
        assert proxy.requests[0][1:] == ("127.0.0.1", parse_uri(uri).port)


async def test_unreachable_socks_proxy() -> None:
    async with closed_port() as port:
        with pytest.raises(ProxyError, match="cannot connect to proxy socks5://"):
            await open_proxy_tunnel(f"socks5://127.0.0.1:{port}", "h", 1, timeout=5)


async def test_socks_without_python_socks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "python_socks", None)
    with pytest.raises(ImportError, match=r"pip install 'jetsocket\[socks\]'"):
        await open_proxy_tunnel("socks5://127.0.0.1:1", "h", 1, timeout=1)


# -- proxy URLs and the environment -----------------------------------------------------------


def test_redact_proxy() -> None:
    assert redact_proxy("http://u:p@h:1") == "http://***@h:1"
    assert redact_proxy("socks5h://key@[::1]:1080") == "socks5h://***@[::1]:1080"
    assert redact_proxy("https://proxy") == "https://proxy"
    assert redact_proxy("not a url") == "<invalid proxy URL>"
    assert redact_proxy("http://u:p@h:notaport") == "<invalid proxy URL>"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://u:secret@h:1", "scheme ftp isn't supported"),
        ("http://u:secret@h:1/path", "path is meaningless"),
        ("http://u:secret@h:99999", "bad port"),
        ("http://secret@h:1", "username provided without password"),
    ],
)
def test_invalid_proxy_urls_do_not_echo_credentials(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        resolve_proxy(url, parse_uri("ws://example.com/"))
    assert "secret" not in str(info.value)


def test_resolve_explicit_and_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    uri = parse_uri("wss://example.com/")
    monkeypatch.setenv("HTTPS_PROXY", "http://env:1")
    assert resolve_proxy("socks5://explicit:1", uri) == "socks5://explicit:1"
    assert resolve_proxy(False, uri) is None
    assert resolve_proxy("", uri) is None
    assert resolve_proxy(True, uri) == "http://env:1"
    assert resolve_proxy(None, uri) == "http://env:1"


def test_environment_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    wss = parse_uri("wss://example.com/")
    ws = parse_uri("ws://example.com/")
    assert proxy_from_environment(wss) is None
    monkeypatch.setenv("ALL_PROXY", "socks5h://all:1")
    assert proxy_from_environment(wss) == "socks5h://all:1"
    monkeypatch.setenv("HTTP_PROXY", "http://plain:1")
    assert proxy_from_environment(wss) == "socks5h://all:1"  # HTTP_PROXY is for ws:// only
    assert proxy_from_environment(ws) == "http://plain:1"
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")  # no scheme: http:// as curl does
    assert proxy_from_environment(wss) == "http://proxy.corp:3128"
    assert proxy_from_environment(ws) == "http://proxy.corp:3128"
    monkeypatch.setenv("WSS_PROXY", "https://ws-only:1")
    assert proxy_from_environment(wss) == "https://ws-only:1"


def test_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env:1")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal.example")
    assert proxy_from_environment(parse_uri("wss://localhost:8443/")) is None
    assert proxy_from_environment(parse_uri("wss://feed.internal.example/")) is None
    assert proxy_from_environment(parse_uri("wss://example.com/")) == "http://env:1"
    monkeypatch.setenv("NO_PROXY", "*")
    assert proxy_from_environment(parse_uri("wss://example.com/")) is None


# -- the WebSocket option (xfail until wired) -------------------------------------------------


async def _echo_once(ws: jetsocket.WebSocket[str | bytes]) -> None:
    await ws.send_raw("hello", binary=False)
    assert await ws.recv(timeout=5) == "hello"


async def test_websocket_proxy_option_http() -> None:
    async with ws_server(echo) as uri, HttpProxy(auth=(USER, PASSWORD)) as proxy:
        opts: dict[str, Any] = {"proxy": proxy.url_with(USERINFO)}
        async with jetsocket.WebSocket(uri, raw=True, **opts) as ws:
            await _echo_once(ws)
        assert proxy.tunnels == 1


async def test_websocket_proxy_option_socks5() -> None:
    async with ws_server(echo) as uri, SocksProxy(auth=(USER, PASSWORD)) as proxy:
        opts: dict[str, Any] = {"proxy": proxy.url("socks5h", USERINFO)}
        async with jetsocket.WebSocket(uri, raw=True, **opts) as ws:
            await _echo_once(ws)
        assert proxy.tunnels == 1


async def test_websocket_https_proxy_and_wss(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    async with wss_server(server_tls) as uri, HttpProxy(tls=server_tls) as proxy:
        opts: dict[str, Any] = {"proxy": proxy.url, "proxy_ssl_context": client_tls}
        async with jetsocket.WebSocket(uri, raw=True, ssl_context=client_tls, **opts) as ws:
            await _echo_once(ws)
        assert proxy.tunnels == 1


async def test_websocket_reconnects_through_the_proxy() -> None:
    drops = 0

    async def drop_first(ws: ServerConnection) -> None:
        nonlocal drops
        if drops == 0:
            drops += 1
            await ws.close(1011)
            return
        await echo(ws)

    async with ws_server(drop_first) as uri, HttpProxy() as proxy:
        opts: dict[str, Any] = {"proxy": proxy.url, "backoff": jetsocket.BackoffConfig(base=0)}
        async with jetsocket.WebSocket(uri, raw=True, **opts) as ws:
            reconnected = asyncio.Event()
            ws.on("reconnected")(lambda _e: reconnected.set())
            await asyncio.wait_for(reconnected.wait(), 5)
            await _echo_once(ws)
        assert proxy.tunnels == 2


async def test_websocket_proxy_407_fails_connect() -> None:
    async with HttpProxy(auth=(USER, PASSWORD)) as proxy:
        opts: dict[str, Any] = {"proxy": proxy.url_with("alice:wrong-password")}
        ws = jetsocket.WebSocket("ws://127.0.0.1:9/?token=SECRET", raw=True, **opts)
        errors: list[jetsocket.ErrorEvent] = []
        ws.on("error")(errors.append)
        with pytest.raises(ProxyError) as info:
            await ws.connect()
    assert info.value.status_code == 407
    assert ws.state is jetsocket.ConnectionState.FAILED
    for text in (str(info.value), repr(errors), repr(ws)):
        assert "wrong-password" not in text
        assert "SECRET" not in text


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"])
async def test_websocket_uses_environment_proxy(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    async with ws_server(echo) as uri, HttpProxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        async with jetsocket.WebSocket(uri, raw=True) as ws:
            await _echo_once(ws)
        assert proxy.tunnels == 1


async def test_websocket_uses_environment_socks_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    async with ws_server(echo) as uri, SocksProxy() as proxy:
        monkeypatch.setenv("ALL_PROXY", proxy.url("socks5h"))
        async with jetsocket.WebSocket(uri, raw=True) as ws:
            await _echo_once(ws)
        assert proxy.tunnels == 1


async def test_websocket_honours_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Passes before and after wiring: NO_PROXY means a direct connection.
    async with ws_server(echo) as uri, HttpProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with jetsocket.WebSocket(uri, raw=True) as ws:
            await _echo_once(ws)
        assert proxy.requests == []


async def test_websocket_proxy_false_ignores_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with ws_server(echo) as uri, HttpProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        opts: dict[str, Any] = {"proxy": False}
        async with jetsocket.WebSocket(uri, raw=True, **opts) as ws:
            await _echo_once(ws)
        assert proxy.requests == []


def test_sync_websocket_proxy_option() -> None:
    # The servers run on their own loop thread; the sync facade runs its own.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stack = contextlib.AsyncExitStack()

    async def start() -> tuple[str, HttpProxy]:
        uri = await stack.enter_async_context(ws_server(echo))
        proxy = await stack.enter_async_context(HttpProxy())
        return uri, proxy

    try:
        uri, proxy = asyncio.run_coroutine_threadsafe(start(), loop).result(5)
        opts: dict[str, Any] = {"proxy": proxy.url}
        with jetsocket.SyncWebSocket(uri, raw=True, **opts) as ws:
            ws.send_raw("hello", binary=False)
            assert ws.recv(timeout=5) == "hello"
        assert proxy.tunnels == 1
    finally:
        asyncio.run_coroutine_threadsafe(stack.aclose(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
