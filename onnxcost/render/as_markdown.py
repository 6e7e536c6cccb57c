"""Markdown: totals, per-op-type and per-node tables with exact integers (thousands separated)."""

from __future__ import annotations

from ..report import Report
from .precision import byte_rows, mac_rows
from .selection import heaviest
from .as_csv import shape_text
from .sanitize import visible


_n = "{:,}".format  # exact integers, thousands separated: 1,234,567


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|")
    lines.extend(_row(cells) for cells in rows)
    return lines


def _row(cells: list[str]) -> str:
    """A table line, '|' inside a cell escaped."""
    text = " | ".join(cells)
    if text.count("|") != len(cells) - 1:  # some cell holds a '|' of its own (the separators make len - 1)
        text = " | ".join(cell.replace("|", "\\|") for cell in cells)
    return "| " + text + " |"


def _peak_at(report: Report) -> str:
    return f" at `{visible(report.peak.node)}`" if report.peak.node else ""


def _node_label(row) -> str:
    """'`scope/name` ×3', names escaped (they come from the file)."""
    label = f"`{visible((row.scope + '/' if row.scope else '') + row.name)}`"
    return label + (f" ×{row.repeat}" if row.repeat != 1 else "")


def render_markdown(report: Report, top: int | None = None) -> str:
    t = report.totals
    lines = [f"# onnxcost report: `{visible(report.model.source)}`", ""]
    lines += _table(["total", "value"], [
        ["MACs", _n(t.macs)], *([label.strip(), _n(value)] for label, value in mac_rows(t)),
        ["FLOPs", _n(t.flops)], ["special ops", _n(t.special_ops)],
        ["parameters", _n(t.params)], ["parameter bytes", _n(t.param_bytes)],
        *([label.strip(), _n(value)] for label, value in byte_rows(t)),
        ["activation bytes (sum)", _n(t.activation_bytes)],
        ["peak activation bytes", _n(t.peak_activation_bytes) + _peak_at(report)],
        ["memory traffic bytes", _n(t.memory_traffic_bytes)], ["compute layers", _n(t.compute_layers)],
        ["nodes", _n(t.nodes)],
    ], right={1})
    lines += ["", "## By op type", ""]
    lines += _table(["op type", "count", "MACs", "FLOPs", "params", "traffic bytes"], [
        [visible(op), _n(s.count), _n(s.macs), _n(s.flops), _n(s.params), _n(s.memory_traffic_bytes)]
        for op, s in report.by_op_type.items()
    ], right={1, 2, 3, 4, 5})
    title = "## Nodes" if top is None else f"## Top {top} nodes by MACs"
    lines += ["", title, ""]
    lines += _table(["#", "node", "op", "output shape", "MACs", "FLOPs", "params", "output bytes", "traffic bytes"], [
        [str(r.index), _node_label(r),
         visible(r.op_type), ", ".join(shape_text(s) for s in r.output_shapes), _n(r.macs), _n(r.flops), _n(r.params),
         _n(r.output_bytes), _n(r.memory_traffic_bytes)]
        for r in heaviest(report, top)
    ], right={0, 4, 5, 6, 7, 8})
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- {visible(w)}" for w in report.warnings]
    return "\n".join(lines) + "\n"
