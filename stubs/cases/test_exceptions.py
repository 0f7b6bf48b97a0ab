"""Type-check case: the exception hierarchy (run by stubs/check.py, never executed)."""

from __future__ import annotations

import builtins
from typing import assert_type

import jetsocket

# jetsocket errors are also the matching builtins, so `except TimeoutError` keeps working.
timeout = jetsocket.TimeoutError("no message within 1.0s")
assert_type(timeout, jetsocket.TimeoutError)
as_builtin_timeout: builtins.TimeoutError = timeout
as_root: jetsocket.JetSocketError = timeout

closed = jetsocket.ConnectionClosedError(1006, "lost", by_server=True)
assert_type(closed.code, int)
assert_type(closed.reason, str)
assert_type(closed.by_server, bool)
as_builtin_conn: builtins.ConnectionError = closed
as_jet_conn: jetsocket.ConnectionError = closed

handshake = jetsocket.HandshakeError("forbidden", status_code=403, headers={"Retry-After": "5"})
assert_type(handshake.status_code, int)
assert_type(handshake.headers, dict[str, str])
assert_type(handshake.retry_after, float | None)

too_big = jetsocket.MessageTooBigError("64 MiB exceeded")
assert_type(too_big.code, int)
as_protocol: jetsocket.ProtocolError = too_big

decode = jetsocket.MessageDecodeError("missing field", b"{}", target=dict)
assert_type(decode.payload, str)
as_value_error: builtins.ValueError = decode
as_runtime_error: builtins.RuntimeError = jetsocket.InvalidStateError("closed")

# Lines mypy must reject, each with exactly the error code after "E:".
jetsocket.ConnectionClosedError(1000, reason=42)  # E: arg-type
jetsocket.HandshakeError("forbidden", status_code="403")  # E: arg-type
jetsocket.ProtocolError(1002)  # E: arg-type
not_a_value_error: builtins.ValueError = jetsocket.TimeoutError("t")  # E: assignment
