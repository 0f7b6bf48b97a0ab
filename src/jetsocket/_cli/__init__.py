"""The ``jetsocket`` command (``python -m jetsocket``): the application around the library.

Commands, each in its own module and imported only when run:

* ``connect URL`` (:mod:`._connect`): interactive client, stdin lines sent, messages printed;
* ``demo`` (:mod:`._demo`): a typed client against the embedded exchange simulator through
  a fault-injecting proxy, drawn by a plain (:mod:`._view_plain`) or ``rich``
  (:mod:`._view_rich`) view that only sees the small protocols of :mod:`._model`;
* ``record URL -o FILE`` and ``replay FILE`` (:mod:`._record`): session cassettes.

Nothing printed ever shows a credential (see :class:`~jetsocket._cli._connect.Redactor`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from jetsocket._cli._connect import ConnectOptions, MessagePrinter, Redactor, run_connect
from jetsocket._cli._parser import build_parser

__all__ = ["ConnectOptions", "MessagePrinter", "Redactor", "build_parser", "main", "run_connect"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jetsocket`` command.

    ``jetsocket URL`` is short for ``jetsocket connect URL``.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The process exit status.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0].startswith(("ws://", "wss://")):
        args_list.insert(0, "connect")
    args = build_parser().parse_args(args_list)
    try:
        if args.command == "demo":
            # Imported here: the simulator is loaded only for the demo.
            from jetsocket._cli._demo import run_demo  # noqa: PLC0415

            symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
            if not symbols:
                raise SystemExit("jetsocket: --symbols needs at least one symbol")
            return asyncio.run(
                run_demo(
                    duration=args.duration,
                    rate=args.rate,
                    symbols=symbols,
                    seed=args.seed,
                    burst=args.burst,
                    faults=not args.no_faults,
                    live=None if not args.plain else False,
                )
            )
        if args.command == "record":
            from jetsocket._cli._record import RecordOptions, run_record  # noqa: PLC0415

            record = RecordOptions(
                url=args.url,
                output=args.output,
                headers=dict(args.header),
                subprotocols=list(args.subprotocol),
                proxy=args.proxy,
                send=list(args.send),
                count=args.count,
                duration=args.duration,
                secrets=list(args.secret),
                verbose=args.verbose,
            )
            return asyncio.run(run_record(record))
        if args.command == "replay":
            from jetsocket._cli._record import run_replay  # noqa: PLC0415

            return asyncio.run(
                run_replay(
                    args.file, host=args.host, port=args.port, speed=args.speed, once=args.once
                )
            )
        options = ConnectOptions(
            url=args.url,
            headers=dict(args.header),
            subprotocols=list(args.subprotocol),
            raw=args.raw,
            heartbeat=args.heartbeat,
            reconnect=not args.no_reconnect,
            proxy=args.proxy,
            linger=args.linger,
            verbose=args.verbose,
        )
        return asyncio.run(run_connect(options))
    except KeyboardInterrupt:
        return 130
