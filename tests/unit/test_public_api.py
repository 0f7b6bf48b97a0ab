"""The public API: sorted ``__all__``, every name real and documented, privacy by name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import jetsocket

PUBLIC_PACKAGES = [
    "jetsocket",
    "jetsocket.book",
    "jetsocket.schema",
    "jetsocket.testing",
    "jetsocket.presets",
]


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    assert len(exported) == len(set(exported))
    for attr in exported:
        assert hasattr(module, attr), attr


def test_public_objects_have_docstrings() -> None:
    for attr in jetsocket.__all__:
        obj = getattr(jetsocket, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"{attr} has no docstring"


def test_implementation_modules_are_private() -> None:
    public = {
        "jetsocket.book",
        "jetsocket.testing",
        "jetsocket.schema",
        "jetsocket.presets",
        "jetsocket.__main__",
    }
    for info in pkgutil.walk_packages(jetsocket.__path__, "jetsocket."):
        leaf = info.name.rsplit(".", 1)[-1]
        assert (
            leaf.startswith("_")
            or info.name in public
            or any(info.name.startswith(p + ".") for p in public)
        ), info.name


def test_timeout_error_is_builtin() -> None:
    assert issubclass(jetsocket.TimeoutError, TimeoutError)
    assert issubclass(jetsocket.ConnectionError, ConnectionError)
    assert issubclass(jetsocket.HandshakeError, jetsocket.JetSocketError)
    assert issubclass(jetsocket.MessageDecodeError, ValueError)
    assert issubclass(jetsocket.InvalidStateError, RuntimeError)
