"""A fake OpenAI Realtime session server.

Follows OpenAI's Realtime API reference (platform.openai.com/docs/api-reference/realtime:
client events ``session.update``, ``conversation.item.create``, ``response.create``; server
events ``session.created``, ``session.updated``, ``conversation.item.created``,
``response.created``, ``response.*.delta``/``done``, ``response.done``,
``rate_limits.updated``, ``error``). Real URL: ``wss://api.openai.com/v1/realtime?model=...``
with ``Authorization: Bearer <key>``.

**Modelled**: every message is a JSON object tagged by ``type`` with a server ``event_id``;
a fresh session per connection (``session.created`` first; nothing survives a reconnect,
so a client must send its ``session.update`` again); text responses streamed word by word;
``error`` events ``{"type": "error", "error": {"type", "code", "message"}}``; HTTP 401 on a
wrong key.

**Simpler / different**: text only (no audio buffers, no function calls), the beta event
names by default (``response.text.delta``/``done``; ``event_names="ga"`` uses the GA names
``response.output_text.*``; the other GA renames are not modelled),
and ``response.create`` is refused (``session_not_configured``) until the session was
updated on this connection, which shows that a client re-runs its initialisation after a
reconnect. The answer is deterministic: the instructions, then ``You said: <text>``.

**Fault hooks**: :meth:`kill_all` (e.g. in the middle of a streamed response: every event is
sent whole), :meth:`send_malformed`, :meth:`send_unknown` (an undocumented ``type``). There
are no subscriptions nor sequences: :meth:`reject` and :meth:`skip` have no effect, and
nothing is replayed after a reconnect (the response in flight is lost, as with the real API).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Literal

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from jetsocket.testing._venues._base import Frame, Item, VenueServer, VenueSession

__all__ = ["RealtimeVenue"]


class RealtimeVenue(VenueServer):
    """An OpenAI-realtime-like session server (see the module documentation).

    Every message is a JSON object tagged by ``"type"``. On connect the server sends
    ``{"type": "session.created", "session": {...}}`` (a fresh session: nothing survives a
    reconnect). The client configures it with ``{"type": "session.update", "session":
    {"instructions": ..., ...}}``, answered ``{"type": "session.updated", "session":
    {...}}``. ``conversation.item.create`` (a user message with ``input_text`` content) is
    answered ``conversation.item.created``; ``response.create`` streams
    ``response.created``, several ``response.text.delta`` (``"delta"``: a piece of the
    answer), ``response.text.done`` and ``response.done``, then a ``rate_limits.updated``
    (a type clients may not know). Errors are ``{"type": "error", "error": {"type",
    "code", "message"}}``.

    Unlike the real API, ``response.create`` is refused (``session_not_configured``) on a
    connection whose session was not updated: this is what shows that a client re-runs its
    session initialisation after every reconnect. The answer is deterministic: the
    session's ``instructions`` prefix (if any) followed by ``You said: <text>``.

    Attributes:
        session_updates: ``session.update`` messages received (over all connections).
        responses: Responses streamed.

    Args:
        api_key: When set, the opening handshake must carry ``Authorization: Bearer
            <api_key>`` (else HTTP 401, which clients treat as fatal).
        model: The model named in the session.
        event_names: ``"beta"`` streams ``response.text.delta``/``done``, ``"ga"``
            ``response.output_text.delta``/``done`` (the names of the GA API).
        host: Interface to listen on.
        port: Port (0: a free one).
    """

    path = "/v1/realtime"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str = "gpt-realtime",
        event_names: Literal["beta", "ga"] = "beta",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self._ids = itertools.count(1)
        self._api_key = api_key
        self._model = model
        self._text = "response.text" if event_names == "beta" else "response.output_text"
        self.session_updates = 0
        self.responses = 0

    @property
    def uri(self) -> str:
        """The URI to connect to, with ``?model=`` as for the real API."""
        return f"{super().uri}?model={self._model}"

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        if self._api_key is None:
            return None
        headers: Headers = request.headers
        if headers.get("Authorization") != f"Bearer {self._api_key}":
            return conn.respond(401, "invalid API key\n")
        return None

    def _render(
        self, session: VenueSession, stream: str, items: Sequence[Item], *, replay: bool
    ) -> list[Frame]:
        return []  # no market streams

    def _unknown_message(self) -> object:
        return {"type": "conversation.item.future_event", "event_id": "event_x", "item": {}}

    async def _session(self, client: VenueSession) -> None:
        conn_id = client.id
        events = itertools.count(1)
        session: dict[str, Any] = {
            "id": f"sess_{conn_id}",
            "object": "realtime.session",
            "model": self._model,
            "modalities": ["text"],
            "instructions": "",
        }
        configured = False
        user_text = ""

        async def send(kind: str, **body: Any) -> None:
            # One event at a time under the venue's lock: a kill falls between two events.
            await self._reply(client, {"type": kind, "event_id": f"event_{next(events)}", **body})

        await send("session.created", session=session)
        async for msg in self._messages(client, None):
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "session.update" and isinstance(msg.get("session"), dict):
                self.session_updates += 1
                session.update(msg["session"])
                configured = True
                await send("session.updated", session=session)
            elif kind == "conversation.item.create" and isinstance(msg.get("item"), dict):
                item = {**msg["item"], "id": f"item_{next(self._ids)}", "status": "completed"}
                user_text = _input_text(item)
                await send("conversation.item.created", item=item)
            elif kind == "response.create":
                if not configured:
                    await send(
                        "error",
                        error=_realtime_error(
                            "session_not_configured", "send session.update first"
                        ),
                    )
                    continue
                await self._respond(send, session, user_text)
            else:
                await send(
                    "error",
                    error=_realtime_error("invalid_event", f"unsupported event type {kind!r}"),
                )

    async def _respond(
        self, send: Callable[..., Any], session: dict[str, Any], user_text: str
    ) -> None:
        self.responses += 1
        resp_id = f"resp_{next(self._ids)}"
        item_id = f"item_{next(self._ids)}"
        prefix = str(session.get("instructions") or "").strip()
        text = f"{prefix + ' ' if prefix else ''}You said: {user_text}"
        await send("response.created", response={"id": resp_id, "status": "in_progress"})
        where = {"response_id": resp_id, "item_id": item_id, "output_index": 0}
        words = text.split(" ")
        for i, word in enumerate(words):
            delta = word if i == 0 else f" {word}"
            await send(f"{self._text}.delta", **where, content_index=0, delta=delta)
        await send(f"{self._text}.done", **where, content_index=0, text=text)
        usage = {"input_tokens": len(user_text.split()), "output_tokens": len(words)}
        output = [
            {
                "id": item_id,
                "type": "message",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
            }
        ]
        response = {"id": resp_id, "status": "completed", "output": output, "usage": usage}
        await send("response.done", response=response)
        limits = [{"name": "tokens", "limit": 40_000, "remaining": 40_000 - len(words)}]
        await send("rate_limits.updated", rate_limits=limits)


def _input_text(item: dict[str, Any]) -> str:
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    texts = [p.get("text", "") for p in parts if isinstance(p, dict)]
    return " ".join(t for t in texts if isinstance(t, str))


def _realtime_error(code: str, message: str) -> dict[str, str]:
    return {"type": "invalid_request_error", "code": code, "message": message}
