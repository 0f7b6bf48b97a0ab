"""Extract the Python blocks of README.md and docs/**/*.md, with their directives.

A block is a fenced ```` ```python ```` block. An HTML comment right above it (blank lines
allowed in between, invisible on the rendered page) says how the test treats it::

    <!-- block: continues=previous stop-after=3 expect="refused:" timeout=20 -->

The words, separated by spaces (values with spaces in double quotes):

``continues=previous``
    The block continues the previous block of the same page: both are type-checked and
    run as one program (the previous block is then not run alone).
``skip-run reason="..."``
    Type-check only. For blocks that cannot run offline (they read a file that does not
    exist, wait for a user...). The reason is mandatory and shown in the test id.
``pytest``
    The block is a pytest module (``async def test_...``): it is run by pytest with
    ``asyncio_mode=auto`` and the ``jetsocket.testing.fixtures`` plugin, and every test
    in it must pass.
``call="expr"``
    After running the block, evaluate ``expr`` in its namespace (awaited when it returns a
    coroutine): for blocks that only define a function.
``stop-after=N``
    The block is an endless consumer: it is ended (successfully) once it printed ``N``
    lines. ``print`` is replaced in its namespace by one that counts.
``expect="text"``
    Its output must contain ``text`` (repeatable).
``timeout=S``
    Bound in seconds on the block's run (default 20).

Everything else a block needs must be in the block (or in the blocks it continues), so a
reader can copy it. Blocks are executed offline: see ``_docrun.py`` for the venue-URL rule.
"""

from __future__ import annotations

import ast
import re
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^([ \t]*)```python[ \t]*\n(.*?)^\1```", re.M | re.S)
_DIRECTIVE = re.compile(r"<!--\s*block:((?:(?!-->).)*)-->\s*\Z", re.S)
_KNOWN = {"continues", "skip-run", "reason", "pytest", "call", "stop-after", "expect", "timeout"}

DEFAULT_TIMEOUT = 20.0


@dataclass
class Block:
    """One Python block of a page and what its directive says."""

    page: str  # relative to the repository root
    index: int  # its position among the page's Python blocks
    line: int  # 1-based line of the opening fence
    code: str
    continues: bool = False
    skip_run: str | None = None  # the reason
    pytest: bool = False
    call: str | None = None
    stop_after: int | None = None
    expect: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    continued: bool = False  # a later block continues this one
    source: str = ""  # the program: the blocks it continues, then this one

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}" if self.line else f"{self.page}#{self.index}"

    @property
    def module(self) -> str:
        """A module name for the generated file."""
        stem = re.sub(r"\W", "_", self.page.removesuffix(".md")).lower().replace("__", "_")
        return f"block_{stem}_{self.index}"

    @property
    def runs_alone(self) -> bool:
        return self.skip_run is None and not self.continued


def _parse_directive(text: str, where: str) -> dict[str, list[str]]:
    words: dict[str, list[str]] = {}
    for word in shlex.split(text):
        key, _, value = word.partition("=")
        if key not in _KNOWN:
            raise ValueError(f"{where}: unknown block directive {key!r}")
        words.setdefault(key, []).append(value)
    return words


def extract(page: Path) -> list[Block]:
    """Every Python block of ``page``, with its directive applied."""
    text = page.read_text(encoding="utf-8")
    rel = page.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    for n, match in enumerate(_FENCE.finditer(text)):
        line = text.count("\n", 0, match.start()) + 1
        block = Block(rel, n, line, textwrap.dedent(match.group(2)))
        above = text[: match.start()].rstrip()
        directive = _DIRECTIVE.search(above)
        if directive is not None:
            words = _parse_directive(directive.group(1), block.id)
            if "continues" in words:
                if words["continues"] != ["previous"] or not blocks:
                    raise ValueError(f"{block.id}: continues=previous needs a previous block")
                block.continues = True
                blocks[-1].continued = True
            if "skip-run" in words:
                reason = words.get("reason", [""])[0]
                if not reason:
                    raise ValueError(f"{block.id}: skip-run needs reason=...")
                block.skip_run = reason
            block.pytest = "pytest" in words
            block.call = words.get("call", [None])[0]
            if "stop-after" in words:
                block.stop_after = int(words["stop-after"][0])
            block.expect = words.get("expect", [])
            if "timeout" in words:
                block.timeout = float(words["timeout"][0])
        previous = blocks[-1].source + "\n\n" if block.continues else ""
        block.source = previous + block.code
        blocks.append(block)
    return blocks


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in extract(page)]


