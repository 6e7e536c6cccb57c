"""Netron's attachment file: open the model in Netron, then this file, and each node shows its costs.

Format (Netron's source/metadata.js): {"signature": "netron:attachment",
"metadata": [...], "metrics": [{"kind": "node", "target": NODE_NAME,
"name": METRIC, "value": NUMBER}, ...]}; model-wide rows use kind "model"
and target "". Nodes are matched by name, so unnamed nodes cannot be shown.
"""

from __future__ import annotations

from dataclasses import fields

from ..report import Report
from .indented_json import dumps
from .selection import heaviest

NODE_METRICS = ["macs", "flops", "special_ops", "params", "output_bytes", "memory_traffic_bytes"]


def render_netron(report: Report, top: int | None = None) -> str:
    metrics = [
        {"kind": "model", "target": "", "name": field.name, "value": getattr(report.totals, field.name)}
        for field in fields(report.totals)  # the figures: not the formulas a report with free dimensions attaches
    ]
    for row in heaviest(report, top):
        metrics.extend(
            {"kind": "node", "target": row.name, "name": name, "value": getattr(row, name)} for name in NODE_METRICS
        )
    document = {"signature": "netron:attachment", "metadata": [], "metrics": metrics}
    return dumps(document, indent=1, ensure_ascii=False) + "\n"
