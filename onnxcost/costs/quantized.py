"""Quantized ops of the standard domain and of onnxruntime's com.microsoft domain.

A quantized op costs what its float twin costs: QLinearConv a Conv, QGemm a Gemm, MatMulNBits a MatMul of
[.., K] by [K, N], QLinearAdd an Add, QLinearSigmoid a Sigmoid, QLinearConcat a Concat. The rescaling it folds in
(zero points, scales, rounding, the dequantization of a block-quantized weight) is not counted; QuantizeLinear,
DequantizeLinear and DynamicQuantizeLinear nodes count theirs. MACs carry their arithmetic precision: int8 when
both operands are 8-bit integers, weight-only when only the weight is (MatMulNBits: float arithmetic on 4-bit
weights, int8 with accuracy_level 4). Scales and zero points are quantization parameters, not parameters; a
weight packed into bytes (MatMulNBits, MatMulBnb4, GatherBlockQuantized with uint8 data) counts its logical
elements. docs/conventions.md has the table.
"""

from __future__ import annotations

from onnx import TensorProto

from ..tensors import numel, tensor_bytes
from .attention import MICROSOFT, projected_attention
from .conv import convolution
from .matmul import general_product, matrix_product
from .pooling import average_pool
from .recurrent import recurrent_cells
from .reduction import reduce_mean, reduce_plain
from .registry import INT8, WEIGHT_ONLY, NodeContext, OpCost, at_precision, per_output_element, register

# --- QuantizeLinear, DequantizeLinear (opset 10 to 21+, blocked and 4-bit included) -------------------------

for _domain in ("", MICROSOFT):
    # Input 0 of a DequantizeLinear is a weight when it is stored, an int32 bias included.
    register("DequantizeLinear", domain=_domain, quantization_inputs=(1, 2), integer_weight_inputs=(0,))(
        per_output_element(2))  # subtract the zero point, multiply by the scale
    register("QuantizeLinear", domain=_domain, quantization_inputs=(1, 2))(
        per_output_element(4))  # divide, round, add the zero point, clip
register("DynamicQuantizeLinear")(per_output_element(6))  # min and max pass, divide, round, add zero point, clip


# --- convolutions and matrix products ----------------------------------------------------------------------

@register("ConvInteger", quantization_inputs=(2, 3))
def conv_integer(ctx: NodeContext) -> OpCost:
    """ConvInteger: as Conv, no bias."""
    return convolution(ctx, weight=1, bias=None)


@register("QLinearConv", quantization_inputs=(1, 2, 4, 5, 6, 7), integer_weight_inputs=(8,))
@register("QLinearConv", domain=MICROSOFT, quantization_inputs=(1, 2, 4, 5, 6, 7), integer_weight_inputs=(8,))
def qlinear_conv(ctx: NodeContext) -> OpCost:
    """QLinearConv (and the com.microsoft one, channels_last too): as Conv with the weight at input 3 and the int32
    bias at input 8."""
    return convolution(ctx, weight=3, bias=8)


@register("MatMulInteger", quantization_inputs=(2, 3))
def matmul_integer(ctx: NodeContext) -> OpCost:
    """MatMulInteger: as MatMul."""
    return matrix_product(ctx, 0, 1)


@register("QLinearMatMul", quantization_inputs=(1, 2, 4, 5, 6, 7))
def qlinear_matmul(ctx: NodeContext) -> OpCost:
    """QLinearMatMul: as MatMul of inputs 0 and 3."""
    return matrix_product(ctx, 0, 3)


@register("QGemm", domain=MICROSOFT, quantization_inputs=(1, 2, 4, 5, 7, 8), integer_weight_inputs=(6,))
def qgemm(ctx: NodeContext) -> OpCost:
    """QGemm: as Gemm of A (0) and B (3), the int32 C (6) one FLOP per output element."""
    return general_product(ctx, 0, 3, 6)


@register("MatMulIntegerToFloat", domain=MICROSOFT, quantization_inputs=(2, 3, 4, 5))
def matmul_integer_to_float(ctx: NodeContext) -> OpCost:
    """MatMulIntegerToFloat: as MatMul of inputs 0 and 1, the bias (6) one FLOP per output element."""
    return matrix_product(ctx, 0, 1, bias=6)


