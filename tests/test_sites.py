"""passes/sites.py: the convolutions of a graph as the rewrite passes see them.

Each test builds a small graph, imports it with onnx_graphsurgeon, costs it with onnxcost and reads
its sites; every expected weight, shape and cost is worked out by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs
import pytest
from onnx import helper
from support.builders import model

import onnxcost
from onnxcost.passes.sites import ConvSite, collect_sites

# A 3x3 conv from 1 channel to 2: output channel 0 has every weight 2, channel 1 the weights 0..8.
KERNEL = np.stack([np.full((1, 3, 3), 2.0), np.arange(9.0).reshape(1, 3, 3)])
CONV_BIAS = np.array([0.5, 1.0])
# BatchNormalization chosen so that var + eps is a square: epsilon 0.25, var + eps = [4, 1].
BN = {"scale": np.array([1.0, 3.0]), "offset": np.array([1.0, -1.0]), "mean": np.array([2.0, 0.5]),
      "var": np.array([3.75, 0.75])}


def sites(m: onnx.ModelProto) -> list[ConvSite]:
    return collect_sites(gs.import_onnx(m), onnxcost.analyze_model(m))


def conv_bn(dtype=np.float32, **conv_attrs) -> onnx.ModelProto:
    """x [1, 1, 5, 5] → Conv 3x3 (stride 2, pad 1 unless given) → BatchNormalization (eps 0.25) → y."""
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], **conv_attrs}
    nodes = [
        helper.make_node("Conv", ["x", "W", "b"], ["c"], name="conv", **attrs),
        helper.make_node("BatchNormalization", ["c", "scale", "offset", "mean", "var"], ["y"], name="bn", epsilon=0.25),
    ]
    weights = {"W": KERNEL, "b": CONV_BIAS, **BN}
    return model(nodes, {"x": [1, 1, 5, 5]}, ["y"], {k: v.astype(dtype) for k, v in weights.items()},
                 elem_type=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def test_a_following_batch_norm_is_folded_into_the_weights():
    (site,) = sites(conv_bn())
    # BN: y = a·c + shift with a = scale / sqrt(var + eps) = [1/2, 3/1] = [0.5, 3]
    # and shift = offset - a·mean = [1 - 0.5·2, -1 - 3·0.5] = [0, -2.5].
    # Folded: W' = a·W: channel 0 all 0.5·2 = 1, channel 1 3·(0..8) = 0, 3, ..., 24;
    # b' = a·b + shift = [0.5·0.5 + 0, 3·1 - 2.5] = [0.25, 0.5].
    assert np.array_equal(site.weight[0], np.ones((1, 3, 3)))
    assert np.array_equal(site.weight[1], np.arange(0.0, 25.0, 3.0).reshape(1, 3, 3))
    assert np.array_equal(site.bias, [0.25, 0.5])
    assert (site.name, site.folded, [n.op for n in site.chain]) == ("conv", ["bn"], ["BatchNormalization"])
    assert (site.input.name, site.output.name) == ("x", "y")  # the replacement reads x and produces the BN's y
    assert site.problem is None


def test_the_folded_chain_carries_the_costs_of_both_nodes():
    (site,) = sites(conv_bn())
    # Output (5 + 1 + 1 - 3) // 2 + 1 = 3 per side: [1, 2, 3, 3].
    assert (site.input_shape, site.output_shape) == ((1, 1, 5, 5), (1, 2, 3, 3))
    # MACs: 2·3·3 outputs of 1·3·3 products = 162; the BN has none.
    assert site.macs == 162
    # Parameters: conv 2·9 weights + 2 biases = 20, BN 4 vectors of 2 = 8.
    assert site.params == 28
    # Traffic, float32: conv reads x 25·4 + W 18·4 + b 2·4 = 180 and writes 18·4 = 72 (252);
    # BN reads 72 + 8·4 = 104 and writes 72 (176). 252 + 176 = 428.
    assert site.traffic == 428


def test_the_conv_attributes_are_carried_over():
    (site,) = sites(conv_bn())
    assert (site.group, site.kernel, site.strides, site.dilations) == (1, (3, 3), (2, 2), (1, 1))
    assert (site.pads, site.auto_pad) == ((1, 1, 1, 1), "NOTSET")
    assert (site.cin, site.cout, site.spatial_rank, site.depthwise) == (1, 2, 2, False)
    assert site.conv_attrs() == {"kernel_shape": [3, 3], "strides": [2, 2], "dilations": [1, 1], "pads": [1, 1, 1, 1]}


def test_auto_pad_and_dilations_of_a_depthwise_conv():
    # 2 channels, group 2: weights [2, 1, 3, 3]. SAME_UPPER, stride 1: output 5x5. Defaults: strides 1.
    node = helper.make_node("Conv", ["x", "W"], ["y"], name="dw", kernel_shape=[3, 3], group=2, dilations=[2, 2],
                            auto_pad="SAME_UPPER")
    (site,) = sites(model([node], {"x": [1, 2, 5, 5]}, ["y"], {"W": KERNEL.astype(np.float32)}))
    assert site.problem is None and site.chain == [] and site.bias is None
    assert (site.group, site.strides, site.dilations) == (2, (1, 1), (2, 2))
    assert (site.pads, site.auto_pad) == (None, "SAME_UPPER")  # no pads: the replacement keeps auto_pad
    assert (site.cin, site.cout, site.depthwise) == (2, 2, True)  # cin = 1 per group · 2 groups
    assert site.conv_attrs() == {"kernel_shape": [3, 3], "strides": [1, 1], "dilations": [2, 2],
                                 "auto_pad": "SAME_UPPER"}
    assert site.output_shape == (1, 2, 5, 5)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_the_weights_keep_their_dtype(dtype):
    # The same numbers as in float32 (all exact in float16): the fold computes in float64 and casts back.
    (site,) = sites(conv_bn(dtype))
    assert site.dtype == dtype and site.weight.dtype == dtype and site.bias.dtype == dtype
    assert np.array_equal(site.weight[1].ravel(), np.arange(0.0, 25.0, 3.0))
    assert np.array_equal(site.bias, [0.25, 0.5])


def test_per_channel_mul_then_add_fold_in_order():
    # c·[2, 0.5] + [1, -1]: W' = [2·2, 0.5·(0..8)], b' = [0.5·2 + 1, 1·0.5 - 1] = [2, -0.5].
    nodes = [
        helper.make_node("Conv", ["x", "W", "b"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Mul", ["c", "a"], ["m"], name="mul"),
        helper.make_node("Add", ["m", "s"], ["y"], name="add"),
    ]
    weights = {"W": KERNEL, "b": CONV_BIAS, "a": np.array([2.0, 0.5]).reshape(1, 2, 1, 1),
               "s": np.array([1.0, -1.0]).reshape(1, 2, 1, 1)}
    (site,) = sites(model(nodes, {"x": [1, 1, 5, 5]}, ["y"], {k: v.astype(np.float32) for k, v in weights.items()}))
    assert (site.folded, site.output.name) == (["mul", "add"], "y")
    assert np.array_equal(site.weight[0], np.full((1, 3, 3), 4.0))
    assert np.array_equal(site.weight[1], 0.5 * np.arange(9.0).reshape(1, 3, 3))
    assert np.array_equal(site.bias, [2.0, -0.5])


def test_a_batch_norm_is_not_folded_when_the_conv_output_has_another_reader():
    nodes = [
        helper.make_node("Conv", ["x", "W", "b"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c", "scale", "offset", "mean", "var"], ["y"], name="bn", epsilon=0.25),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
    ]
    weights = {k: v.astype(np.float32) for k, v in {"W": KERNEL, "b": CONV_BIAS, **BN}.items()}
    (site,) = sites(model(nodes, {"x": [1, 1, 5, 5]}, ["y", "r"], weights))
    assert (site.chain, site.folded, site.output.name) == ([], [], "c")
    assert np.array_equal(site.weight, KERNEL) and np.array_equal(site.bias, CONV_BIAS)


def test_weights_that_are_not_a_constant_are_a_problem():
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])
    (site,) = sites(model([node], {"x": [1, 1, 5, 5], "w": [2, 1, 3, 3]}, ["y"]))
    assert (site.problem, site.weight) == ("weights are not a constant", None)
    assert site.kernel == () and site.chain == []
    # Still costed from the shapes: 2·3·3 outputs (no padding, stride 1) of 9 products = 162 MACs; w is an
    # input, not a parameter; traffic x 100 + w 72 + y 72 = 244 bytes.
    assert (site.macs, site.params, site.traffic) == (162, 0, 244)


def test_weights_shared_by_two_convs_are_a_problem_for_both():
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], name="first", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c", "W"], ["y"], name="second", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    ]
    shared = np.ones((2, 2, 3, 3), np.float32)
    found = sites(model(nodes, {"x": [1, 2, 5, 5]}, ["y"], {"W": shared}))
    assert [(s.name, s.problem) for s in found] == [("first", "weights shared with another node"),
                                                     ("second", "weights shared with another node")]


@pytest.mark.parametrize("dims, fixed", [
    ([1, 1, 5, 5], True),
    (["N", 1, 5, 5], True),  # a named batch: the spatial dims still hold for any batch
    (["N", 1, "H", 5], False),  # a named height: the report's 1 stands in for it
])
def test_fixed_spatial_only_when_every_dim_but_the_batch_is_a_number(dims, fixed):
    node = helper.make_node("Conv", ["x", "W"], ["y"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    (site,) = sites(model([node], {"x": dims}, ["y"], {"W": KERNEL.astype(np.float32)}))
    assert site.fixed_spatial is fixed
