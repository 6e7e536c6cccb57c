"""Per-op cost rules. Importing this package registers every family."""

from . import attention, control_flow, conv, elementwise, matmul, movement, normalization, pooling, quantized, recurrent, reduction, resize  # noqa: F401
from .registry import (
    MalformedNode, MissingShape, NodeContext, OpCost, is_integer_weight_slot, is_quantization_slot, is_weight_slot,
    packed_weight, rule_for,
)
from .shape_twins import with_twins

# The layers a "compute layers" count means (dense ops, quantized forms included), by (domain, op type).
COMPUTE_OPS = frozenset({
    ("", "Conv"), ("", "ConvTranspose"), ("", "Gemm"), ("", "MatMul"), ("", "Einsum"),
    ("", "ConvInteger"), ("", "QLinearConv"), ("", "MatMulInteger"), ("", "QLinearMatMul"),
    ("com.microsoft", "QLinearConv"), ("com.microsoft", "QGemm"), ("com.microsoft", "MatMulIntegerToFloat"),
    ("com.microsoft", "DynamicQuantizeMatMul"), ("com.microsoft", "MatMulNBits"), ("com.microsoft", "MatMulBnb4"),
})

__all__ = [
    "COMPUTE_OPS", "MalformedNode", "MissingShape", "NodeContext", "OpCost", "is_integer_weight_slot",
    "is_quantization_slot", "is_weight_slot", "packed_weight", "rule_for", "with_twins",
]
