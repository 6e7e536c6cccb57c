"""Quantized ops (standard domain and onnxruntime's com.microsoft contrib ops) against hand-computed costs.

A quantized op costs its float twin's MACs and FLOPs; its MACs are int8 when both operands are 8-bit integers
(stored so, or behind DequantizeLinear nodes), weight-only when only the weight is. Weights count their logical
elements (a 4-bit matrix packed two to a byte is K·N) and their stored bytes; scales and zero points are
quantization parameters, whatever their rank. Output shapes are checked against onnxruntime's where it has a CPU
kernel (support/costcheck.py), by hand elsewhere.
"""

import numpy as np
from onnx import TensorProto, helper
from support.costcheck import analyzed, single
from support.quantized import F32, I8, I32, I64, U8, int4, scalar, typed_model, typed_node

import onnxcost

F = 4  # bytes of a float32 or int32
SCALE_AND_ZERO = {"s": scalar(0.1, np.float32), "z": scalar(0, np.uint8)}


def precision(row) -> tuple[int, int, int]:
    return row.macs_float, row.macs_int8, row.macs_weight_only


# --- standard domain ---------------------------------------------------------------------------------------

def test_qlinear_conv_per_channel_scales_are_quantization_parameters():
    # x uint8 [1, 2, 5, 5], w int8 [3, 2, 3, 3] with per-channel scale and zero point [3], int32 bias [3].
    weights = {
        "xs": scalar(0.1, np.float32), "xz": scalar(0, np.uint8), "w": np.ones((3, 2, 3, 3), np.int8),
        "ws": np.full(3, 0.1, np.float32), "wz": np.zeros(3, np.int8), "ys": scalar(0.1, np.float32),
        "yz": scalar(0, np.uint8), "b": np.ones(3, np.int32),
    }
    row = single(typed_node("QLinearConv", ["x", *weights], {"x": (U8, [1, 2, 5, 5])}, weights, domain=""))
    macs = 1 * 3 * 3 * 3 * (2 * 3 * 3)  # output [1, 3, 3, 3], each a dot product over 2·3·3
    assert row.macs == macs == 486 and precision(row) == (0, 486, 0)
    assert row.flops == 2 * macs + 27  # the bias adds once per output element
    assert row.params == 54 + 3 and row.param_bytes == 54 + 3 * F
    # xs, xz, ws [3], wz [3], ys, yz: 1 + 1 + 3 + 3 + 1 + 1 elements, 4 + 1 + 12 + 3 + 4 + 1 bytes
    assert row.quantization_params == 10 and row.quantization_param_bytes == 25
    assert row.output_bytes == 27  # uint8


def test_contrib_qlinear_conv_channels_last():
    # com.microsoft QLinearConv on NHWC: x uint8 [1, 5, 5, 2] -> y [1, 3, 3, 3]; the weight stays [M, C, kh, kw].
    weights = {"xs": scalar(0.1, np.float32), "xz": scalar(0, np.uint8), "w": np.ones((3, 2, 3, 3), np.int8),
               "ws": scalar(0.1, np.float32), "wz": scalar(0, np.int8), "ys": scalar(0.1, np.float32),
               "yz": scalar(0, np.uint8)}
    row = single(typed_node("QLinearConv", ["x", *weights], {"x": (U8, [1, 5, 5, 2])}, weights, channels_last=1))
    assert row.output_shapes == [[1, 3, 3, 3]]
    assert row.macs == 486 and precision(row) == (0, 486, 0) and row.flops == 2 * 486  # no bias
    report = onnxcost.analyze_model(typed_node("QLinearConv", ["x", *weights], {"x": (U8, [1, 5, 5, 2])}, weights,
                                               channels_last=1))
    assert report.totals.compute_layers == 1


