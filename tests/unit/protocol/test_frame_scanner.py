"""The compiled frame scanner: same behaviour as the pure reader, build and fallback.

The autouse ``reader_path`` fixture (conftest.py) runs the whole reader suite on both
paths; this module adds what only makes sense across them: a differential hypothesis test
(random, often invalid, frame streams split at random points must give the same messages,
control frames, close and error, message for message, on both paths), the scanner's own
contract, the fragment cap (issue 11 item 9), stale-build detection, ``JETSOCKET_PURE``,
the build hook's fallback and ``python -m jetsocket --version``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import sysconfig
import tracemalloc
import types
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import COMPILED_MISSING, COMPILED_SCAN
from tests.unit.protocol.test_frame_reader import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    deflate_params,
    sframe,
)

import jetsocket
from jetsocket._exceptions import MessageTooBigError, ProtocolError
from jetsocket._protocol import _reader
from jetsocket._protocol._reader import DEFAULT_MAX_FRAGMENTS, FrameReader

ROOT = Path(__file__).resolve().parents[3]

needs_compiled = pytest.mark.skipif(
    COMPILED_SCAN is None, reason=f"compiled frame scanner unavailable: {COMPILED_MISSING}"
)


def test_reader_uses_the_selected_path(reader_path: str) -> None:
    r = FrameReader(max_message_size=None, text_as_str=True)
    assert (r._scan is None) == (reader_path == "pure")


# ---------------------------------------------------------------- differential (hypothesis)

INVALID_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\xce", b"\x80"]


@st.composite
def any_frame(draw: st.DrawFn) -> bytes:
    """One server frame, valid most of the time, any kind of violation otherwise."""
    kind = draw(st.integers(0, 9))
    if kind <= 3:  # the common case, text or binary, any length form
        opcode = draw(st.sampled_from([TEXT, BINARY]))
        if opcode == TEXT and draw(st.integers(0, 5)) == 0:
            payload = draw(st.sampled_from(INVALID_UTF8))
        elif opcode == TEXT:
            payload = draw(st.text(max_size=300)).encode()
        else:
            payload = draw(st.binary(max_size=300))
        return sframe(opcode, payload, form=draw(st.sampled_from([None, None, 16, 64])))
    if kind == 4:  # fragments
        opcode = draw(st.sampled_from([TEXT, BINARY, CONT]))
        return sframe(opcode, draw(st.binary(max_size=40)), fin=draw(st.booleans()))
    if kind == 5:  # control frames (close with any code)
        opcode = draw(st.sampled_from([PING, PONG, CLOSE]))
        body = draw(st.binary(max_size=130))
        return sframe(opcode, body, fin=draw(st.integers(0, 7)) > 0)
    if kind == 6:  # compressed (valid or not), RSV bits
        data = draw(st.binary(max_size=60))
        if draw(st.booleans()):
            enc = zlib.compressobj(wbits=-15)
            data = (enc.compress(data) + enc.flush(zlib.Z_SYNC_FLUSH))[:-4]
        rsv = draw(st.sampled_from([0x40, 0x40, 0x20, 0x10]))
        return sframe(draw(st.sampled_from([TEXT, BINARY, CONT])), data, rsv=rsv)
    if kind == 7:  # masked
        return sframe(TEXT, draw(st.binary(max_size=20)), mask=b"\x01\x02\x03\x04")
    if kind == 8:  # a 64-bit length with the most significant bit set, or a huge one
        top = draw(st.sampled_from([1 << 63, 1 << 40, 70_000]))
        return bytes([draw(st.sampled_from([0x81, 0x82])), 127]) + top.to_bytes(8)
    # any two header bytes at all, plus some payload
    return bytes(draw(st.binary(min_size=2, max_size=2))) + draw(st.binary(max_size=10))


def run_reader(
    scan: Any, chunks: list[bytes], kw: dict[str, Any]
) -> tuple[list[list[bytes | str]], list[tuple[int, bytes]], object, object]:
    r = FrameReader(**kw)
    r._scan = scan
    outs = [r.feed(chunk) for chunk in chunks]
    return outs, r.control, r.close, reader_error(r)


def reader_error(r: FrameReader) -> object:
    """The reader's error as comparable values (None without one)."""
    err = r.error
    return None if err is None else (type(err), err.code, str(err))


def random_chunks(stream: bytes, data: st.DataObject) -> list[bytes]:
    """``stream`` cut at up to 12 points drawn by hypothesis (read chunks of any size)."""
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12).map(sorted))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(any_frame(), max_size=14),
    data=st.data(),
    text_as_str=st.booleans(),
    max_size=st.sampled_from([None, 0, 100, 1 << 20]),
    deflate=st.booleans(),
    max_fragments=st.sampled_from([DEFAULT_MAX_FRAGMENTS, 1, 3]),
)
def _compiled_and_pure_agree(
    frames: list[bytes],
    data: st.DataObject,
    text_as_str: bool,
    max_size: int | None,
    deflate: bool,
    max_fragments: int,
) -> None:
    chunks = random_chunks(b"".join(frames), data)
    kw: dict[str, Any] = {
        "max_message_size": max_size,
        "text_as_str": text_as_str,
        "max_fragments": max_fragments,
    }
    compiled = run_reader(
        COMPILED_SCAN, chunks, {**kw, "deflate": deflate_params()} if deflate else kw
    )
    pure = run_reader(None, chunks, {**kw, "deflate": deflate_params()} if deflate else kw)
    assert compiled == pure


