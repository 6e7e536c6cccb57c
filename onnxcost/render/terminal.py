"""What the terminal renderings share: a console writing into a string (rich's, or the piped one), and number formats."""

from __future__ import annotations

import io

from .grid import BAR_EIGHTHS
from .piped import PipedConsole


def optional(table, *headers: str):
    """Mark columns of ``table`` (a ``Grid`` or a rich ``Table``) that a narrow terminal may drop, the first named
    first."""
    table.optional = headers
    return table


def text_console(width: int | None):
    """A console without colour, markup or highlighting that writes into the returned buffer; control characters
    in what it prints come out escaped (``sanitize``); tables are never cut (``TextConsole``). Piped (no width),
    a ``PipedConsole``: ``Grid`` tables and short lines are written without rich, the rest through a TextConsole."""
    buffer = io.StringIO()
    if width is None:
        return PipedConsole(buffer), buffer
    from .text_console import TextConsole

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
