"""The echo server of the benchmarks: picows on aiofastnet (C), in a child process.

``python -m benchmarks._picows_server`` serves ``/echo`` (and any path): every data frame
is sent back with its opcode, straight from picows' receive buffer (a memoryview, no copy),
as picows' own echo example does. Its transport is aiofastnet's C transport when installed
(picows' default), on uvloop when available: the server adds as little as a Python server
can to each round trip, so the round trip measures the clients, not the server.

It prints ``PORT <port> <info>`` once listening and exits when its stdin is closed.
"""

from __future__ import annotations

import argparse
import asyncio
from importlib.metadata import version

import picows

from benchmarks._common import fastest_loop, new_event_loop, raise_fd_limit, stdin_closed

_TEXT = picows.WSMsgType.TEXT
_BINARY = picows.WSMsgType.BINARY
_CLOSE = picows.WSMsgType.CLOSE
_PING = picows.WSMsgType.PING


class _Echo(picows.WSListener):
    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            transport.send(kind, frame.get_payload_as_memoryview(), frame.fin)
        elif kind is _CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif kind is _PING:
            transport.send_pong(frame.get_payload_as_bytes())


async def _serve() -> str:
    loop = asyncio.get_running_loop()
    stop = stdin_closed(loop)
    server = await picows.ws_create_server(lambda _request: _Echo(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        import aiofastnet  # noqa: F401, PLC0415 - only to say which transport runs

        transport = "aiofastnet"
    except ImportError:
        transport = "asyncio"
    print(f"PORT {port} picows {version('picows')} transport={transport}", flush=True)
    async with server:
        await stop
    return transport


def main() -> None:
    """Parse arguments and serve until stdin is closed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._picows_server")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    args = parser.parse_args()
    loop_name = fastest_loop(args.loop)
    raise_fd_limit()
    with asyncio.Runner(loop_factory=lambda: new_event_loop(loop_name)) as runner:
        runner.run(_serve())


if __name__ == "__main__":
    main()