@needs_compiled
@pytest.mark.once  # compares both paths itself
def test_compiled_and_pure_agree() -> None:
    """Random frame streams, random chunking: identical messages, controls, close, error."""
    _compiled_and_pure_agree()


# ---------------------------------------------------------------- the scanner's contract


@needs_compiled
def test_scan_consumes_common_frames_and_stops_at_the_rest() -> None:
    assert COMPILED_SCAN is not None
    common = sframe(TEXT, b"a") + sframe(BINARY, b"\x00" * 200) + sframe(TEXT, b"x" * 70_000)
    for stop in [
        sframe(PING, b"p"),
        sframe(TEXT, b"f", fin=False),
        sframe(TEXT, b"c", rsv=0x40),
        sframe(TEXT, b"m", mask=b"abcd"),
        sframe(TEXT, b"\xff"),
        sframe(3, b""),
        bytes([0x81, 127]) + (1 << 63).to_bytes(8),
        sframe(TEXT, b"y" * 10)[:-1],  # incomplete
        b"\x81",  # incomplete header
    ]:
        out: list[bytes | str] = []
        assert COMPILED_SCAN(common + stop, 0, out, True, 1 << 20) == len(common)
        assert out == ["a", b"\x00" * 200, "x" * 70_000]
    out = []
    assert COMPILED_SCAN(sframe(TEXT, b"big"), 0, out, True, 2) == 0  # too big: Python's call
    assert COMPILED_SCAN(sframe(TEXT, "é".encode()), 0, out, False, 9) == 4
    assert out == ["é".encode()]


@needs_compiled
def test_scan_rejects_bad_arguments() -> None:
    assert COMPILED_SCAN is not None
    with pytest.raises(TypeError):
        COMPILED_SCAN(bytearray(b"\x81\x00"), 0, [], True, 1)
    with pytest.raises(TypeError):
        COMPILED_SCAN(b"\x81\x00", 0, (), True, 1)
    with pytest.raises(ValueError, match="pos"):
        COMPILED_SCAN(b"\x81\x00", 3, [], True, 1)


# ---------------------------------------------------------------- fragment cap (issue 11.9)


def test_fragment_cap_closes_with_1009() -> None:
    r = FrameReader(max_message_size=1 << 20, text_as_str=True, max_fragments=4)
    ok = sframe(TEXT, b"a", fin=False) + sframe(CONT, b"b", fin=False) * 2 + sframe(CONT, b"c")
    assert r.feed(ok) == ["abbc"]  # exactly 4 fragments
    r.feed(sframe(BINARY, b"", fin=False) + sframe(CONT, b"", fin=False) * 3)
    assert r.error is None
    assert r.feed(sframe(CONT, b"")) == []
    assert isinstance(r.error, MessageTooBigError)
    assert r.error.code == 1009
    assert str(r.error) == "message of more than 4 fragments exceeds max_fragments=4"


def test_five_million_empty_continuations_are_refused_early() -> None:
    """Issue 11 item 9: size stays 0, so only the fragment cap can stop this."""
    r = FrameReader(max_message_size=64 << 20, text_as_str=True)
    head = sframe(TEXT, b"", fin=False)
    empty = sframe(CONT, b"", fin=False)
    chunk = empty * 50_000
    tracemalloc.start()
    try:
        r.feed(head)
        fed = 0
        while r.error is None and fed < 5_000_000:
            assert r.feed(chunk) == []
            fed += 50_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(r.error, ProtocolError)
    assert r.error.code == 1009
    assert fed <= DEFAULT_MAX_FRAGMENTS + 50_000
    assert peak < 2 << 20  # the chunk's own parsing; nothing accumulated per fragment


def test_empty_continuations_keep_no_memory_without_a_cap() -> None:
    r = FrameReader(max_message_size=None, text_as_str=False, max_fragments=None)
    r.feed(sframe(BINARY, b"x", fin=False))
    chunk = sframe(CONT, b"", fin=False) * 5_000
    r.feed(chunk)
    tracemalloc.start()
    try:
        for _ in range(10):
            r.feed(chunk)
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current < 64 << 10
    assert r.feed(sframe(CONT, b"y")) == [b"xy"]


# ---------------------------------------------------------------- loading and staleness


