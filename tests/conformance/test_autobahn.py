"""Autobahn TestSuite conformance of jetsocket's client, served by kosoku's fuzzing server.

Every case must end OK, NON-STRICT or INFORMATIONAL: a FAILED, UNIMPLEMENTED or ERROR
verdict, a case without a result, a client that hangs past the case timeout or that
crashes with an exception outside jetsocket's error tree fails the test.

``JETSOCKET_AUTOBAHN=full`` runs the whole suite (517 cases, ~8 minutes on two cores,
dominated by the 12.x/13.x compression throughput cases: kosoku alone spends ~5 CPU
minutes on them); the default, ``quick`` (361 cases, ~30-60 s), runs every case except
the large-message rows of 12.x/13.x (see ``_runner.QUICK_DEFLATE_ROWS``) so that it fits
in ``make test``. ``JETSOCKET_AUTOBAHN_OUTDIR`` keeps the reports (HTML
and JSON by kosoku, ``summary.txt``/``summary.json`` by us) in a known place.

jetsocket runs the suite twice: with its compiled frame scanner and with the pure-Python
reader (the ``JETSOCKET_PURE=1`` path, selected in-process by clearing the scanner the
same way the variable does), so both paths of the wire are held to every case.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jetsocket._protocol import _reader

from ._report import SuiteReport
from ._runner import PROFILE_TIMEOUTS, profile_cases, run_suite
from ._testee import get_testee

PROFILE = os.environ.get("JETSOCKET_AUTOBAHN", "quick")
CASE_TIMEOUT, RUN_TIMEOUT = PROFILE_TIMEOUTS.get(PROFILE, PROFILE_TIMEOUTS["quick"])

pytestmark = pytest.mark.conformance


def _outdir(tmp_path: Path, name: str) -> Path:
    base = os.environ.get("JETSOCKET_AUTOBAHN_OUTDIR")
    return Path(base) / name if base else tmp_path / name


def _publish(summaries: list[str], report: SuiteReport, label: str = "") -> None:
    # conftest.py prints ``summaries`` in the terminal summary, so the counts are visible
    # even when pytest captures output (``make test``).
    print("\n" + report.summary_text())
    summaries.append(label + report.summary_text(detailed=0))


@pytest.fixture(params=["compiled", "pure"])
def reader_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with the compiled frame scanner, then with the pure-Python reader."""
    if request.param == "compiled" and _reader._SCAN is None:
        pytest.skip(f"compiled frame scanner unavailable: {_reader._SCAN_STATUS}")
    if request.param == "pure":
        monkeypatch.setattr(_reader, "_SCAN", None)  # what JETSOCKET_PURE=1 does at import
    return str(request.param)


# The overall bound: the run's own deadline plus kosoku start-up and report writing.
@pytest.mark.timeout(RUN_TIMEOUT + 90)
async def test_autobahn_jetsocket(
    tmp_path: Path, autobahn_summaries: list[str], reader_path: str
) -> None:
    include, exclude = profile_cases(PROFILE)
    name = "jetsocket" if reader_path == "compiled" else "jetsocket-pure"
    report = await run_suite(
        get_testee("jetsocket"),
        _outdir(tmp_path, name),
        include=include,
        exclude=exclude,
        # quick is latency-bound (1000 round trips per 12.x/13.x case): 4 cases at a time
        # take ~30 s instead of ~35 s; full is CPU-bound (zlib on both sides): 2 cores.
        concurrency=4 if PROFILE == "quick" else 2,
        case_timeout=CASE_TIMEOUT,
        run_timeout=RUN_TIMEOUT,
        # A client that hangs fails anyway; stop early rather than use up the budget of
        # ``make test`` (the full profile reports every hanging case).
        max_timeouts=5 if PROFILE == "quick" else None,
    )
    _publish(autobahn_summaries, report, f"[reader: {reader_path}] ")
    problems = report.problems()
    assert not problems, (
        f"{len(problems)} Autobahn problem(s) for jetsocket, {reader_path} reader (details in "
        f"{report.outdir / 'summary.txt'}):\n  " + "\n  ".join(problems)
    )


# A few cases of every kind against websockets' client: proves the harness (kosoku start,
# case driving, report parsing) works, independently of the client under test.
HARNESS_CASES = ["1.1.1", "2.1", "3.1", "5.19", "6.4.1", "7.1.1", "9.1.1", "12.1.1", "13.2.1"]


@pytest.mark.timeout(60)
async def test_harness_with_reference_client(tmp_path: Path) -> None:
    report = await run_suite(
        get_testee("websockets-nct"),
        _outdir(tmp_path, "websockets-nct"),
        include=HARNESS_CASES,
        concurrency=2,
        case_timeout=20,
        run_timeout=40,
    )
    assert report.case_count == len(HARNESS_CASES)
    assert sorted(report.outcomes) == sorted(HARNESS_CASES)
    assert report.problems() == [], report.summary_text()
    assert (report.outdir / "summary.json").exists()