def _has_await(node: ast.AST) -> bool:
    """True if ``node`` awaits outside any nested function (top-level await)."""
    if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
        return True
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
        return False
    return any(_has_await(child) for child in ast.iter_child_nodes(node))


MAIN = "_block_main"


def program(source: str) -> str:
    """The block as a module mypy and Python accept.

    Documentation shows short async snippets with a bare ``await`` or ``async with``.
    Everything from the first top-level statement that awaits on becomes the body of
    ``async def _block_main()``, run with ``asyncio.run`` — what a reader pasting the
    snippet into a coroutine gets.
    """
    tree = ast.parse(source)
    for stmt in tree.body:
        if _has_await(stmt):
            decorators = getattr(stmt, "decorator_list", [])
            start = min([stmt.lineno, *(d.lineno for d in decorators)]) - 1
            lines = source.splitlines()
            head = "\n".join(lines[:start])
            body = textwrap.indent("\n".join(lines[start:]), "    ")
            return (
                f"{head}\n\n\nimport asyncio as _block_asyncio\n\n\n"
                f"async def {MAIN}() -> None:\n{body}\n\n\n_block_asyncio.run({MAIN}())\n"
            )
    return source if source.endswith("\n") else source + "\n"


# -- docstring examples -----------------------------------------------------------------

# Public objects whose docstring examples are complete: run as doctests (by object, since
# their ``__module__`` is the public package, not the module that defines them).
DOCTEST_OBJECTS = ("jetsocket.schema.Message", "jetsocket.schema.Subscription")

# Other docstring examples are fragments: they may use these names without defining them.
# They are type-checked and run like the pages' blocks (ended after 3 printed lines).
DOCSTRING_PREAMBLE = """\
from typing import Any

from jetsocket import HeartbeatConfig, ReconnectedEvent, SyncWebSocket, WebSocket
from jetsocket.presets import apply, customize, trading
from jetsocket.schema import Client, Message, Subscription, field


class Trade(Message, lax=True):  # what wss://stream.example.com/ws sends in the runner
    symbol: str
    price: float

"""
# ... and ``ws``, unless the example binds it itself.
DOCSTRING_WS = 'ws: WebSocket[Any] = WebSocket("wss://stream.example.com/ws")\n'


_EXAMPLE = re.compile(r"^\s*(>>>|\.\.\.)( ?)(.*)$")


def _examples(doc: str) -> list[str]:
    """The ``>>>`` examples of a docstring, one string per run of consecutive lines."""
    found: list[str] = []
    current: list[str] = []
    for line in doc.splitlines():
        match = _EXAMPLE.match(line)
        if match:
            current.append(match.group(3))
        elif current:
            found.append("\n".join(current))
            current = []
    if current:
        found.append("\n".join(current))
    return found


def _public_objects() -> list[tuple[str, object]]:
    import jetsocket  # noqa: PLC0415 - only when docstrings are collected
    import jetsocket.schema  # noqa: PLC0415

    objects: list[tuple[str, object]] = []
    for module in (jetsocket, jetsocket.schema, jetsocket.presets):
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name)
            if getattr(obj, "__module__", "").startswith("jetsocket") or name == "presets":
                objects.append((f"{module.__name__}.{name}", obj))
                if isinstance(obj, type):
                    for attr, member in vars(obj).items():
                        if not attr.startswith("_") and callable(member):
                            objects.append((f"{module.__name__}.{name}.{attr}", member))
    for base in ("jetsocket._engine._events.EventSource",):
        modname, _, cls = base.rpartition(".")
        klass = getattr(importlib_import(modname), cls, None)
        for attr, member in vars(klass or object).items():
            if not attr.startswith("_") and callable(member):
                objects.append((f"{base}.{attr}", member))
    return objects


def importlib_import(name: str) -> object:
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def docstring_blocks() -> list[Block]:
    """The docstring examples of the public API that doctest does not run."""
    blocks: list[Block] = []
    seen: set[str] = set()
    for qualname, obj in _public_objects():
        if qualname in DOCTEST_OBJECTS:
            continue
        doc = getattr(obj, "__doc__", None) or ""
        for n, code in enumerate(_examples(doc)):
            if code in seen:
                continue
            seen.add(code)
            block = Block(f"docstring:{qualname}", n, 0, code, stop_after=3)
            preamble = DOCSTRING_PREAMBLE
            if re.search(r"\bws\b", code) and "as ws" not in code:
                preamble += "\n" + DOCSTRING_WS
            block.source = preamble + "\n\n" + code
            blocks.append(block)
    return blocks