def test_qdq_conv_counts_int8_macs_and_the_int32_bias_behind_dequantize_linear():
    # x -> Q -> DQ -> Conv(DQ(w int8), DQ(b int32)): the QDQ form onnxruntime's quantize_static writes.
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="q"),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dq_x"),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], name="dq_w"),
        helper.make_node("DequantizeLinear", ["b", "bs"], ["bd"], name="dq_b"),
        helper.make_node("Conv", ["xd", "wd", "bd"], ["y"], name="conv"),
    ]
    weights = {"xs": scalar(0.1, np.float32), "xz": scalar(0, np.uint8), "w": np.ones((3, 2, 3, 3), np.int8),
               "ws": scalar(0.1, np.float32), "wz": scalar(0, np.int8), "b": np.ones(3, np.int32),
               "bs": scalar(0.01, np.float32)}
    report = analyzed(typed_model(nodes, {"x": (F32, [1, 2, 5, 5])}, {"y": F32}, weights))
    rows = {r.name: r for r in report.nodes}
    assert precision(rows["conv"]) == (0, 486, 0)  # uint8 activation times int8 weight
    assert rows["conv"].params == 54 + 3  # the weight and the int32 bias, traced through DequantizeLinear
    assert rows["dq_b"].params == 3 and rows["dq_b"].flops == 2 * 3
    t = report.totals
    assert (t.params, t.param_bytes) == (57, 66)
    assert (t.param_bytes_int8, t.param_bytes_int32, t.param_bytes_float) == (54, 12, 0)
    # xs, xz (shared by Q and DQ), ws, wz, bs: 5 elements of 4 + 1 + 4 + 1 + 4 bytes
    assert (t.quantization_params, t.quantization_param_bytes) == (5, 14)
    # The dequantized weight and bias are weights, not activations: xq 50 + xd 200 + y 108 bytes.
    assert t.activation_bytes == 50 + 4 * 50 + 4 * 27
    # Peak at the Conv: xd [1, 2, 5, 5] float (200) and y [1, 3, 3, 3] float (108) live together.
    assert report.peak.bytes == 308 and report.peak.node == "conv"


def test_blocked_int4_dequantize_linear_feeding_matmul_is_weight_only():
    # Opset 21: W uint4 [K=64, N=16] quantized in blocks of 32 along K: scales and zero points [2, 16].
    nodes = [helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], name="dq", axis=0, block_size=32),
             helper.make_node("MatMul", ["a", "wd"], ["y"], name="mm")]
    weights = {"w": int4([64, 16]), "ws": np.full((2, 16), 0.1, np.float32), "wz": int4([2, 16])}
    report = analyzed(typed_model(nodes, {"a": (F32, [2, 64])}, {"y": F32}, weights, opset=21))
    rows = {r.name: r for r in report.nodes}
    assert precision(rows["mm"]) == (0, 0, 2 * 16 * 64)  # float activations times 4-bit weights
    assert rows["dq"].flops == 2 * 64 * 16
    t = report.totals
    assert (t.params, t.param_bytes, t.param_bytes_int4) == (1024, 512, 512)  # K·N elements, half a byte each
    assert (t.quantization_params, t.quantization_param_bytes) == (32 + 32, 32 * F + 16)  # scales, uint4 zero points
    assert t.compute_layers == 1


def test_dynamic_quantization_of_a_matmul():
    # quantize_dynamic's form with per-column weight scales: the stored scale [3] multiplies the scale that
    # DynamicQuantizeLinear computes, so it is a quantization parameter, not a parameter.
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="quantize"),
        helper.make_node("MatMulInteger", ["xq", "w", "xz", "wz"], ["acc"], name="mm"),
        helper.make_node("Cast", ["acc"], ["accf"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["xs", "ws"], ["scale"], name="scales"),
        helper.make_node("Mul", ["accf", "scale"], ["y"], name="rescale"),
    ]
    weights = {"w": np.ones((4, 3), np.int8), "wz": np.zeros(3, np.int8), "ws": np.full(3, 0.1, np.float32)}
    report = analyzed(typed_model(nodes, {"x": (F32, [2, 4])}, {"y": F32}, weights))
    rows = {r.name: r for r in report.nodes}
    assert rows["quantize"].flops == 6 * 8  # min/max pass, divide, round, add zero point, clip per element
    assert precision(rows["mm"]) == (0, 2 * 3 * 4, 0)
    t = report.totals
    assert (t.params, t.param_bytes_int8) == (12, 12)
    assert (t.quantization_params, t.quantization_param_bytes) == (3 + 3, 3 + 3 * F)  # wz int8, ws float


