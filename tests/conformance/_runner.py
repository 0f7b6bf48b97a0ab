"""Run the Autobahn TestSuite (served by ``kosoku``) against an echo client.

Flow (the Autobahn "fuzzingserver" protocol):

1. start ``kosoku -m fuzzingserver 127.0.0.1:0 -o OUTDIR`` in a subprocess; port 0 lets
   the OS pick a free port, which kosoku announces on stderr; a bounded connect loop then
   confirms that it accepts connections;
2. ``/getCaseCount`` sends the number of (selected) cases as one text message;
3. for each case N the testee connects to ``/runCase?case=N&agent=AGENT`` and echoes until
   the server closes (each case bounded by ``case_timeout``, the run by ``run_timeout``);
4. ``/updateReports?agent=AGENT`` ends the run: kosoku writes ``OUTDIR/index.json``
   (``{agent: {case_id: {"behavior", "behaviorClose", "remoteCloseCode", "duration",
   "reportfile"}}}``) plus one JSON/HTML report per case, then exits;
5. the index is parsed into a :class:`SuiteReport`: counts per behaviour, failing cases
   with the case's description, expectation and verdict, slowest cases.

Profiles: ``full`` is the whole suite (517 cases). It needs far more than the time
``make test`` can give it, because of the 12.x/13.x permessage-deflate throughput cases
(1000 messages of up to 128 KiB, compressed by zlib on both sides). ``quick`` runs every
case of sections 1-10 and, of 12.x/13.x, the sizes that exercise the negotiation, context
takeover, window sizes and fragmented compressed messages without the throughput load
(see ``QUICK_DEFLATE_ROWS``).

Standalone: ``python -m tests.conformance --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect as ws_connect

from ._report import ClientLog, HarnessError, SuiteReport, case_key, collect_report
from ._testee import TESTEE_NAMES, Testee, get_testee

HOST = "127.0.0.1"

# Rows of the 12.x/13.x size table (case 12.G.R / 13.G.R) kept by the quick profile:
# 1-4 = 1000 messages of 16, 64, 256, 1024 bytes (1024 > the 512-byte window of 13.3/13.5,
# and 1000 messages fill the 32 KiB window many times over, so window bits and context
# takeover are exercised); 11 = 8 KiB messages auto-fragmented into 256-byte frames
# (fragmented compressed messages, RFC 7692 section 6.1). Rows 5-10 and 12-18 only
# grow the payload (up to 128 KiB x 1000 = 128 MiB each way per case).
QUICK_DEFLATE_ROWS = (1, 2, 3, 4, 11)
DEFLATE_GROUPS = {12: 5, 13: 7}  # section -> number of groups (12.1-12.5, 13.1-13.7)
DEFLATE_ROWS = 18

# profile -> (case timeout, run timeout) in seconds. The case timeout bounds the 12.x/13.x
# cases (other sections get at most SECTION_LIMITS/DEFAULT_LIMIT). quick: its slowest case
# takes ~5 s on a loaded 2-core machine; full: a 128 KiB x 1000 case of 12.2/12.3 took up
# to 107 s there (the case's own limit, WAITSECS, is 480 s).
PROFILE_TIMEOUTS = {"quick": (20.0, 180.0), "full": (300.0, 1800.0)}


def profile_cases(profile: str) -> tuple[list[str], list[str]]:
    """Return the (include, exclude) case patterns of a profile (``quick`` or ``full``).

    Raises:
        ValueError: If ``profile`` is unknown.
    """
    if profile == "full":
        return [], []
    if profile == "quick":
        # Excluded by exact id: kosoku's globs are anchored at the start only ("12.1.1*"
        # would also match 12.1.10-18). Every other section runs in full.
        exclude = [
            f"{section}.{group}.{row}"
            for section, groups in DEFLATE_GROUPS.items()
            for group in range(1, groups + 1)
            for row in range(1, DEFLATE_ROWS + 1)
            if row not in QUICK_DEFLATE_ROWS
        ]
        return [], exclude
    raise ValueError(f"unknown profile {profile!r} (quick, full)")


# Per-case time limits below ``case_timeout``: the cases of sections 1-7 and 10 end within
# 10 s (kosoku's own killAfter/closeAfter), 9.x moves up to 16 MiB in a message or 4 MiB
# in 64-byte frames. Only the 12.x/13.x throughput cases need the full ``case_timeout``.
SECTION_LIMITS = {"9": 90.0, "12": None, "13": None}
DEFAULT_LIMIT = 20.0


def case_time_limit(case_id: str | None, case_timeout: float) -> float:
    """Seconds the client may spend on ``case_id`` (``case_timeout`` if the id is unknown)."""
    if case_id is None:
        return case_timeout
    limit = SECTION_LIMITS.get(case_id.split(".")[0], DEFAULT_LIMIT)
    return case_timeout if limit is None else min(limit, case_timeout)


def _glob(pattern: str) -> re.Pattern[str]:
    # kosoku's translation (lib.rs compile_glob): "." literal, "*" any run, anchored at
    # the start only.
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*"))


def select_cases(
    all_ids: Sequence[str], include: Sequence[str], exclude: Sequence[str]
) -> list[str]:
    """The case ids kosoku serves for ``include``/``exclude``, in its (numeric) order."""

    def expand(patterns: Sequence[str], ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for pattern in patterns:
            if "*" in pattern:
                glob = _glob(pattern)
                out.update(i for i in ids if glob.match(i))
            elif pattern in ids:
                out.add(pattern)
        return out

    chosen = expand(include, all_ids) if include else set(all_ids)
    chosen -= expand(exclude, sorted(chosen))
    return sorted(chosen, key=case_key)


async def _list_case_ids(include: Sequence[str], exclude: Sequence[str]) -> list[str] | None:
    """Case ids in run order, from kosoku's own index (None if it cannot be read).

    Read in a child interpreter: importing ``kosoku.cases`` prepends the case directories
    to ``sys.path`` and patches ``binascii``, side effects the test process should not get.
    """
    code = "import json, kosoku.cases as c; print(json.dumps(list(c.CASES)))"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 30.0)
        all_ids: list[str] = json.loads(out)
    except (TimeoutError, ValueError):
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        return None
    return select_cases(all_ids, include, exclude)


_LISTENING = re.compile(rb"listening on ws://[^\s:]+:(\d+)")


# kosoku's CLI run in a child interpreter that dies with us. On Linux the child asks the
# kernel for SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG), so a runner killed by
# a timeout or ^C cannot leave a fuzzing server behind; it exits at once if the parent is
# already gone. Elsewhere the runner's own clean-up (stop()) is all there is.
_LAUNCH_KOSOKU = """
import os, sys
if sys.platform.startswith("linux"):
    import ctypes, signal
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    if os.getppid() != int(os.environ["JETSOCKET_AUTOBAHN_PARENT"]):
        sys.exit("parent exited")
