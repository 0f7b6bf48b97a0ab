"""The result of a conformance run: kosoku's per-case verdicts and what the client did.

``index.json`` (written by kosoku) maps ``agent -> case id -> {"behavior", "behaviorClose",
"remoteCloseCode", "duration", "reportfile"}``; each ``reportfile`` is the case's full
report (description, expectation, expected/received events, wire log, handshake). The
per-case reports are read only for the cases that did not pass.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Behaviours in the order Autobahn's report lists them. ERROR is kosoku's own verdict for a
# case that crashed before reaching one; MISSING is ours for a case with no result at all.
BEHAVIORS = ("OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "UNIMPLEMENTED", "ERROR", "MISSING")
PASSING = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})
# Closing-handshake verdicts that Autobahn's report paints red. Always reported; fatal only
# with ``strict_close`` (the project's bar is the behaviour column).
BAD_CLOSE = frozenset({"FAILED", "UNCLEAN"})


class HarnessError(RuntimeError):
    """The harness itself could not run the suite (kosoku did not start, no report...)."""


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """One case's verdict, from ``index.json`` (details from the per-case report if loaded).

    Attributes:
        case_id: Autobahn id, e.g. ``"5.19"``.
        behavior: Verdict on the exchanged messages (``OK``, ``FAILED``...).
        behavior_close: Verdict on the closing handshake.
        remote_close_code: Close code the client sent, if any.
        duration_ms: Case duration as measured by kosoku.
        details: Selected fields of the per-case report (loaded for failing cases only).
    """

    case_id: str
    behavior: str
    behavior_close: str
    remote_close_code: int | None
    duration_ms: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SuiteReport:
    """Result of one run of the suite.

    Attributes:
        agent: Name of the testee.
        case_count: Number of cases the server announced.
        outcomes: Verdict per case id, in case order.
        client_errors: Per case id, the exception the testee raised (expected ones too).
        crashes: Per case id, exceptions outside the testee's ``expected_errors``.
        timeouts: Case ids the harness had to cancel after ``case_timeout``, with the
            stack of the client task at that moment.
        not_run: Case numbers skipped because the overall ``run_timeout`` expired.
        duration_s: Wall-clock time of the whole run, kosoku start to report parsed.
        outdir: Where kosoku wrote its reports and we wrote ``summary.txt/json``.
        case_ids: The selected case ids in run order, when they could be listed.
    """

    agent: str
    case_count: int
    outcomes: dict[str, CaseOutcome]
    client_errors: dict[str, str]
    crashes: dict[str, str]
    timeouts: dict[str, str]
    not_run: list[int]
    duration_s: float
    outdir: Path
    case_ids: list[str] | None = None

    def counts(self) -> Counter[str]:
        """Number of cases per behaviour (``MISSING`` for cases without a result)."""
        counts = Counter(o.behavior for o in self.outcomes.values())
        missing = self.case_count - len(self.outcomes)
        if missing > 0:
            counts["MISSING"] = missing
        return counts

    def close_counts(self) -> Counter[str]:
        """Number of cases per closing-handshake verdict."""
        return Counter(o.behavior_close for o in self.outcomes.values())

    def failures(self, *, strict_close: bool = False) -> list[CaseOutcome]:
        """Cases whose behaviour is not OK, NON-STRICT or INFORMATIONAL.

        Args:
            strict_close: Also count cases whose closing handshake was FAILED or UNCLEAN.
        """
        return [
            o
            for o in self.outcomes.values()
            if o.behavior not in PASSING or (strict_close and o.behavior_close in BAD_CLOSE)
        ]

    def problems(self, *, strict_close: bool = False) -> list[str]:
        """One line per reason the run does not pass; empty when it does."""
        lines = [
            f"{o.case_id}: behavior {o.behavior}, close {o.behavior_close}"
            for o in self.failures(strict_close=strict_close)
        ]
        return lines + self._harness_problems()

    def _harness_problems(self) -> list[str]:
        lines = []
        missing = self.case_count - len(self.outcomes)
        if missing > 0:
            names = [i for i in self.case_ids or () if i not in self.outcomes]
            lines.append(
                f"{missing} case(s) have no result in the report: {', '.join(names) or '?'}"
            )
        lines += [f"{cid}: client crashed: {err}" for cid, err in self.crashes.items()]
        lines += [f"{cid}: client still running after the case timeout" for cid in self.timeouts]
        if self.not_run:
            lines.append(
                f"{len(self.not_run)} case(s) not run (run timeout expired or too many "
                f"timeouts), from case number {self.not_run[0]}"
            )
        return lines

    def summary_text(self, *, detailed: int = 15) -> str:
        """Human-readable summary: counts, timing, failing cases (``detailed`` of them in full)."""
        counts = self.counts()
        out = [
            f"Autobahn (kosoku) conformance of {self.agent}: {self.case_count} cases "
            f"in {self.duration_s:.1f} s (reports: {self.outdir})",
            "  behavior:  " + ", ".join(f"{b} {counts.get(b, 0)}" for b in BEHAVIORS),
            "  close:     " + ", ".join(f"{b} {n}" for b, n in sorted(self.close_counts().items())),
        ]
        slowest = sorted(self.outcomes.values(), key=lambda o: o.duration_ms, reverse=True)[:8]
        out.append(
            "  slowest:   " + ", ".join(f"{o.case_id} {o.duration_ms / 1000:.1f}s" for o in slowest)
        )
        groups: Counter[str] = Counter()
        for o in self.outcomes.values():
            groups[o.case_id.split(".")[0]] += o.duration_ms
        out.append(
            "  case time: "
            + ", ".join(
                f"{g}.x {ms / 1000:.0f}s" for g, ms in sorted(groups.items(), key=_major_key)
            )
        )
        failures = self.failures(strict_close=True)
        if failures:
            out.append(f"  not passing ({len(failures)}):")
            out.extend(_describe(o, full=i < detailed) for i, o in enumerate(failures))
        harness = self._harness_problems()
        if harness:
            out.append("  harness/client problems:")
            out.extend(f"    {p}" for p in harness)
        for cid, stack in list(self.timeouts.items())[: max(1, detailed // 5)]:
            out.append(f"  client stack when case {cid} timed out:")
            out.extend(f"    {line}" for line in stack.splitlines())
        if self.client_errors:
            kinds = Counter(e.split(":")[0] for e in self.client_errors.values())
            out.append(
                "  exceptions raised by the client (per case, expected ones included): "
                + ", ".join(f"{k} x{n}" for k, n in kinds.most_common())
            )
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form written to ``summary.json``."""
        return {
            "agent": self.agent,
            "caseCount": self.case_count,
            "durationSeconds": round(self.duration_s, 2),
            "counts": dict(self.counts()),
            "closeCounts": dict(self.close_counts()),
            "failures": [
                {
                    "id": o.case_id,
                    "behavior": o.behavior,
                    "behaviorClose": o.behavior_close,
                    "remoteCloseCode": o.remote_close_code,
                    **o.details,
                }
                for o in self.failures(strict_close=True)
            ],
            "clientErrors": self.client_errors,
            "crashes": self.crashes,
            "timeouts": self.timeouts,
            "notRun": self.not_run,
            "durationsMs": {o.case_id: o.duration_ms for o in self.outcomes.values()},
        }

    def write_summary(self) -> None:
        """Write ``summary.txt`` and ``summary.json`` next to kosoku's reports."""
        text = self.summary_text(detailed=len(self.outcomes))
        (self.outdir / "summary.txt").write_text(text + "\n")
        (self.outdir / "summary.json").write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _major_key(item: tuple[str, int]) -> int:
    return int(item[0])