@register("DynamicQuantizeMatMul", domain=MICROSOFT, quantization_inputs=(2, 3))
def dynamic_quantize_matmul(ctx: NodeContext) -> OpCost:
    """DynamicQuantizeMatMul: as MatMul plus bias (4); A is quantized to 8 bits inside, so the MACs are int8."""
    return at_precision(matrix_product(ctx, 0, 1, bias=4), INT8)


def _positive(*values) -> bool:
    return all(isinstance(value, int) and value > 0 for value in values)


def _nbits_weight(ctx: NodeContext, dims: tuple[int, ...]) -> tuple[int, int] | None:
    # B [N, k_blocks, blob_size] holds K·N integers of `bits` bits (a dimension 0 omits the projection).
    k, n, bits = ctx.attr("K"), ctx.attr("N"), ctx.attr("bits", 4)
    if not _positive(k, n, bits) or bits > 8:
        return None  # the rule names what is wrong
    return (k * n if numel(dims) else 0), bits


@register("MatMulNBits", domain=MICROSOFT, quantization_inputs=(2, 3, 4), packed_weights={1: _nbits_weight})
def matmul_nbits(ctx: NodeContext) -> OpCost:
    """MatMulNBits: A [.., K] times the dequantized [K, N]: MACs = ∏output·K, the bias (5) one FLOP per output
    element. Weight-only (float arithmetic), int8 when accuracy_level is 4 (A quantized to int8)."""
    ctx.require(_positive(ctx.attr("K"), ctx.attr("N")), "attributes K and N must be positive integers")
    if numel(ctx.in_shape(1)) == 0:  # an omitted projection: Y is zeros (or the bias)
        return OpCost()
    macs = ctx.out_numel(0) * ctx.attr("K")
    bias_adds = ctx.out_numel(0) if ctx.has_input(5) else 0
    precision = INT8 if ctx.attr("accuracy_level", 0) == 4 else WEIGHT_ONLY
    return at_precision(OpCost(macs=macs, flops=2 * macs + bias_adds), precision)


def _bnb4_weight(ctx: NodeContext, dims: tuple[int, ...]) -> tuple[int, int] | None:
    k, n = ctx.attr("K"), ctx.attr("N")
    return (k * n, 4) if _positive(k, n) else None  # B: the K·N 4-bit values (FP4 or NF4), two to a byte


@register("MatMulBnb4", domain=MICROSOFT, quantization_inputs=(2,), packed_weights={1: _bnb4_weight})
def matmul_bnb4(ctx: NodeContext) -> OpCost:
    """MatMulBnb4: A [.., K] times the dequantized [K, N] (4-bit FP4/NF4 weights, absmax per block): weight-only."""
    ctx.require(_positive(ctx.attr("K"), ctx.attr("N")), "attributes K and N must be positive integers")
    macs = ctx.out_numel(0) * ctx.attr("K")
    return at_precision(OpCost(macs=macs, flops=2 * macs), WEIGHT_ONLY)


@register("QAttention", domain=MICROSOFT, quantization_inputs=(3, 4, 6, 7))
def qattention(ctx: NodeContext) -> OpCost:
    """QAttention: com.microsoft Attention with 8-bit input and weights: the projection's MACs are int8, the
    attention core's float; mask_index (5) counts as the mask add, past (8) adds its length to the keys."""
    projection, cost = projected_attention(ctx, masks=(5,), past=8)
    return OpCost(macs=cost.macs, flops=cost.flops, special_ops=cost.special_ops, macs_int8=projection)


@register("DynamicQuantizeLSTM", domain=MICROSOFT, quantization_inputs=(8, 9, 10, 11))
def dynamic_quantize_lstm(ctx: NodeContext) -> OpCost:
    """DynamicQuantizeLSTM: an LSTM with 8-bit W [directions, I, 4·H] and R; X and H are quantized inside, so the
    MACs are int8."""
    return at_precision(recurrent_cells(ctx, "LSTM", transposed=True), INT8)