def test_qlinear_matmul():
    # a uint8 [2, 3, 4] times a stored int8 b [4, 5]: 2·3·5 outputs of K = 4.
    weights = {"as": scalar(0.1, np.float32), "az": scalar(0, np.uint8), "b": np.ones((4, 5), np.int8),
               "bs": scalar(0.1, np.float32), "bz": scalar(0, np.int8), "ys": scalar(0.1, np.float32),
               "yz": scalar(0, np.uint8)}
    row = single(typed_node("QLinearMatMul", ["a", *weights], {"a": (U8, [2, 3, 4])}, weights, domain=""))
    assert row.output_shapes == [[2, 3, 5]]
    assert row.macs == 120 and precision(row) == (0, 120, 0) and row.flops == 240
    assert (row.params, row.quantization_params, row.quantization_param_bytes) == (20, 6, 15)


def test_conv_integer():
    # x uint8 [1, 1, 4, 4], w int8 [2, 1, 3, 3]: output int32 [1, 2, 2, 2], 9 MACs each.
    weights = {"w": np.ones((2, 1, 3, 3), np.int8), "xz": scalar(0, np.uint8), "wz": scalar(0, np.int8)}
    row = single(typed_node("ConvInteger", ["x", "w", "xz", "wz"], {"x": (U8, [1, 1, 4, 4])}, weights,
                            outputs={"y": I32}, domain=""))
    assert row.macs == 8 * 9 and precision(row) == (0, 72, 0) and row.flops == 144
    assert row.output_bytes == 8 * F
    assert (row.params, row.quantization_params, row.quantization_param_bytes) == (18, 2, 2)


# --- com.microsoft: dense ----------------------------------------------------------------------------------

def qgemm(quantized_output: bool):
    # A uint8 [2, 6], B int8 [3, 6] transposed, C int32 [3]; float output unless y_scale, y_zero_point are given.
    weights = {"as": scalar(0.1, np.float32), "az": scalar(0, np.uint8), "b": np.ones((3, 6), np.int8),
               "bs": scalar(0.1, np.float32), "bz": scalar(0, np.int8), "c": np.ones(3, np.int32)}
    if quantized_output:
        weights |= {"ys": scalar(0.1, np.float32), "yz": scalar(0, np.uint8)}
    return typed_node("QGemm", ["a", *weights], {"a": (U8, [2, 6])}, weights,
                      outputs={"y": U8 if quantized_output else F32}, transB=1)


def test_qgemm_float_output():
    row = single(qgemm(quantized_output=False))
    assert row.output_shapes == [[2, 3]]
    assert row.macs == 2 * 3 * 6 and precision(row) == (0, 36, 0)
    assert row.flops == 2 * 36 + 6  # C adds once per output element
    assert (row.params, row.param_bytes) == (18 + 3, 18 + 3 * F)  # int8 B, int32 C
    assert row.output_bytes == 6 * F
    assert (row.quantization_params, row.quantization_param_bytes) == (4, 10)


def test_qgemm_quantized_output():
    row = single(qgemm(quantized_output=True))
    assert row.macs == 36 and row.output_bytes == 6  # uint8 output
    assert (row.quantization_params, row.quantization_param_bytes) == (6, 15)


def test_dynamic_quantize_matmul():
    # A float [2, 4] is quantized inside: int8 MACs. b_scale, b_zero_point per column [3], bias [3].
    weights = {"b": np.ones((4, 3), np.int8), "bs": np.full(3, 0.1, np.float32), "bz": np.zeros(3, np.int8),
               "bias": np.zeros(3, np.float32)}
    row = single(typed_node("DynamicQuantizeMatMul", ["a", *weights], {"a": (F32, [2, 4])}, weights,
                            outputs={"y": F32}))
    assert row.output_shapes == [[2, 3]]
    assert row.macs == 24 and precision(row) == (0, 24, 0) and row.flops == 2 * 24 + 6
    assert (row.params, row.param_bytes) == (12 + 3, 12 + 3 * F)
    assert (row.quantization_params, row.quantization_param_bytes) == (6, 3 * F + 3)


