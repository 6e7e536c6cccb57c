"""Which node rows a renderer shows."""

from __future__ import annotations

from ..report import NodeRow, Report


def heaviest(report: Report, top: int | None) -> list[NodeRow]:
    """All rows in topological order, or the ``top`` heaviest by MACs, then FLOPs, then traffic."""
    if top is None:
        return list(report.nodes)
    ranked = sorted(
        report.nodes,
        key=lambda r: (-r.macs * r.repeat, -r.flops * r.repeat, -r.memory_traffic_bytes * r.repeat, r.index),
    )
    return ranked[:top]