# --- element-wise, pooling, reductions ---------------------------------------------------------------------

register("QLinearAdd", "QLinearMul", domain=MICROSOFT, quantization_inputs=(1, 2, 4, 5, 6, 7))(
    per_output_element(1))
register("QLinearWhere", domain=MICROSOFT, quantization_inputs=(2, 3, 5, 6, 7, 8))(per_output_element(1))
register("MulInteger", domain=MICROSOFT, quantization_inputs=(1, 3))(per_output_element(1))
register("QLinearSigmoid", domain=MICROSOFT, quantization_inputs=(1, 2, 3, 4))(per_output_element(4, 1))
register("QLinearLeakyRelu", domain=MICROSOFT, quantization_inputs=(1, 2, 3, 4))(per_output_element(2))
register("QLinearAveragePool", domain=MICROSOFT, quantization_inputs=(1, 2, 3, 4))(average_pool)
register("QLinearReduceMean", domain=MICROSOFT, quantization_inputs=(1, 2, 3, 4))(reduce_mean)
register("ReduceSumInteger", domain=MICROSOFT)(reduce_plain)


@register("QLinearSoftmax", domain=MICROSOFT, quantization_inputs=(1, 2, 3, 4))
def qlinear_softmax(ctx: NodeContext) -> OpCost:
    """QLinearSoftmax: as Softmax, exp, add and divide per element (n special)."""
    n = ctx.in_numel(0)
    return OpCost(flops=3 * n, special_ops=n)


@register("QLinearGlobalAveragePool", domain=MICROSOFT, quantization_inputs=(1, 2, 3, 4))
def qlinear_global_average_pool(ctx: NodeContext) -> OpCost:
    """QLinearGlobalAveragePool: s - 1 adds and a divide per output element, s = ∏spatial ([N, C, ...], or
    [N, ..., C] with channels_last)."""
    shape = ctx.in_shape(0)
    ctx.require(len(shape) >= 3, f"input 0 has rank {len(shape)}, the op takes [N, C, spatial...]")
    spatial = shape[1:-1] if ctx.attr("channels_last", 0) else shape[2:]
    return OpCost(flops=numel(spatial) * ctx.out_numel(0))


def _concat_quantization(slot: int) -> bool:
    # Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input.
    return slot < 2 or (slot - 2) % 3 != 0


@register("QLinearConcat", domain=MICROSOFT, quantization_inputs=_concat_quantization)
def qlinear_concat(ctx: NodeContext) -> OpCost:
    """QLinearConcat: data movement, 0 FLOPs."""
    return OpCost()


# --- embeddings --------------------------------------------------------------------------------------------

def _gathered_weight(ctx: NodeContext, dims: tuple[int, ...]) -> tuple[int, int] | None:
    data = ctx.inputs[0]
    bits = ctx.attr("bits", 4)
    if data is None or data.elem_type != TensorProto.UINT8 or bits not in (2, 4):  # int4, uint4, float8: as stored
        return None
    return numel(dims) * (8 // bits), bits  # uint8 holds 8/bits values along the last axis


@register("GatherBlockQuantized", domain=MICROSOFT, quantization_inputs=(2, 3), packed_weights={0: _gathered_weight})
def gather_block_quantized(ctx: NodeContext) -> OpCost:
    """GatherBlockQuantized: a Gather (0 FLOPs) that reads its indices and, of the data, scales and zero points,
    the slices it picks along gather_axis (an embedding lookup does not read the whole table)."""
    axis = ctx.attr("gather_axis", 0)
    picked = ctx.in_numel(1)
    read = ctx.in_bytes(1)
    for slot in (0, 2, 3):
        if ctx.has_input(slot):
            shape = ctx.in_shape(slot)
            ctx.require(len(shape) >= 1, f"input {slot} is a scalar, the op gathers slices of a tensor")
            rows = shape[axis % len(shape)]
            elements = numel(shape) // rows * picked if rows > 1 else numel(shape)  # a size-1 axis broadcasts
            read += tensor_bytes(ctx.inputs[slot].elem_type, elements)
    return OpCost(bytes_read=read)
