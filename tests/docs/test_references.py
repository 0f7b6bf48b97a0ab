"""The reference pages of docs/reference/ are what the code generates (issue 14).

If this fails after a change to the exceptions, ``ConnectionStats``, the CLI parser or the
options, regenerate the pages: ``.venv/bin/python tests/docs/_docrefs.py --write``.
"""

from __future__ import annotations

import pytest

import jetsocket

from ._docrefs import PAGES, RAISERS, REFERENCE, exception_tree, option_rows


@pytest.mark.parametrize("name", sorted(PAGES))
def test_reference_page_is_up_to_date(name: str) -> None:
    committed = (REFERENCE / name).read_text(encoding="utf-8")
    assert committed == PAGES[name](), (
        f"docs/reference/{name} is stale: run .venv/bin/python tests/docs/_docrefs.py --write"
    )


def test_every_exception_says_what_raises_it_and_what_to_catch() -> None:
    names = {cls.__name__ for _, cls in exception_tree()}
    assert names == set(RAISERS)
    exported = {n for n in jetsocket.__all__ if n.endswith("Error")}
    assert exported <= names


def test_every_option_is_documented_with_a_group() -> None:
    rows, _ = option_rows()
    assert {r.name for r in rows} == set(jetsocket.WebSocketOptions.__annotations__)
    for row in rows:
        assert row.doc, f"option {row.name} has no documentation"
        assert row.group != "other", f"option {row.name} has no group"


def test_every_cli_flag_is_in_the_reference() -> None:
    page = (REFERENCE / "cli.md").read_text(encoding="utf-8")
    for flag in ("--seed", "--burst", "--plain", "--verbose", "--proxy", "--linger"):
        assert f"`{flag}" in page or f", `{flag}" in page, flag
