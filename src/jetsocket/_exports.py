"""Public objects report the package users import them from as their ``__module__``.

``jetsocket.WebSocket.__module__ == "jetsocket"`` (as httpx does), so reprs, tracebacks,
documentation and pickles name the public path, not a private module that may move.

Every module here uses ``from __future__ import annotations``: a class's annotations are
strings, which ``typing.get_type_hints`` evaluates in the namespace of the class's
``__module__``. Before that changes, each exported class's own annotations are resolved
in its defining module, so introspection (``get_type_hints`` on it or on a user's
subclass, msgspec, pydantic) keeps working.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping
from types import FunctionType
from typing import Any

__all__ = ["export"]


def export(package: str, namespace: Mapping[str, Any], names: Iterable[str]) -> None:
    """Set ``__module__ = package`` on the classes and functions ``names`` in ``namespace``."""
    for name in names:
        obj = namespace[name]
        if isinstance(obj, type):
            own = inspect.get_annotations(obj)
            if any(isinstance(v, str) for v in own.values()):
                hints = typing.get_type_hints(obj, include_extras=True)
                obj.__annotations__ = {key: hints.get(key, value) for key, value in own.items()}
            obj.__module__ = package
        elif isinstance(obj, FunctionType):
            obj.__module__ = package
