"""``python -m benchmarks``: run the sections, print the tables, write the JSON results."""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
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
from benchmarks._echo import ECHO_CLIENTS, echo_client_available, run_echo_client
from benchmarks._feed import FEED_CLIENTS, FeedRun, feed_client_available, run_feed_client
from benchmarks._memory import MEMORY_CLIENTS, measure_memory
from benchmarks._report import Table, fmt_float, fmt_int, fmt_ratio, ratio, verdict
from benchmarks._sync import SYNC_CLIENTS, run_sync_client, sync_client_available

__all__ = ["main"]

SECTIONS = ("feed", "echo", "memory", "sync", "schema")
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "latest.json")


@dataclass
class Target:
    """One headline figure and its goal (``goal`` None: reported, no goal)."""

    name: str
    value: float | None
    goal: float | None
    at_least: bool
    unit: str = "x"
    by_cpu: float | None = None  # the same ratio computed from CPU time (steadier)

    def _fmt(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        return fmt_ratio(value) if self.unit == "x" else f"{value:.2f} {self.unit}"

    def verdict(self) -> str:
        if self.goal is None:
            return "n/a" if self.value is None else "info"
        return verdict(self.value, self.goal, at_least=self.at_least)

    def line(self) -> str:
        goal = ""
        if self.goal is not None:
            op = ">=" if self.at_least else "<="
            goal = f"(target {op} {self._fmt(self.goal)})"
        cpu = f"  (by CPU: {self._fmt(self.by_cpu)})" if self.by_cpu is not None else ""
        return f"{self.name:<46} {self._fmt(self.value):>10}  {goal:<22} {self.verdict():<4}{cpu}"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.goal,
            "at_least": self.at_least,
            "verdict": self.verdict(),
            "by_cpu": self.by_cpu,
        }


@dataclass
class Report:
    """What every section adds to: printed tables, JSON, headline targets."""

    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)


def _progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


# -- throughput (feed and sync) -------------------------------------------------------------
@dataclass
class _Runs:
    """Every run of every client of a throughput section."""

    runs: dict[str, list[FeedRun]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, run: FeedRun) -> None:
        self.runs.setdefault(name, []).append(run)

    def best_rate(self, name: str) -> float | None:
        runs = self.runs.get(name)
        return max(r.rate for r in runs) if runs else None

    def best_cpu(self, name: str) -> float | None:
        runs = self.runs.get(name)
        return min(r.cpu_us for r in runs) if runs else None


def _throughput_table(
    title: str,
    clients: dict[str, tuple[str, str]],
    skipped: dict[str, str],
    res: _Runs,
) -> tuple[Table, dict[str, Any]]:
    """Build the table of a throughput section; ``clients``: name -> (label, reference)."""
    table = Table(
        title,
        [
            "client",
            "id",
            "best msg/s",
            "median msg/s",
            "CPU us/msg",
            "jetsocket / client",
            "(by CPU)",
            "reference",
        ],
    )
    data: dict[str, Any] = {}
    for name, (label, ref) in clients.items():
        runs = res.runs.get(name)
        if not runs:
            why = skipped.get(name) or res.errors.get(name, "no result")
            status = "skipped" if name in skipped else "error"
            table.add(label, name, status, "", "", "", "", why)
            data[name] = {"label": label, "error": why}
            continue
        by_rate = ratio(res.best_rate(ref), res.best_rate(name))
        by_cpu = ratio(res.best_cpu(name), res.best_cpu(ref))
        is_ref = name == ref
        table.add(
            label,
            name,
            fmt_int(res.best_rate(name)),
            fmt_int(statistics.median(r.rate for r in runs)),
            fmt_float(res.best_cpu(name), 2),
            "1.00x (ref)" if is_ref else fmt_ratio(by_rate),
            "" if is_ref else fmt_ratio(by_cpu),
            ref,
        )
        data[name] = {
            "label": label,
            "rates": [r.rate for r in runs],
            "cpu_us_per_msg": [r.cpu_us for r in runs],
            "best_rate": res.best_rate(name),
            "best_cpu_us": res.best_cpu(name),
            "reference": ref,
            "ratio_by_rate": by_rate,
            "ratio_by_cpu": by_cpu,
        }
    table.note(
        "jetsocket / client > 1: jetsocket is faster. Rates are wall clock from the first to "
        "the last message;"
    )
    table.note(
        "CPU us/msg is the client process's CPU time (all threads) over the same span, and "
        "(by CPU) its ratio: steadier under load."
    )
    return table, data


