"""onnxcost.shape_folding: the shape-computing chains exporters write, evaluated with numpy once shapes are known."""

import logging

import numpy as np
import pytest
from onnx import helper

from onnxcost.shape_folding import MAX_FOLDED_ELEMENTS, evaluate_with_reference, fold, propagation_bound
from support.builders import model


def i64(*values):
    return np.array(values, np.int64)


def test_the_pytorch_flatten_chain():
    # x [2, 3, 4] -> Shape -> Gather(0) -> Unsqueeze -> Concat with -1: the target [2, -1] of a flatten
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0, name="gather"),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0, name="concat"),
    ]
    values = {"zero": np.array(0, np.int64), "axes": i64(0), "minus1": i64(-1)}
    folded = fold(nodes, values, {"x": (2, 3, 4)})
    assert [node.name for node in folded] == ["shape", "gather", "unsqueeze", "concat"]
    assert values["s"].tolist() == [2, 3, 4] and values["s"].dtype == np.int64
    assert values["n"].shape == () and int(values["n"]) == 2
    assert values["n1"].tolist() == [2]
    assert values["target"].tolist() == [2, -1]


def test_shape_with_start_and_end_and_size():
    nodes = [helper.make_node("Shape", ["x"], ["tail"], start=1),
             helper.make_node("Shape", ["x"], ["mid"], start=1, end=-1),
             helper.make_node("Size", ["x"], ["count"])]
    values = {}
    fold(nodes, values, {"x": (2, 3, 4, 5)})
    assert values["tail"].tolist() == [3, 4, 5] and values["mid"].tolist() == [3, 4]
    assert int(values["count"]) == 2 * 3 * 4 * 5


def test_window_padding_with_mod_and_where():
    # Swin-style padding of a side of 7 to windows of 4: pad = (4 - 7 mod 4) mod 4 = (4 - 3) mod 4 = 1,
    # and Where(7 mod 4 == 0, 0, pad) = 1 since 3 != 0.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "two"], ["side"], axis=0),
        helper.make_node("Mod", ["side", "window"], ["rest"]),
        helper.make_node("Sub", ["window", "rest"], ["short"]),
        helper.make_node("Mod", ["short", "window"], ["pad"]),
        helper.make_node("Equal", ["rest", "zero"], ["fits"]),
        helper.make_node("Where", ["fits", "zero", "pad"], ["padding"]),
    ]
    values = {"two": np.array(2, np.int64), "window": np.array(4, np.int64), "zero": np.array(0, np.int64)}
    fold(nodes, values, {"x": (1, 3, 7, 7)})
    assert int(values["rest"]) == 3 and int(values["pad"]) == 1
    assert not values["fits"] and int(values["padding"]) == 1


def test_integer_division_and_fmod_follow_onnx_not_numpy():
    nodes = [helper.make_node("Div", ["a", "b"], ["q"]), helper.make_node("Mod", ["a", "b"], ["m"]),
             helper.make_node("Mod", ["a", "b"], ["f"], fmod=1)]
    values = {"a": i64(-7, 7), "b": i64(2, -2)}
    fold(nodes, values, {})
    assert values["q"].tolist() == [-3, -3]  # truncated toward zero (numpy's // gives -4)
    assert values["m"].tolist() == [1, -1]  # Mod: the sign of the divisor (-7 mod 2 = 1, 7 mod -2 = -1)
    assert values["f"].tolist() == [-1, 1]  # fmod: the sign of the dividend


def test_what_is_not_known_is_not_folded():
    nodes = [helper.make_node("Shape", ["x"], ["s"]),  # x's shape is not static
             helper.make_node("Add", ["s", "one"], ["t"]),  # depends on s
             helper.make_node("Relu", ["one"], ["r"]),  # no evaluator
             helper.make_node("Add", ["one", "one"], ["custom"], domain="com.example")]  # another domain
    values = {"one": i64(1)}
    assert fold(nodes, values, {"y": (2,)}) == []
    assert set(values) == {"one"}


def test_the_element_cap(caplog):
    side = int(MAX_FOLDED_ELEMENTS**0.5)  # 256: 256 x 256 = 65536 elements, exactly the cap
    nodes = [helper.make_node("ConstantOfShape", ["at_cap"], ["full"], name="at_cap"),
             helper.make_node("ConstantOfShape", ["over_cap"], ["too_big"], name="over_cap"),
             helper.make_node("Range", ["zero", "limit", "one"], ["counting"], name="range")]
    values = {"at_cap": i64(side, side), "over_cap": i64(side, side + 1),
              "zero": np.array(0, np.int64), "limit": np.array(MAX_FOLDED_ELEMENTS + 1, np.int64),
              "one": np.array(1, np.int64)}
    with caplog.at_level(logging.DEBUG, logger="onnxcost"):
        folded = fold(nodes, values, {})
    assert [node.name for node in folded] == ["at_cap"] and values["full"].shape == (256, 256)
    assert "too_big" not in values and "counting" not in values
    refused = [r.getMessage() for r in caplog.records if r.name == "onnxcost.shape_folding"]
    assert refused == ["not folded: node 'over_cap' (ConstantOfShape)", "not folded: node 'range' (Range)"]


