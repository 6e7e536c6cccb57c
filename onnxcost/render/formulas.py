"""The terminal's view of a report's formulas: each figure as a law in the free dimensions, with ranges."""

from __future__ import annotations

from ..report import Report
from ..symbolic.poly import human
from ..units import human_bytes, human_count
from .grid import Grid

MAX_PEAK_CANDIDATES_SHOWN = 3
ROWS = (("MACs", "macs", human_count), ("FLOPs", "flops", human_count), ("special ops", "special_ops", human_count),
        ("activations (sum)", "activation_bytes", human_bytes), ("memory traffic", "memory_traffic_bytes", human_bytes))


def node_formula(report: Report, index: int) -> str:
    """Row ``index``'s MACs as a formula ('–' when it has none, '' when it is a constant)."""
    figures = report.formulas.nodes[index]
    if figures is None:
        return "–"
    return human(figures["macs"]) if not isinstance(figures["macs"], int) else ""


def formulas_table(report: Report) -> Grid:
    """Totals as formulas (figures in human units), the peak, and min – max for ranged dimensions."""
    found = report.formulas
    at = ", ".join(f"{name} = {value}" for name, value in found.evaluated_at.items())
    table = Grid(show_header=bool(found.ranges),
                 title=f"In the free dimensions (the figures above are at {at})", title_justify="left")
    table.add_column("what")
    table.add_column("formula", justify="left")
    ranges = found.ranges
    if ranges:
        spans = ", ".join(f"{name} {low}–{high}" for name, (low, high) in ranges["dims"].items())
        table.add_column(f"min – max ({spans})" + ("" if ranges["exact"] else ", bounds"), justify="right")
    if not found.totals:
        table.add_row("totals", "no formula: " + (found.missing[0] if found.missing else "see the warnings"))
        return table
    for label, name, unit in ROWS:
        value = found.totals[name]
        span = ranges["totals"][name] if ranges else None
        table.add_row(label, human(value, unit), *([f"{unit(span[0])} – {unit(span[1])}"] if span else []))
    if found.peak:
        shown = MAX_PEAK_CANDIDATES_SHOWN
        peak = f"{human(found.peak[0], human_bytes)} (at {found.peak_nodes[0]})" if found.peak_exact else \
            "max(" + ", ".join(f"{human(p, human_bytes)} (at {n})" for p, n in zip(found.peak[:shown], found.peak_nodes)) + \
            (f", … {len(found.peak) - shown} more: -f json lists them" if len(found.peak) > shown else "") + ")"
        span = ranges["totals"].get("peak_activation_bytes") if ranges else None
        table.add_row("peak activations", peak, *([f"{human_bytes(span[0])} – {human_bytes(span[1])}"] if span else []))
    return table
