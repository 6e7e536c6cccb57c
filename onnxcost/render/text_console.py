"""``TextConsole``: the rich console of terminal renderings, whose tables never cut a number or a header."""

from __future__ import annotations

from rich.measure import Measurement
from rich.table import Table

from .grid import Grid
from .piped import DEFAULT_WIDTH, least_width
from .safe_console import SafeConsole

UNLIMITED = 100_000


class TextConsole(SafeConsole):
    """A ``SafeConsole`` whose tables never cut a number or a header: right-aligned (numeric) and no-wrap columns never wrap,
    left-aligned ones wrap only at spaces (and fold only words longer than ``LONGEST_UNBROKEN_WORD``). When the
    table is wider than the terminal its optional columns go first (``optional``), then it prints wider than the
    terminal rather than cut; when piped (no width) every table prints at its natural width, unwrapped.
    A ``Grid`` prints as its rich table."""

    def __init__(self, width: int | None, **options):
        super().__init__(width=width or DEFAULT_WIDTH, **options)
        self.piped, self.requested_width = width is None, width or DEFAULT_WIDTH

    def print(self, *objects, **options) -> None:
        objects = tuple(item.to_rich() if isinstance(item, Grid) else item for item in objects)
        for table in objects:
            if isinstance(table, Table):
                self._fit(table)
        super().print(*objects, **options)
        self.width = self.requested_width

    def _fit(self, table: Table) -> None:
        for column in table.columns:
            numeric = column.justify == "right" or column.no_wrap  # numbers: never wrapped, never cut
            column.no_wrap = numeric
            longest = least_width([str(cell) for cell in [column.header, *column.cells]], numeric)
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
