"""Markdown: totals, per-op-type and per-node tables with exact integers (thousands separated)."""

from __future__ import annotations

from ..report import Report
from .selection import heaviest
from .as_csv import shape_text


def _n(value: int) -> str:
    return f"{value:,}"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|")
    lines.extend("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows)
    return lines


def render_markdown(report: Report, top: int | None = None) -> str:
    t = report.totals
    lines = [f"# onnxcost report: `{report.model.source}`", ""]
    lines += _table(["total", "value"], [
        ["MACs", _n(t.macs)], ["FLOPs", _n(t.flops)], ["special ops", _n(t.special_ops)],
        ["parameters", _n(t.params)], ["parameter bytes", _n(t.param_bytes)],
        ["activation bytes (sum)", _n(t.activation_bytes)],
        ["peak activation bytes", _n(t.peak_activation_bytes) + (f" at `{report.peak.node}`" if report.peak.node else "")],
        ["memory traffic bytes", _n(t.memory_traffic_bytes)], ["compute layers", _n(t.compute_layers)],
        ["nodes", _n(t.nodes)],
    ], right={1})
    lines += ["", "## By op type", ""]
    lines += _table(["op type", "count", "MACs", "FLOPs", "params", "traffic bytes"], [
        [op, _n(s.count), _n(s.macs), _n(s.flops), _n(s.params), _n(s.memory_traffic_bytes)]
        for op, s in report.by_op_type.items()
    ], right={1, 2, 3, 4, 5})
    title = "## Nodes" if top is None else f"## Top {top} nodes by MACs"
    lines += ["", title, ""]
    lines += _table(["#", "node", "op", "output shape", "MACs", "FLOPs", "params", "output bytes", "traffic bytes"], [
        [str(r.index), f"`{r.scope + '/' if r.scope else ''}{r.name}`" + (f" ×{r.repeat}" if r.repeat != 1 else ""),
         r.op_type, ", ".join(shape_text(s) for s in r.output_shapes), _n(r.macs), _n(r.flops), _n(r.params),
         _n(r.output_bytes), _n(r.memory_traffic_bytes)]
        for r in heaviest(report, top)
    ], right={0, 4, 5, 6, 7, 8})
    if report.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