def test_matmul_integer_to_float():
    weights = {"b": np.ones((4, 3), np.int8), "as": scalar(0.1, np.float32), "bs": np.full(3, 0.1, np.float32),
               "az": scalar(0, np.uint8), "bz": np.zeros(3, np.int8), "bias": np.zeros(3, np.float32)}
    row = single(typed_node("MatMulIntegerToFloat", ["a", *weights], {"a": (U8, [2, 4])}, weights,
                            outputs={"y": F32}))
    assert row.output_shapes == [[2, 3]] and row.output_bytes == 6 * F
    assert row.macs == 24 and precision(row) == (0, 24, 0) and row.flops == 54
    assert (row.quantization_params, row.quantization_param_bytes) == (1 + 3 + 1 + 3, 4 + 12 + 1 + 3)


def matmul_nbits(accuracy_level: int):
    # K = 40 in blocks of 16: 3 blocks of 8 bytes per column (the last one padded), N = 6 columns.
    weights = {"b": np.ones((6, 3, 8), np.uint8), "scales": np.full((6, 3), 0.1, np.float32),
               "zp": np.zeros((6, 2), np.uint8), "bias": np.zeros(6, np.float32)}  # zp: 3 blocks, 4 bits each
    return typed_node("MatMulNBits", ["a", "b", "scales", "zp", "", "bias"], {"a": (F32, [2, 5, 40])}, weights,
                      outputs={"y": F32}, K=40, N=6, bits=4, block_size=16, accuracy_level=accuracy_level)


def test_matmul_nbits():
    row = single(matmul_nbits(accuracy_level=0))
    assert row.output_shapes == [[2, 5, 6]]
    macs = 2 * 5 * 6 * 40
    assert row.macs == macs == 2400 and precision(row) == (0, 0, 2400)  # float arithmetic on 4-bit weights
    assert row.flops == 2 * macs + 60  # the bias adds once per output element
    assert row.params == 40 * 6 + 6  # K·N logical elements, not the 144 stored bytes
    assert row.param_bytes == 6 * 3 * 8 + 6 * F
    assert (row.quantization_params, row.quantization_param_bytes) == (18 + 12, 18 * F + 12)
    assert row.bytes_read == 2 * 5 * 40 * F + 144 + 72 + 12 + 24  # A, packed B, scales, zero points, bias
    report = onnxcost.analyze_model(matmul_nbits(accuracy_level=0))
    assert (report.totals.param_bytes_int4, report.totals.param_bytes_float) == (144, 24)
    assert report.totals.compute_layers == 1


def test_matmul_nbits_accuracy_level_4_is_int8():
    row = single(matmul_nbits(accuracy_level=4))
    assert precision(row) == (0, 2400, 0)  # A is quantized to int8 in blocks


def test_matmul_bnb4():
    # K = 32, N = 4: 128 4-bit values in 64 bytes, absmax per block of 16.
    weights = {"b": np.ones(64, np.uint8), "absmax": np.ones(8, np.float32)}
    row = single(typed_node("MatMulBnb4", ["a", "b", "absmax"], {"a": (F32, [3, 32])}, weights, outputs={"y": F32},
                            K=32, N=4, block_size=16, quant_type=1))
    assert row.output_shapes == [[3, 4]]
    assert row.macs == 3 * 4 * 32 and precision(row) == (0, 0, 384) and row.flops == 768
    assert (row.params, row.param_bytes) == (128, 64)
    assert (row.quantization_params, row.quantization_param_bytes) == (8, 32)


def test_qattention_projection_is_int8_core_is_float():
    # input uint8 [B=2, S=3, Din=8], weight int8 [8, 24] (3 × hidden 8, 2 heads of 4), bias float [24].
    weights = {"w": np.ones((8, 24), np.int8), "bias": np.zeros(24, np.float32), "is": scalar(0.1, np.float32),
               "ws": scalar(0.1, np.float32), "iz": scalar(0, np.uint8), "wz": scalar(0, np.int8)}
    m = typed_node("QAttention", ["x", "w", "bias", "is", "ws", "", "iz", "wz"], {"x": (U8, [2, 3, 8])}, weights,
                   outputs={"y": F32}, num_heads=2)
    row = single(m)
    assert row.output_shapes == [[2, 3, 8]]
    projection = 2 * 3 * 8 * 24  # B·S·Din·(Dq + Dk + Dv)
    scores = 2 * 2 * 3 * 3  # B·H·S·T
    core = scores * (4 + 4)  # Q·Kᵀ and P·V over head size 4
    assert precision(row) == (core, projection, 0) and row.macs == 1152 + 288
    assert row.flops == 2 * projection + 2 * 3 * 24 + 2 * core + 4 * scores  # bias, scale, softmax
    assert row.special_ops == scores
    assert (row.params, row.param_bytes) == (192 + 24, 192 + 24 * F)
    assert (row.quantization_params, row.quantization_param_bytes) == (4, 10)


