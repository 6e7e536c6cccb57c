"""A static activation arena (``onnxcost.arena.Arena``) as a terminal section: formats, computes nothing."""

from __future__ import annotations

from rich import box
from rich.table import Table

from ..arena import Arena
from ..units import human_bytes
from .sanitize import visible
from .terminal import text_console


def arena_text(arena: Arena, width: int | None = None, largest: int = 10) -> str:
    """The arena's size next to the peak, then the ``largest`` tensors with their offsets (all are in the JSON)."""
    console, buffer = text_console(width)
    aligned = f", aligned to {arena.alignment} B" if arena.alignment > 1 else ""
    aligned += (f", in place: {len(arena.aliases)} outputs over an input they alone read, lower bound "
                f"{arena.lower_bound:,} B" if arena.in_place else "")
    console.print(f"Activation arena ({arena.strategy}{aligned}): {human_bytes(arena.size)} ({arena.size:,} B), "
                  f"peak of live activations {human_bytes(arena.peak_bytes)} ({arena.peak_bytes:,} B), "
                  f"overhead {arena.overhead_bytes:,} B; {len(arena.tensors)} tensors, verified: no two alive at "
                  "the same step share a byte.", soft_wrap=True)
    shown = sorted(arena.tensors, key=lambda t: (-t.size, t.first_step, t.name))[:largest]
    table = Table(box=box.SIMPLE_HEAD, title=f"Largest {len(shown)} tensors", title_justify="left")
    for header, justify in [("tensor", "left"), ("offset", "right"), ("size", "right"), ("steps", "right")]:
        table.add_column(header, justify=justify, overflow="fold")
    for tensor in shown:
        table.add_row(visible(tensor.name), f"{tensor.offset:,}", f"{tensor.size:,}",
                      f"{tensor.first_step}-{tensor.last_step}")
    console.print(table)
    return buffer.getvalue()


def arena_markdown(arena: Arena, largest: int = 10) -> str:
    """The same section in Markdown: the sizes, then the ``largest`` tensors (exact integers)."""
    reuse = f", in place: {len(arena.aliases)} tensors over an input, lower bound {arena.lower_bound:,} B" if arena.in_place else ""
    lines = [f"## Activation arena ({arena.strategy}{reuse})", "",
             f"Arena {arena.size:,} B, peak of live activations {arena.peak_bytes:,} B, overhead "
             f"{arena.overhead_bytes:,} B; {len(arena.tensors)} tensors, verified.", "",
             "| tensor | offset | size | steps |", "|---|---:|---:|---:|"]
    shown = sorted(arena.tensors, key=lambda t: (-t.size, t.first_step, t.name))[:largest]
    lines += [f"| {visible(t.name).replace('|', chr(92) + '|')} | {t.offset:,} | {t.size:,} | "
              f"{t.first_step}-{t.last_step} |" for t in shown]
    return "\n".join(lines) + "\n"
