"""Run the type-check cases in stubs/cases/ and compare mypy's errors with the expected ones.

Each case file is a program that ``mypy --strict`` must accept (checked with
``typing.assert_type``), except for lines that end with an expected-error comment::

    ws.send_raw(42)  # E: arg-type
    x: int = f()  # E: assignment, no-any-return

Every such line must produce exactly the listed mypy error codes (as many times as listed),
and no other line may produce an error. Notes (``reveal_type`` etc.) are ignored.

Usage, from anywhere (paths are resolved from this file)::

    .venv/bin/python stubs/check.py [CASE.py ...]

Exits 0 when everything matches, 1 with a diff of expected and actual errors otherwise,
2 if mypy itself failed to run.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tokenize
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "stubs" / "cases"

# "# E: code" or "# E: code-a, code-b" anywhere in a comment.
_EXPECT_RE = re.compile(r"#\s*E:\s*([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*$")
# mypy --show-error-codes --no-pretty: "path:line: error: message  [code]"
_ERROR_RE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+): error: (?P<msg>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)

Key = tuple[str, int]


def expected_errors(path: Path) -> Counter[tuple[str, int, str]]:
    """Return the expected ``(path, line, code)`` errors declared in ``path``'s comments."""
    expected: Counter[tuple[str, int, str]] = Counter()
    rel = _rel(path)
    source = path.read_text(encoding="utf-8")
    # tokenize, not a regex over lines, so that "# E:" inside a string is not an expectation.
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and (match := _EXPECT_RE.search(tok.string)):
            for code in match[1].split(","):
                expected[(rel, tok.start[0], code.strip())] += 1
    return expected


def run_mypy(files: list[Path]) -> tuple[Counter[tuple[str, int, str]], dict[Key, list[str]]]:
    """Run mypy on ``files``; return the error counter and the messages per location."""
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        "--show-error-codes",
        "--no-error-summary",
        "--no-pretty",
        "--no-color-output",
        "--hide-error-context",
        *(_rel(f) for f in files),
    ]
    env = {**os.environ, "MYPY_FORCE_COLOR": "0", "TERM": "dumb"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    if proc.returncode not in (0, 1):
        sys.stderr.write(f"mypy failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
        raise SystemExit(2)
    actual: Counter[tuple[str, int, str]] = Counter()
    messages: dict[Key, list[str]] = {}
    for line in proc.stdout.splitlines():
        match = _ERROR_RE.match(line)
        if not match:
            if ": error: " in line:  # an error line we failed to parse: never drop it
                sys.stderr.write(f"cannot parse mypy output line: {line}\n")
                raise SystemExit(2)
            continue  # notes and blank lines
        path = match["path"].replace("\\", "/")
        code = match["code"] or "(no code)"
        actual[(path, int(match["line"]), code)] += 1
        messages.setdefault((path, int(match["line"])), []).append(f"{match['msg']} [{code}]")
    return actual, messages


def main(argv: list[str]) -> int:
    """Check the given case files (default: every ``stubs/cases/*.py``)."""
    files = [Path(a).resolve() for a in argv] if argv else sorted(CASES.glob("*.py"))
    if not files:
        sys.stderr.write(f"no type-check cases found in {_rel(CASES)}\n")
        return 1
    expected: Counter[tuple[str, int, str]] = Counter()
    for f in files:
        expected += expected_errors(f)
    actual, messages = run_mypy(files)

    missing = expected - actual
    unexpected = actual - expected
    if not missing and not unexpected:
        n = sum(expected.values())
        print(f"stubs/check.py: {len(files)} case files OK ({n} expected errors matched)")
        return 0

    print("stubs/check.py: mypy's errors differ from the expected ones")
    for path, line, code in sorted(missing.elements()):
        got = "; ".join(messages.get((path, line), [])) or "no error"
        print(f"- {path}:{line}: expected [{code}], got: {got}")
    for path, line, code in sorted(unexpected.elements()):
        msgs = [m for m in messages.get((path, line), []) if m.endswith(f"[{code}]")]
        print(f"+ {path}:{line}: unexpected error: {msgs[0] if msgs else code}")
    print("('-' expected but missing, '+' reported but not expected; mark expected errors")
    print(" with a '# E: <code>' comment on the line)")
    return 1


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.as_posix()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
