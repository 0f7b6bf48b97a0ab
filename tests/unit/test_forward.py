"""Forward: a read-only attribute showing another object's attribute."""

from __future__ import annotations

from typing import Any

import pytest

from jetsocket._forward import Forward


class Target:
    def __init__(self) -> None:
        self.count = 1
        self.unknown = 2


class View:
    count = Forward[int]("_target")
    """The target's count."""
    unmatched = Forward[int]("_target", "unknown")

    def __init__(self) -> None:
        self._target = Target()


def test_reads_the_target_attribute_at_every_access() -> None:
    view = View()
    assert (view.count, view.unmatched) == (1, 2)
    view._target.count = 5
    assert view.count == 5


def test_is_read_only_like_a_property() -> None:
    view: Any = View()
    with pytest.raises(AttributeError, match=r"View\.count is read-only"):
        view.count = 3
    assert view.count == 1


def test_the_class_attribute_is_the_descriptor() -> None:
    assert isinstance(View.count, Forward)
    assert repr(View.unmatched) == "Forward('_target', 'unknown')"
