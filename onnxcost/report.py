"""The report: plain data that every renderer formats and nothing recomputes.

Per-node figures are for one execution of the node; ``repeat`` says how many
times it enters the totals (a Loop body's trip count, 0 for the If branch that
was not counted). All figures are exact integers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "onnxcost.report/1"


@dataclass
class TensorSummary:
    """One tensor: its dtype ('float', 'int64'), shape (None when even its rank is unknown) and size in bytes."""

    name: str
    dtype: str
    shape: list[int] | None
    bytes: int


@dataclass
class NodeRow:
    """One node's figures for one execution: MACs, FLOPs, special ops, the parameters (elements) and bytes of
    the weights it reads, its outputs' shapes and bytes, the bytes it reads and its memory traffic (read +
    written); then its MACs by arithmetic precision and its quantization parameters (scales, zero points)."""

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
    # ``macs`` split by arithmetic precision (float + int8 + weight-only = macs)
    macs_float: int = 0
    macs_int8: int = 0
    macs_weight_only: int = 0
    quantization_params: int = 0  # elements of the scales and zero points it reads (any rank)
    quantization_param_bytes: int = 0
    # per spatial axis, in input pixels: the receptive field of its first output and the jump between neighbouring
    # outputs (docs/receptive-field.md); None for nodes without spatial axes or inside subgraphs
    receptive_field: list[float] | None = None
    jump: list[float] | None = None


@dataclass
class Totals:
    """The model's figures: rows times their ``repeat``, weights counted once however many nodes read them.

    ``activation_bytes`` adds up every node's outputs; ``peak_activation_bytes`` is the most alive at once.
    ``params`` counts logical elements (a 4-bit matrix packed two to a byte is K·N); scales and zero points are
    ``quantization_params``, not parameters.
    """

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
    # ``macs`` split by arithmetic precision (float + int8 + weight-only = macs)
    macs_float: int = 0
    macs_int8: int = 0
    macs_weight_only: int = 0
    # ``param_bytes`` split by storage: float types, 8-bit integers, narrower integers (packed), wider (int32 bias)
    param_bytes_float: int = 0
    param_bytes_int8: int = 0
    param_bytes_int4: int = 0
    param_bytes_int32: int = 0
    quantization_params: int = 0  # elements of the scales and zero points, each tensor once
    quantization_param_bytes: int = 0

    def __getattr__(self, name: str):
        """``macs_expr``, ``flops_expr``, ...: the figure's formula in the free dimensions (docs/formulas.md) when
        the report has them; AttributeError otherwise."""
        formulas = self.__dict__.get("formulas")
        if name.endswith("_expr") and formulas and name[: -len("_expr")] in formulas:
            return str(formulas[name[: -len("_expr")]])
        raise AttributeError(f"'Totals' has no attribute '{name}'" + ("" if formulas else
                             " (formulas exist only for reports with free dimensions)"))


@dataclass
class OpTypeSummary:
    """The rows of one op type added up (times their ``repeat``); ``count`` is the number of nodes; the MACs also
    by arithmetic precision."""

    count: int = 0
    macs: int = 0
    flops: int = 0
    special_ops: int = 0
    params: int = 0
    memory_traffic_bytes: int = 0
    macs_float: int = 0
    macs_int8: int = 0
    macs_weight_only: int = 0


@dataclass
class Peak:
    """The peak of live activations over the main graph's schedule (docs/conventions.md), in bytes."""

    bytes: int
    node: str | None  # the node running when the live activations peak
    node_index: int | None
    live_tensors: list[TensorSummary]  # the largest tensors live there, largest first


@dataclass
class ModelInfo:
    """What the model is: where it came from, its producer, IR version, opsets by domain, inputs and outputs."""

    source: str
    producer: str
    ir_version: int
    opsets: dict[str, int]
    inputs: list[TensorSummary]
    outputs: list[TensorSummary]


@dataclass
class Report:
    """Everything ``analyze`` found: model, totals, peak, per-op-type sums (heaviest first), one row per node
    (subgraph rows after their node) and the warnings."""

    model: ModelInfo
    totals: Totals
    peak: Peak
    by_op_type: dict[str, OpTypeSummary]
    nodes: list[NodeRow]
    warnings: list[str] = field(default_factory=list)
    # the figures as polynomials in the free dimensions (onnxcost.symbolic.figures.Formulas), None when all are bound
    formulas: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """The machine form (docs/report-schema.md); key order is part of the format."""
        nodes = [dict(vars(row)) for row in self.nodes]  # rows hold no nested dataclasses; asdict is 4x slower
        data = {
            "schema": SCHEMA,
            "model": asdict(self.model),
            "totals": asdict(self.totals),
            "peak": asdict(self.peak),
            "by_op_type": {op: asdict(summary) for op, summary in self.by_op_type.items()},
            "nodes": nodes,
            "warnings": list(self.warnings),
        }
        if self.formulas is not None:
            from .symbolic.expressions import add_expressions

            add_expressions(data, self.formulas)
        return data

    def at(self, **dims: int) -> Report:
        """This report with every figure evaluated at ``dims`` (each free dimension given), from its formulas:
        no analysis runs again. ``report.at(batch=8, seq=2048)``; KeyError when a free dimension is missing."""
        if self.formulas is None:
            raise ValueError("this report has no free dimensions: its figures are already numbers")
        from .symbolic.figures import at

        return at(self, dims)
