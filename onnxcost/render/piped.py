"""Tables written straight to text when the output is piped: the very bytes rich writes for a ``Grid`` on a piped
``TextConsole``, without rich's measuring of every cell (twice) or its import.

Piped, a table prints at its natural width: every column is as wide as its widest cell (at least the width
``TextConsole._fit`` gives it), so nothing wraps or folds, and the lines are the cells padded and joined. What this
module does not reproduce (cells with newlines or tabs, a table with no cells) it leaves to rich: ``piped_grid``
returns None and ``PipedConsole`` prints through a ``TextConsole`` instead. tests/test_fast_table.py renders reports
both ways and compares the bytes."""

from __future__ import annotations

import io

from .grid import BAR_EIGHTHS, Grid
from .sanitize import is_terminal_safe, terminal_safe

DEFAULT_WIDTH = 160  # TextConsole's width when piped: what a plain line wraps at
LONGEST_UNBROKEN_WORD = 24  # a left-aligned cell folds only words longer than this (long node names)
PADDING = 2  # a space each side of every cell
HEAD_RULE = "─"


def cell_len(text: str) -> int:
    """The cells ``text`` takes: its length when ASCII (what is left after ``terminal_safe`` is printable) but for
    trailing share bars (one cell a character), else rich's own count. rich is imported only then: a piped report
    of ASCII names does without it (about 17 ms of start-up)."""
    if text.isascii() or text.rstrip(BAR_EIGHTHS).isascii():
        return len(text)
    from rich.cells import cell_len as cells

    return cells(text)


def piped_grid(grid: Grid) -> str | None:
    """``grid`` as a piped ``TextConsole`` prints it (title, blank edge line, header, rule, rows, blank edge line,
    each line padded to the table's width and ended by a newline); None when rich must draw it."""
    columns = grid.columns
    if not columns:
        return None
    shown = [[column.header, *column.cells] if grid.show_header else column.cells for column in columns]
    # A column at a time: most are printable ASCII throughout (nothing to escape, a cell's width is its length).
    # Escaping keeps newlines and tabs and never makes text non-ASCII: the raw column text answers for the safe one.
    joined = ["".join(cells) for cells in shown]
    safe = [cells if is_terminal_safe(text) else [terminal_safe(cell) for cell in cells]
            for cells, text in zip(shown, joined)]
    if not safe[0] or any("\n" in text or "\t" in text for text in joined):
        return None
    measures = [len if text.isascii() else cell_len for text in joined]
    widths = [max(max(map(measure, cells)), least_width([column.header, *column.cells], column.justify == "right"))
              + PADDING for column, cells, measure in zip(columns, safe, measures)]
    table_width = sum(widths) + len(widths) + 1  # the edges and the spaces between columns
    lines = []
    if grid.title:
        title = _wrapped(terminal_safe(grid.title), table_width)
        if title is None:
            return None
        lines += title
    lines.append(" " * table_width)
    rows = list(zip(*(_cells(column.justify, cells, width, measure)
                      for column, cells, width, measure in zip(columns, safe, widths, measures))))
    if grid.show_header:
        lines.append(" " + " ".join(rows.pop(0)) + " ")
        lines.append(" " + HEAD_RULE * (table_width - 2) + " ")
    lines += [" " + " ".join(row) + " " for row in rows]
    lines.append(" " * table_width)
    return "\n".join(lines) + "\n"


def least_width(texts: list[str], numeric: bool) -> int:
    """The width no table cuts a column below (``TextConsole._fit``; here, from the same raw strings): a numeric
    (right-aligned, never wrapped) column's longest line, else its longest word up to ``LONGEST_UNBROKEN_WORD``."""
    if numeric:
        return max((len(line) for text in texts for line in text.splitlines()), default=1)
    return min(max(map(len, " ".join(texts).split()), default=1), LONGEST_UNBROKEN_WORD)  # one split, in C


def _cells(justify: str, cells: list[str], width: int, measure=cell_len) -> list[str]:
    inner = width - PADDING
    if justify == "right":  # rich strips a right-aligned cell's trailing spaces before aligning it
        return [" " * (inner - measure(text) + 1) + text + " " for text in (cell.rstrip() for cell in cells)]
    return [" " + cell + " " * (inner - measure(cell) + 1) for cell in cells]


def _wrapped(title: str, width: int) -> list[str] | None:
    """A left-justified title in lines of ``width`` cells, wrapped where rich wraps it (None: rich must)."""
    if "\n" in title or "\t" in title:
        return None
    if cell_len(title) <= width:
        return [title + " " * (width - cell_len(title))]
    from rich._wrap import divide_line  # rich's own word wrap: a title wraps where rich wraps it

    cuts = [0, *divide_line(title, width, fold=True), len(title)]
    lines = []
    for start, end in zip(cuts, cuts[1:]):
        line = title[start:end]
        excess = len(line) - width  # rich drops trailing spaces beyond the width (counted in characters)
        if excess > 0:
            line = line[:len(line) - min(len(line) - len(line.rstrip()), excess)]
        if cell_len(line) > width:
            return None
        lines.append(line + " " * (width - cell_len(line)))
    return lines


class PipedConsole:
    """The console of piped renderings: a ``Grid`` or a short plain line is written here directly; anything else
    (rich tables of the other renderers, long lines) goes through a ``TextConsole`` writing into the same buffer,
    made on first use."""

    def __init__(self, buffer: io.StringIO):
        self.buffer = buffer
        self._rich = None

    def print(self, *objects, **options) -> None:
        if not options and len(objects) == 1:
            text = _plain(objects[0])
            if text is not None:
                self.buffer.write(text)
                return
        if self._rich is None:
            from .text_console import TextConsole

            self._rich = TextConsole(None, file=self.buffer, force_terminal=False, color_system=None)
        self._rich.print(*(item.to_rich() if isinstance(item, Grid) else item for item in objects), **options)


def _plain(item) -> str | None:
    if isinstance(item, Grid):
        return piped_grid(item)
    if isinstance(item, str):
        line = terminal_safe(item)
        if "\n" not in line and "\t" not in line and cell_len(line) <= DEFAULT_WIDTH:
            return line + "\n"
    return None
