"""Conv and ConvTranspose against hand-computed costs.

Conv:          MACs = N·Cout·∏out_spatial·(Cin/group)·∏kernel
ConvTranspose: MACs = N·Cin·∏in_spatial·(Cout/group)·∏kernel
FLOPs = 2·MACs, plus one add per output element when there is a bias.
Output sizes follow the ONNX definition:
  out = floor((in + pad_begin + pad_end - ((k - 1)·dilation + 1)) / stride) + 1
  ConvTranspose: out = stride·(in - 1) + output_padding + (k - 1)·dilation + 1 - pad_begin - pad_end
Every model is checked with onnx.checker, and onnxruntime's output shape must equal the reported one.
"""

import numpy as np
import onnx
from support.costcheck import analyzed, single
from support.builders import model, one_node, zeros
from onnx import TensorProto, helper, numpy_helper

F32 = 4  # bytes per float32 element


def test_grouped_conv_with_bias():
    # 8 input channels in 2 groups: each output channel sees 8/2 = 4 channels of a 3x3 window.
    m = one_node("Conv", {"x": [1, 8, 16, 16]}, {"w": zeros(16, 4, 3, 3), "b": zeros(16)},
                 group=2, pads=[1, 1, 1, 1])
    row = single(m)
    assert row.output_shapes == [[1, 16, 16, 16]]  # (16 + 2 - 3)/1 + 1 = 16
    macs = 1 * 16 * 16 * 16 * (8 // 2) * 3 * 3
    assert row.macs == macs == 147_456
    assert row.flops == 2 * macs + 1 * 16 * 16 * 16  # one bias add per output element
    assert row.special_ops == 0
    assert row.params == 16 * 4 * 3 * 3 + 16
    assert row.param_bytes == F32 * row.params
    # traffic: x, w and b read in full, y written.
    assert row.output_bytes == F32 * 16 * 16 * 16
    assert row.bytes_read == F32 * (8 * 16 * 16 + 16 * 4 * 3 * 3 + 16)
    assert row.memory_traffic_bytes == row.bytes_read + row.output_bytes


def test_depthwise_conv_with_depth_multiplier():
    # group = Cin = 6, Cout = 12: each output channel reads one input channel (Cin/group = 1).
    m = one_node("Conv", {"x": [1, 6, 10, 10]}, {"w": zeros(12, 1, 3, 3)}, group=6)
    row = single(m)
    assert row.output_shapes == [[1, 12, 8, 8]]  # (10 - 3)/1 + 1 = 8, no padding
    macs = 1 * 12 * 8 * 8 * (6 // 6) * 3 * 3
    assert row.macs == macs == 6912
    assert row.flops == 2 * macs  # no bias
    assert row.params == 12 * 1 * 3 * 3


def test_dilated_conv():
    # dilation 2 spreads a 3x3 kernel over 5x5: out = (9 - 5)/1 + 1 = 5; the MACs still use 3x3 taps.
    m = one_node("Conv", {"x": [1, 2, 9, 9]}, {"w": zeros(3, 2, 3, 3), "b": zeros(3)}, dilations=[2, 2])
    row = single(m)
    assert row.output_shapes == [[1, 3, 5, 5]]
    macs = 1 * 3 * 5 * 5 * 2 * 3 * 3
    assert row.macs == macs == 1350
    assert row.flops == 2 * macs + 3 * 5 * 5


def test_strided_conv_with_asymmetric_padding():
    # pads = [h_begin, w_begin, h_end, w_end] = [1, 0, 2, 1], strides [2, 3]
    # H: floor((7 + 1 + 2 - 3) / 2) + 1 = 4;  W: floor((8 + 0 + 1 - 3) / 3) + 1 = 3
    m = one_node("Conv", {"x": [2, 3, 7, 8]}, {"w": zeros(4, 3, 3, 3)}, strides=[2, 3], pads=[1, 0, 2, 1])
    row = single(m)
    assert row.output_shapes == [[2, 4, 4, 3]]
    macs = 2 * 4 * 4 * 3 * 3 * 3 * 3
    assert row.macs == macs == 2592
    assert row.flops == 2 * macs


def test_auto_pad_same_upper_and_valid():
    # SAME_UPPER: out = ceil(in / stride) = ceil(7 / 2) = 4, whatever the kernel.
    same = single(one_node("Conv", {"x": [1, 2, 7, 7]}, {"w": zeros(5, 2, 3, 3)}, strides=[2, 2], auto_pad="SAME_UPPER"))
    assert same.output_shapes == [[1, 5, 4, 4]]
    assert same.macs == 1 * 5 * 4 * 4 * 2 * 3 * 3 == 1440
    # VALID: no padding, out = floor((7 - 3) / 2) + 1 = 3.
    valid = single(one_node("Conv", {"x": [1, 2, 7, 7]}, {"w": zeros(5, 2, 3, 3)}, strides=[2, 2], auto_pad="VALID"))
    assert valid.output_shapes == [[1, 5, 3, 3]]
    assert valid.macs == 1 * 5 * 3 * 3 * 2 * 3 * 3 == 810


def test_conv_1d():
    # kernel 5, pads 2 each side keeps the length: (20 + 4 - 5) + 1 = 20
    row = single(one_node("Conv", {"x": [2, 4, 20]}, {"w": zeros(8, 4, 5), "b": zeros(8)}, pads=[2, 2]))
    assert row.output_shapes == [[2, 8, 20]]
    macs = 2 * 8 * 20 * 4 * 5
    assert row.macs == macs == 6400
    assert row.flops == 2 * macs + 2 * 8 * 20
    assert row.params == 8 * 4 * 5 + 8


def test_conv_3d():
    # 3x3x3 kernel over 6x6x6 without padding: 4x4x4 outputs
    row = single(one_node("Conv", {"x": [1, 2, 6, 6, 6]}, {"w": zeros(4, 2, 3, 3, 3), "b": zeros(4)}))
    assert row.output_shapes == [[1, 4, 4, 4, 4]]
    macs = 1 * 4 * (4 * 4 * 4) * 2 * (3 * 3 * 3)
    assert row.macs == macs == 13_824
    assert row.flops == 2 * macs + 4 * 4 * 4 * 4
    assert row.params == 4 * 2 * 27 + 4


def test_conv_without_bias_has_exactly_two_flops_per_mac():
    row = single(one_node("Conv", {"x": [1, 3, 5, 5]}, {"w": zeros(2, 3, 1, 1)}))
    assert row.output_shapes == [[1, 2, 5, 5]]
    assert row.macs == 2 * 5 * 5 * 3  # a 1x1 conv: one MAC per output and input channel
    assert row.flops == 2 * row.macs
    assert row.params == 6


def test_conv_transpose_stride_output_padding_groups():
    # W [Cin, Cout/group, kh, kw] = [4, 3, 3, 3] with group 2: Cout = 2·3 = 6.
    # out = 2·(5 - 1) + 1 + (3 - 1)·1 + 1 - 1 - 1 = 10
    m = one_node("ConvTranspose", {"x": [1, 4, 5, 5]}, {"w": zeros(4, 3, 3, 3), "b": zeros(6)},
                 group=2, strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    row = single(m)
    assert row.output_shapes == [[1, 6, 10, 10]]
    # every input element is scattered through (Cout/group)·kh·kw = 3·9 weights
    macs = 1 * 4 * 5 * 5 * (6 // 2) * 3 * 3
    assert row.macs == macs == 2700
    assert row.flops == 2 * macs + 6 * 10 * 10  # bias once per output element
    assert row.params == 4 * 3 * 3 * 3 + 6


def test_conv_transpose_1d_without_bias():
    # out = 3·(4 - 1) + 0 + (2 - 1) + 1 = 11
    row = single(one_node("ConvTranspose", {"x": [2, 3, 4]}, {"w": zeros(3, 5, 2)}, strides=[3]))
    assert row.output_shapes == [[2, 5, 11]]
    macs = 2 * 3 * 4 * 5 * 2
    assert row.macs == macs == 240
    assert row.flops == 2 * macs


def test_conv_weights_from_constant_node_are_params():
    # Paddle2ONNX stores weights in Constant nodes; they count like initializers and the
    # Constant node itself is not a row.
    weight = helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(zeros(4, 3, 3, 3)))
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])
    report = analyzed(model([weight, conv], {"x": [1, 3, 6, 6]}, ["y"]))
    assert [r.op_type for r in report.nodes] == ["Conv"]
    assert report.nodes[0].macs == 1 * 4 * 6 * 6 * 3 * 9
    assert report.totals.params == 4 * 3 * 3 * 3


def test_weight_traced_through_cast_counted_once_with_stored_bytes():
    # A float16 weight Cast to float32 before the Conv: 108 parameters of 2 bytes, counted once.
    cast = helper.make_node("Cast", ["w16"], ["w"], name="cast", to=TensorProto.FLOAT)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    m = model([cast, conv], {"x": [1, 3, 5, 5]}, ["y"], {"w16": np.zeros((4, 3, 3, 3), np.float16)})
    report = analyzed(m)
    rows = {r.name: r for r in report.nodes}
    assert rows["conv"].params == 4 * 3 * 3 * 3
    assert report.totals.params == 108
    assert report.totals.param_bytes == 2 * 108
    assert rows["conv"].macs == 1 * 4 * 3 * 3 * 3 * 3 * 3


def test_weight_traced_through_dequantize_linear():
    # int8 weight -> DequantizeLinear (0-d scale and zero point: settings) -> Conv
    dq = helper.make_node("DequantizeLinear", ["wq", "scale", "zero"], ["w"], name="dq")
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    weights = {"wq": np.zeros((2, 3, 3, 3), np.int8), "scale": np.array(0.1, np.float32), "zero": np.array(0, np.int8)}
    report = analyzed(model([dq, conv], {"x": [1, 3, 5, 5]}, ["y"], weights))
    rows = {r.name: r for r in report.nodes}
    assert rows["conv"].params == 2 * 3 * 3 * 3
    assert rows["dq"].flops == 2 * 54  # subtract zero point, multiply by scale, per element
    assert report.totals.params == 54  # scale and zero point are 0-d: not parameters
    assert report.totals.param_bytes == 54  # one byte per int8 element


def qlinear_conv() -> onnx.ModelProto:
    # QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B): B (int32) is input 8.
    names = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"]
    node = helper.make_node("QLinearConv", names, ["y"], name="n")
    weights = {
        "xs": np.array(0.1, np.float32), "xz": np.array(0, np.uint8),
        "w": np.ones((3, 2, 3, 3), np.int8), "ws": np.array(0.1, np.float32), "wz": np.array(0, np.int8),
        "ys": np.array(0.1, np.float32), "yz": np.array(0, np.uint8), "b": np.ones(3, np.int32),
    }
    graph = helper.make_graph(
        [node], "q", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_qlinear_conv():
    row = single(qlinear_conv())
    assert row.output_shapes == [[1, 3, 3, 3]]  # 5 - 3 + 1 = 3
    macs = 1 * 3 * 3 * 3 * 2 * 3 * 3
    assert row.macs == macs == 486
    assert row.flops == 2 * macs + 3 * 3 * 3  # the bias (input 8) adds once per output element


def test_qlinear_conv_int32_bias_is_a_parameter():
    # The int8 weights and the int32 bias are the layer's stored parameters (the float model's
    # weight and bias, quantized); the 0-d scales and zero points are settings.
    row = single(qlinear_conv())
    assert row.params == 3 * 2 * 3 * 3 + 3
    assert row.param_bytes == 54 * 1 + 3 * 4


def test_weight_through_identity_and_direct_use_counted_once():
    # conv_a reads w, conv_b reads Identity(w): the same stored tensor, one parameter count in totals
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], name="conv_a", pads=[1, 1, 1, 1]),
        helper.make_node("Identity", ["w"], ["w_copy"], name="identity"),
        helper.make_node("Conv", ["a", "w_copy"], ["y"], name="conv_b", pads=[1, 1, 1, 1]),
    ]
    report = analyzed(model(nodes, {"x": [1, 3, 4, 4]}, ["y"], {"w": zeros(3, 3, 3, 3)}))
    rows = {r.name: r for r in report.nodes}
    assert rows["conv_a"].params == rows["conv_b"].params == 3 * 3 * 3 * 3
    assert report.totals.params == 81
    assert report.totals.macs == 2 * (1 * 3 * 4 * 4 * 3 * 3 * 3)
    assert report.totals.compute_layers == 2