def test_dynamic_quantize_lstm():
    # X [T=3, B=2, I=4], H = 2: W int8 [1, I, 4·H], R int8 [1, H, 4·H] (transposed against LSTM's), B [1, 8·H].
    weights = {"w": np.ones((1, 4, 8), np.int8), "r": np.ones((1, 2, 8), np.int8), "b": np.zeros((1, 16), np.float32),
               "ws": np.ones(1, np.float32), "wz": np.zeros(1, np.int8), "rs": np.ones(1, np.float32),
               "rz": np.zeros(1, np.int8)}
    m = typed_node("DynamicQuantizeLSTM", ["x", "w", "r", "b", "", "", "", "", "ws", "wz", "rs", "rz"],
                   {"x": (F32, [3, 2, 4])}, weights, outputs={"y": F32}, hidden_size=2)
    row = single(m)
    assert row.output_shapes == [[3, 1, 2, 2]]
    cells = 3 * 2 * 1
    macs = cells * 8 * (4 + 2)  # 4·H gate rows, each a dot product over [x, h]
    assert row.macs == macs == 288 and precision(row) == (0, 288, 0)
    assert row.flops == 2 * macs + cells * 2 * 8 + cells * 2 * 18  # biases, then 18 per hidden unit
    assert (row.params, row.quantization_params) == (32 + 16 + 16, 4)


# --- com.microsoft: element-wise, pooling, concatenation, embeddings --------------------------------------

def unary(op: str, shape: list[int], **attrs):
    weights = {"xs": scalar(0.1, np.float32), "xz": scalar(0, np.uint8), "ys": scalar(0.1, np.float32),
               "yz": scalar(0, np.uint8)}
    return typed_node(op, ["x", *weights], {"x": (U8, shape)}, weights, **attrs)


def test_qlinear_unary_ops_cost_their_float_twins():
    sigmoid = single(unary("QLinearSigmoid", [2, 5]))
    assert (sigmoid.flops, sigmoid.special_ops) == (4 * 10, 10)  # negate, exp, add 1, divide
    assert sigmoid.output_bytes == 10 and sigmoid.quantization_params == 4
    leaky = single(unary("QLinearLeakyRelu", [2, 5], alpha=0.1))
    assert leaky.flops == 2 * 10
    softmax = single(unary("QLinearSoftmax", [2, 5], axis=-1, opset=13))
    assert (softmax.flops, softmax.special_ops) == (3 * 10, 10)  # exp, add, divide


def test_qlinear_pools():
    pool = single(unary("QLinearGlobalAveragePool", [1, 3, 4, 5]))
    assert pool.output_shapes == [[1, 3, 1, 1]]
    assert pool.flops == 4 * 5 * 3  # 19 adds and a divide per output element
    nhwc = single(unary("QLinearGlobalAveragePool", [1, 4, 5, 3], channels_last=1))
    assert nhwc.output_shapes == [[1, 1, 1, 3]] and nhwc.flops == 60
    average = single(unary("QLinearAveragePool", [1, 2, 4, 4], kernel_shape=[2, 2], strides=[2, 2]))
    assert average.output_shapes == [[1, 2, 2, 2]] and average.flops == 4 * 8  # k = 4 per output


def test_qlinear_add_with_a_stored_operand():
    # A uint8 [2, 3, 4] plus a stored uint8 B [4] broadcast: 24 adds; B is a parameter like a float Add's.
    weights = {"as": scalar(0.1, np.float32), "az": scalar(0, np.uint8), "b": np.ones(4, np.uint8),
               "bs": scalar(0.1, np.float32), "bz": scalar(0, np.uint8), "cs": scalar(0.1, np.float32),
               "cz": scalar(0, np.uint8)}
    row = single(typed_node("QLinearAdd", ["a", *weights], {"a": (U8, [2, 3, 4])}, weights))
    assert row.output_shapes == [[2, 3, 4]] and row.flops == 24 and row.output_bytes == 24
    assert (row.params, row.param_bytes) == (4, 4)
    assert (row.quantization_params, row.quantization_param_bytes) == (6, 15)
    mul = single(typed_node("QLinearMul", ["a", *weights], {"a": (U8, [2, 3, 4])}, weights))
    assert mul.flops == 24