def _describe(o: CaseOutcome, *, full: bool) -> str:
    head = (
        f"    {o.case_id}: behavior={o.behavior} close={o.behavior_close} "
        f"remoteCloseCode={o.remote_close_code}"
    )
    if not full:
        return head
    lines = [head]
    for key in ("description", "expectation", "result", "resultClose", "expectedClose"):
        if key in o.details:
            lines.append(f"        {key}: {_shorten(str(o.details[key]))}")
    for key in ("extensionsOffered", "extensionsAccepted"):
        if o.details.get(key) is not None:
            lines.append(f"        {key}: {o.details[key]}")
    return "\n".join(lines)


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def case_key(case_id: str) -> list[int]:
    """Numeric sort key of a case id (1.2.10 after 1.2.9), as kosoku orders cases."""
    return [int(p) for p in case_id.split(".")]


@dataclass(slots=True)
class ClientLog:
    """What the client did, per case number: errors, crashes, timeouts, skipped cases."""

    errors: dict[int, str] = field(default_factory=dict)
    crashes: dict[int, str] = field(default_factory=dict)
    timeouts: list[int] = field(default_factory=list)
    stacks: dict[int, str] = field(default_factory=dict)
    not_run: list[int] = field(default_factory=list)
    stuck: list[asyncio.Task[None]] = field(default_factory=list)


