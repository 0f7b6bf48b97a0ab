"""The one place that decides what is a credential, and hides it.

Used by everything that prints, logs or raises: the connection (URIs in errors, the
handshake DEBUG log, frame excerpts), the proxy module (proxy URLs), the engine (``repr``,
events, INFO logs) and the command line client.

Three kinds of secrets are recognised:

* **By name** (:data:`SECRET_WORDS`): a header, query parameter or JSON member whose name
  contains one of these words carries a credential (``Authorization``, ``X-API-KEY``,
  ``OK-ACCESS-SIGN``, ``OK-ACCESS-PASSPHRASE``, ``X-BAPI-SIGN``, ``Cookie``, ...).
  ``Sec-WebSocket-*`` headers are nonces and negotiation, never credentials (RFC 6455
  section 4.1), so they are exempt.
* **By place in a URI** (:func:`redact_uri`): user info, every query value, a bare query
  token (``?TOKEN``) and any path segment that looks like a generated credential. The path
  rule (Binance's ``/ws/<listenKey>`` is the model): a segment made only of token characters
  (letters, digits and ``-_.~+=``) that contains both a letter and a digit, and is either at
  least 32 characters long, or at least 20 characters of letters and digits only. A
  listenKey (60 alphanumerics), a UUID, a JWT or a hex digest is hidden; ``btcusdt@trade``,
  ``v1``, ``realtime`` or ``2024-10-01`` are kept. Declare anything the rule misses.
* **By value** (:class:`Redactor`): secrets the user declares (API keys, passphrases,
  signatures) are replaced by ``***`` wherever they appear, percent-encoded or not.

Nothing here raises on odd input: redaction runs inside ``repr``, error paths and log calls.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from typing import Final

__all__ = [
    "MASK",
    "SECRET_WORDS",
    "Redactor",
    "is_secret_name",
    "looks_like_credential",
    "redact_resource",
    "redact_text",
    "redact_uri",
    "secret_member_pattern",
    "secret_strings",
    "url_secrets",
]

MASK: Final = "***"

# Lower-case fragments of names that carry credentials: headers (Authorization, X-API-Key,
# OK-ACCESS-SIGN, OK-ACCESS-PASSPHRASE, X-BAPI-SIGN, Cookie, Set-Cookie), query parameters
# and JSON members (apiKey, signature, password, listenKey, sessionToken...).
SECRET_WORDS: Final = (
    "auth",
    "bearer",
    "cookie",
    "credential",
    "jwt",
    "key",
    "passphrase",
    "passw",
    "private",
    "secret",
    "session",
    "sign",
    "token",
)

_INVALID_URI: Final = "<invalid uri>"
_TOKEN_SEGMENT = re.compile(r"[A-Za-z0-9\-_.~+=]+")
_ALNUM_SEGMENT = re.compile(r"[A-Za-z0-9]+")
_HAS_DIGIT = re.compile(r"[0-9]")
_HAS_LETTER = re.compile(r"[A-Za-z]")
_LONG_TOKEN: Final = 32
_LONG_ALNUM: Final = 20


def is_secret_name(name: object) -> bool:
    """Return True if a header/parameter/member called ``name`` carries a credential.

    Args:
        name: The name, any case. Non-``str`` values are never secret names.
    """
    if not isinstance(name, str):
        return False
    lower = name.lower()
    # Sec-WebSocket-Key/Accept are nonces, not credentials (RFC 6455 section 4.1).
    if lower.startswith("sec-websocket-"):
        return False
    return any(word in lower for word in SECRET_WORDS)


def secret_member_pattern() -> re.Pattern[str]:
    """A regex matching ``"name": value`` JSON members whose name is a secret name.

    Group 1 is the name and colon (kept), group 2 the value (to replace).
    """
    words = "|".join(re.escape(w) for w in SECRET_WORDS)
    return re.compile(
        rf'("[^"]*(?:{words})[^"]*"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}}\]\s]+)',
        re.IGNORECASE,
    )


def looks_like_credential(segment: str) -> bool:
    """Return True if a URI path segment looks like a generated credential.

    See the module documentation for the rule (a Binance listenKey matches it).
    """
    if len(segment) < _LONG_ALNUM or not _TOKEN_SEGMENT.fullmatch(segment):
        return False
    if not (_HAS_DIGIT.search(segment) and _HAS_LETTER.search(segment)):
        return False
    return len(segment) >= _LONG_TOKEN or _ALNUM_SEGMENT.fullmatch(segment) is not None


def _redact_path(path: str) -> str:
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part and looks_like_credential(urllib.parse.unquote(part)):
            parts[i] = MASK
    return "/".join(parts)


def _redact_query(query: str) -> str:
    out: list[str] = []
    for part in query.split("&"):
        if not part:
            out.append(part)
            continue
        name, sep, _ = part.partition("=")
        if not sep or looks_like_credential(urllib.parse.unquote(name)):
            # ?TOKEN: a bare query string is the credential itself.
            out.append(MASK)
        else:
            out.append(f"{name}={MASK}")
    return "&".join(out)


def redact_resource(resource: str) -> str:
    """Redact an HTTP request target ``/path?query`` (the handshake's ``GET`` line)."""
    if not isinstance(resource, str):
        return _INVALID_URI
    path, sep, query = resource.partition("?")
    return _redact_path(path) + (sep + _redact_query(query) if sep else "")


def _redact_parsed_uri(uri: str) -> str:
    # urllib's splitting (not websockets' parse_uri): the same for ws, wss and anything
    # else, and it keeps the path exactly as given.
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("ws", "wss") or not host:
        return _INVALID_URI
    port = parts.port  # ValueError for an out-of-range port: handled by the caller
    if port is None:
        port = 443 if scheme == "wss" else 80
    shown_host = f"[{host}]" if ":" in host else host
    # User info is left out entirely (not even "***@"): the host is what identifies.
    out = f"{scheme}://{shown_host}:{port}{_redact_path(parts.path) or '/'}"
    if parts.query or uri.endswith("?"):
        out += "?" + _redact_query(parts.query)
    return out


def secret_strings(secrets: Iterable[str]) -> list[str]:
    """The values of ``secrets``, each checked to be a ``str``.

    Raises:
        TypeError: A value is not a ``str``, or ``secrets`` is a single ``str``.
    """
    if isinstance(secrets, str | bytes):
        raise TypeError("secrets must be an iterable of str, not a single string")
    values = list(secrets)
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"secrets must be str, got {type(value).__name__}")
    return values