def test_qlinear_where():
    weights = {"xs": scalar(0.1, np.float32), "xz": scalar(0, np.uint8), "ys": scalar(0.1, np.float32),
               "yz": scalar(0, np.uint8), "zs": scalar(0.1, np.float32), "zz": scalar(0, np.uint8)}
    m = typed_node("QLinearWhere", ["c", "x", "xs", "xz", "y2", "ys", "yz", "zs", "zz"],
                   {"c": (TensorProto.BOOL, [2, 5]), "x": (U8, [2, 5]), "y2": (U8, [5])}, weights)
    row = single(m)
    assert row.output_shapes == [[2, 5]] and row.flops == 10 and row.quantization_params == 6


def test_qlinear_concat():
    # Y_scale, Y_zero_point, then (X, scale, zero point) per input; [1, 2, 3] and [1, 4, 3] on axis 1.
    weights = {"ys": scalar(0.1, np.float32), "yz": scalar(0, np.uint8), "s1": scalar(0.1, np.float32),
               "z1": scalar(0, np.uint8), "s2": scalar(0.2, np.float32), "z2": scalar(0, np.uint8)}
    m = typed_node("QLinearConcat", ["ys", "yz", "a", "s1", "z1", "b", "s2", "z2"],
                   {"a": (U8, [1, 2, 3]), "b": (U8, [1, 4, 3])}, weights, axis=1)
    row = single(m)
    assert row.output_shapes == [[1, 6, 3]] and row.flops == 0
    assert (row.quantization_params, row.quantization_param_bytes) == (6, 15)
    assert row.bytes_read == 6 + 12 + 15 and row.output_bytes == 18


def test_integer_ops_without_cpu_kernels():
    # No onnxruntime CPU kernel: output shapes by hand.
    mean = single(unary("QLinearReduceMean", [2, 3, 4], axes=[1], keepdims=0), expected={"y": [2, 4]})
    assert mean.flops == (24 - 8) + 8  # n - m adds, m divides
    mul = single(typed_node("MulInteger", ["a", "", "b"], {"a": (I8, [2, 3]), "b": (I8, [3])}, outputs={"y": I32}),
                 expected={"y": [2, 3]})
    assert mul.flops == 6 and mul.output_bytes == 6 * F
    total = single(typed_node("ReduceSumInteger", ["a"], {"a": (U8, [2, 3, 4])}, outputs={"y": I32}, axes=[2],
                              keepdims=1), expected={"y": [2, 3, 1]})
    assert total.flops == 24 - 6


def test_gather_block_quantized_reads_only_the_rows_it_gathers():
    # A uint8 table [10, 16] holding 10 × 32 4-bit values, blocks of 16 along the last axis: scales [10, 2],
    # packed zero points [10, 1]. Six indices gather six rows: output float [2, 3, 32].
    weights = {"data": np.ones((10, 16), np.uint8), "scales": np.ones((10, 2), np.float32),
               "zp": np.zeros((10, 1), np.uint8)}
    row = single(typed_node("GatherBlockQuantized", ["data", "ids", "scales", "zp"], {"ids": (I64, [2, 3])}, weights,
                            outputs={"y": F32}, bits=4, block_size=16, quantize_axis=1, gather_axis=0))
    assert row.output_shapes == [[2, 3, 32]] and row.flops == 0
    assert (row.params, row.param_bytes) == (320, 160)  # logical 4-bit elements, stored bytes
    assert (row.quantization_params, row.quantization_param_bytes) == (20 + 10, 20 * F + 10)
    # indices 6 × 8 bytes; of the 10 rows, 6: data 6 × 16, scales 6 × 2 × 4, zero points 6 × 1 bytes
    assert row.bytes_read == 48 + 96 + 48 + 6
