"""The documentation site builds with ``--strict`` and its code samples match the API.

The build runs ``mkdocs build --strict`` in a subprocess (mkdocs-material and mkdocstrings
must be installed; the test is skipped otherwise). The sample checks are static and fast:
every ``python`` code block of README.md and docs/ must compile, and every ``jetsocket``
name it imports or reads as ``jetsocket.Name`` must exist, so a renamed or removed API
breaks this test with a clear message. ``test_blocks.py`` goes further: it type-checks and
runs every block.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ._docblocks import PAGES, ROOT

BUILD_TIMEOUT = 100.0

_BLOCK = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", re.M | re.S)


def _python_blocks() -> list[tuple[str, str]]:
    blocks: list[tuple[str, str]] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for n, match in enumerate(_BLOCK.finditer(text)):
            code = textwrap.dedent(match.group(2))
            blocks.append((f"{page.relative_to(ROOT)}#{n}", code))
    return blocks


BLOCKS = _python_blocks()


def _missing_names(tree: ast.AST) -> list[str]:
    """``jetsocket`` names imported or accessed in ``tree`` that do not exist."""
    missing: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jetsocket"):
            module = importlib.import_module(node.module or "")
            missing.extend(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if alias.name != "*" and not hasattr(module, alias.name)
            )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jetsocket") and not importlib.util.find_spec(alias.name):
                    missing.append(alias.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "jetsocket"
        ):
            module = importlib.import_module("jetsocket")
            if not hasattr(module, node.attr):
                missing.append(f"jetsocket.{node.attr}")
    return missing


def test_docs_have_code_samples() -> None:
    assert len(BLOCKS) > 20


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_code_sample_matches_the_api(where: str, code: str) -> None:
    # Top-level await is allowed: short samples show `async with` / `await` bare.
    tree = compile(code, where, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert _missing_names(tree) == []


def _have(*modules: str) -> bool:
    try:
        return all(importlib.util.find_spec(name) is not None for name in modules)
    except ModuleNotFoundError:  # the parent package of a dotted name is missing
        return False


@pytest.mark.skipif(
    not _have("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"),
    reason="mkdocs-material and mkdocstrings[python] are not installed",
)
@pytest.mark.timeout(BUILD_TIMEOUT + 20)
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "index.html").exists()