@pytest.mark.parametrize("op, inputs, attrs, expected", [
    # 0 copies data's dimension 0 (6), -1 takes what is left (1): shape [6, 1]
    ("Reshape", {"data": i64(1, 2, 3, 4, 5, 6), "shape": i64(0, -1)}, {}, [[1], [2], [3], [4], [5], [6]]),
    ("Slice", {"data": i64(10, 20, 30, 40), "starts": i64(1), "ends": i64(3)}, {}, [20, 30]),
    ("Squeeze", {"data": np.zeros((1, 3), np.int64), "axes": i64(0)}, {}, [0, 0, 0]),
    ("Cast", {"data": np.array([1.7, -1.7], np.float32)}, {"to": 7}, [1, -1]),  # to int64 truncates
    ("ReduceProd", {"data": i64(2, 3, 4)}, {"keepdims": 0}, 24),
    ("Xor", {"a": np.array([True, True, False]), "b": np.array([True, False, False])}, {}, [False, True, False]),
])
def test_single_evaluators(op, inputs, attrs, expected):
    values = dict(inputs)
    fold([helper.make_node(op, list(inputs), ["out"], **attrs)], values, {})
    assert values["out"].tolist() == expected


@pytest.mark.parametrize("a, b, quotient", [(7, 2, 3), (-7, 2, -4), (7, -2, -4), (-8, 2, -4)])
def test_floor_division_as_pytorch_exports_it(a, b, quotient):
    # a // b: Div truncates (-7 / 2 -> -3), then 1 is taken off where the signs differ (Xor of the Less) and the
    # remainder a - q·b is not 0: -7 // 2 = -3 - 1 = -4, -8 // 2 = -4 exactly.
    nodes = [
        helper.make_node("Div", ["a", "b"], ["q"]),
        helper.make_node("Less", ["a", "zero"], ["a_neg"]),
        helper.make_node("Less", ["b", "zero"], ["b_neg"]),
        helper.make_node("Xor", ["a_neg", "b_neg"], ["negative"]),
        helper.make_node("Mul", ["q", "b"], ["qb"]),
        helper.make_node("Sub", ["a", "qb"], ["rest"]),
        helper.make_node("Equal", ["rest", "zero"], ["exact"]),
        helper.make_node("Not", ["exact"], ["inexact"]),
        helper.make_node("And", ["negative", "inexact"], ["fix"]),
        helper.make_node("Cast", ["fix"], ["fix64"], to=7),
        helper.make_node("Sub", ["q", "fix64"], ["floor"]),
    ]
    values = {"a": np.array(a, np.int64), "b": np.array(b, np.int64), "zero": np.array(0, np.int64)}
    fold(nodes, values, {})
    assert int(values["floor"]) == quotient


def test_ops_numpy_does_not_evaluate_go_to_the_reference():
    # BitShift is not among the evaluators: [4, 6] >> 1 = [2, 3] by onnx's reference implementation.
    node = helper.make_node("BitShift", ["s", "one"], ["half"], direction="RIGHT")
    values = {"s": np.array([4, 6], np.uint64), "one": np.array([1], np.uint64)}
    assert fold([node], dict(values), {}) == []
    assert evaluate_with_reference(node, values, 17)[0].tolist() == [2, 3]
    assert evaluate_with_reference(helper.make_node("RandomUniformLike", ["s"], ["r"]), values, 17) is None


def test_propagation_bound_of_sizes_gathered_from_a_shape():
    # Shape of a rank-4 x gives 4 values; each Gather of one index from it gives 1 (x.size(i)), not 4; the Concat
    # of three such sizes and a 1-D constant of 2: 3·1 + 2 = 5. Without the 1-D rule each Gather would count 4.
    nodes = [helper.make_node("Shape", ["x"], ["s"])]
    nodes += [helper.make_node("Gather", ["s", f"i{k}"], [f"d{k}"], axis=0) for k in range(3)]
    nodes += [helper.make_node("Unsqueeze", [f"d{k}", "axes"], [f"u{k}"]) for k in range(3)]
    nodes += [helper.make_node("Concat", ["u0", "u1", "u2", "pair"], ["target"], axis=0)]
    weights = {**{f"i{k}": np.array(k, np.int64) for k in range(3)}, "axes": i64(0), "pair": i64(7, 7)}
    assert propagation_bound(model(nodes, {"x": [1, 2, 3, 4]}, ["target"], weights)) == 5
