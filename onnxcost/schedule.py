"""Live activation memory at every step of the schedule, from a report: the curve whose highest point is the
report's peak (memory.py's conventions: a tensor is live from the step that writes it, graph inputs from the
first step, through its last reader, graph outputs to the end; weights are not activations).

The report keeps each node's output bytes as one sum; a node with several outputs has them shared out by
element count, which is exact when they have one dtype (Split, LSTM) and close otherwise (TopK's int64
indices beside float values). Single-output nodes, the usual case, are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from .memory import live_bytes_per_step
from .report import NodeRow, Report
from .tensors import numel


@dataclass
class LiveMemory:
    """One entry per main-graph node in schedule order: its report row and the bytes live while it runs."""

    rows: list[int]  # index into Report.nodes
    live_bytes: list[int]


def live_activations(report: Report) -> LiveMemory:
    """The live activation bytes at each step of the report's main graph (rows whose scope is '')."""
    main = [row for row in report.nodes if not row.scope]
    sizes = {tensor.name: tensor.bytes for tensor in report.model.inputs}
    for row in main:
        sizes.update(output_sizes(row))
    curve = live_bytes_per_step(
        [row.inputs for row in main], [row.outputs for row in main],
        [tensor.name for tensor in report.model.inputs], [tensor.name for tensor in report.model.outputs], sizes,
    )
    return LiveMemory([row.index for row in main], curve)


def output_sizes(row: NodeRow) -> dict[str, int]:
    """Bytes of each named output of ``row``: its output bytes shared by element count (unknown shapes: 0)."""
    counts = [numel(shape) if shape is not None else 0 for shape in row.output_shapes]
    total = sum(counts)
    sizes: dict[str, int] = {}
    given = 0
    named = [(name, count) for name, count in zip(row.outputs, counts) if name]
    for position, (name, count) in enumerate(named):
        if position == len(named) - 1:  # the last takes what rounding left, so the sizes add up to the row's
            share = row.output_bytes - given if total else 0
        else:
            share = row.output_bytes * count // total if total else 0
        sizes[name] = share
        given += share
    return sizes
