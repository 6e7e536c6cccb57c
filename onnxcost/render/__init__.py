"""Renderers: each turns a result (a Report, a rewrite, a validation) into text and computes nothing."""

from __future__ import annotations

from collections.abc import Callable

from ..report import Report
from .as_csv import render_csv
from .as_json import render_json
from .as_markdown import render_markdown
from .as_netron import render_netron
from .html import render_html
from .table import render_table
from .rewrite import render_rewrite
from .validation import render_validation

FORMATS: dict[str, Callable[..., str]] = {
    "table": render_table,
    "html": render_html,
    "json": render_json,
    "csv": render_csv,
    "md": render_markdown,
    "netron": render_netron,
}


def render(report: Report, fmt: str, top: int | None = None, width: int | None = None) -> str:
    """The report in format ``fmt`` (a key of FORMATS); ``top``: only the heaviest nodes; ``width``: the terminal's."""
    if fmt == "table":
        return render_table(report, top=top, width=width)
    return FORMATS[fmt](report, top=top)

