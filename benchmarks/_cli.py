"""``python -m benchmarks``: run the sections, print the tables, write the JSON results.

Ratios are computed **per round** (each round runs every client once, in a rotating
order) and reported as the median over the rounds with their spread (min-max), both by
wall clock and by client CPU time (steadier when other processes compete for the cores).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

from benchmarks._common import (
    ServerProcess,
    Stopwatch,
    interleave,
    jetsocket_attr,
    percentile,
    run_async,
    tick_payload,
)
from benchmarks._concurrent import CONCURRENT_CLIENTS, run_concurrent_client
from benchmarks._echo import (
    ECHO_CLIENTS,
    SYNC_ECHO_CLIENTS,
    EchoRun,
    echo_client_available,
    run_echo_client,
)
from benchmarks._feed import FEED_CLIENTS, feed_client_available, run_feed_client
from benchmarks._memory import MEMORY_CLIENTS, measure_memory
from benchmarks._report import Table, fmt_float, fmt_int, fmt_ratio, ratio
from benchmarks._results import (
    Report,
    Runs,
    Spread,
    Target,
    progress,
    throughput_table,
)
from benchmarks._sync import SYNC_CLIENTS, run_sync_client, sync_client_available

__all__ = ["main"]

SECTIONS = ("feed", "echo", "concurrent", "memory", "sync", "schema")
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "latest.json")


def _feed(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    n: int = args.n
    uri = srv.uri(f"/feed?n={n}")
    names = list(FEED_CLIENTS)
    skipped = {name: why for name in names if (why := feed_client_available(name))}
    runnable = [name for name in names if name not in skipped]
    res = Runs()

    async def run_all() -> None:
        for r, name in interleave(args.rounds, runnable):
            if name in res.errors:
                continue
            gc.collect()
            try:
                run = await run_feed_client(name, uri, n)
            except Exception as exc:  # one failing client must not hide the rest
                res.errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            res.add(name, run)
            progress(
                f"feed round {r + 1}/{args.rounds} {name}: {run.rate:,.0f} msg/s, "
                f"{run.cpu_us:.2f} us CPU/msg"
            )

    run_async(run_all(), args.loop)
    title = (
        f"Feed throughput: {n:,} trade ticks of {len(tick_payload(0)) + 4} B per run, "
        f"{args.rounds} interleaved rounds (client loop={args.loop}; "
        f"server: separate process, {srv.info})"
    )
    clients = {name: (label, ref) for name, (_, ref, label) in FEED_CLIENTS.items()}
    table, data = throughput_table(title, clients, skipped, res)
    report.tables.append(table)
    report.data["feed"] = {"n": n, "rounds": args.rounds, "clients": data}
    typed, raw = "jetsocket-typed", "jetsocket-raw"
    report.targets += [
        res.target("feed: jetsocket typed / picows+msgspec", typed, "picows-typed", 1.2),
        res.target(
            "feed: jetsocket typed batches() / picows+msgspec",
            "jetsocket-typed-batches",
            "picows-typed",
            1.5,
        ),
        res.target("feed: jetsocket raw / picows raw", raw, "picows-raw", 1.5),
        res.target(
            "feed: jetsocket raw / picows raw str (same output)", raw, "picows-raw-str", None
        ),
        res.target(
            "feed: jetsocket raw batches() / picows raw",
            "jetsocket-raw-batches",
            "picows-raw",
            None,
        ),
        res.target("feed: jetsocket typed / websockets+msgspec", typed, "websockets-typed", 4.0),
        res.target(
            "feed: scanner effect, typed (compiled / pure)", typed, "jetsocket-typed-pure", None
        ),
        res.target("feed: scanner effect, raw (compiled / pure)", raw, "jetsocket-raw-pure", None),
        res.target(
            "feed: jetsocket typed, pure reader / picows+msgspec",
            "jetsocket-typed-pure",
            "picows-typed",
            None,
        ),
        # The bounds: a bare scan(+decode) loop with no client around it, against the peer.
        res.target(
            "feed: floor typed (scan+decode only) / picows+msgspec (bound)",
            "floor-typed",
            "picows-typed",
            None,
        ),
        res.target(
            "feed: floor raw (scan only) / picows raw (bound)", "floor-raw", "picows-raw", None
        ),
    ]


# -- concurrent feeds -----------------------------------------------------------------------
def _concurrent(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    names = [
        name
        for name in CONCURRENT_CLIENTS
        if not (name.startswith("jetsocket") and jetsocket_attr("WebSocket") is None)
    ]
    report.data["concurrent"] = {}
    for conns in args.conns_list:
        per = args.n // conns
        uri = srv.uri(f"/feed?n={per}")
        res = Runs()

        async def run_all(
            conns: int = conns, per: int = per, uri: str = uri, res: Runs = res
        ) -> None:
            for r, name in interleave(args.rounds, names):
                if name in res.errors:
                    continue
                gc.collect()
                try:
                    run = await run_concurrent_client(name, uri, per, conns)
                except Exception as exc:  # one failing client must not hide the rest
                    res.errors[name] = f"{type(exc).__name__}: {exc}"
                    continue
                res.add(name, run)
                progress(
                    f"concurrent x{conns} round {r + 1}/{args.rounds} {name}: "
                    f"{run.rate:,.0f} msg/s, {run.cpu_us:.2f} us CPU/msg"
                )

        run_async(run_all(), args.loop)
        title = (
            f"Concurrent feeds: {conns} connections x {per:,} ticks, total msg/s, "
            f"{args.rounds} interleaved rounds (client loop={args.loop}; server: {srv.info})"
        )
        clients = {name: (label, "jetsocket") for name, (_, label) in CONCURRENT_CLIENTS.items()}
        table, data = throughput_table(title, clients, {}, res)
        report.tables.append(table)
        report.data["concurrent"][str(conns)] = {
            "conns": conns,
            "per_connection": per,
            "rounds": args.rounds,
            "clients": data,
        }
        report.targets.append(
            res.target(
                f"concurrent x{conns}: jetsocket / picows (total msg/s)", "jetsocket", "picows", 1.1
            )
        )


# -- echo ---------------------------------------------------------------------------------
def _echo(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    uri = srv.uri("/echo")
    names = list(ECHO_CLIENTS)
    skipped = {name: why for name in names if (why := echo_client_available(name))}
    runnable = [name for name in names if name not in skipped]
    samples: dict[str, list[int]] = {name: [] for name in runnable}
    round_p50: dict[str, list[float]] = {name: [] for name in runnable}
    round_cpu: dict[str, list[float]] = {name: [] for name in runnable}
    cpu: dict[str, float] = dict.fromkeys(runnable, 0.0)
    errors: dict[str, str] = {}
    # Several shorter interleaved rounds: every client sees the same machine drift.
    rounds = args.echo_rounds
    count = max(1, args.echo_count // rounds)

    async def run_all() -> None:
        for r, name in interleave(rounds, runnable):
            if name in errors:
                continue
            gc.collect()
            try:
                got = await run_echo_client(name, uri, args.echo_warmup, count)
            except Exception as exc:  # one failing client must not hide the rest
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            samples[name].extend(got.samples)
            cpu[name] += got.cpu_seconds
            p50 = percentile(sorted(got.samples), 0.5) / 1e3
            round_p50[name].append(p50)
            round_cpu[name].append(got.cpu_us)
            progress(
                f"echo round {r + 1}/{rounds} {name}: p50 {p50:.1f} us, "
                f"{got.cpu_us:.1f} us CPU/round trip"
            )

    run_async(run_all(), args.loop)
    stats: dict[str, dict[str, float]] = {}
    for name, values in samples.items():
        if not values:
            continue
        values.sort()
        stats[name] = {
            "p50_us": percentile(values, 0.5) / 1e3,
            "p90_us": percentile(values, 0.9) / 1e3,
            "p99_us": percentile(values, 0.99) / 1e3,
            "mean_us": statistics.fmean(values) / 1e3,
            "cpu_us": cpu[name] / len(values) * 1e6,
            "count": len(values),
        }

    def per_round(table: dict[str, list[float]], name: str) -> Spread | None:
        pairs = zip(table.get("jetsocket", []), table.get(name, []), strict=False)
        return Spread.of([ratio(a, b) for a, b in pairs])

    table = Table(
        f'Echo round trip: {{"op":"ping","id":N}} text, {count * rounds:,} '
        f"sequential round trips per client ({rounds} interleaved rounds, {args.echo_warmup} "
        f"warm-up each; client loop={args.loop}; server: separate process, {srv.info})",
        [
            "client",
            "p50 us",
            "p90 us",
            "p99 us",
            "mean us",
            "CPU us/rt",
            "jetsocket p50 / client p50",
            "jetsocket CPU / client CPU",
        ],
    )
    data: dict[str, Any] = {"rounds": rounds, "per_round": count, "clients": {}}
    for name, (_, label) in ECHO_CLIENTS.items():
        if name not in stats:
            why = skipped.get(name) or errors.get(name, "no samples")
            table.add(label, "skipped" if name in skipped else "error", "", "", "", "", "", why)
            data["clients"][name] = {"label": label, "error": why}
            continue
        s = stats[name]
        r_p50 = per_round(round_p50, name)
        r_cpu = per_round(round_cpu, name)
        is_ref = name == "jetsocket"
        table.add(
            label,
            fmt_float(s["p50_us"]),
            fmt_float(s["p90_us"]),
            fmt_float(s["p99_us"]),
            fmt_float(s["mean_us"]),
            fmt_float(s["cpu_us"]),
            "1.00x (ref)" if is_ref or r_p50 is None else r_p50.fmt(),
            "" if is_ref or r_cpu is None else r_cpu.fmt(),
        )
        data["clients"][name] = {
            "label": label,
            **s,
            "round_p50_us": round_p50[name],
            "round_cpu_us": round_cpu[name],
            "p50_ratio": None if is_ref or r_p50 is None else r_p50.as_json(),
            "cpu_ratio": None if is_ref or r_cpu is None else r_cpu.as_json(),
        }
    table.note(
        "jetsocket / client < 1 means jetsocket has the lower latency (or uses less CPU); "
        "ratios per round, median (min-max)."
    )
    table.note("CPU us/rt: client process CPU time per round trip (Python work + syscalls).")
    report.tables.append(table)
    report.data["echo"] = data
    report.targets += [
        Target.from_spreads(
            "echo: jetsocket p50 / picows p50",
            per_round(round_p50, "picows"),
            None,
            1.05,
            at_least=False,
        ),
        Target.from_spreads(
            "echo: jetsocket CPU / picows CPU per round trip",
            per_round(round_cpu, "picows"),
            None,
            1.1,
            at_least=False,
        ),
        Target.from_spreads(
            "echo: jetsocket p50 / jetsocket pure-reader p50",
            per_round(round_p50, "jetsocket-pure"),
            per_round(round_cpu, "jetsocket-pure"),
            None,
            at_least=False,
        ),
    ]


# -- memory -------------------------------------------------------------------------------
def _memory(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    uri = srv.uri("/idle")
    results: dict[str, dict[str, Any]] = {}
    for name in MEMORY_CLIENTS:
        if name == "jetsocket" and jetsocket_attr("WebSocket") is None:
            results[name] = {"client": name, "skipped": "jetsocket.WebSocket not importable"}
            continue
        results[name] = measure_memory(name, uri, args.conns, args.loop, args.heartbeat)
        per = results[name].get("per_connection_kib")
        progress(f"memory {name}: {per if per is None else round(per, 2)} KiB/conn")
    table = Table(
        f"Resident memory per idle connection: VmRSS delta over {args.conns:,} connections "
        f"opened after 250 priming ones, keep-alive every {args.heartbeat:g} s, measured after "
        f"{2.5 * args.heartbeat:g} s idle; each client in a fresh process (loop={args.loop})",
        ["client", "KiB / conn", "RSS before KiB", "RSS after KiB", "jetsocket / client"],
    )
    js = results.get("jetsocket", {}).get("per_connection_kib")
    for name, (_, template) in MEMORY_CLIENTS.items():
        label = template.format(hb=f"{args.heartbeat:g}")
        res = results[name]
        if "per_connection_kib" not in res:
            why = res.get("skipped") or res.get("error", "?")
            table.add(label, "skipped" if "skipped" in res else "error", "", "", why)
            continue
        r_ = ratio(js, res["per_connection_kib"])
        res["jetsocket_over_client"] = r_
        res["label"] = label
        table.add(
            label,
            fmt_float(res["per_connection_kib"], 2),
            fmt_int(res["rss_before_kib"]),
            fmt_int(res["rss_after_kib"]),
            "1.00x (ref)" if name == "jetsocket" else fmt_ratio(r_),
        )
    table.note("jetsocket / client < 1 means jetsocket uses less memory per connection.")
    report.tables.append(table)
    report.data["memory"] = {"count": args.conns, "clients": results}
    report.targets.append(
        Target("memory: jetsocket per idle connection", js, 8.5, at_least=False, unit="KiB")
    )


# -- sync ---------------------------------------------------------------------------------
def _sync(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    n: int = args.n
    uri = srv.uri(f"/feed?n={n}")
    names = list(SYNC_CLIENTS)
    skipped = {name: why for name in names if (why := sync_client_available(name))}
    if "jetsocket-sync-typed" in skipped:
        table = Table("Sync facade feed throughput", ["client", "status"])
        table.add("jetsocket SyncWebSocket", f"skipped: {skipped['jetsocket-sync-typed']}")
        report.tables.append(table)
        report.data["sync"] = {"skipped": skipped["jetsocket-sync-typed"]}
        return
    runnable = [name for name in names if name not in skipped]
    res = Runs()
    for r, name in interleave(args.rounds, runnable):
        if name in res.errors:
            continue
        gc.collect()
        try:
            run = run_sync_client(name, uri, n, args.loop)
        except Exception as exc:  # one failing client must not hide the rest
            res.errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        res.add(name, run)
        progress(
            f"sync round {r + 1}/{args.rounds} {name}: {run.rate:,.0f} msg/s, "
            f"{run.cpu_us:.2f} us CPU/msg"
        )
    title = (
        f"Sync facade feed throughput: {n:,} ticks per run, best of {args.rounds} "
        f"interleaved rounds (for m in ws; jetsocket's loop thread: loop={args.loop})"
    )
    ref = "jetsocket-sync-typed"
    clients = {name: (label, ref) for name, (_, label) in SYNC_CLIENTS.items()}
    table, data = throughput_table(title, clients, skipped, res)
    report.tables.append(table)
    report.data["sync"] = {"n": n, "rounds": args.rounds, "clients": data}
    report.targets += [
        res.target(
            "sync: jetsocket sync / websockets.sync+msgspec", ref, "websockets-sync-typed", None
        ),
        res.target(
            "sync: jetsocket sync / jetsocket async (typed)", ref, "jetsocket-async-typed", None
        ),
    ]


def _sync_echo(args: argparse.Namespace, report: Report) -> None:
    """Blocking request/response: SyncWebSocket vs websockets.sync, against picows' server."""
    ref = "jetsocket-sync"
    names = list(SYNC_ECHO_CLIENTS)
    if jetsocket_attr("SyncWebSocket") is None:
        names.remove(ref)
    rounds = args.echo_rounds
    count = max(1, args.echo_count // rounds)
    runs: dict[str, list[EchoRun]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    with ServerProcess(module="benchmarks._picows_server") as srv:
        uri = srv.uri("/echo")
        for r, name in interleave(rounds, names):
            if name in errors:
                continue
            gc.collect()
            try:
                got = SYNC_ECHO_CLIENTS[name][0](uri, args.echo_warmup, count)
            except Exception as exc:  # one failing client must not hide the rest
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            runs[name].append(got)
            progress(
                f"sync echo round {r + 1}/{rounds} {name}: "
                f"p50 {percentile(sorted(got.samples), 0.5) / 1e3:.1f} us, "
                f"{got.cpu_us:.1f} us CPU/round trip"
            )

    def p50(run: EchoRun) -> float:
        return percentile(sorted(run.samples), 0.5) / 1e3

    def per_round(name: str, value: Any) -> Spread | None:
        pairs = zip(runs.get(ref, []), runs.get(name, []), strict=False)
        return Spread.of([ratio(value(a), value(b)) for a, b in pairs])

    table = Table(
        f'Sync echo round trip: {{"op":"ping","id":N}} text, {count * rounds:,} sequential '
        f"round trips per client ({rounds} interleaved rounds, {args.echo_warmup} warm-up "
        f"each; server: picows, separate process, {srv.info})",
        [
            "client",
            "p50 us",
            "p90 us",
            "p99 us",
            "CPU us/rt",
            "jetsocket p50 / client p50",
            "jetsocket CPU / client CPU",
        ],
    )
    data: dict[str, Any] = {"rounds": rounds, "per_round": count, "clients": {}}
    for name, (_, label) in SYNC_ECHO_CLIENTS.items():
        client_runs = runs.get(name)
        if not client_runs:
            why = errors.get(name, "not run")
            table.add(label, "error", "", "", "", "", "", why)
            data["clients"][name] = {"label": label, "error": why}
            continue
        values = sorted(v for run in client_runs for v in run.samples)
        cpu = sum(run.cpu_seconds for run in client_runs) / len(values) * 1e6
        r_p50 = per_round(name, p50)
        r_cpu = per_round(name, lambda run: run.cpu_us)
        is_ref = name == ref
        table.add(
            label,
            fmt_float(percentile(values, 0.5) / 1e3),
            fmt_float(percentile(values, 0.9) / 1e3),
            fmt_float(percentile(values, 0.99) / 1e3),
            fmt_float(cpu),
            "1.00x (ref)" if is_ref or r_p50 is None else r_p50.fmt(),
            "" if is_ref or r_cpu is None else r_cpu.fmt(),
        )
        data["clients"][name] = {
            "label": label,
            "p50_us": percentile(values, 0.5) / 1e3,
            "p90_us": percentile(values, 0.9) / 1e3,
            "p99_us": percentile(values, 0.99) / 1e3,
            "cpu_us": cpu,
            "round_p50_us": [p50(run) for run in client_runs],
            "round_cpu_us": [run.cpu_us for run in client_runs],
            "p50_ratio": None if is_ref or r_p50 is None else r_p50.as_json(),
            "cpu_ratio": None if is_ref or r_cpu is None else r_cpu.as_json(),
        }
    table.note(
        "jetsocket / client < 1 means jetsocket has the lower latency (or uses less CPU); "
        "CPU: client process, all threads (jetsocket's loop thread included)."
    )
    report.tables.append(table)
    report.data["sync_echo"] = data
    report.targets += [
        Target.from_spreads(
            "sync echo: jetsocket p50 / websockets.sync p50",
            per_round("websockets-sync", p50),
            None,
            1.1,
            at_least=False,
        ),
        Target.from_spreads(
            "sync echo: jetsocket CPU / websockets.sync CPU per round trip",
            per_round("websockets-sync", lambda run: run.cpu_us),
            None,
            None,
            at_least=False,
        ),
    ]


# -- schema -------------------------------------------------------------------------------
def _schema(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    n: int = args.n
    try:
        from benchmarks._schema import SCHEMA_CLIENTS, run_schema_client  # noqa: PLC0415
    except Exception as exc:  # jetsocket.schema or pydantic missing: skip, keep the rest
        why = f"{type(exc).__name__}: {exc}"
        table = Table("Schema layer throughput", ["client", "status"])
        table.add("jetsocket.schema / pydantic", f"skipped: {why}")
        report.tables.append(table)
        report.data["schema"] = {"skipped": why}
        return
    names = list(SCHEMA_CLIENTS)
    res = Runs()

    async def run_all() -> None:
        for r, name in interleave(args.rounds, names):
            if name in res.errors:
                continue
            gc.collect()
            path = SCHEMA_CLIENTS[name][1]
            uri = srv.uri(f"{path}{'&' if '?' in path else '?'}n={n}")
            try:
                run = await run_schema_client(name, uri, n)
            except Exception as exc:  # one failing client must not hide the rest
                res.errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            res.add(name, run)
            progress(
                f"schema round {r + 1}/{args.rounds} {name}: {run.rate:,.0f} msg/s, "
                f"{run.cpu_us:.2f} us CPU/msg"
            )

    run_async(run_all(), args.loop)
    title = (
        f"Schema layer throughput: {n:,} messages per run (~170 B), best of {args.rounds} "
        f"interleaved rounds (client loop={args.loop}; server: separate process, {srv.info})"
    )
    clients = {name: (label, ref) for name, (_, _, ref, label) in SCHEMA_CLIENTS.items()}
    table, data = throughput_table(title, clients, {}, res)
    table.note(
        "Reference rows are jetsocket too: 'jetsocket / client' is schema / plain WebSocket on "
        "the same feed (goal >= 0.85x), and jetsocket / websockets for pydantic (>= 1.5x)."
    )
    report.tables.append(table)
    report.data["schema"] = {"n": n, "rounds": args.rounds, "clients": data}
    routed = "schema-routed"
    report.targets += [
        res.target(
            "schema: Client->Stream / plain typed (trades)", "schema-trades", "plain-typed", 0.85
        ),
        res.target("schema: 3 Streams / plain union (mixed)", routed, "plain-union", 0.85),
        res.target("schema: 3 Streams (mixed) / plain typed (trades)", routed, "plain-typed", None),
        res.target(
            "schema: jetsocket pydantic / websockets+pydantic",
            "jetsocket-pydantic",
            "websockets-pydantic",
            1.5,
        ),
    ]


# -- main ---------------------------------------------------------------------------------
def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="jetsocket vs picows, websockets and aiohttp, side by side in one run.",
    )
    parser.add_argument("--n", type=int, default=None, help="messages per feed run (300000)")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections: {','.join(SECTIONS)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test, < 60 s)")
    parser.add_argument(
        "--rounds", type=int, default=None, help="feed/concurrent/sync rounds (5; quick 2)"
    )
    parser.add_argument(
        "--concurrent",
        default=None,
        help="comma-separated connection counts of the concurrent section (10,100)",
    )
    parser.add_argument("--echo-count", type=int, default=None, help="measured round trips (5000)")
    parser.add_argument("--echo-rounds", type=int, default=None, help="interleaved echo rounds (5)")
    parser.add_argument("--echo-warmup", type=int, default=None, help="warm-up per round (200)")
    parser.add_argument("--conns", type=int, default=None, help="idle connections (1000)")
    parser.add_argument(
        "--heartbeat", type=float, default=None, help="keep-alive interval, memory section (2)"
    )
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument("--json", default=RESULTS, help=f"results file ({RESULTS})")
    parser.add_argument(
        "--profile",
        metavar="CLIENT",
        default=None,
        help=f"profile one feed run of CLIENT with cProfile instead ({', '.join(FEED_CLIENTS)})",
    )
    args = parser.parse_args(argv)
    quick = args.quick

    def pick(value: int | None, full: int, small: int) -> int:
        return value if value is not None else (small if quick else full)

    args.n = pick(args.n, 300_000, 20_000)
    args.rounds = pick(args.rounds, 5, 2)
    try:
        args.conns_list = [int(c) for c in (args.concurrent or "10,100").split(",") if c]
    except ValueError:
        parser.error("--concurrent: comma-separated integers")
    args.echo_count = pick(args.echo_count, 5_000, 500)
    args.echo_rounds = pick(args.echo_rounds, 5, 2)
    args.echo_warmup = pick(args.echo_warmup, 200, 50)
    args.conns = pick(args.conns, 1_000, 300)
    if args.heartbeat is None:
        args.heartbeat = 0.5 if quick else 2.0
    chosen = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sorted(chosen - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if s in chosen]  # always the same order
    if args.profile is not None and args.profile not in FEED_CLIENTS:
        parser.error(f"--profile: unknown client {args.profile!r}")
    return args


def _reader_status() -> str:
    try:
        from jetsocket._protocol._reader import _SCAN_STATUS  # noqa: PLC0415
    except Exception as exc:  # a broken package must not stop the peers' figures
        return f"unavailable: {type(exc).__name__}"
    return _SCAN_STATUS


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return the process exit code."""
    args = _parse(argv)
    if args.profile is not None:
        from benchmarks._profile import profile_feed  # noqa: PLC0415 - only for --profile

        return profile_feed(args.profile, args.n, args.loop)
    clock = Stopwatch()
    report = Report()
    meta = {
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loop": args.loop,
        "load_avg_start": os.getloadavg(),
        "jetsocket_websocket": jetsocket_attr("WebSocket") is not None,
        "jetsocket_syncwebsocket": jetsocket_attr("SyncWebSocket") is not None,
        "jetsocket_reader": _reader_status(),
    }
    feed_n = [args.n] if {"feed", "sync", "schema"} & set(args.sections) else []
    if "concurrent" in args.sections:
        feed_n += [args.n // conns for conns in args.conns_list]
    mixed_n = [args.n] if "schema" in args.sections else []
    sections = {
        "feed": _feed,
        "echo": _echo,
        "concurrent": _concurrent,
        "memory": _memory,
        "sync": _sync,
        "schema": _schema,
    }
    with ServerProcess(feed_n=feed_n, mixed_n=mixed_n) as srv:
        meta["server"] = srv.info
        for name in args.sections:
            progress(f"section {name}")
            if name == "echo":
                # Echo against picows' server (C transport), never a pure-Python one.
                with ServerProcess(module="benchmarks._picows_server") as echo_srv:
                    meta["echo_server"] = echo_srv.info
                    _echo(args, echo_srv, report)
                continue
            sections[name](args, srv, report)
            if name == "sync":
                _sync_echo(args, report)
    meta["load_avg_end"] = os.getloadavg()
    meta["seconds"] = round(clock.elapsed(), 1)

    print()
    for table in report.tables:
        print(table.render())
        print()
    if report.targets:
        print("Targets (ratios; absolute figures drift on a shared machine)")
        print("-" * 60)
        for target in report.targets:
            print(target.line())
        print()
    print(
        f"{meta['command']}  |  {meta['seconds']} s  |  load avg {meta['load_avg_start'][0]:.2f}"
        f" -> {meta['load_avg_end'][0]:.2f} on {meta['cpus']} CPUs"
    )

    out = {"meta": meta, **report.data, "targets": [t.as_json() for t in report.targets]}
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)
    print(f"results written to {args.json}")
    return 0
