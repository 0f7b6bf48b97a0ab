"""Every frame-reader test runs on both paths: the compiled scanner and pure Python.

The switch is the shared ``reader_path`` fixture (``tests/conftest.py``), made automatic
for every test here. A test marked ``once`` (one that compares both paths itself, or does
not read frames: a build or a subprocess) runs on the compiled path only.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def every_reader_path(request: pytest.FixtureRequest, reader_path: str) -> str:
    """Run each test once per reader path (compiled, pure); ``once`` tests once."""
    if reader_path == "pure" and request.node.get_closest_marker("once"):
        pytest.skip("runs once")
    return reader_path
