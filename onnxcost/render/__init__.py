"""Renderers: each turns a result (a Report, a rewrite, a validation) into text and computes nothing.

The renderers are imported on first use: the command line imports this package for ``sanitize`` alone, and
``onnxcost --help`` or ``report -f json`` need none of the HTML page's imports (onnx, numpy).
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..report import Report

# format -> (module, function) of the report's renderers
_REPORT_RENDERERS = {
    "table": ("table", "render_table"),
    "html": ("html", "render_html"),
    "json": ("as_json", "render_json"),
    "csv": ("as_csv", "render_csv"),
    "md": ("as_markdown", "render_markdown"),
    "netron": ("as_netron", "render_netron"),
}
# name -> the module that defines it
_EXPORTS = {
    **{function: module for module, function in _REPORT_RENDERERS.values()},
    "render_rewrite": "rewrite", "render_validation": "validation",
}


def _renderer(fmt: str) -> Callable[..., str]:
    module, function = _REPORT_RENDERERS[fmt]
    return getattr(importlib.import_module(f".{module}", __name__), function)


def render(report: Report, fmt: str, top: int | None = None, width: int | None = None) -> str:
    """The report in format ``fmt`` (a key of FORMATS); ``top``: only the heaviest nodes; ``width``: the terminal's."""
    renderer = _renderer(fmt)
    collecting = gc.isenabled()
    gc.disable()  # rendering makes many small objects and no cycles: collections over a large report cost a third
    try:
        if fmt == "table":
            return renderer(report, top=top, width=width)
        return renderer(report, top=top)
    finally:
        if collecting:
            gc.enable()


def __getattr__(name: str):
    if name == "FORMATS":  # format -> renderer function, every renderer imported
        value = {fmt: _renderer(fmt) for fmt in _REPORT_RENDERERS}
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
