"""What the terminal renderings share: a rich console writing into a string, and number formats."""

from __future__ import annotations

import io

from .sanitize import SafeConsole

DEFAULT_WIDTH = 160  # when piped: wide enough that tables never fold a number


def text_console(width: int | None) -> tuple[SafeConsole, io.StringIO]:
    """A console without colour, markup or highlighting that writes into the returned buffer; control characters
    in what it prints come out escaped (``sanitize``)."""
    buffer = io.StringIO()
    return SafeConsole(file=buffer, width=width or DEFAULT_WIDTH, force_terminal=False, color_system=None), buffer


def ratio(after: int, before: int) -> str:
    """'0.128x', or '-' when there is nothing to divide by."""
    return f"{after / before:.3f}x" if before else "-"


def fraction(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def scientific(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