def load_index(outdir: Path, agent: str) -> dict[str, dict[str, Any]]:
    """``index.json``'s entries of ``agent``, by case id (HarnessError if missing)."""
    index_file = outdir / "index.json"
    if not index_file.exists():
        raise HarnessError(f"kosoku wrote no {index_file}")
    index: dict[str, dict[str, dict[str, Any]]] = json.loads(index_file.read_text())
    if agent not in index:
        raise HarnessError(f"no results for agent {agent!r} in {index_file}: {list(index)}")
    return index[agent]


_DETAIL_KEYS = (
    "description",
    "expectation",
    "result",
    "resultClose",
    "expectedClose",
    "expected",
    "received",
    "localCloseCode",
    "localCloseReason",
    "remoteCloseCode",
    "remoteCloseReason",
    "wasClean",
    "wasNotCleanReason",
    "droppedByMe",
    "failedByMe",
)


def _header(head: str, name: str) -> str | None:
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return None


def _details(outdir: Path, entry: dict[str, Any]) -> dict[str, Any]:
    try:
        case = json.loads((outdir / entry["reportfile"]).read_text())
    except (OSError, ValueError, KeyError) as exc:
        return {"result": f"(per-case report unreadable: {exc})"}
    details = {k: case.get(k) for k in _DETAIL_KEYS}
    # Keep the JSON summary readable: the event lists of big-message cases are long.
    for key in ("expected", "received"):
        details[key] = _shorten(json.dumps(details[key]), 600)
    # What the client offered and what the server accepted: the whole story of a 12.x/13.x
    # UNIMPLEMENTED verdict (the server declined every offer).
    details["extensionsOffered"] = _header(
        case.get("httpRequest") or "", "sec-websocket-extensions"
    )
    details["extensionsAccepted"] = _header(
        case.get("httpResponse") or "", "sec-websocket-extensions"
    )
    return details


def collect_report(
    agent: str,
    outdir: Path,
    count: int,
    run_ids: list[str] | None,
    log: ClientLog,
    duration: float,
) -> SuiteReport:
    """Parse kosoku's reports into a SuiteReport and write the summary files."""
    index = load_index(outdir, agent)
    ids = sorted(index, key=case_key)
    outcomes: dict[str, CaseOutcome] = {}
    for cid in ids:
        entry = index[cid]
        bad = entry["behavior"] not in PASSING or entry["behaviorClose"] in BAD_CLOSE
        outcomes[cid] = CaseOutcome(
            case_id=cid,
            behavior=entry["behavior"],
            behavior_close=entry["behaviorClose"],
            remote_close_code=entry["remoteCloseCode"],
            duration_ms=entry["duration"],
            details=_details(outdir, entry) if bad else {},
        )

    # Case N is the N-th id of the selection; if that could not be listed, the N-th id of
    # the report when every case reported; otherwise the number is all we have.
    order = run_ids if run_ids is not None else (ids if len(ids) == count else None)

    def name_of(n: int) -> str:
        return order[n - 1] if order is not None else f"#{n}"

    report = SuiteReport(
        agent=agent,
        case_count=count,
        outcomes=outcomes,
        client_errors={name_of(n): e for n, e in sorted(log.errors.items())},
        crashes={name_of(n): e for n, e in sorted(log.crashes.items())},
        timeouts={name_of(n): log.stacks.get(n, "") for n in log.timeouts},
        not_run=log.not_run,
        duration_s=duration,
        outdir=outdir,
        case_ids=order,
    )
    report.write_summary()
    return report
