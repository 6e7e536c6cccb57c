"""Pooling against hand-computed costs.

MaxPool: k - 1 comparisons per output; AveragePool: k - 1 adds and one divide (k FLOPs), with
k = ∏kernel_shape. Global pools use the whole spatial extent as the window.
Output sizes: out = floor((in + pads - ((k - 1)·dilation + 1)) / stride) + 1 (ceil with ceil_mode).
"""


from support.costcheck import single
from support.builders import one_node

F32 = 4  # bytes per float32 element


def test_max_pool_strided_padded():
    # kernel 3x3, stride 2, pads 1: out = floor((8 + 2 - 3) / 2) + 1 = 4
    row = single(one_node("MaxPool", {"x": [1, 2, 8, 8]}, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    assert row.output_shapes == [[1, 2, 4, 4]]
    assert row.macs == 0
    assert row.flops == (3 * 3 - 1) * (1 * 2 * 4 * 4)  # k - 1 comparisons per output
    assert row.bytes_read == F32 * 2 * 8 * 8 and row.output_bytes == F32 * 2 * 4 * 4


def test_max_pool_ceil_mode_and_dilation():
    # ceil_mode: out = ceil((7 - 2) / 2) + 1 = 4; a dilated 2x2 window still compares 4 values
    row = single(one_node("MaxPool", {"x": [1, 1, 7, 7]}, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1))
    assert row.output_shapes == [[1, 1, 4, 4]]
    assert row.flops == (4 - 1) * 16
    # dilation 2: the 2x2 window spans 3x3, out = 7 - 3 + 1 = 5
    row = single(one_node("MaxPool", {"x": [1, 1, 7, 7]}, kernel_shape=[2, 2], dilations=[2, 2]))
    assert row.output_shapes == [[1, 1, 5, 5]]
    assert row.flops == (4 - 1) * 25


def test_max_pool_1d():
    # kernel 3, stride 1: out = 10 - 3 + 1 = 8
    row = single(one_node("MaxPool", {"x": [2, 3, 10]}, kernel_shape=[3]))
    assert row.output_shapes == [[2, 3, 8]]
    assert row.flops == (3 - 1) * 2 * 3 * 8


def test_average_pool():
    # 2x2, stride 2: 4 values per output: 3 adds and a divide = 4 FLOPs
    row = single(one_node("AveragePool", {"x": [1, 2, 8, 8]}, kernel_shape=[2, 2], strides=[2, 2]))
    assert row.output_shapes == [[1, 2, 4, 4]]
    assert row.flops == 4 * (2 * 4 * 4)


def test_average_pool_3d_with_padding():
    # 3x3x3, pads 1, stride 1: same size; 27 FLOPs per output whether or not the pad is included
    row = single(one_node("AveragePool", {"x": [1, 1, 4, 4, 4]}, kernel_shape=[3, 3, 3], pads=[1] * 6))
    assert row.output_shapes == [[1, 1, 4, 4, 4]]
    assert row.flops == 27 * 64


def test_global_average_pool():
    # [2, 3, 5, 7] -> [2, 3, 1, 1]: each output averages 35 values (34 adds, 1 divide)
    row = single(one_node("GlobalAveragePool", {"x": [2, 3, 5, 7]}))
    assert row.output_shapes == [[2, 3, 1, 1]]
    assert row.flops == (5 * 7) * (2 * 3) == 210


def test_global_max_pool():
    # 35 values per output: 34 comparisons
    row = single(one_node("GlobalMaxPool", {"x": [2, 3, 5, 7]}))
    assert row.output_shapes == [[2, 3, 1, 1]]
    assert row.flops == (5 * 7 - 1) * (2 * 3) == 204


def test_lp_pool():
    # p = 2 over 2x2 windows, stride 2: per output |x|^p and add per window element (2·4) and a root (1);
    # the 4 powers and the root are special ops
    row = single(one_node("LpPool", {"x": [1, 2, 4, 4]}, kernel_shape=[2, 2], strides=[2, 2], p=2))
    assert row.output_shapes == [[1, 2, 2, 2]]
    outputs = 2 * 2 * 2
    assert row.flops == (2 * 4 + 1) * outputs
    assert row.special_ops == (4 + 1) * outputs
