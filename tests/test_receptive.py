"""Receptive fields and jumps worked out by hand with rf_out = rf_in + (k_eff − 1)·jump_in,
jump_out = jump_in·stride, k_eff = d·(k − 1) + 1, start_out = start_in − pad_begin·jump_in
(docs/receptive-field.md), and two published by Araujo et al."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnxcost import samples
from onnxcost.receptive import ReceptiveField, receptive_fields
from support.builders import model, zeros


def conv(name, x, y, cin, cout, k, weights, stride=1, pad=None, dilation=1, kernel=None, **extra):
    """A conv node named ``name`` with its weight added to ``weights``; ``kernel`` (kh, kw) for a non-square one."""
    kh, kw = kernel or (k, k)
    weights[f"{name}.w"] = zeros(cout, cin, kh, kw)
    attrs = dict(strides=[stride, stride], dilations=[dilation, dilation], **extra)
    if pad is not None:
        attrs["pads"] = list(pad) if isinstance(pad, tuple) else [pad] * 4
    return helper.make_node("Conv", [x, f"{name}.w"], [y], name=name, **attrs)


def pool(name, x, y, k, stride, pad=0, op="MaxPool"):
    return helper.make_node(op, [x], [y], name=name, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)


def fields_of(nodes, weights, size=64, channels=3):
    built = model(nodes, {"x": [1, channels, size, size]}, [nodes[-1].output[0]], weights)
    return receptive_fields(built)


def square(rf, jump, start):
    return ReceptiveField((rf, rf), (jump, jump), (start, start))


# VGG-16 at 224x224, every conv (3x3, pad 1, stride 1) and pool (2x2, stride 2):
#   conv: rf += 2·jump, start -= jump;  pool: rf += jump, jump *= 2, start unchanged (no padding)
VGG16 = {
    "conv1_1": (3, 1, -1), "conv1_2": (5, 1, -2), "pool1": (6, 2, -2),
    "conv2_1": (10, 2, -4), "conv2_2": (14, 2, -6), "pool2": (16, 4, -6),
    "conv3_1": (24, 4, -10), "conv3_2": (32, 4, -14), "conv3_3": (40, 4, -18), "pool3": (44, 8, -18),
    "conv4_1": (60, 8, -26), "conv4_2": (76, 8, -34), "conv4_3": (92, 8, -42), "pool4": (100, 16, -42),
    "conv5_1": (132, 16, -58), "conv5_2": (164, 16, -74), "conv5_3": (196, 16, -90), "pool5": (212, 32, -90),
}


@pytest.fixture(scope="module")
def vgg16_fields():
    return receptive_fields(samples.build("vgg16"))


@pytest.mark.parametrize("name", list(VGG16))
def test_vgg16_every_conv_and_pool(vgg16_fields, name):
    assert vgg16_fields[name] == square(*VGG16[name])


def test_vgg16_conv5_3_sees_196_and_pool5_212(vgg16_fields):
    # 1 + 2·(2·1 + 2·2 + 3·4 + 3·8 + 3·16) [the convs] + (1 + 2 + 4 + 8 + 16) [the pools] = 1 + 180 + 31 = 212;
    # conv5_3 is before pool5's +16: 196 (not 192: that survey forgot a pool's + jump).
    assert vgg16_fields["conv5_3"].rf == (196, 196)
    assert vgg16_fields["pool5"].rf == (212, 212)
    assert vgg16_fields["relu5_3"] == vgg16_fields["conv5_3"]  # activations pass the field on
    assert "flatten" not in vgg16_fields and "fc6" not in vgg16_fields  # no spatial axes left


def test_dilated_resnet_stage_pool4_stride_1_and_dilated_conv5():
    # The segmentation variant: the last pool keeps stride 1 (jump stays 2), conv5 is dilated by 2 (k_eff 5).
    w = {}
    nodes = [
        conv("conv1", "x", "c1", 3, 8, 3, w, pad=1),                 # rf 3, jump 1, start -1
        pool("pool1", "c1", "p1", 2, 2),                             # rf 3+1·1 = 4, jump 2, start -1
        conv("conv4", "p1", "c4", 8, 8, 3, w, pad=1),                # rf 4+2·2 = 8, start -1-2 = -3
        pool("pool4", "c4", "p4", 3, 1, pad=1),                      # stride 1: rf 8+2·2 = 12, jump 2, start -5
        conv("conv5_1", "p4", "c51", 8, 8, 3, w, pad=2, dilation=2),  # k_eff 5: rf 12+4·2 = 20, start -5-2·2 = -9
        conv("conv5_2", "c51", "c52", 8, 8, 3, w, pad=2, dilation=2),  # rf 20+8 = 28, start -13
        helper.make_node("Add", ["c52", "p4"], ["sum"], name="add"),  # union of [-13, 15) and [-5, 7): rf 28
        conv("conv5_3", "sum", "c53", 8, 8, 3, w, pad=4, dilation=4),  # k_eff 9: rf 28+8·2 = 44, start -13-4·2 = -21
    ]
    got = fields_of(nodes, w)
    assert got["pool4"] == square(12, 2, -5)
    assert got["conv5_1"] == square(20, 2, -9)
    assert got["conv5_2"] == square(28, 2, -13)
    assert got["add"] == square(28, 2, -13)
    assert got["conv5_3"] == square(44, 2, -21)


def test_inception_block_takes_the_largest_over_its_branches():
    w = {}
    nodes = [
        conv("stem", "x", "s", 3, 8, 7, w, stride=2, pad=3),          # rf 7, jump 2, start -3
        conv("b1", "s", "b1", 8, 4, 1, w),                            # 1x1: rf 7, start -3
        conv("b2_reduce", "s", "b2r", 8, 4, 1, w),
        conv("b2", "b2r", "b2", 4, 4, 3, w, pad=1),                   # rf 7+2·2 = 11, start -5
        conv("b3_reduce", "s", "b3r", 8, 4, 1, w),
        conv("b3", "b3r", "b3", 4, 4, 5, w, pad=2),                   # rf 7+4·2 = 15, start -7
        pool("b4_pool", "s", "b4p", 3, 1, pad=1),                     # rf 11, start -5
        conv("b4", "b4p", "b4", 8, 4, 1, w),
        helper.make_node("Concat", ["b1", "b2", "b3", "b4"], ["cat"], name="concat", axis=1),
    ]
    got = fields_of(nodes, w)
    assert got["b1"] == square(7, 2, -3)
    assert got["b2"] == square(11, 2, -5)
    assert got["b3"] == square(15, 2, -7)
    assert got["b4"] == square(11, 2, -5)
    assert got["concat"] == square(15, 2, -7)  # the 5x5 branch: max(7, 11, 15, 11)


def test_stride_2_convs_global_pool_and_asymmetric_kernels():
    w = {}
    nodes = [
        conv("c1", "x", "a", 3, 4, 3, w, stride=2, pad=1),            # 8 -> 4: rf 3, jump 2, start -1
        conv("c2", "a", "b", 4, 4, 3, w, stride=2, pad=1),            # 4 -> 2: rf 3+2·2 = 7, jump 4, start -1-2 = -3
        conv("c3", "b", "c", 4, 4, 0, w, kernel=(1, 3), pad=(0, 1, 0, 1)),  # rf (7, 7+2·4 = 15), start (-3, -7)
        helper.make_node("GlobalAveragePool", ["c"], ["g"], name="gap"),   # whole 2x2 map: rf + (2-1)·4
    ]
    got = fields_of(nodes, w, size=8)
    assert got["c1"] == square(3, 2, -1)
    assert got["c2"] == square(7, 4, -3)
    assert got["c3"] == ReceptiveField((7, 15), (4, 4), (-3, -7))
    assert got["gap"] == ReceptiveField((11, 19), (8, 8), (-3, -7))


def test_same_upper_padding_is_worked_out_from_the_sizes():
    # 8 -> 4 at stride 2, k 3: total padding (4-1)·2 + 3 - 8 = 1, SAME_UPPER puts 0 before, SAME_LOWER 1.
    w = {}
    upper = fields_of([conv("c", "x", "y", 3, 4, 3, w, stride=2, auto_pad="SAME_UPPER")], w, size=8)
    lower = fields_of([conv("c", "x", "y", 3, 4, 3, w, stride=2, auto_pad="SAME_LOWER")], w, size=8)
    assert upper["c"] == square(3, 2, 0)
    assert lower["c"] == square(3, 2, -1)


def test_transposed_conv_and_resize_upsample():
    w = {"up.w": zeros(4, 4, 4, 4), "scales": np.array([1, 1, 2, 2], dtype=np.float32)}
    nodes = [
        conv("c1", "x", "a", 3, 4, 3, w, stride=2, pad=1),            # rf 3, jump 2
        conv("c2", "a", "b", 4, 4, 3, w, stride=2, pad=1),            # rf 7, jump 4
        # k 4, s 2: output o reads i with 2i + t = o + 1, t < 4: two inputs -> rf 7 + 1·4 = 11, jump 4/2 = 2
        helper.make_node("ConvTranspose", ["b", "up.w"], ["u"], name="up", kernel_shape=[4, 4], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        # linear: 2 taps, rf 11 + 1·2 = 13; jump 2·(8/16) = 1
        helper.make_node("Resize", ["u", "", "scales"], ["r"], name="resize", mode="linear"),
        # nearest: 1 tap, rf 13; jump 1·(16/32) = 0.5
        helper.make_node("Resize", ["r", "", "scales"], ["n"], name="nearest", mode="nearest"),
    ]
    got = fields_of(nodes, w, size=16)
    assert got["up"] == ReceptiveField((11, 11), (2, 2), None)
    assert got["resize"] == ReceptiveField((13, 13), (1, 1), None)
    assert got["nearest"] == ReceptiveField((13, 13), (0.5, 0.5), None)
    assert got["nearest"].to_dict() == {"rf": [13, 13], "jump": [0.5, 0.5], "start": None}


@pytest.mark.parametrize("sample, node, published", [
    ("mobilenet_v1", "conv_pw_13", 315),   # Araujo, Norris & Sim, "Computing Receptive Fields of CNNs", Distill 2019
    ("inception_v3", "Mixed_7c.cat", 1311),  # same table; the max over Mixed_7c's branches
])
def test_published_fields_of_the_last_feature_layer(sample, node, published):
    assert receptive_fields(samples.build(sample))[node].rf == (published, published)


def test_split_channel_shuffle_and_a_broadcast_join():
    w = {"shape5": np.array([1, 2, 2, 8, 8], dtype=np.int64), "shape4": np.array([1, 4, 8, 8], dtype=np.int64)}
    nodes = [
        conv("c1", "x", "a", 4, 4, 3, w, pad=1),                       # rf 3, jump 1, start -1
        helper.make_node("Split", ["a"], ["a1", "a2"], name="split", axis=1, num_outputs=2),
        conv("c2", "a2", "b", 2, 2, 3, w, pad=1),                      # rf 5, start -2
        helper.make_node("Concat", ["a1", "b"], ["c"], name="concat", axis=1),  # union of [-1, 2) and [-2, 3): 5
        helper.make_node("Reshape", ["c", "shape5"], ["r5"], name="group"),
        helper.make_node("Transpose", ["r5"], ["t5"], name="shuffle", perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t5", "shape4"], ["s"], name="ungroup"),  # H, W kept: the field passes on
        helper.make_node("GlobalAveragePool", ["s"], ["g"], name="gap"),   # rf 5 + (8 − 1)·1 = 12, jump 8
        helper.make_node("Mul", ["s", "g"], ["y"], name="scale"),          # union of [-2, 3) and [-2, 10): 12, jump 1
    ]
    built = model(nodes, {"x": [1, 4, 8, 8]}, ["y"], w, opset=18)
    got = receptive_fields(built)
    assert got["split"] == square(3, 1, -1)
    assert got["concat"] == square(5, 1, -2)
    assert got["shuffle"] == square(5, 1, -2) and got["ungroup"] == square(5, 1, -2)
    assert got["gap"] == square(12, 8, -2)
    assert got["scale"] == square(12, 1, -2)  # the jump of the full-size input, not of the broadcast one


def test_a_field_that_ended_does_not_start_again():
    # Flatten ends the field; a conv reading its reshaped output has none (not a new one of rf 3).
    w = {"shape": np.array([1, 4, 8, 8], dtype=np.int64)}
    nodes = [
        conv("c1", "x", "a", 4, 4, 3, w, pad=1),
        helper.make_node("Flatten", ["a"], ["f"], name="flatten"),
        helper.make_node("Reshape", ["f", "shape"], ["r"], name="unflatten"),
        conv("c2", "r", "y", 4, 4, 3, w, pad=1),
    ]
    got = fields_of(nodes, w, size=8, channels=4)
    assert got["c1"] == square(3, 1, -1)
    assert "flatten" not in got and "unflatten" not in got and "c2" not in got


def test_the_report_carries_the_fields(vgg16):
    import json

    import onnxcost
    from onnxcost.render import render

    report = onnxcost.analyze(vgg16)
    rows = {row.name: row for row in report.nodes}
    # 3x3 convs add 2·jump, 2x2/2 pools add 1·jump and double it: 1+2+2 = 5, pool1 6 (jump 2), +4+4 = 14,
    # pool2 16 (jump 4), +8·3 = 40, pool3 44 (jump 8), +16·3 = 92, pool4 100 (jump 16), +32·3 = 196 at conv5_3
    assert (rows["conv5_3"].receptive_field, rows["conv5_3"].jump) == ([196, 196], [16, 16])
    assert (rows["pool5"].receptive_field, rows["pool5"].jump) == ([212, 212], [32, 32])  # 196 + (2-1)·16
    assert rows["fc6"].receptive_field is None  # after Flatten: no spatial axes
    nodes = {row["name"]: row for row in json.loads(render(report, "json"))["nodes"]}
    assert nodes["pool5"]["receptive_field"] == [212, 212] and nodes["fc6"]["jump"] is None
    assert any("pool5" in line and "212x212" in line for line in render(report, "table").splitlines())


def test_a_model_without_windowed_ops_has_no_field_column():
    import onnxcost
    from onnxcost.render import render

    built = model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [1, 8, 16]}, ["y"], {"w": zeros(16, 4)})
    report = onnxcost.analyze(built)
    assert report.nodes[0].receptive_field is None
    assert "receptive field" not in render(report, "table")
