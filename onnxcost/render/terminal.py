"""What the terminal renderings share: a rich console writing into a string, and number formats."""

from __future__ import annotations

import io

from rich.measure import Measurement
from rich.table import Table

from .sanitize import SafeConsole

DEFAULT_WIDTH = 160  # when piped: the width of text that is not a table (tables print in full)
UNLIMITED = 100_000
LONGEST_UNBROKEN_WORD = 24  # a left-aligned cell folds only words longer than this (long node names)
BAR_EIGHTHS = " ▏▎▍▌▋▊▉█"


class TextConsole(SafeConsole):
    """A ``SafeConsole`` whose tables never cut a number or a header: right-aligned (numeric) and no-wrap columns never wrap,
    left-aligned ones wrap only at spaces (and fold only words longer than ``LONGEST_UNBROKEN_WORD``). When the
    table is wider than the terminal its optional columns go first (``optional``), then it prints wider than the
    terminal rather than cut; when piped (no width) every table prints at its natural width, unwrapped."""

    def __init__(self, width: int | None, **options):
        super().__init__(width=width or DEFAULT_WIDTH, **options)
        self.piped, self.requested_width = width is None, width or DEFAULT_WIDTH

    def print(self, *objects, **options) -> None:
        for table in objects:
            if isinstance(table, Table):
                self._fit(table)
        super().print(*objects, **options)
        self.width = self.requested_width

    def _fit(self, table: Table) -> None:
        for column in table.columns:
            cells = [str(cell) for cell in [column.header, *column.cells]]
            if column.justify == "right" or column.no_wrap:  # numbers: never wrapped, never cut
                column.no_wrap = True
                longest = max((len(line) for cell in cells for line in cell.splitlines()), default=1)
            else:
                longest = min(max((len(word) for cell in cells for word in cell.split()), default=1), LONGEST_UNBROKEN_WORD)
            column.min_width = max(column.min_width or 0, longest)
        if self.piped:
            self.width = max(self.width, _measure(self, table).maximum)
            return
        dropped = []
        for header in getattr(table, "optional", ()):
            if _measure(self, table).minimum <= self.width:
                break
            table.columns[:] = [c for c in table.columns if c.header != header]
            dropped.append(header)
        if dropped:
            table.caption = f"left out for this terminal's width: {', '.join(dropped)} (pipe the output to see them)"
            table.caption_justify = "left"
        self.width = max(self.width, _measure(self, table).minimum)


def _measure(console: SafeConsole, table: Table) -> Measurement:
    return Measurement.get(console, console.options.update_width(UNLIMITED), table)


def optional(table: Table, *headers: str) -> Table:
    """Mark columns of ``table`` that a narrow terminal may drop, the first named first."""
    table.optional = headers
    return table


def text_console(width: int | None) -> tuple[SafeConsole, io.StringIO]:
    """A console without colour, markup or highlighting that writes into the returned buffer; control characters
    in what it prints come out escaped (``sanitize``); tables are never cut (``TextConsole``)."""
    buffer = io.StringIO()
    return TextConsole(width, file=buffer, force_terminal=False, color_system=None), buffer


def share_bar(part: int, whole: int, heaviest: int, cells: int = 6) -> str:
    """``part``'s share of ``whole`` as a percentage and a bar of ``cells`` block glyphs (in eighths of a cell)
    scaled so that ``heaviest`` fills it; '' for nothing."""
    if not whole or part <= 0:
        return ""
    eighths = max(1, round(8 * cells * part / heaviest))
    bar = "█" * (eighths // 8) + (BAR_EIGHTHS[eighths % 8] if eighths % 8 else "")
    return f"{100 * part / whole:5.1f}% {bar}"


def ratio(after: int, before: int) -> str:
    """'0.128x', or '-' when there is nothing to divide by."""
    return f"{after / before:.3f}x" if before else "-"


def fraction(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def scientific(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