from kosoku._cli import main
main()
"""


class _Kosoku:
    """The fuzzing server subprocess: start, wait until ready, wait for exit, stop."""

    def __init__(self, outdir: Path, include: Sequence[str], exclude: Sequence[str]) -> None:
        self.outdir = outdir
        self.include = list(include)
        self.exclude = list(exclude)
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.log: list[bytes] = []
        self._port_found: asyncio.Future[int] | None = None
        self._drains: list[asyncio.Task[None]] = []

    async def start(self, timeout: float) -> int:
        args = [sys.executable, "-c", _LAUNCH_KOSOKU]
        args += ["-m", "fuzzingserver", f"{HOST}:0", "-o", str(self.outdir)]
        for pattern in self.include:
            args += ["-i", pattern]
        for pattern in self.exclude:
            args += ["-x", pattern]
        self.proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "JETSOCKET_AUTOBAHN_PARENT": str(os.getpid())},
        )
        self._port_found = asyncio.get_running_loop().create_future()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        # Both pipes are drained for the whole run so that kosoku never blocks on a full
        # pipe; the lines are kept for the error message if something goes wrong.
        self._drains = [
            asyncio.create_task(self._drain(self.proc.stdout)),
            asyncio.create_task(self._drain(self.proc.stderr)),
        ]
        exited = asyncio.create_task(self.proc.wait())
        try:
            done, _ = await asyncio.wait(
                {self._port_found, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            exited.cancel()
        if self._port_found not in done:
            await self.stop()
            why = "it exited" if self.proc.returncode is not None else f"silent for {timeout} s"
            raise HarnessError(f"kosoku did not start ({why}):\n{self.output()}")
        self.port = self._port_found.result()
        await self._wait_accepting(timeout)
        return self.port

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.log.append(line)
            match = _LISTENING.search(line)
            if match and self._port_found is not None and not self._port_found.done():
                self._port_found.set_result(int(match.group(1)))

    async def _wait_accepting(self, timeout: float) -> None:
        # kosoku prints the address once bound, so the first attempt normally succeeds; the
        # loop only guards against a listener that is slow to come up. A bare TCP connect
        # that sends no request is dropped by kosoku without effect on the run.
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), 1.0)
            except (TimeoutError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise HarnessError(f"kosoku not accepting on port {self.port}") from exc
                await asyncio.sleep(0.05)
            else:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return

    async def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            await self.stop()
            raise HarnessError(
                f"kosoku did not exit {timeout} s after /updateReports:\n{self.output()}"
            ) from None
        await asyncio.gather(*self._drains, return_exceptions=True)
        return code

    async def stop(self) -> None:
        """Terminate kosoku (if still running) and reap it; safe to call twice."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self._drains:
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)

    def output(self) -> str:
        return b"".join(self.log[-40:]).decode(errors="replace")


