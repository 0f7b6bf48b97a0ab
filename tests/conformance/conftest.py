"""Show the Autobahn counts in pytest's terminal summary, even when output is captured."""

from __future__ import annotations

import pytest

_SUMMARIES = pytest.StashKey[list[str]]()


@pytest.fixture
def autobahn_summaries(pytestconfig: pytest.Config) -> list[str]:
    """A list whose texts are printed in the terminal summary at the end of the session."""
    return pytestconfig.stash.setdefault(_SUMMARIES, [])


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Print the summary of every Autobahn run of this session."""
    summaries = config.stash.get(_SUMMARIES, [])
    if summaries:
        terminalreporter.section("Autobahn conformance (kosoku)")
        for text in summaries:
            terminalreporter.write_line(text)
