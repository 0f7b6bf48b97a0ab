"""Every frame-reader test runs on both paths: the compiled scanner and pure Python.

The switch is the shared ``reader_path`` fixture (``tests/conftest.py``), made automatic
for every test here.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def every_reader_path(reader_path: str) -> str:
    """Run each test once per reader path (compiled, pure)."""
    return reader_path
