"""The report model of ``python -m benchmarks``: ratios per round, targets, tables, JSON."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Report", "Runs", "Spread", "Target", "median_of", "progress", "throughput_table"]

from benchmarks._feed import FeedRun
from benchmarks._report import Table, fmt_float, fmt_int, fmt_ratio, ratio, verdict


@dataclass
class Spread:
    """A ratio measured once per round: median, min and max over the rounds."""

    rounds: list[float]

    @classmethod
    def of(cls, values: list[float | None]) -> Spread | None:
        kept = [v for v in values if v]
        return cls(kept) if kept else None

    @property
    def median(self) -> float:
        return float(statistics.median(self.rounds))

    def fmt(self) -> str:
        return f"{fmt_ratio(self.median)} ({min(self.rounds):.2f}-{max(self.rounds):.2f})"

    def as_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": min(self.rounds),
            "max": max(self.rounds),
            "rounds": self.rounds,
        }


def median_of(spread: Spread | None) -> float | None:
    return None if spread is None else spread.median


@dataclass
class Target:
    """One headline figure and its goal (``goal`` None: reported, no goal)."""

    name: str
    value: float | None
    goal: float | None
    at_least: bool
    unit: str = "x"
    by_cpu: float | None = None  # the same ratio computed from CPU time (steadier)
    spread: Spread | None = None
    cpu_spread: Spread | None = None

    @classmethod
    def from_spreads(
        cls,
        name: str,
        by_rate: Spread | None,
        by_cpu: Spread | None,
        goal: float | None,
        *,
        at_least: bool,
    ) -> Target:
        return cls(
            name,
            median_of(by_rate),
            goal,
            at_least,
            by_cpu=median_of(by_cpu),
            spread=by_rate,
            cpu_spread=by_cpu,
        )

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
        value = self.spread.fmt() if self.spread is not None else self._fmt(self.value)
        cpu = ""
        if self.cpu_spread is not None:
            cpu = f"  (by CPU: {self.cpu_spread.fmt()})"
        elif self.by_cpu is not None:
            cpu = f"  (by CPU: {self._fmt(self.by_cpu)})"
        return f"{self.name:<50} {value:>20}  {goal:<22} {self.verdict():<4}{cpu}"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": self.goal,
            "at_least": self.at_least,
            "verdict": self.verdict(),
            "by_cpu": self.by_cpu,
            "spread": None if self.spread is None else self.spread.as_json(),
            "cpu_spread": None if self.cpu_spread is None else self.cpu_spread.as_json(),
        }


@dataclass
class Report:
    """What every section adds to: printed tables, JSON, headline targets."""

    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)


def progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


# -- throughput (feed, concurrent, sync, schema) ---------------------------------------------
@dataclass
class Runs:
    """Every run of every client of a throughput section, in round order."""

    runs: dict[str, list[FeedRun]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, run: FeedRun) -> None:
        self.runs.setdefault(name, []).append(run)

    def best_rate(self, name: str) -> float | None:
        runs = self.runs.get(name)
        return max(r.rate for r in runs) if runs else None

    def median_rate(self, name: str) -> float | None:
        runs = self.runs.get(name)
        return statistics.median(r.rate for r in runs) if runs else None

    def median_cpu(self, name: str) -> float | None:
        runs = self.runs.get(name)
        return statistics.median(r.cpu_us for r in runs) if runs else None

    def by_rate(self, ref: str, name: str) -> Spread | None:
        """``ref`` rate / ``name`` rate, per round (> 1: ``ref`` is faster)."""
        pairs = zip(self.runs.get(ref, []), self.runs.get(name, []), strict=False)
        return Spread.of([ratio(a.rate, b.rate) for a, b in pairs])

    def by_cpu(self, ref: str, name: str) -> Spread | None:
        """``name`` CPU / ``ref`` CPU per message, per round (> 1: ``ref`` is cheaper)."""
        pairs = zip(self.runs.get(ref, []), self.runs.get(name, []), strict=False)
        return Spread.of([ratio(b.cpu_us, a.cpu_us) for a, b in pairs])

    def target(self, label: str, ref: str, name: str, goal: float | None) -> Target:
        """``ref`` against ``name`` by rate and by CPU; ``goal``: the least rate ratio."""
        return Target.from_spreads(
            label, self.by_rate(ref, name), self.by_cpu(ref, name), goal, at_least=True
        )


def throughput_table(
    title: str,
    clients: dict[str, tuple[str, str]],
    skipped: dict[str, str],
    res: Runs,
) -> tuple[Table, dict[str, Any]]:
    """Build the table of a throughput section; ``clients``: name -> (label, reference)."""
    table = Table(
        title,
        [
            "client",
            "id",
            "median msg/s",
            "best msg/s",
            "CPU us/msg",
            "reference / client (rate)",
            "reference / client (CPU)",
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
        by_rate = res.by_rate(ref, name)
        by_cpu = res.by_cpu(ref, name)
        is_ref = name == ref
        table.add(
            label,
            name,
            fmt_int(res.median_rate(name)),
            fmt_int(res.best_rate(name)),
            fmt_float(res.median_cpu(name), 2),
            "1.00x (ref)" if is_ref or by_rate is None else by_rate.fmt(),
            "" if is_ref or by_cpu is None else by_cpu.fmt(),
            ref,
        )
        data[name] = {
            "label": label,
            "rates": [r.rate for r in runs],
            "cpu_us_per_msg": [r.cpu_us for r in runs],
            "median_rate": res.median_rate(name),
            "best_rate": res.best_rate(name),
            "median_cpu_us": res.median_cpu(name),
            "reference": ref,
            "ratio_by_rate": None if is_ref or by_rate is None else by_rate.as_json(),
            "ratio_by_cpu": None if is_ref or by_cpu is None else by_cpu.as_json(),
        }
    table.note(
        "reference / client > 1: the reference (a jetsocket client) is faster. Ratios are "
        "computed per round; median (min-max) over the rounds."
    )
    table.note(
        "Clocks start before connecting and stop at the last message. CPU us/msg: the client "
        "process's CPU time (all threads) over the same span; (CPU) = client CPU / reference CPU."
    )
    return table, data