async def _get_case_count(base: str, timeout: float) -> int:
    # The control connections use websockets whatever the testee: a broken client under
    # test must produce a report that says so, not a harness that cannot start.
    async with asyncio.timeout(timeout), ws_connect(f"{base}/getCaseCount") as ws:
        return int(await ws.recv())


async def _update_reports(port: int, agent: str, timeout: float) -> None:
    # kosoku answers /updateReports with a bare 101 and stops accepting connections; it
    # never speaks WebSocket on it, so a raw HTTP upgrade request is all that is needed.
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(
                (
                    f"GET /updateReports?agent={agent} HTTP/1.1\r\n"
                    f"Host: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            await writer.drain()
            status = await reader.readline()
            if b" 101 " not in status:
                raise HarnessError(f"/updateReports answered {status!r}")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _await_chain(task: asyncio.Task[None]) -> str:
    """Where a pending task is suspended: every frame of its ``await`` chain.

    ``Task.print_stack`` shows only the outermost coroutine; a hang inside
    ``async for msg in ws`` is in the frames below it (``__anext__``, ``recv``...).
    """
    lines = []
    obj: Any = task.get_coro()
    for _ in range(50):
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None)
        frame = frame or getattr(obj, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        nxt = getattr(obj, "cr_await", None) or getattr(obj, "ag_await", None)
        nxt = nxt or getattr(obj, "gi_yieldfrom", None)
        if nxt is None and type(obj).__name__ == "async_generator_asend":
            # ``async for`` over an async generator: the asend object only refers to it.
            nxt = next((r for r in gc.get_referents(obj) if hasattr(r, "ag_frame")), None)
        if nxt is None:
            lines.append(f"awaiting {obj!r}"[:300])
            break
        obj = nxt
    return "\n".join(lines)


async def _run_one(testee: Testee, uri: str, n: int, timeout: float, log: ClientLog) -> None:
    task = asyncio.create_task(testee.echo(uri))
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        log.timeouts.append(n)
        # Where the client is stuck is the first thing to know about a hang.
        log.stacks[n] = _await_chain(task)
        # A client that swallows cancellation must not hang the run: give it a moment,
        # then leave it behind (reported as a timeout either way).
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5.0)
        if not done:
            log.stuck.append(task)
            return
    if task.cancelled():
        return
    exc = task.exception()
    if exc is None:
        return
    log.errors[n] = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, testee.expected_errors):
        log.crashes[n] = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


async def _run_cases(
    testee: Testee,
    base: str,
    ids: Sequence[str | None],
    *,
    concurrency: int,
    case_timeout: float,
    deadline: float,
    max_timeouts: int | None,
) -> ClientLog:
    """Drive cases 1..len(ids) with ``concurrency`` workers, in case order."""
    log = ClientLog()
    numbered = iter(enumerate(ids, start=1))

    async def worker() -> None:
        for n, case_id in numbered:
            remaining = deadline - time.monotonic()
            hung = max_timeouts is not None and len(log.timeouts) >= max_timeouts
            if remaining <= 0 or hung:
                log.not_run.append(n)
                continue
            uri = f"{base}/runCase?case={n}&agent={testee.name}"
            limit = min(case_time_limit(case_id, case_timeout), remaining)
            await _run_one(testee, uri, n, limit, log)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    log.timeouts.sort()
    log.not_run.sort()
    return log