@needs_compiled
def test_stale_build_is_ignored(tmp_path: Path) -> None:
    source = tmp_path / "_speedups.c"
    source.write_bytes(_reader._SOURCE.read_bytes() + b"\n/* edited */\n")
    scan, status = _reader._load_scanner(source)
    assert scan is None
    assert status.startswith("pure (compiled scanner is stale")
    scan, status = _reader._load_scanner(tmp_path / "missing.c")
    assert scan is not None
    assert status == "compiled"
    scan, status = _reader._load_scanner(_reader._SOURCE)
    assert (scan, status) == (COMPILED_SCAN, "compiled")


def test_jetsocket_pure_env_forces_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETSOCKET_PURE", "1")
    assert _reader._load_scanner() == (None, "pure (JETSOCKET_PURE is set)")


def _cli_version(env_extra: dict[str, str]) -> list[str]:
    env = {**os.environ, **env_extra}
    proc = subprocess.run(
        [sys.executable, "-m", "jetsocket", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return proc.stdout.splitlines()


@pytest.mark.once  # a subprocess
@pytest.mark.parametrize("pure", [False, True])
def test_cli_version_names_the_reader(pure: bool) -> None:
    lines = _cli_version({"JETSOCKET_PURE": "1" if pure else ""})
    assert lines[0] == jetsocket.__version__
    if pure:
        assert lines[1] == "reader: pure (JETSOCKET_PURE is set)"
    elif COMPILED_SCAN is not None:
        assert lines[1] == "reader: compiled"


# ---------------------------------------------------------------- the build hook


class _FakeApp:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def display_info(self, text: str) -> None:
        self.messages.append(text)

    def display_warning(self, text: str) -> None:
        self.messages.append(text)


class _FakeHookBase:
    """Stands in for hatchling's BuildHookInterface (hatchling is only in build envs)."""

    def __init__(self, root: str, directory: str, target_name: str) -> None:
        self.root = root
        self.directory = directory
        self.target_name = target_name
        self.app = _FakeApp()


def _load_hook(monkeypatch: pytest.MonkeyPatch) -> Any:
    fake = types.ModuleType("hatchling.builders.hooks.plugin.interface")
    fake.BuildHookInterface = _FakeHookBase  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hatchling.builders.hooks.plugin.interface", fake)
    spec = importlib.util.spec_from_file_location("_jetsocket_hatch_build", ROOT / "hatch_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _project(tmp_path: Path) -> Path:
    """A project root holding a copy of the scanner's source (edited: a fresh hash)."""
    pkg = tmp_path / "src" / "jetsocket" / "_protocol"
    pkg.mkdir(parents=True)
    (pkg / "_speedups.c").write_bytes(_reader._SOURCE.read_bytes() + b"\n/* copy */\n")
    return pkg


@pytest.mark.once  # a build
def test_build_without_a_compiler_fails_softly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = _load_hook(monkeypatch)
    pkg = _project(tmp_path)
    built = pkg / f"_speedups{sysconfig.get_config_var('EXT_SUFFIX')}"
    built.write_bytes(b"an earlier build")
    monkeypatch.setenv("CC", "/bin/false")
    why = hook._compile(pkg / "_speedups.c", built)
    assert why is not None
    assert "compiler failed" in why
    assert built.read_bytes() == b"an earlier build"  # untouched by a failed compile
    assert sorted(p.name for p in pkg.iterdir()) == ["_speedups.c", built.name]  # no temp
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    assert "not usable" in hook._compile(pkg / "_speedups.c", built)
    # The editable build: the install goes on, and the stale in-place module is removed.
    plugin = hook.SpeedupsBuildHook(str(tmp_path), str(tmp_path / "dist"), "wheel")
    build_data: dict[str, Any] = {"force_include": {}}
    plugin.initialize("editable", build_data)
    assert not built.exists()
    assert build_data == {"force_include": {}}
    assert any("compiler" in m for m in plugin.app.messages)
    monkeypatch.delenv("CC")
    monkeypatch.setenv("JETSOCKET_PURE", "1")
    built.write_bytes(b"an earlier build")
    plugin.initialize("editable", build_data)
    assert not built.exists()


@needs_compiled
@pytest.mark.once  # a build
def test_build_embeds_the_source_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook compiles a module that carries the SHA-256 of the source it came from."""
    hook = _load_hook(monkeypatch)
    pkg = _project(tmp_path)
    monkeypatch.delenv("JETSOCKET_PURE", raising=False)
    plugin = hook.SpeedupsBuildHook(str(tmp_path), str(tmp_path / "dist"), "wheel")
    plugin.initialize("editable", {"force_include": {}})
    built = pkg / f"_speedups{sysconfig.get_config_var('EXT_SUFFIX')}"
    assert built.exists(), plugin.app.messages
    spec = importlib.util.spec_from_file_location("jetsocket._protocol._speedups", built)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = (pkg / "_speedups.c").read_bytes()
    assert hashlib.sha256(source).hexdigest() == module.SOURCE_HASH
    assert module.SOURCE_HASH != COMPILED_SCAN.__self__.SOURCE_HASH  # type: ignore[union-attr]
    out: list[bytes | str] = []
    assert module.scan(sframe(TEXT, b"ok"), 0, out, True, 10) == 4
    assert out == ["ok"]