def url_secrets(url: str) -> set[str]:
    """The user info and query values of ``url`` (raw and percent-decoded).

    What a tool that shows or stores traffic must hide besides the URL itself (a token
    given in the query is echoed by some servers). Nothing for what is not a URL.
    """
    found: set[str] = set()
    try:
        parts = urllib.parse.urlsplit(url)
        for value in (parts.username, parts.password):
            if value:
                found.update((value, urllib.parse.unquote(value)))
        for _, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            found.add(value)
        found.update(part.split("=", 1)[-1] for part in parts.query.split("&"))
    except ValueError:
        pass  # not a URL at all: nothing to find in it
    return found


class Redactor:
    """Hides credentials in text: declared secret values and secret-looking URIs.

    Args:
        secrets: Secret values (API keys, passphrases, tokens...) to hide wherever they
            appear, as given or percent-encoded. Each must be a non-empty ``str``.

    Raises:
        TypeError: A secret is not a ``str`` (or ``secrets`` is a bare ``str``).
        ValueError: A secret is empty.

    Example::

        redact = Redactor(["my-api-key"])
        redact("key my-api-key refused")          # 'key *** refused'
        redact.uri("wss://h/ws?k=my-api-key")     # 'wss://h:443/ws?k=***'
    """

    __slots__ = ("_values",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secret_strings(secrets):
            if not secret:
                raise ValueError("a secret must not be empty")
            values.add(secret)
            # As they appear inside URIs and form bodies.
            values.add(urllib.parse.quote(secret, safe=""))
            values.add(urllib.parse.quote_plus(secret, safe=""))
        # Longest first: a secret containing another is replaced whole.
        self._values: tuple[str, ...] = tuple(sorted(values, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._values)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._values)} secret forms>)"

    def __call__(self, text: str) -> str:
        """Return ``text`` with every declared secret replaced by ``***``."""
        if not isinstance(text, str):
            text = _safe_str(text)
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def uri(self, uri: object) -> str:
        """Return ``uri`` as it may be shown (see :func:`redact_uri`), secrets hidden."""
        return self(redact_uri(uri))

    def header(self, name: str, value: str) -> str:
        """Return a header value as it may be logged."""
        return MASK if is_secret_name(name) else self(value)


_NO_SECRETS: Final = Redactor()


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a hostile __str__: show the type only
        return f"<{type(value).__name__}>"


def redact_uri(uri: object, secrets: Iterable[str] | Redactor = ()) -> str:
    """Return ``uri`` with every credential hidden; never raises.

    User info is left out, every query value by ``***`` (a bare ``?TOKEN`` by
    ``?***``), credential-looking path segments by ``***`` (see the module documentation),
    and declared ``secrets`` wherever they appear. The port is always shown. An invalid URI
    (bad scheme, no host, bad port, unclosed IPv6 bracket, not a ``str``) is shown as
    ``<invalid uri>``: its parts cannot be told apart reliably, so nothing of it is shown.

    Args:
        uri: The URI.
        secrets: Declared secret values, or a :class:`Redactor`.
    """
    redactor = secrets if isinstance(secrets, Redactor) else _redactor(secrets)
    if not isinstance(uri, str):
        return _INVALID_URI
    try:
        shown = _redact_parsed_uri(uri)
    except Exception:  # ValueError from urllib (port, IPv6), or anything odd
        return _INVALID_URI
    return redactor(shown)


def redact_text(text: str, secrets: Iterable[str] | Redactor) -> str:
    """Return ``text`` with the declared ``secrets`` replaced by ``***``."""
    redactor = secrets if isinstance(secrets, Redactor) else _redactor(secrets)
    return redactor(text)


def _redactor(secrets: Iterable[str]) -> Redactor:
    if isinstance(secrets, str):
        items: list[object] = [secrets]
    else:
        try:
            items = list(secrets)
        except Exception:
            items = []
    if not items:
        return _NO_SECRETS
    # Redaction never raises: bad declarations are refused where they are made.
    return Redactor(s for s in items if isinstance(s, str) and s)
