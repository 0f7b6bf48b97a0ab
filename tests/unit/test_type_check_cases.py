"""The type-check cases of ``stubs/cases/`` run under pytest too (one command reports all).

``stubs/check.py`` runs ``mypy --strict`` on them and compares its errors with the
``# E: <code>`` expectations; ``make typecheck`` runs it as well.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "stubs" / "check.py"

pytest.importorskip("mypy", reason="mypy is in the dev extra")


def test_type_check_cases_match_their_expectations() -> None:
    proc = subprocess.run(
        [sys.executable, str(CHECK)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "case files OK" in proc.stdout
