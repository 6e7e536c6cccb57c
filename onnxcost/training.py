"""Training memory, estimated from a report: what one training step keeps in memory, term by term.

Conventions (docs/training.md):
- activations kept for the backward pass: the model's inputs and every node's outputs (main graph and
  subgraphs, times their repeat), at ``batch`` samples: the report's per-node output bytes divided by the batch
  the report was made at, times ``batch``. A framework that runs activations in place (ReLU) or recomputes them
  keeps less; the transient gradients of the activations are not counted (at most a few layers' worth live).
- gradients: one per parameter, at the parameters' own bytes.
- optimizer state: SGD none, momentum one buffer, Adam two (first and second moments), each the size of the
  parameters.
- mixed precision (fp16/bf16 compute, as in Micikevicius et al. 2018): weights, gradients and activations at 2
  bytes per element, plus fp32 master weights (4 bytes per parameter); the optimizer state is fp32 (4 bytes per
  parameter and buffer). With Adam that is the 16 bytes per parameter of the ZeRO paper.
Also the forward activations per sample in two conventions, for the CS231n VGG-16 table ("~93MB / image (only
forward! ~*2 for bwd)"): every node's outputs, and layer outputs only (in-place activations and views not
counted, which is how the table's rows are written: they add to 15.2M values, not the 24M of its total line).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .errors import OnnxcostError
from .report import Report
from .tensors import numel

SCHEMA = "onnxcost.training/1"
OPTIMIZER_BUFFERS = {"sgd": 0, "momentum": 1, "adam": 2}  # state tensors per parameter tensor
HALF, SINGLE = 2, 4  # bytes per element
# Outputs a framework writes over its input or as a view of it: not stored again (CS231n's rows leave them out).
IN_PLACE_OR_VIEW = frozenset({"Relu", "LeakyRelu", "Clip", "Dropout", "Identity", "Flatten", "Reshape", "Squeeze",
                              "Unsqueeze"})


class TrainingError(OnnxcostError):
    """A training estimate cannot be made as asked (unknown optimizer, batch below 1, no batch in the inputs)."""


@dataclass
class MemoryTerm:
    """One term of the estimate: bytes, the formula in words and the same with the numbers put in."""

    name: str
    bytes: int
    formula: str
    worked: str


@dataclass
class ForwardActivations:
    """Forward activations of one sample under one convention: values and bytes, and twice the bytes, the
    CS231n rule of thumb for forward plus backward."""

    convention: str
    values: int
    bytes: int
    with_backward_bytes: int


@dataclass
class TrainingMemory:
    """The estimate: terms in a fixed order (weights, master weights, gradients, optimizer state, activations)
    and their total in bytes; then the forward activations per sample in both conventions."""

    batch: int
    optimizer: str
    mixed_precision: bool
    report_batch: int
    params: int
    terms: list[MemoryTerm]
    forward_per_sample: list[ForwardActivations] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(term.bytes for term in self.terms)

    def to_dict(self) -> dict:
        """The machine form; key order is part of the format."""
        return {
            "schema": SCHEMA,
            "batch": self.batch,
            "optimizer": self.optimizer,
            "mixed_precision": self.mixed_precision,
            "report_batch": self.report_batch,
            "params": self.params,
            "total_bytes": self.total_bytes,
            "terms": [asdict(term) for term in self.terms],
            "forward_per_sample": [asdict(forward) for forward in self.forward_per_sample],
        }


def training_memory(report: Report, batch: int = 32, optimizer: str = "sgd", mixed_precision: bool = False,
                    report_batch: int | None = None) -> TrainingMemory:
    """The memory of one training step of ``report``'s model at ``batch`` samples with ``optimizer`` (one of
    OPTIMIZER_BUFFERS), in bytes, term by term. ``report_batch``: the batch the report was made at (default: the
    leading dimension of the inputs, which must agree)."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise TrainingError(f"batch must be a whole number of samples, at least 1, not {batch!r}", parameter="batch")
    if optimizer not in OPTIMIZER_BUFFERS:
        raise TrainingError(f"optimizer '{optimizer}' is not one of {', '.join(OPTIMIZER_BUFFERS)}",
                            parameter="optimizer")
    made_at = report_batch if report_batch is not None else _batch_of(report)
    params, param_bytes = report.totals.params, report.totals.param_bytes
    buffers = OPTIMIZER_BUFFERS[optimizer]
    input_values = sum(numel(t.shape) for t in report.model.inputs if t.shape is not None)
    all_values = input_values + sum(_values(row) * row.repeat for row in report.nodes)
    all_bytes = sum(t.bytes for t in report.model.inputs) + report.totals.activation_bytes
    layer_values = input_values + sum(_values(row) * row.repeat for row in report.nodes
                                      if row.op_type not in IN_PLACE_OR_VIEW)
    layer_bytes = sum(t.bytes for t in report.model.inputs) + sum(
        row.output_bytes * row.repeat for row in report.nodes if row.op_type not in IN_PLACE_OR_VIEW)
    per_sample = f"/ {made_at} (the report's batch)" if made_at != 1 else ""
    if mixed_precision:
        kept = all_values * HALF * batch // made_at
        terms = [
            MemoryTerm("weights", HALF * params, "2 B × params (fp16/bf16 copy)", f"2 × {params:,}"),
            MemoryTerm("master weights", SINGLE * params, "4 B × params (fp32)", f"4 × {params:,}"),
            MemoryTerm("gradients", HALF * params, "2 B × params", f"2 × {params:,}"),
            MemoryTerm("optimizer state", buffers * SINGLE * params, f"{buffers} × 4 B × params ({optimizer}, fp32)",
                       f"{buffers} × 4 × {params:,}"),
            MemoryTerm("activations", kept, "batch × 2 B × values of the inputs and every node's outputs per sample",
                       f"{batch} × 2 × {all_values:,} {per_sample}".strip()),
        ]
    else:
        kept = all_bytes * batch // made_at
        terms = [
            MemoryTerm("weights", param_bytes, "param bytes", f"{param_bytes:,}"),
            MemoryTerm("gradients", param_bytes, "param bytes", f"{param_bytes:,}"),
            MemoryTerm("optimizer state", buffers * param_bytes, f"{buffers} × param bytes ({optimizer})",
                       f"{buffers} × {param_bytes:,}"),
            MemoryTerm("activations", kept, "batch × bytes of the inputs and every node's outputs per sample",
                       f"{batch} × {all_bytes:,} {per_sample}".strip()),
        ]
    forward = [
        ForwardActivations("every node's outputs and the inputs", all_values // made_at, all_bytes // made_at,
                           2 * (all_bytes // made_at)),
        ForwardActivations("layer outputs and the inputs (in-place activations and views not counted)",
                           layer_values // made_at, layer_bytes // made_at, 2 * (layer_bytes // made_at)),
    ]
    return TrainingMemory(batch, optimizer, mixed_precision, made_at, params, terms, forward)


def _values(row) -> int:
    return sum(numel(shape) for shape in row.output_shapes if shape is not None)


def _batch_of(report: Report) -> int:
    """The leading dimension shared by every model input (the report's batch)."""
    leading = {t.shape[0] for t in report.model.inputs if t.shape}
    if len(leading) != 1 or next(iter(leading)) < 1:
        found = ", ".join(f"{t.name}: {t.shape}" for t in report.model.inputs) or "no inputs"
        raise TrainingError(f"cannot tell the batch the report was made at from its inputs ({found}): they "
                            "should share a known leading dimension (set it with inputs or dims), or give "
                            "report_batch", parameter="report_batch")
    return next(iter(leading))
