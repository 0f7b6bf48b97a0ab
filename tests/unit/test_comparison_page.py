"""docs/comparison.md takes every benchmark figure from benchmarks/results/latest.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.render import REGIONS, render_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "comparison.md"
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"


def test_results_file_is_committed_and_complete() -> None:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    for section in ("meta", "feed", "echo", "concurrent", "memory", "targets"):
        assert section in results, f"latest.json lacks the {section} section"
    assert results["feed"]["rounds"] >= 5
    assert results["echo"]["rounds"] >= 5
    assert "picows" in results["meta"]["echo_server"]  # a C-transport server, never Python


def test_page_matches_the_results_file() -> None:
    page = PAGE.read_text(encoding="utf-8")
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert render_page(page, results) == page, (
        "docs/comparison.md is stale: run `python -m benchmarks.render`"
    )


def test_every_region_is_on_the_page() -> None:
    page = PAGE.read_text(encoding="utf-8")
    found = set(re.findall(r"<!-- bench:([a-z]+):start -->", page))
    assert found == set(REGIONS)


def test_render_rewrites_a_stale_region() -> None:
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    stale = "<!-- bench:targets:start -->\n| made up | 9.99 |\n<!-- bench:targets:end -->\n"
    fresh = render_page(stale, results)
    assert "made up" not in fresh
    assert fresh.startswith("<!-- bench:targets:start -->\n| figure |")
