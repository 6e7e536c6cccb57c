"""Normalizations in inference against hand-computed costs.

BatchNormalization folds into y = a·x + b (2 FLOPs per element). Layer, Instance and Group
normalization compute statistics per group: 5 FLOPs per element, + 1 for the scale and + 1 for a
bias, and 5 per group of which the square root is a special op.
"""

import numpy as np
import pytest
from support.costcheck import single
from support.builders import one_node, zeros


def test_batch_normalization():
    # Inference form y = a·x + b per element: 2 FLOPs per element, no special ops.
    c = 3
    params = {"scale": zeros(c), "bias": zeros(c), "mean": zeros(c), "var": np.ones(c, np.float32)}
    row = single(one_node("BatchNormalization", {"x": [2, c, 4, 5]}, params))
    assert row.output_shapes == [[2, 3, 4, 5]]
    elements = 2 * 3 * 4 * 5
    assert (row.macs, row.flops, row.special_ops) == (0, 2 * elements, 0)
    # scale, bias, running mean and running variance are all stored tensors the node consumes
    assert row.params == 4 * c


# Statistics per group: per element mean-add, subtract, square, variance-add, multiply by 1/σ (5)
# + scale (1) + bias (1); per group 5 (two divides, add ε, sqrt, reciprocal), the sqrt a special op.
@pytest.mark.parametrize("op, shape, weights, attrs, elements, groups, params", [
    # x [2, 3, 8], axis -1: 2·3 = 6 groups of 8 elements; scale and bias of 8
    pytest.param("LayerNormalization", [2, 3, 8], {"scale": zeros(8), "bias": zeros(8)}, {},
                 2 * 3 * 8, 2 * 3, 16, id="layer_normalization_last_axis_with_bias"),
    # statistics per (sample, channel): 2·3 groups of 4·4 elements; scale and bias (3 each) always present
    pytest.param("InstanceNormalization", [2, 3, 4, 4], {"scale": zeros(3), "bias": zeros(3)}, {},
                 2 * 3 * 16, 2 * 3, 6, id="instance_normalization"),
    # opset 21: scale and bias per channel; 6 channels in 3 groups -> 2·3 statistics groups of 2·4·4
    pytest.param("GroupNormalization", [2, 6, 4, 4], {"scale": zeros(6), "bias": zeros(6)},
                 {"num_groups": 3, "opset": 21}, 2 * 6 * 16, 2 * 3, 12, id="group_normalization"),
])
def test_normalization_with_scale_and_bias(op, shape, weights, attrs, elements, groups, params):
    row = single(one_node(op, {"x": shape}, weights, **attrs))
    assert row.output_shapes == [shape]
    assert row.flops == 7 * elements + 5 * groups
    assert row.special_ops == groups
    assert row.params == params


def test_layer_normalization_axis_1_without_bias():
    # axis 1 of [2, 3, 8]: 2 groups of 3·8 elements; no bias: 6 FLOPs per element
    row = single(one_node("LayerNormalization", {"x": [2, 3, 8]}, {"scale": zeros(3, 8)}, axis=1))
    assert row.output_shapes == [[2, 3, 8]]
    assert row.flops == 6 * 48 + 5 * 2
    assert row.special_ops == 2
    assert row.params == 24


def test_rms_normalization():
    # opset 23, x [2, 3, 8], axis -1: 6 groups; per element square, add, multiply by 1/rms, scale (4);
    # per group divide, add ε, sqrt, reciprocal (4), the sqrt special
    row = single(one_node("RMSNormalization", {"x": [2, 3, 8]}, {"scale": zeros(8)}, opset=23))
    assert row.output_shapes == [[2, 3, 8]]
    assert row.flops == 4 * 48 + 4 * 6
    assert row.special_ops == 6
    assert row.params == 8


def test_lp_normalization():
    # p = 2 over axis 1 of [2, 5, 3]: 2·3 = 6 vectors of 5; square and add per element, a root
    # per vector, a divide per element
    row = single(one_node("LpNormalization", {"x": [2, 5, 3]}, axis=1, p=2))
    assert row.output_shapes == [[2, 5, 3]]
    assert row.flops == 3 * 30 + 6
    assert row.special_ops == 6
