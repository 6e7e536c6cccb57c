"""Parameter sizes at precisions (``onnxcost.precision_sizes.PrecisionSizes``) as a terminal section: formats,
computes nothing."""

from __future__ import annotations

from rich import box
from rich.table import Table

from ..precision_sizes import PrecisionSizes
from ..units import human_bytes
from .sanitize import visible
from .terminal import text_console


def sizes_text(result: PrecisionSizes, width: int | None = None) -> str:
    """One row per precision: bytes (human and exact), the formula, and the baseline's bytes over them."""
    console, buffer = text_console(width)
    table = Table(box=box.SIMPLE_HEAD, title=f"Parameter sizes at precisions: {result.params:,} parameters",
                  title_justify="left")
    baseline = result.baseline
    columns = [("precision", "left"), ("bytes", "right"), ("exact", "right"), ("formula", "left")]
    if baseline is not None:
        columns.append((f"{visible(baseline.source)} / this", "right"))
    for header, justify in columns:
        table.add_column(header, justify=justify)
    for size in result.sizes:
        cells = [size.label, human_bytes(size.bytes), f"{size.bytes:,}", size.formula]
        if baseline is not None:
            cells.append(f"{size.baseline_ratio:.1f}x" if size.baseline_ratio is not None else "")
        table.add_row(*cells)
    console.print(table)
    mix = ", ".join(f"{kind} {human_bytes(amount)}" for kind, amount in result.stored.items() if amount)
    mix = f": {mix}" if mix else ""
    console.print(f"As stored: {human_bytes(result.param_bytes)} ({result.param_bytes:,} B){mix}. "
                  "Every parameter, biases included, packed at the width; nothing pruned.", soft_wrap=True)
    if baseline is not None:
        console.print(visible(baseline.phrase(result.params)) + f"; {visible(baseline.source)} as stored: "
                      f"{human_bytes(baseline.param_bytes)} ({baseline.param_bytes:,} B).", soft_wrap=True)
    return buffer.getvalue()


def sizes_markdown(result: PrecisionSizes) -> str:
    """The same section as a Markdown table (exact integers)."""
    baseline = result.baseline
    header = ["precision", "bytes", "formula"] + ([f"{_cell(baseline.source)} / this"] if baseline else [])
    lines = [f"## Parameter sizes at precisions: {result.params:,} parameters", "", "| " + " | ".join(header) + " |",
             "|---|---:|---|" + ("---:|" if baseline else "")]
    for size in result.sizes:
        cells = [size.label, f"{size.bytes:,}", size.formula]
        if baseline is not None:
            cells.append(f"{size.baseline_ratio:.1f}x" if size.baseline_ratio is not None else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"As stored: {result.param_bytes:,} B. Every parameter, biases included, packed at the width; "
              "nothing pruned."]
    if baseline is not None:
        lines.append(f"{_cell(baseline.phrase(result.params))}.")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return visible(text).replace("|", "\\|")
