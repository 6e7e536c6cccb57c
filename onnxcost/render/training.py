"""Training memory (``onnxcost.training.TrainingMemory``) as a terminal section: formats, computes nothing."""

from __future__ import annotations

from rich import box
from rich.table import Table

from ..training import TrainingMemory
from ..units import human_bytes
from .terminal import text_console


def training_text(result: TrainingMemory, width: int | None = None) -> str:
    """One row per term with its formula and its numbers, the total; then the forward activations per sample."""
    console, buffer = text_console(width)
    precision = "mixed precision" if result.mixed_precision else "as stored"
    table = Table(box=box.SIMPLE_HEAD, title=f"Training memory: batch {result.batch}, {result.optimizer}, {precision}",
                  title_justify="left")
    for header, justify in [("term", "left"), ("bytes", "right"), ("exact", "right"), ("formula", "left"),
                            ("numbers", "left")]:
        table.add_column(header, justify=justify)
    for term in result.terms:
        table.add_row(term.name, human_bytes(term.bytes), f"{term.bytes:,}", term.formula, term.worked)
    table.add_row("total", human_bytes(result.total_bytes), f"{result.total_bytes:,}", "", "")
    console.print(table)
    forward = Table(box=box.SIMPLE_HEAD, title="Forward activations per sample (x2: the CS231n rule for backward)",
                    title_justify="left")
    for header, justify in [("convention", "left"), ("values", "right"), ("bytes", "right"), ("x2", "right")]:
        forward.add_column(header, justify=justify)
    for row in result.forward_per_sample:
        forward.add_row(row.convention, f"{row.values:,}", f"{human_bytes(row.bytes)} ({row.bytes:,})",
                        human_bytes(row.with_backward_bytes))
    console.print(forward)
    return buffer.getvalue()


def training_markdown(result: TrainingMemory) -> str:
    """The same section as Markdown tables (exact integers)."""
    precision = "mixed precision" if result.mixed_precision else "as stored"
    lines = [f"## Training memory: batch {result.batch}, {result.optimizer}, {precision}", "",
             "| term | bytes | formula | numbers |", "|---|---:|---|---|"]
    lines += [f"| {t.name} | {t.bytes:,} | {t.formula} | {t.worked} |" for t in result.terms]
    lines += [f"| total | {result.total_bytes:,} | | |", "", "| forward activations per sample | values | bytes | x2 |",
              "|---|---:|---:|---:|"]
    lines += [f"| {f.convention} | {f.values:,} | {f.bytes:,} | {f.with_backward_bytes:,} |"
              for f in result.forward_per_sample]
    return "\n".join(lines) + "\n"