async def run_suite(
    testee: Testee,
    outdir: Path,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    concurrency: int = 2,
    case_timeout: float = 60.0,
    run_timeout: float = 240.0,
    max_timeouts: int | None = None,
    startup_timeout: float = 30.0,
) -> SuiteReport:
    """Run the kosoku fuzzing-server suite against ``testee``.

    Args:
        testee: The echo client to drive.
        outdir: Directory for kosoku's reports and our summary (created if missing).
        include: Case ids or globs to run (default: the whole suite).
        exclude: Case ids or globs to leave out.
        concurrency: Cases run at the same time (kosoku serves connections concurrently).
        case_timeout: Seconds after which a case's client is cancelled.
        run_timeout: Seconds for all cases together; cases not started by then are skipped.
        max_timeouts: Skip the remaining cases once this many have timed out (a client
            that hangs again and again would otherwise use up the whole ``run_timeout``).
        startup_timeout: Seconds for kosoku to start and, at the end, to write reports.

    Returns:
        The parsed report; ``report.problems()`` is empty when every case passed.

    Raises:
        HarnessError: If kosoku cannot be started or produces no report.
    """
    started = time.monotonic()
    await asyncio.to_thread(_prepare_outdir, outdir)
    server = _Kosoku(outdir, include, exclude)
    try:
        port = await server.start(startup_timeout)
        base = f"ws://{HOST}:{port}"
        count = await _get_case_count(base, startup_timeout)
        listed = await _list_case_ids(include, exclude)
        # Trust our copy of kosoku's selection only if it agrees on the number of cases.
        ids: list[str] | None = listed if listed is not None and len(listed) == count else None
        log = await _run_cases(
            testee,
            base,
            ids if ids is not None else [None] * count,
            concurrency=concurrency,
            case_timeout=case_timeout,
            deadline=started + run_timeout,
            max_timeouts=max_timeouts,
        )
        await _update_reports(port, testee.name, startup_timeout)
        # Writing the HTML/JSON reports of 517 cases takes a few seconds, more under load.
        await server.wait_exit(2 * startup_timeout)
    except BaseException:
        await server.stop()
        raise

    report = await asyncio.to_thread(
        collect_report, testee.name, outdir, count, ids, log, time.monotonic() - started
    )
    for task in log.stuck:
        task.cancel()
    return report


def _prepare_outdir(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    # A stale index from an earlier run must not pass for this run's report.
    (outdir / "index.json").unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: run the suite and print the summary.

    Returns:
        0 when every case passed, 1 when some did not, 2 when the suite could not run.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance",
        description="Run the Autobahn suite (kosoku fuzzing server) against an echo client.",
    )
    parser.add_argument("--testee", choices=TESTEE_NAMES, default="jetsocket")
    parser.add_argument("--profile", choices=("quick", "full"), default="full")
    parser.add_argument("-o", "--outdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument(
        "-i", "--include", action="append", default=[], metavar="CASE", help="overrides profile"
    )
    parser.add_argument("-x", "--exclude", action="append", default=[], metavar="CASE")
    parser.add_argument("-j", "--concurrency", type=int, default=2)
    parser.add_argument("--case-timeout", type=float, default=None)
    parser.add_argument("--run-timeout", type=float, default=None)
    parser.add_argument("--strict-close", action="store_true", help="UNCLEAN/FAILED close fails")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the client's log")
    args = parser.parse_args(argv)
    if not args.verbose:
        # Half the cases fail the connection on purpose; a warning per case is noise here
        # (the summary lists the exceptions the client raised).
        logging.getLogger("jetsocket").setLevel(logging.ERROR)
    include, exclude = profile_cases(args.profile)
    if args.include:
        include = args.include
    defaults = PROFILE_TIMEOUTS[args.profile]
    outdir: Path = args.outdir or Path(tempfile.mkdtemp(prefix=f"autobahn-{args.testee}-"))
    try:
        report = asyncio.run(
            run_suite(
                get_testee(args.testee),
                outdir,
                include=include,
                exclude=exclude + args.exclude,
                concurrency=args.concurrency,
                case_timeout=args.case_timeout or defaults[0],
                run_timeout=args.run_timeout or defaults[1],
            )
        )
    except HarnessError as exc:
        print(f"harness error: {exc}", file=sys.stderr)
        return 2
    print(report.summary_text())
    return 1 if report.problems(strict_close=args.strict_close) else 0
