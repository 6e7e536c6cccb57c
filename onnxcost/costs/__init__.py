"""Per-op cost rules. Importing this package registers every family."""

from . import attention, control_flow, conv, elementwise, matmul, movement, normalization, pooling, recurrent, reduction, resize  # noqa: F401
from .registry import MalformedNode, MissingShape, NodeContext, OpCost, is_integer_weight_slot, is_weight_slot, rule_for

# The layers a "compute layers" count means (dense ops, quantized forms included).
COMPUTE_OPS = frozenset({
    "Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum",
    "ConvInteger", "QLinearConv", "MatMulInteger", "QLinearMatMul",
})

__all__ = [
    "COMPUTE_OPS", "MalformedNode", "MissingShape", "NodeContext", "OpCost", "is_integer_weight_slot", "is_weight_slot",
    "rule_for",
]
