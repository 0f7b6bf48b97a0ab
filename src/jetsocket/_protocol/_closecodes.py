"""Close codes: every rule about them, in one place (RFC 6455 section 7.4).

The wire layer checks what a peer may send; the engine decides which closes are orderly
and which are fatal; ``close()`` checks what a user may send. All read these sets.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CLEAN_CLOSE_CODES",
    "FATAL_CLOSE_CODES",
    "RECEIVABLE_CLOSE_CODES",
    "SENDABLE_CLOSE_CODES",
    "is_receivable_close_code",
    "check_close",
    "is_sendable_close_code",
]

#: Codes a peer may put in a close frame: section 7.4.1 and the IANA registry's 1012-1014.
#: 1004 is reserved, 1005/1006/1015 must never be sent (they describe what was seen).
RECEIVABLE_CLOSE_CODES: Final = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})

#: Codes this client may send itself: 1012-1014 are server-side conditions.
SENDABLE_CLOSE_CODES: Final = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})

#: An orderly end: normal closure, going away, and 1005 (a close frame with no code,
#: section 7.1.5), still a closing handshake.
CLEAN_CLOSE_CODES: Final = frozenset({1000, 1001, 1005})

#: Retrying cannot help: 1008 policy violation (e.g. credentials refused after the upgrade).
FATAL_CLOSE_CODES: Final = frozenset({1008})


def is_receivable_close_code(code: int) -> bool:
    """Whether a peer may send ``code`` (section 7.4: 3000-4999 are for applications)."""
    return code in RECEIVABLE_CLOSE_CODES or 3000 <= code <= 4999


def is_sendable_close_code(code: int) -> bool:
    """Whether ``close(code)`` may send ``code``."""
    return code in SENDABLE_CLOSE_CODES or 3000 <= code <= 4999


def check_close(code: int, reason: str) -> None:
    """Refuse what ``close(code, reason)`` may not send (both the engine and the facade).

    Raises:
        ValueError: A code this client may not send, or a reason over 123 bytes of UTF-8
            (RFC 6455 section 5.5: a control frame's payload is at most 125 bytes).
    """
    if not isinstance(code, int) or not is_sendable_close_code(code):
        raise ValueError(f"invalid close code {code!r}")
    if len(reason.encode()) > 123:
        raise ValueError("close reason longer than 123 bytes")
