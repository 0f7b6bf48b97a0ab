# Every target creates .venv on first use; only Python 3.11+ and make are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test test-pure lint typecheck pytest conformance bench bench-render docs clean

# hatch_build.py compiles the frame scanner in place: rebuild when it or its source changes
# (a stale build is ignored at import anyway, see src/jetsocket/_protocol/_reader.py).
$(STAMP): pyproject.toml hatch_build.py src/jetsocket/_protocol/_speedups.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,docs]'
	touch $@

demo: $(STAMP)
	$(BIN)/python -m jetsocket demo

lint: $(STAMP)
	$(BIN)/ruff check src tests examples stubs benchmarks
	$(BIN)/ruff format --check src tests examples stubs benchmarks

# mypy reads its file list from pyproject (src, examples, tests, benchmarks); the bench
# extra is installed so that the benchmarks are checked against the peers' own types.
typecheck: $(BENCH_STAMP)
	$(BIN)/mypy
	$(BIN)/python stubs/check.py

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# The whole suite with the compiled frame scanner disabled, as on a machine without a C
# compiler (`make test` already runs the wire tests and the quick Autobahn profile on both
# paths, in one process).
test-pure: $(STAMP)
	JETSOCKET_PURE=1 $(BIN)/python -m pytest -q

conformance: $(STAMP)
	JETSOCKET_AUTOBAHN=full $(BIN)/python -m pytest -q tests/conformance -s

# Writes benchmarks/results/latest.json, then regenerates docs/comparison.md from it.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.render

bench-render: $(STAMP)
	$(BIN)/python -m benchmarks.render

docs: $(DOCS_STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache site
