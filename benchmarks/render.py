"""``python -m benchmarks.render``: write the benchmark figures of docs/comparison.md.

Every figure on the page comes from the results file (``benchmarks/results/latest.json``,
written by ``make bench``), never from a hand edit: the page holds marked regions,

    <!-- bench:NAME:start -->
    ...generated...
    <!-- bench:NAME:end -->

and this script rewrites each region from the file. ``--check`` rewrites nothing and
exits 1 when the page does not match the file (``tests/unit/test_comparison_page.py``
runs the same check in ``make test``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["REGIONS", "render_page"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
PAGE = ROOT / "docs" / "comparison.md"

_REGION = re.compile(
    r"(<!-- bench:(?P<name>[a-z]+):start -->\n)(?P<body>.*?)(<!-- bench:(?P=name):end -->)",
    re.DOTALL,
)


# Typography of the rendered page (escapes keep the source free of look-alike characters).
_DASH = "\u2013"  # en dash: ranges and missing figures
_TIMES = "\u00d7"  # multiplication sign


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return _DASH
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f")  # narrow no-break space: 1 234 567


def _ratio(spread: dict[str, Any] | None) -> str:
    if not spread:
        return _DASH
    return f"{spread['median']:.2f} ({spread['min']:.2f}{_DASH}{spread['max']:.2f})"


def _missing(section: str) -> str:
    return f"*Not measured in the latest run (`--only` left out `{section}`).*\n"


def _meta(res: dict[str, Any]) -> str:
    meta = res.get("meta", {})
    load0 = meta.get("load_avg_start", [0.0])[0]
    load1 = meta.get("load_avg_end", [0.0])[0]
    return (
        f"Latest run: `{meta.get('command', '?')}` on {meta.get('time', '?')}, Python "
        f"{meta.get('python', '?')}, {meta.get('loop', '?')} event loop, "
        f"{meta.get('cpus', '?')} CPUs (load average {load0:.1f} → {load1:.1f}), "
        f"{meta.get('seconds', '?')} s. jetsocket's frame reader: "
        f"`{meta.get('jetsocket_reader', '?')}`. Feed server: {meta.get('server', '?')}; "
        f"echo server: {meta.get('echo_server', 'not run')}.\n"
    )


def _throughput(section: dict[str, Any] | None, name: str, per_what: str) -> str:
    if not section or "clients" not in section:
        return _missing(name)
    lines = [
        f"| client | msg/s (median) | CPU µs/{per_what} (median) | "
        "reference ÷ client, by msg/s | reference ÷ client, by CPU | reference |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for client in section["clients"].values():
        if "error" in client:
            lines.append(f"| {client['label']} | {client['error']} | | | | |")
            continue
        lines.append(
            f"| {client['label']} | {_num(client['median_rate'])} | "
            f"{_num(client['median_cpu_us'], 2)} | {_ratio(client['ratio_by_rate'])} | "
            f"{_ratio(client['ratio_by_cpu'])} | `{client['reference']}` |"
        )
    rounds = section.get("rounds", "?")
    return "\n".join(lines) + f"\n\n{rounds} interleaved rounds.\n"


def _feed(res: dict[str, Any]) -> str:
    feed = res.get("feed")
    if not feed:
        return _missing("feed")
    head = f"{_num(feed['n'])} messages per run.\n\n"  # a blank line: the table must start a block
    return head + _throughput(feed, "feed", "msg")


def _concurrent(res: dict[str, Any]) -> str:
    conc = res.get("concurrent")
    if not conc:
        return _missing("concurrent")
    parts = []
    for key in sorted(conc, key=int):
        section = conc[key]
        parts.append(
            f"**{section['conns']} connections** {_TIMES} {_num(section['per_connection'])} "
            "messages, total msg/s:\n\n" + _throughput(section, "concurrent", "msg")
        )
    return "\n".join(parts)


def _echo(res: dict[str, Any], key: str = "echo", ref_name: str = "jetsocket") -> str:
    echo = res.get(key)
    if not echo:
        return _missing(key)
    lines = [
        "| client | p50 µs | p90 µs | p99 µs | CPU µs/round trip | jetsocket p50 ÷ client p50 "
        "| jetsocket CPU ÷ client CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in echo["clients"].items():
        if "error" in c:
            lines.append(f"| {c['label']} | {c['error']} | | | | | |")
            continue
        ref = name == ref_name
        lines.append(
            f"| {c['label']} | {_num(c['p50_us'], 1)} | {_num(c['p90_us'], 1)} | "
            f"{_num(c['p99_us'], 1)} | {_num(c['cpu_us'], 1)} | "
            f"{'1.00 (ref)' if ref else _ratio(c['p50_ratio'])} | "
            f"{'1.00 (ref)' if ref else _ratio(c['cpu_ratio'])} |"
        )
    return (
        "\n".join(lines)
        + f"\n\n{echo['rounds']} interleaved rounds of {_num(echo['per_round'])} round trips "
        "per client; below 1 jetsocket is faster (lower latency, less CPU).\n"
    )


def _memory(res: dict[str, Any]) -> str:
    mem = res.get("memory")
    if not mem:
        return _missing("memory")
    lines = ["| client | KiB per idle connection |", "|---|---:|"]
    for name, c in mem["clients"].items():
        label = c.get("label", name)
        if "per_connection_kib" not in c:
            lines.append(f"| {label} | {c.get('skipped') or c.get('error', '?')} |")
            continue
        lines.append(f"| {label} | {_num(c['per_connection_kib'], 1)} |")
    return "\n".join(lines) + f"\n\n{_num(mem['count'])} connections per client.\n"


def _sync(res: dict[str, Any]) -> str:
    sync = res.get("sync")
    if not sync or "clients" not in sync:
        return _missing("sync")
    text = _throughput(sync, "sync", "msg")
    if res.get("sync_echo"):
        # Request/response on the blocking facade, against picows' echo server.
        text += "\nSync echo round trip:\n\n" + _echo(res, "sync_echo", "jetsocket-sync")
    return text


def _schema(res: dict[str, Any]) -> str:
    schema = res.get("schema")
    if not schema or "clients" not in schema:
        return _missing("schema")
    return _throughput(schema, "schema", "msg")


def _targets(res: dict[str, Any]) -> str:
    targets = res.get("targets", [])
    if not targets:
        return "*No targets in the latest run.*\n"
    lines = [
        f"| figure | median (min{_DASH}max of rounds) | by CPU | target | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for t in targets:
        unit = t.get("unit", "x")
        if t.get("spread"):
            value = _ratio(t["spread"])
        elif t.get("value") is None:
            value = "n/a"
        else:
            value = f"{t['value']:.2f}" + ("" if unit == "x" else f" {unit}")
        cpu = _ratio(t.get("cpu_spread")) if t.get("cpu_spread") else _DASH
        goal = _DASH
        if t.get("target") is not None:
            goal = f"{'≥' if t['at_least'] else '≤'} {t['target']:.2f}"
            goal += "" if unit == "x" else f" {unit}"
        verdict = {"PASS": "met", "FAIL": "**not met**"}.get(t["verdict"], t["verdict"])
        lines.append(f"| {t['name']} | {value} | {cpu} | {goal} | {verdict} |")
    return "\n".join(lines) + "\n"


REGIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "meta": _meta,
    "targets": _targets,
    "feed": _feed,
    "concurrent": _concurrent,
    "echo": _echo,
    "memory": _memory,
    "sync": _sync,
    "schema": _schema,
}


def render_page(page: str, results: dict[str, Any]) -> str:
    """Return ``page`` with every marked region rewritten from ``results``.

    Raises:
        ValueError: If the page names an unknown region.
    """

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in REGIONS:
            raise ValueError(f"unknown benchmark region {name!r} in the page")
        return match.group(1) + REGIONS[name](results) + match.group(4)

    return _REGION.sub(fill, page)


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or, with ``--check``, verify) the page from the results file."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--page", type=Path, default=PAGE)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    page = args.page.read_text(encoding="utf-8")
    new = render_page(page, results)
    if args.check:
        if new != page:
            print(f"{args.page} does not match {args.results}: run python -m benchmarks.render")
            return 1
        return 0
    if new != page:
        args.page.write_text(new, encoding="utf-8")
        print(f"{args.page} rewritten from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
