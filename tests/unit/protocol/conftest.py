"""Every frame-reader test runs on both paths: the compiled scanner and pure Python.

``FrameReader`` reads the module global ``_reader._SCAN`` when it is constructed, so
swapping it for the duration of a test selects the path of every reader the test builds
(the same switch as ``JETSOCKET_PURE=1``, without a new process).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jetsocket._protocol import _reader

# Set before the module global can be swapped by a test.
COMPILED_SCAN = _reader._SCAN
# Why the compiled path cannot run here (pure install, no compiler, stale build).
COMPILED_MISSING = None if COMPILED_SCAN is not None else _reader._SCAN_STATUS


@pytest.fixture(params=["compiled", "pure"], autouse=True)
def reader_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the compiled scanner, then with the pure-Python reader."""
    if request.param == "compiled" and COMPILED_SCAN is None:
        pytest.skip(f"compiled frame scanner unavailable: {COMPILED_MISSING}")
    saved = _reader._SCAN
    _reader._SCAN = COMPILED_SCAN if request.param == "compiled" else None
    try:
        yield request.param
    finally:
        _reader._SCAN = saved
