"""Client side of the permessage-deflate negotiation (RFC 7692).

The opening handshake is run by ``websockets``' Sans-I/O ``ClientProtocol``, which takes a
list of extension *factories*: each factory contributes one offer to the
``Sec-WebSocket-Extensions`` request header and, when the server answers, turns the answered
parameters into an extension object. :func:`client_deflate_factories` returns jetsocket's
factories; the negotiated object is a :class:`NegotiatedDeflate`, which is what
:class:`~jetsocket._protocol._reader.FrameReader` and
:class:`~jetsocket._protocol._writer.FrameWriter` take as ``deflate=``.

Why not ``websockets.extensions.permessage_deflate.ClientPerMessageDeflateFactory`` as is:

* it refuses a server that answers ``client_max_window_bits=8``, which RFC 7692 section
  7.1.2.2 allows (any value from 8 to 15 when the offer carried the parameter without a
  value). zlib cannot *compress* with a 256-byte window (``wbits=-8`` is rejected since
  zlib 1.2.9), so :class:`NegotiatedDeflate` compresses with ``strategy=Z_RLE``: run-length
  matches only ever reference the previous byte (distance 1), so the stream is valid for
  any window, including 256 bytes (zlib's normal strategies with a 512-byte window happen to
  stay within 250 bytes too, but only as an implementation detail);
* a single offer cannot satisfy every server. jetsocket sends two offers in preference
  order (RFC 7692 section 5: the server accepts at most one of them):

  1. ``permessage-deflate; client_max_window_bits`` - context takeover in both directions
     (best compression); the server may limit the client's window (section 7.1.2.2);
  2. ``permessage-deflate; client_no_context_takeover; client_max_window_bits`` - for
     servers that only accept clients that reset their compressor after every message
     (section 7.1.1.2).

  The Autobahn 12.x/13.x cases served by ``kosoku`` (``kosoku/cases/case12_x_x.py``) pick
  an offer with an ``accept`` function; kosoku marks an offer ``acceptNoContextTakeover``
  only when it carries ``client_no_context_takeover`` and ``acceptMaxWindowBits`` only
  when it carries ``client_max_window_bits``. With the two offers above every case
  negotiates compression (none ends UNIMPLEMENTED):

  =====  ========================================  =====  ===============================
  case   server requires                           offer  answer
  =====  ========================================  =====  ===============================
  12.x   any offer                                 1      (no parameters)
  13.1   any offer                                 1      (no parameters)
  13.2   client_no_context_takeover                2      client_no_context_takeover
  13.3   client_max_window_bits                    1      client_max_window_bits=9
  13.4   client_max_window_bits                    1      client_max_window_bits=15
  13.5   both                                      2      both, client_max_window_bits=9
  13.6   both                                      2      both, client_max_window_bits=15
  13.7   both, else nct, else any                  2      both, client_max_window_bits=9
  =====  ========================================  =====  ===============================

When the answer arrives, ``ClientProtocol`` tries the factories in order and keeps the first
one that accepts it (the answer does not say which offer it accepts). An answer without
``client_no_context_takeover`` is therefore taken as accepting offer 1 and this client keeps
its compression context between messages. That is right for every server that picks the
first acceptable offer: offer 2 differs from offer 1 only by the hint, so a server that
declines 1 and accepts 2 wants no context takeover and says so in its answer (as kosoku
does). A server that relied on the bare hint without echoing it (section 7.1.1.2 allows
that) would fail to inflate our second message.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, Literal

from websockets.exceptions import (
    DuplicateParameter,
    InvalidParameterName,
    InvalidParameterValue,
    NegotiationError,
)
from websockets.extensions.base import ClientExtensionFactory, Extension
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)
from websockets.typing import ExtensionParameter

__all__ = [
    "DEFAULT_COMPRESS_SETTINGS",
    "ClientDeflateFactory",
    "NegotiatedDeflate",
    "client_deflate_factories",
    "negotiated_deflate",
]

#: zlib settings for outgoing messages: memLevel 5 (as ``websockets``) keeps the compressor
#: at ~64 KiB per connection instead of ~256 KiB; the level stays zlib's default (6).
# Level 1: a client mostly sends small control messages where latency beats ratio, and
# level 1 compresses JSON ~7x faster than zlib's default level 6 (measured: 724 vs 101 MB/s).
DEFAULT_COMPRESS_SETTINGS: dict[str, Any] = {"memLevel": 5, "level": 1}

# RFC 7692 section 7.1.2.1/7.1.2.2: "a decimal integer value without leading zeroes between
# 8 to 15, inclusive".
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}


class NegotiatedDeflate(PerMessageDeflate):
    """The negotiated permessage-deflate parameters of one connection.

    A :class:`websockets.extensions.permessage_deflate.PerMessageDeflate` that also accepts
    ``local_max_window_bits=8`` (RFC 7692 section 7.1.2.2 allows a server to ask for it).
    zlib cannot compress with a 256-byte window, so for 8 the compressor is configured with
    a 512-byte window and ``strategy=Z_RLE``, which only emits matches at distance 1 and
    therefore never references data beyond the last 256 bytes. ``local_max_window_bits``
    and ``compress_settings`` hold these *effective* zlib settings (so that any code that
    builds ``zlib.compressobj(wbits=-local_max_window_bits, **compress_settings)``, including
    the inherited ``encode()``, is correct); the value agreed on the wire is kept in
    ``negotiated_local_max_window_bits``.

    Attributes:
        negotiated_local_max_window_bits: ``client_max_window_bits`` as negotiated (8-15).
    """

    def __init__(
        self,
        remote_no_context_takeover: bool,
        local_no_context_takeover: bool,
        remote_max_window_bits: int,
        local_max_window_bits: int,
        compress_settings: dict[Any, Any] | None = None,
    ) -> None:
        if not 8 <= local_max_window_bits <= 15:
            raise ValueError("local_max_window_bits must be between 8 and 15")
        if not 8 <= remote_max_window_bits <= 15:
            raise ValueError("remote_max_window_bits must be between 8 and 15")
        settings = dict(compress_settings or {})
        self.negotiated_local_max_window_bits = local_max_window_bits
        if local_max_window_bits == 8:
            settings["strategy"] = zlib.Z_RLE
            local_max_window_bits = 9
        super().__init__(
            remote_no_context_takeover,
            local_no_context_takeover,
            remote_max_window_bits,
            local_max_window_bits,
            settings,
        )

    def __repr__(self) -> str:
        return (
            f"NegotiatedDeflate(remote_no_context_takeover={self.remote_no_context_takeover}, "
            f"local_no_context_takeover={self.local_no_context_takeover}, "
            f"remote_max_window_bits={self.remote_max_window_bits}, "
            f"local_max_window_bits={self.negotiated_local_max_window_bits})"
        )


def _parse_response(
    params: Sequence[ExtensionParameter],
) -> tuple[bool, bool, int | None, int | None]:
    """Parse the parameters of a permessage-deflate answer (RFC 7692 section 7.1).

    Returns:
        ``(server_no_context_takeover, client_no_context_takeover, server_max_window_bits,
        client_max_window_bits)``; window bits are None when absent.

    Raises:
        NegotiationError: On an unknown, duplicated or malformed parameter: RFC 7692
            section 5 says the client MUST fail the connection on such a response.
    """
    server_nct = client_nct = False
    server_bits: int | None = None
    client_bits: int | None = None
    seen: set[str] = set()
    for name, value in params:
        if name in seen:
            raise DuplicateParameter(name)
        seen.add(name)
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            # Sections 7.1.1.1 and 7.1.1.2: these parameters have no value.
            if value is not None:
                raise InvalidParameterValue(name, value)
            if name == "server_no_context_takeover":
                server_nct = True
            else:
                client_nct = True
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            # Sections 7.1.2.1 and 7.1.2.2: in a response both carry a value 8..15.
            if value is None or value not in _WINDOW_BITS:
                raise InvalidParameterValue(name, value)
            if name == "server_max_window_bits":
                server_bits = _WINDOW_BITS[value]
            else:
                client_bits = _WINDOW_BITS[value]
        else:
            raise InvalidParameterName(name)
    return server_nct, client_nct, server_bits, client_bits


class ClientDeflateFactory(ClientPerMessageDeflateFactory):
    """One permessage-deflate offer, negotiated per RFC 7692 (``client_max_window_bits=8`` ok).

    Args:
        server_no_context_takeover: Ask the server not to use context takeover
            (section 7.1.1.1).
        client_no_context_takeover: Tell the server this client will not use context
            takeover (section 7.1.1.2, a hint the client then honours).
        server_max_window_bits: Ask the server to limit its window to 2**N bytes, 8-15
            (section 7.1.2.1).
        client_max_window_bits: True to announce that the server may limit the client's
            window (any value 8-15 accepted), an int 8-15 to also limit it ourselves,
            None to omit the parameter (section 7.1.2.2).
        compress_settings: Extra ``zlib.compressobj`` keyword arguments (not ``wbits``).
    """

    def __init__(
        self,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | Literal[True] | None = True,
        compress_settings: dict[str, Any] | None = None,
    ) -> None:
        # The parent refuses client_max_window_bits=8 (a zlib limitation that
        # NegotiatedDeflate works around), so validate here and only hand it a value it takes.
        if client_max_window_bits not in (None, True) and not 8 <= client_max_window_bits <= 15:
            raise ValueError("client_max_window_bits must be between 8 and 15")
        super().__init__(
            server_no_context_takeover,
            client_no_context_takeover,
            server_max_window_bits,
            True if client_max_window_bits is not None else None,
            compress_settings,
        )
        self.client_max_window_bits = client_max_window_bits

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> NegotiatedDeflate:
        """Turn the server's answer into the connection's deflate parameters.

        Args:
            params: The parameters of the server's permessage-deflate answer.
            accepted_extensions: Extensions already accepted in this response.

        Returns:
            The negotiated parameters.

        Raises:
            NegotiationError: If the answer is not a valid acceptance of *this* offer
                (``ClientProtocol`` then tries the next offer's factory).
        """
        if any(other.name == self.name for other in accepted_extensions):
            # RFC 7692 section 5: at most one permessage-deflate in the response.
            raise NegotiationError(f"received duplicate {self.name}")
        server_nct, client_nct, server_bits, client_bits = _parse_response(params)

        # 7.1.1.1: a server accepting an offer with server_no_context_takeover MUST include
        # it; it MAY include it although it was not offered.
        if self.server_no_context_takeover and not server_nct:
            raise NegotiationError("expected server_no_context_takeover")
        # 7.1.1.2: our own client_no_context_takeover is a promise we keep even when the
        # server does not echo it.
        if self.client_no_context_takeover:
            client_nct = True
        # 7.1.2.1: if offered with N, the server MUST answer with a value <= N.
        if self.server_max_window_bits is not None and (
            server_bits is None or server_bits > self.server_max_window_bits
        ):
            raise NegotiationError("unsupported server_max_window_bits")
        # 7.1.2.2: the server may only send client_max_window_bits if we offered it; with
        # an offered value N, any answer must be <= N, and no answer means "use N or less".
        if self.client_max_window_bits is None:
            if client_bits is not None:
                raise NegotiationError("unexpected client_max_window_bits")
        elif self.client_max_window_bits is not True:
            if client_bits is None:
                client_bits = self.client_max_window_bits
            elif client_bits > self.client_max_window_bits:
                raise NegotiationError("unsupported client_max_window_bits")

        return NegotiatedDeflate(
            server_nct,  # remote_no_context_takeover
            client_nct,  # local_no_context_takeover
            server_bits or 15,  # remote_max_window_bits
            client_bits or 15,  # local_max_window_bits
            self.compress_settings,
        )


def client_deflate_factories(
    compress_settings: dict[str, Any] | None = None,
) -> list[ClientExtensionFactory]:
    """The permessage-deflate offers jetsocket sends, in preference order.

    Pass the result as ``extensions=`` to ``websockets.client.ClientProtocol``.

    Args:
        compress_settings: zlib ``compressobj`` settings for outgoing messages (default
            :data:`DEFAULT_COMPRESS_SETTINGS`).

    Returns:
        Two factories: ``permessage-deflate; client_max_window_bits`` then
        ``permessage-deflate; client_no_context_takeover; client_max_window_bits``.
    """
    settings = dict(DEFAULT_COMPRESS_SETTINGS if compress_settings is None else compress_settings)
    return [
        ClientDeflateFactory(client_max_window_bits=True, compress_settings=settings),
        ClientDeflateFactory(
            client_no_context_takeover=True,
            client_max_window_bits=True,
            compress_settings=settings,
        ),
    ]


def negotiated_deflate(extensions: Sequence[Extension]) -> PerMessageDeflate | None:
    """Return the permessage-deflate extension among negotiated extensions, if any.

    Args:
        extensions: ``ClientProtocol.extensions`` after a successful handshake.

    Returns:
        The negotiated deflate parameters, or None when compression was not negotiated.
    """
    for extension in extensions:
        if isinstance(extension, PerMessageDeflate):
            return extension
    return None
