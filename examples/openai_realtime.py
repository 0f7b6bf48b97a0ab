"""OpenAI-realtime-style session: a tagged union on ``"type"``, session init after reconnect.

The real service: ``wss://api.openai.com/v1/realtime?model=gpt-realtime`` with the header
``Authorization: Bearer <OPENAI_API_KEY>``. Every event is a JSON object tagged by
``"type"``: the server opens with ``session.created``, the client configures the session
with ``session.update`` (answered ``session.updated``), then asks for responses, which
stream as ``response.text.delta`` events and end with ``response.done``. A session does not
survive a dropped connection, so the configuration must be sent again after every
reconnect: the client does it in ``on_connect``, which jetsocket runs after each
(re)connect before the connection is used again.

``Realtime(api_key=..., instructions=...)`` connects to the real service. This program runs
offline against ``jetsocket.testing``'s fake realtime server, which refuses
``response.create`` on a session that was not configured; it drops the connection after the
first answer, and the second question still works because the session was re-initialised::

    python examples/openai_realtime.py
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal, TypeAlias

import msgspec
from typing_extensions import Unpack

import jetsocket
from jetsocket.schema import Client, Message
from jetsocket.testing import RealtimeVenue

# -- client events (sent as typed objects: the tag is written into "type") ----------------


class SessionConfig(Message, omit_defaults=True):
    instructions: str = ""
    modalities: list[str] = msgspec.field(default_factory=lambda: ["text"])


class SessionUpdate(Message, tag="session.update", tag_field="type"):
    session: SessionConfig


class InputText(Message, tag="input_text", tag_field="type"):
    text: str


class UserMessage(Message, tag="message", tag_field="type"):
    content: list[InputText]
    role: Literal["user"] = "user"


class ItemCreate(Message, tag="conversation.item.create", tag_field="type"):
    item: UserMessage


class ResponseCreate(Message, tag="response.create", tag_field="type"):
    pass


# -- server events: one tagged union --------------------------------------------------------


class Session(Message):
    id: str
    model: str
    instructions: str = ""


class SessionCreated(Message, tag="session.created", tag_field="type"):
    session: Session


class SessionUpdated(Message, tag="session.updated", tag_field="type"):
    session: Session


class ItemCreated(Message, tag="conversation.item.created", tag_field="type"):
    item: dict[str, Any]


class ResponseInfo(Message):
    id: str
    status: str
    usage: dict[str, int] | None = None


class ResponseCreated(Message, tag="response.created", tag_field="type"):
    response: ResponseInfo


class TextDelta(Message, tag="response.text.delta", tag_field="type"):
    response_id: str
    delta: str


class TextDone(Message, tag="response.text.done", tag_field="type"):
    response_id: str
    text: str


class ResponseDone(Message, tag="response.done", tag_field="type"):
    response: ResponseInfo


class ErrorDetail(Message):
    type: str
    message: str
    code: str | None = None


class ServerError(Message, tag="error", tag_field="type"):
    error: ErrorDetail


ServerEvent: TypeAlias = (
    SessionCreated
    | SessionUpdated
    | ItemCreated
    | ResponseCreated
    | TextDelta
    | TextDone
    | ResponseDone
    | ServerError
)


# -- the client ----------------------------------------------------------------------------------


class Realtime(Client[ServerEvent]):
    uri = "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    heartbeat = 20.0
    # The service adds event types (rate_limits.updated, ...): skip the ones not declared.
    unknown_messages = "ignore"

    def __init__(
        self,
        *,
        api_key: str,
        instructions: str,
        uri: str | None = None,
        **options: Unpack[jetsocket.WebSocketOptions],
    ) -> None:
        headers = dict(options.pop("extra_headers", None) or {})
        headers["Authorization"] = f"Bearer {api_key}"
        options["extra_headers"] = headers
        super().__init__(uri=uri, **options)
        self.instructions = instructions

    async def on_connect(self, ws: jetsocket.WebSocket[Any]) -> None:
        # A new connection is a new, unconfigured session: configure it before anything
        # else is sent on it.
        await ws.send(SessionUpdate(session=SessionConfig(instructions=self.instructions)))
        answer = await self.expect(lambda m: isinstance(m, SessionUpdated | ServerError))
        if isinstance(answer, ServerError):
            raise jetsocket.ConnectionError(f"session.update refused: {answer.error.message}")
        print(f"[session {answer.session.id} configured: {answer.session.instructions!r}]")

    async def ask(self, text: str) -> ResponseDone:
        """Send a user message, stream the answer; return the final ``response.done``."""
        await self.send(ItemCreate(item=UserMessage(content=[InputText(text=text)])))
        await self.send(ResponseCreate())
        async for event in self:  # typed as ServerEvent
            match event:
                case ResponseDone():
                    return event
                case ServerError():
                    raise RuntimeError(f"server error: {event.error.message}")
                case _:
                    pass  # deltas are printed by the typed handler below
        raise jetsocket.ConnectionClosedError(1000, "closed before the response was done")

    async def session_created(self) -> SessionCreated:
        """Wait for the ``session.created`` that opens every connection."""
        while True:
            event = await self.recv(timeout=5.0)
            if isinstance(event, SessionCreated):
                return event


async def main() -> None:
    async with (
        RealtimeVenue(api_key="sk-demo") as venue,
        Realtime(
            uri=venue.uri,
            api_key="sk-demo",
            instructions="Demo:",
            backoff=jetsocket.BackoffConfig(base=0.05, cap=0.2),
        ) as rt,
    ):
        print(f"connected to {venue.uri} (real service: {Realtime.uri})")
        print(f"[session {(await rt.session_created()).session.id} created]")
        reconnected = asyncio.Event()
        rt.on("reconnected")(lambda event: reconnected.set())

        @rt.on(TextDelta)  # mypy checks that the handler takes a TextDelta
        def show(delta: TextDelta) -> None:
            print(delta.delta, end="", flush=True)

        print("user: hello")
        print("assistant: ", end="")
        done = await rt.ask("hello")
        print(f"\n[{done.response.id} {done.response.status}, usage {done.response.usage}]")

        print("[network failure: the server drops the connection]")
        await venue.drop_all()
        async with asyncio.timeout(5):
            await reconnected.wait()
        print(f"[session {(await rt.session_created()).session.id} created]")

        print("user: are you still there?")
        print("assistant: ", end="")
        done = await rt.ask("are you still there?")
        print(f"\n[{done.response.id} {done.response.status}]")
        print(
            f"done: {venue.session_updates} session.update sent (one per connection),"
            f" {venue.connections_accepted} connections, {venue.responses} responses"
        )


if __name__ == "__main__":
    asyncio.run(main())
