"""Every Python block of README.md and docs/ is type-checked and executed (issue 14).

* **Type-checked**: each block becomes a module (with the blocks it continues); one
  ``mypy --strict`` run checks them all. A snippet with a bare top-level ``await`` /
  ``async with`` is checked (and run) as the body of an ``async def`` (see
  ``_docblocks.program``).
* **Executed offline**: one subprocess (``_docrun.py``) runs the runnable blocks one after
  the other, each bounded in time, against the ``jetsocket.testing`` fakes; venue URLs
  stay the real ones in the text and are routed to the fakes by the runner (the rule is
  in ``_docrun``'s docstring). Blocks marked ``pytest`` run in one pytest subprocess.
* **Checked against the text**: no exception, no hang, and the output a block's directive
  promises (``expect="..."``).

The directives (a hidden ``<!-- block: ... -->`` comment above a block) are documented in
``_docblocks`` and in docs/contributing.md. Docstring examples of the public API run as
doctests (``test_docstring_examples``).
"""

from __future__ import annotations

import doctest
import importlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ._docblocks import DOCTEST_OBJECTS, ROOT, Block, all_blocks, docstring_blocks, program

BLOCKS = all_blocks() + docstring_blocks()
IDS = [b.id for b in BLOCKS]
RUNNER = Path(__file__).with_name("_docrun.py")
MYPY_TIMEOUT = 240.0
PYTEST_TIMEOUT = 120.0


def test_every_page_has_its_blocks_found() -> None:
    assert len(BLOCKS) > 40
    assert any(b.page == "README.md" for b in BLOCKS)
    skipped = [b for b in BLOCKS if b.skip_run is not None]
    assert len(skipped) <= len(BLOCKS) // 5, "keep skip-run rare: " + ", ".join(
        f"{b.id} ({b.skip_run})" for b in skipped
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("docblocks")
    for block in BLOCKS:
        (where / f"{block.module}.py").write_text(program(block.source), encoding="utf-8")
    return where


@pytest.fixture(scope="module")
def mypy_errors(generated: Path) -> dict[str, list[str]]:
    """``mypy --strict`` over every generated module at once: errors by module."""
    files = sorted(str(p) for p in generated.glob("*.py"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "docblocks"),
            *files,
        ],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT,
        check=False,
    )
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        name = Path(line.split(":", 1)[0]).stem
        errors.setdefault(name, []).append(line)
    if result.returncode not in (0, 1) or (result.returncode == 1 and not errors):
        pytest.fail(f"mypy did not run: {result.stdout}{result.stderr}")
    return errors


@pytest.mark.timeout(MYPY_TIMEOUT + 30)
@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_block_type_checks(block: Block, mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors.get(block.module, []) == []


@pytest.fixture(scope="module")
def run_results(generated: Path) -> dict[str, dict[str, Any]]:
    """Run every runnable non-pytest block in one subprocess: results by block id."""
    plan: list[dict[str, Any]] = [
        {
            "id": b.id,
            "file": str(generated / f"{b.module}.py"),
            "timeout": b.timeout,
            "stop_after": b.stop_after,
            "call": b.call,
        }
        for b in BLOCKS
        if b.runs_alone and not b.pytest
    ]
    plan_file = generated / "plan.json"
    results_file = generated / "results.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    bound = sum(item["timeout"] for item in plan) + 30
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [sys.executable, str(RUNNER), str(plan_file), str(results_file)],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=bound,
        env=env,
        check=False,
    )
    results: list[dict[str, Any]] = []
    if results_file.exists():
        results = json.loads(results_file.read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in results}
    by_id["<runner>"] = {"returncode": proc.returncode, "stderr": proc.stderr[-4000:]}
    return by_id


@pytest.fixture(scope="module")
def pytest_results(generated: Path) -> dict[str, str]:
    """Run the ``pytest`` blocks in one pytest subprocess: failures by module."""
    files = [str(generated / f"{b.module}.py") for b in BLOCKS if b.pytest and b.runs_alone]
    report = generated / "junit.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "jetsocket.testing.fixtures",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "-o",
            "timeout=30",
            "--rootdir",
            str(generated),
            "--junitxml",
            str(report),
            *files,
        ],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=PYTEST_TIMEOUT,
        check=False,
    )
    outcome: dict[str, str] = {}
    counted: dict[str, int] = {}
    if report.exists():
        for case in ET.parse(report).iter("testcase"):
            module = case.get("classname", "").rsplit(".", 1)[-1]
            counted[module] = counted.get(module, 0) + 1
            for bad in (*case.iter("failure"), *case.iter("error"), *case.iter("skipped")):
                outcome[module] = outcome.get(module, "") + (bad.get("message") or bad.tag)
    for path in files:
        module = Path(path).stem
        if module not in counted:
            outcome[module] = f"no test ran:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    return outcome


@pytest.mark.timeout(900)
@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_block_runs(
    block: Block, run_results: dict[str, dict[str, Any]], pytest_results: dict[str, str]
) -> None:
    if block.skip_run is not None:
        pytest.skip(f"skip-run: {block.skip_run}")
    if block.continued:
        pytest.skip("run with the block that continues it")
    if block.pytest:
        assert pytest_results.get(block.module, "") == ""
        return
    result = run_results.get(block.id)
    assert result is not None, f"the runner died before this block: {run_results['<runner>']}"
    assert result["error"] == "", result["output"][-2000:] + result["error"]
    for text in block.expect:
        assert text in result["output"], f"{text!r} not in the output:\n{result['output']}"


# -- docstring examples -----------------------------------------------------------------
# Complete examples run as doctests here; fragments are in BLOCKS (see _docblocks).


@pytest.mark.parametrize("name", DOCTEST_OBJECTS)
def test_docstring_examples(name: str) -> None:
    module_name, _, attr = name.rpartition(".")
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
    finder = doctest.DocTestFinder()
    for test in finder.find(getattr(module, attr), name, globs=dict(vars(module))):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
    assert result.attempted > 0


def test_docstring_fragments_are_collected() -> None:
    names = {b.page for b in BLOCKS if b.page.startswith("docstring:")}
    assert {"docstring:jetsocket.WebSocket", "docstring:jetsocket.SyncWebSocket"} <= names
