"""What a cassette may store: credentials removed from URLs, headers and messages.

The rules are the library's one home for redaction (``jetsocket._protocol._redact``:
secret names, URIs, declared values), plus one of cassettes' own: every argument of a
login message is hidden (``{"op": "auth", "args": [key, expires, signature]}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

import msgspec

from jetsocket._protocol._redact import (
    MASK,
    Redactor,
    is_secret_name,
    redact_resource,
    redact_uri,
    secret_member_pattern,
    secret_strings,
    url_secrets,
)

__all__ = ["CassetteRedactor"]

Sender = Literal["client", "server"]

# Values found in the URL or headers shorter than this are not searched in messages:
# replacing "1" or "en" everywhere would garble them (declared secrets always are).
_MIN_FOUND: Final = 4
_SECRET_MEMBER: Final = secret_member_pattern()
# JSON members that name the operation of a message; a login's arguments are all secret.
_OP_MEMBERS: Final = ("op", "method", "event", "type", "action")
_LOGIN_OPS: Final = re.compile(r"(?:^|[/._-])(?:auth|authenticate|authorize|login)$", re.I)
_KEEP_IN_LOGIN: Final = frozenset({*_OP_MEMBERS, "id", "req_id", "reqid", "request_id", "cid"})

_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode


class CassetteRedactor:
    """Removes credentials from everything a cassette stores.

    The rules are the library's one home for redaction (``jetsocket._protocol._redact``:
    secret names, URIs, declared values), plus login messages.

    Args:
        url: The URL connected to: its query values and user info are secrets too.
        headers: Handshake headers given by the user: secret-looking values are secrets.
        secrets: Further values never to write (API keys, tokens...), replaced anywhere.
        redact: A last hook applied to every text message (both ways), for credentials no
            rule can spot.

    Raises:
        TypeError: A secret is not a ``str`` (or ``secrets`` is a single ``str``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        redact: Callable[[str], str] | None = None,
    ) -> None:
        declared = {value for value in secret_strings(secrets) if value}
        found: set[str] = set()  # derived from the URL and headers: short ones skipped
        if url:
            found |= url_secrets(url)
        for name, value in (headers or {}).items():
            if is_secret_name(name):
                found.add(value)
                found.update(value.split())  # "Bearer <token>": the token alone too
        found = {s for s in found if len(s) >= _MIN_FOUND}
        self._values = Redactor(declared | found)
        self._declared_bytes = sorted((s.encode() for s in declared), key=len, reverse=True)
        self._hook = redact

    def url(self, url: str) -> str:
        """The URL as it may be written."""
        return redact_uri(url, self._values)

    def path(self, path: str) -> str:
        """A request target (``/path?query``) with its credentials hidden."""
        return self._values(redact_resource(path))

    def header(self, name: str, value: str) -> str:
        """A header value as it may be written."""
        return self._values.header(name, value)

    def text(self, text: str, sender: Sender) -> str:
        """A text message (or close reason) as it may be written."""
        # Both ways: servers echo requests (acks), logins included.
        text = _redact_login(text)
        text = _SECRET_MEMBER.sub(rf'\1"{MASK}"', text)
        text = self._values(text)
        if self._hook is not None:
            text = self._hook(text)
        return text

    def binary(self, data: bytes) -> bytes:
        """A binary payload with the declared secrets replaced (its format is unknown)."""
        for secret in self._declared_bytes:
            if secret in data:
                data = data.replace(secret, MASK.encode())
        return data


def _redact_login(text: str) -> str:
    """Hide every argument of a login message, e.g. ``{"op": "auth", "args": [...]}``.

    Some venues sign logins with positional arguments (Bybit's ``auth``) that no member
    name gives away; the operation and the request id stay (a replay matches on them).
    """
    if "{" not in text:
        return text
    try:
        obj = _decode_json(text)
    except msgspec.DecodeError:
        return text
    if not isinstance(obj, dict):
        return text
    ops = [obj.get(key) for key in _OP_MEMBERS]
    if not any(isinstance(op, str) and _LOGIN_OPS.search(op) for op in ops):
        return text
    masked = {k: (v if k.lower() in _KEEP_IN_LOGIN else _mask_leaves(v)) for k, v in obj.items()}
    return _encode_json(masked).decode()


def _mask_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(v) for v in value]
    return MASK
