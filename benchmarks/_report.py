"""Plain-text tables for the benchmark results."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Table", "fmt_int", "fmt_ratio", "verdict"]


def fmt_int(value: float | None) -> str:
    """Format a count/rate with thousands separators ("-" when missing)."""
    return "-" if value is None else f"{value:,.0f}"


def fmt_float(value: float | None, digits: int = 1) -> str:
    """Format a float with ``digits`` decimals ("-" when missing)."""
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    """Format a ratio as ``1.23x`` ("n/a" when missing)."""
    return "n/a" if value is None else f"{value:.2f}x"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Return ``numerator / denominator``, or None if either is missing or zero."""
    if not numerator or not denominator:
        return None
    return numerator / denominator


def verdict(value: float | None, target: float, *, at_least: bool) -> str:
    """Return PASS/FAIL/n/a for ``value`` against ``target``."""
    if value is None:
        return "n/a"
    ok = value >= target if at_least else value <= target
    return "PASS" if ok else "FAIL"


class Table:
    """A left-aligned first column and right-aligned figures, printed with a title."""

    def __init__(self, title: str, headers: Sequence[str]) -> None:
        self.title = title
        self.headers = list(headers)
        self.rows: list[list[str]] = []
        self.notes: list[str] = []

    def add(self, *cells: str) -> None:
        """Append a row (missing trailing cells print empty)."""
        row = list(cells) + [""] * (len(self.headers) - len(cells))
        self.rows.append(row)

    def note(self, text: str) -> None:
        """Append a line printed under the table."""
        self.notes.append(text)

    def render(self) -> str:
        """Return the table as text."""
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        lines = [self.title, "-" * len(self.title)]

        def line(cells: Sequence[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            return "  ".join([first, *rest]).rstrip()

        lines.append(line(self.headers))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(line(row) for row in self.rows)
        lines.extend(f"  {n}" for n in self.notes)
        return "\n".join(lines)
