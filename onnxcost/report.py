"""The report: plain data that every renderer formats and nothing recomputes.

Per-node figures are for one execution of the node; ``repeat`` says how many
times it enters the totals (a Loop body's trip count, 0 for the If branch that
was not counted). All figures are exact integers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SCHEMA = "onnxcost.report/1"


@dataclass
class TensorSummary:
    name: str
    dtype: str
    shape: list[int] | None
    bytes: int


@dataclass
class NodeRow:
    index: int
    name: str
    op_type: str
    domain: str
    scope: str  # "" for the main graph, e.g. "loop_1/body" inside a subgraph
    repeat: int
    macs: int
    flops: int
    special_ops: int
    params: int
    param_bytes: int
    inputs: list[str]
    outputs: list[str]
    output_shapes: list[list[int] | None]
    output_bytes: int
    bytes_read: int
    memory_traffic_bytes: int
    costed: bool = True  # False when the op has no cost rule or its shapes were unknown


@dataclass
class Totals:
    macs: int = 0
    flops: int = 0
    special_ops: int = 0
    params: int = 0
    param_bytes: int = 0
    activation_bytes: int = 0
    peak_activation_bytes: int = 0
    memory_traffic_bytes: int = 0
    compute_layers: int = 0
    nodes: int = 0


@dataclass
class OpTypeSummary:
    count: int = 0
    macs: int = 0
    flops: int = 0
    special_ops: int = 0
    params: int = 0
    memory_traffic_bytes: int = 0


@dataclass
class Peak:
    bytes: int
    node: str | None  # the node running when the live activations peak
    node_index: int | None
    live_tensors: list[TensorSummary]  # the largest tensors live there, largest first


@dataclass
class ModelInfo:
    source: str
    producer: str
    ir_version: int
    opsets: dict[str, int]
    inputs: list[TensorSummary]
    outputs: list[TensorSummary]


@dataclass
class Report:
    model: ModelInfo
    totals: Totals
    peak: Peak
    by_op_type: dict[str, OpTypeSummary]
    nodes: list[NodeRow]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The machine form (docs/report-schema.md); key order is part of the format."""
        return {
            "schema": SCHEMA,
            "model": asdict(self.model),
            "totals": asdict(self.totals),
            "peak": asdict(self.peak),
            "by_op_type": {op: asdict(summary) for op, summary in self.by_op_type.items()},
            "nodes": [dict(vars(row)) for row in self.nodes],  # rows hold no nested dataclasses; asdict is 4x slower
            "warnings": list(self.warnings),
        }