def _feed(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    n: int = args.n
    uri = srv.uri(f"/feed?n={n}")
    names = list(FEED_CLIENTS)
    skipped = {name: why for name in names if (why := feed_client_available(name))}
    runnable = [name for name in names if name not in skipped]
    res = _Runs()

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
            _progress(
                f"feed round {r + 1}/{args.rounds} {name}: {run.rate:,.0f} msg/s, "
                f"{run.cpu_us:.2f} us CPU/msg"
            )

    run_async(run_all(), args.loop)
    title = (
        f"Feed throughput: {n:,} trade ticks of {len(tick_payload(0)) + 4} B per run, "
        f"best of {args.rounds} interleaved rounds (client loop={args.loop}; "
        f"server: separate process, {srv.info})"
    )
    clients = {name: (label, ref) for name, (_, ref, label) in FEED_CLIENTS.items()}
    table, data = _throughput_table(title, clients, skipped, res)
    report.tables.append(table)
    report.data["feed"] = {"n": n, "rounds": args.rounds, "clients": data}
    js = res.best_rate("jetsocket-typed")
    report.targets += [
        Target(
            "feed: jetsocket typed / picows+msgspec",
            ratio(js, res.best_rate("picows-typed")),
            1.0,
            at_least=True,
            by_cpu=ratio(res.best_cpu("picows-typed"), res.best_cpu("jetsocket-typed")),
        ),
        Target(
            "feed: jetsocket typed / websockets+msgspec",
            ratio(js, res.best_rate("websockets-typed")),
            4.0,
            at_least=True,
            by_cpu=ratio(res.best_cpu("websockets-typed"), res.best_cpu("jetsocket-typed")),
        ),
        Target(
            "feed: jetsocket raw / picows raw",
            ratio(res.best_rate("jetsocket-raw"), res.best_rate("picows-raw")),
            None,
            at_least=True,
            by_cpu=ratio(res.best_cpu("picows-raw"), res.best_cpu("jetsocket-raw")),
        ),
    ]


# -- echo ---------------------------------------------------------------------------------
def _echo(args: argparse.Namespace, srv: ServerProcess, report: Report) -> None:
    uri = srv.uri("/echo")
    names = list(ECHO_CLIENTS)
    skipped = {name: why for name in names if (why := echo_client_available(name))}
    runnable = [name for name in names if name not in skipped]
    samples: dict[str, list[int]] = {name: [] for name in runnable}
    cpu: dict[str, float] = dict.fromkeys(runnable, 0.0)
    errors: dict[str, str] = {}
    # Several shorter interleaved rounds, pooled: every client sees the same machine drift.
    rounds = args.echo_rounds
    per_round = max(1, args.echo_count // rounds)

    async def run_all() -> None:
        for r, name in interleave(rounds, runnable):
            if name in errors:
                continue
            gc.collect()
            try:
                got = await run_echo_client(name, uri, args.echo_warmup, per_round)
            except Exception as exc:  # one failing client must not hide the rest
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            samples[name].extend(got.samples)
            cpu[name] += got.cpu_seconds
            p50 = percentile(sorted(got.samples), 0.5) / 1e3
            _progress(
                f"echo round {r + 1}/{rounds} {name}: p50 {p50:.1f} us, "
                f"{got.cpu_us:.1f} us CPU/round trip"
            )

    run_async(run_all(), args.loop)

    stats: dict[str, dict[str, float]] = {}
    for name, values in samples.items():
        if values:
            values.sort()
            stats[name] = {
                "p50_us": percentile(values, 0.5) / 1e3,
                "p90_us": percentile(values, 0.9) / 1e3,
                "p99_us": percentile(values, 0.99) / 1e3,
                "mean_us": statistics.fmean(values) / 1e3,
                "cpu_us": cpu[name] / len(values) * 1e6,
                "count": len(values),
            }
    table = Table(
        f'Echo round trip: {{"op":"ping","id":N}} text, {per_round * rounds:,} sequential round '
        f"trips per client ({rounds} interleaved rounds, {args.echo_warmup} warm-up each; "
        f"client loop={args.loop}, server: separate process, {srv.info})",
        [
            "client",
            "p50 us",
            "p90 us",
            "p99 us",
            "mean us",
            "CPU us/rt",
            "jetsocket p50 / client p50",
            "(CPU)",
        ],
    )
    js = stats.get("jetsocket", {}).get("p50_us")
    js_cpu = stats.get("jetsocket", {}).get("cpu_us")
    data: dict[str, Any] = {"rounds": rounds, "per_round": per_round, "clients": {}}
    for name, (_, label) in ECHO_CLIENTS.items():
        if name not in stats:
            why = skipped.get(name) or errors.get(name, "no samples")
            table.add(label, "skipped" if name in skipped else "error", "", "", "", "", "", why)
            data["clients"][name] = {"label": label, "error": why}
            continue
        s = stats[name]
        r_ = ratio(js, s["p50_us"])
        r_cpu = ratio(js_cpu, s["cpu_us"])
        table.add(
            label,
            fmt_float(s["p50_us"]),
            fmt_float(s["p90_us"]),
            fmt_float(s["p99_us"]),
            fmt_float(s["mean_us"]),
            fmt_float(s["cpu_us"]),
            "1.00x (ref)" if name == "jetsocket" else fmt_ratio(r_),
            "" if name == "jetsocket" else fmt_ratio(r_cpu),
        )
        data["clients"][name] = {
            "label": label,
            **s,
            "jetsocket_p50_over_client_p50": r_,
            "jetsocket_cpu_over_client_cpu": r_cpu,
        }
    table.note("jetsocket p50 / client p50 < 1 means jetsocket has the lower latency.")
    table.note(
        "CPU us/rt: client process CPU time per round trip (Python work + syscalls), "
        "(CPU) its ratio jetsocket / client."
    )
    report.tables.append(table)
    report.data["echo"] = data
    report.targets.append(
        Target(
            "echo: jetsocket p50 / picows p50",
            ratio(js, stats.get("picows", {}).get("p50_us")),
            1.05,
            at_least=False,
            by_cpu=ratio(js_cpu, stats.get("picows", {}).get("cpu_us")),
        )
    )


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
        _progress(f"memory {name}: {per if per is None else round(per, 2)} KiB/conn")
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
        Target("memory: jetsocket per idle connection", js, 10.0, at_least=False, unit="KiB")
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
    res = _Runs()
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
        _progress(
            f"sync round {r + 1}/{args.rounds} {name}: {run.rate:,.0f} msg/s, "
            f"{run.cpu_us:.2f} us CPU/msg"
        )
    title = (
        f"Sync facade feed throughput: {n:,} ticks per run, best of {args.rounds} "
        f"interleaved rounds (for m in ws; jetsocket's loop thread: loop={args.loop})"
    )
    ref = "jetsocket-sync-typed"
    clients = {name: (label, ref) for name, (_, label) in SYNC_CLIENTS.items()}
    table, data = _throughput_table(title, clients, skipped, res)
    report.tables.append(table)
    report.data["sync"] = {"n": n, "rounds": args.rounds, "clients": data}
    js = res.best_rate(ref)
    report.targets += [
        Target(
            "sync: jetsocket sync / websockets.sync+msgspec",
            ratio(js, res.best_rate("websockets-sync-typed")),
            None,
            at_least=True,
        ),
        Target(
            "sync: jetsocket sync / jetsocket async (typed)",
            ratio(js, res.best_rate("jetsocket-async-typed")),
            None,
            at_least=True,
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
    res = _Runs()

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
            _progress(
                f"schema round {r + 1}/{args.rounds} {name}: {run.rate:,.0f} msg/s, "
                f"{run.cpu_us:.2f} us CPU/msg"
            )

    run_async(run_all(), args.loop)
    title = (
        f"Schema layer throughput: {n:,} messages per run (~170 B), best of {args.rounds} "
        f"interleaved rounds (client loop={args.loop}; server: separate process, {srv.info})"
    )
    clients = {name: (label, ref) for name, (_, _, ref, label) in SCHEMA_CLIENTS.items()}
    table, data = _throughput_table(title, clients, {}, res)
    table.note(
        "Reference rows are jetsocket too: 'jetsocket / client' is schema / plain WebSocket on "
        "the same feed (goal >= 0.85x), and jetsocket / websockets for pydantic (>= 1.5x)."
    )
    report.tables.append(table)
    report.data["schema"] = {"n": n, "rounds": args.rounds, "clients": data}
    routed = "schema-routed"
    report.targets += [
        Target(
            "schema: Client->Stream / plain typed (trades)",
            ratio(res.best_rate("schema-trades"), res.best_rate("plain-typed")),
            0.85,
            at_least=True,
            by_cpu=ratio(res.best_cpu("plain-typed"), res.best_cpu("schema-trades")),
        ),
        Target(
            "schema: 3 Streams / plain union (mixed)",
            ratio(res.best_rate(routed), res.best_rate("plain-union")),
            0.85,
            at_least=True,
            by_cpu=ratio(res.best_cpu("plain-union"), res.best_cpu(routed)),
        ),
        Target(
            "schema: 3 Streams (mixed) / plain typed (trades)",
            ratio(res.best_rate(routed), res.best_rate("plain-typed")),
            None,
            at_least=True,
            by_cpu=ratio(res.best_cpu("plain-typed"), res.best_cpu(routed)),
        ),
        Target(
            "schema: jetsocket pydantic / websockets+pydantic",
            ratio(res.best_rate("jetsocket-pydantic"), res.best_rate("websockets-pydantic")),
            1.5,
            at_least=True,
            by_cpu=ratio(res.best_cpu("websockets-pydantic"), res.best_cpu("jetsocket-pydantic")),
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
    parser.add_argument("--rounds", type=int, default=None, help="feed/sync rounds (3; quick 2)")
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
    args.rounds = pick(args.rounds, 3, 2)
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
    }
    feed_n = [args.n] if {"feed", "sync", "schema"} & set(args.sections) else []
    mixed_n = [args.n] if "schema" in args.sections else []
    with ServerProcess(feed_n=feed_n, mixed_n=mixed_n) as srv:
        meta["server"] = srv.info
        sections = {
            "feed": _feed,
            "echo": _echo,
            "memory": _memory,
            "sync": _sync,
            "schema": _schema,
        }
        for name in args.sections:
            _progress(f"section {name}")
            sections[name](args, srv, report)
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
