"""Hatchling build hook: compile jetsocket's optional frame scanner (``_speedups.c``).

The scanner is an optimisation only; jetsocket's pure-Python frame reader does the same
work. So this hook never fails a build: without a working C compiler (``CC=/bin/false``,
no Python headers, Windows) or with ``JETSOCKET_PURE=1`` in the environment, it logs why
and the package installs as pure Python.

* Editable installs (``pip install -e .``) compile the module in place, next to its
  source in ``src/jetsocket/_protocol/``, where the editable path finds it. The SHA-256 of
  ``_speedups.c`` is compiled into the module; ``_reader.py`` compares it with the source
  on disk at import and ignores a stale build (re-run ``pip install -e .`` to rebuild).
  When the build is skipped or fails, an earlier in-place build is removed.
* Wheels get the module built into a temporary directory and force-included, and a
  platform tag instead of ``py3-none-any``.

The compiler is invoked directly (``$CC``, else the one Python was built with), so the
build needs nothing but hatchling: no setuptools, no Cython, no mypyc.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_PKG_DIR = Path("src", "jetsocket", "_protocol")
_SOURCE = "_speedups.c"
_MODULE = "_speedups"
_TIMEOUT = 180.0


def _ext_suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def _compiler() -> list[str]:
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shlex.split(str(cc))


def _compile(source: Path, target: Path) -> str | None:
    """Compile ``source`` into the extension module ``target``; return an error or None."""
    if sys.platform == "win32":
        return "compiled scanner not built on Windows (pure-Python reader)"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    include = sysconfig.get_paths()["include"]
    link = ["-bundle", "-undefined", "dynamic_lookup"] if sys.platform == "darwin" else ["-shared"]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".speedups-", suffix=_ext_suffix(), dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    cmd = [
        *_compiler(),
        "-O2",
        "-fPIC",
        "-Wall",
        f"-I{include}",
        f'-DJETSOCKET_SOURCE_HASH="{digest}"',
        *shlex.split(os.environ.get("CFLAGS", "")),
        str(source),
        "-o",
        str(tmp),
        *link,
        *shlex.split(os.environ.get("LDFLAGS", "")),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return (
                f"compiler failed ({shlex.join(cmd[:1])}, exit {proc.returncode}): "
                + " | ".join(detail)
            )
        if tmp.stat().st_size == 0:
            return f"compiler produced nothing ({shlex.join(cmd[:1])})"
        os.replace(tmp, target)  # atomic: a process never imports a half-written module
    except (OSError, subprocess.SubprocessError) as exc:
        return f"compiler not usable: {exc}"
    finally:
        tmp.unlink(missing_ok=True)
    return None


class SpeedupsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Build ``jetsocket._protocol._speedups``; fall back to pure Python on any failure."""

    PLUGIN_NAME = "custom"
    _tmpdir: tempfile.TemporaryDirectory[str] | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile the scanner (in place for editable installs, into the wheel otherwise)."""
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        source = root / _PKG_DIR / _SOURCE
        in_place = root / _PKG_DIR / f"{_MODULE}{_ext_suffix()}"
        editable = version == "editable"
        why: str | None
        if os.environ.get("JETSOCKET_PURE", "") not in ("", "0"):
            why = "JETSOCKET_PURE is set: pure-Python frame reader"
        elif not source.is_file():
            why = f"{source} missing: pure-Python frame reader"
        else:
            try:
                if editable:
                    why = _compile(source, in_place)
                else:
                    self._tmpdir = tempfile.TemporaryDirectory(prefix="jetsocket-build-")
                    out = Path(self._tmpdir.name) / in_place.name
                    why = _compile(source, out)
                    if why is None:
                        rel = f"jetsocket/_protocol/{in_place.name}"
                        build_data["force_include"][str(out)] = rel
                        build_data["pure_python"] = False
                        build_data["infer_tag"] = True
            except Exception as exc:  # never fail the install over an optimisation
                why = f"unexpected error: {type(exc).__name__}: {exc}"
        if why is None:
            self.app.display_info("jetsocket: compiled frame scanner built")
            return
        self.app.display_warning(f"jetsocket: {why}")
        if editable:
            # A previous in-place build must not outlive a decision to run pure.
            try:
                in_place.unlink(missing_ok=True)
            except OSError as exc:
                self.app.display_warning(f"jetsocket: could not remove {in_place}: {exc}")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary build directory of a wheel build."""
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
