"""Reductions, Softmax and LogSoftmax against hand-computed costs.

With n input and m output elements: ReduceSum/Max/Min and ArgMax n - m; ReduceMean n - m adds and
m divides. Softmax: exp, add, divide per element (3n FLOPs, n special). LogSoftmax: exp, add,
subtract per element and a log per row (3n + rows FLOPs, n + rows special).
"""

import numpy as np
import onnx
from support.costcheck import single
from support.builders import one_node
from onnx import TensorProto, helper


def axes(*values: int) -> dict:
    return {"axes": np.array(values, np.int64)}


def test_reduce_mean_keepdims():
    # [2, 3, 4, 5] over axes (2, 3) -> [2, 3, 1, 1]: n = 120 inputs, m = 6 outputs;
    # n - m adds and m divides = n
    row = single(one_node("ReduceMean", {"x": [2, 3, 4, 5]}, axes(2, 3), opset=18))
    assert row.output_shapes == [[2, 3, 1, 1]]
    assert row.flops == (120 - 6) + 6
    assert row.params == 0  # the int64 axes are a setting


def test_reduce_sum_without_keepdims():
    # over axis 1 of [2, 3, 4, 5] -> [2, 4, 5]: each of 40 outputs adds 3 values with 2 adds
    row = single(one_node("ReduceSum", {"x": [2, 3, 4, 5]}, axes(1), keepdims=0, opset=18))
    assert row.output_shapes == [[2, 4, 5]]
    assert row.flops == 120 - 40 == 40 * (3 - 1)


def test_reduce_max_all_axes():
    # no axes: everything reduces to one value, 119 comparisons; keepdims=0 gives a 0-d output
    row = single(one_node("ReduceMax", {"x": [2, 3, 4, 5]}, keepdims=0, opset=18))
    assert row.output_shapes == [[]]
    assert row.flops == 120 - 1


def test_reduce_sum_opset_13_axes_input():
    row = single(one_node("ReduceSum", {"x": [4, 6]}, axes(-1), opset=13))
    assert row.output_shapes == [[4, 1]]
    assert row.flops == 24 - 4


def test_reduce_mean_opset_11_axes_attribute():
    row = single(one_node("ReduceMean", {"x": [4, 6]}, axes=[0], opset=11))
    assert row.output_shapes == [[1, 6]]
    assert row.flops == 24  # 18 adds + 6 divides


def test_reduce_l2_and_log_sum_exp():
    # ReduceL2: square per input (n), adds (n - m), a sqrt per output (m, special)
    row = single(one_node("ReduceL2", {"x": [3, 4]}, axes(1), opset=18))
    assert row.output_shapes == [[3, 1]]
    assert (row.flops, row.special_ops) == (12 + (12 - 3) + 3, 3)
    # ReduceLogSumExp: exp per input (n), adds (n - m), a log per output (m); n + m special
    row = single(one_node("ReduceLogSumExp", {"x": [3, 4]}, axes(1), opset=18))
    assert (row.flops, row.special_ops) == (12 + 9 + 3, 12 + 3)


def test_softmax_last_axis():
    # per element: exp, add into the row sum, divide -> 3n FLOPs, n exps
    row = single(one_node("Softmax", {"x": [2, 3, 4]}, axis=-1, opset=13))
    assert row.output_shapes == [[2, 3, 4]]
    assert (row.flops, row.special_ops) == (3 * 24, 24)


def test_softmax_middle_axis():
    row = single(one_node("Softmax", {"x": [2, 3, 4]}, axis=1, opset=13))
    assert (row.flops, row.special_ops) == (3 * 24, 24)


def test_log_softmax_opset_13_axis_1():
    # rows along axis 1 of [2, 3, 4]: 24 / 3 = 8 rows; per element exp, add, subtract;
    # one log per row (special, as are the exps)
    row = single(one_node("LogSoftmax", {"x": [2, 3, 4]}, axis=1, opset=13))
    assert row.output_shapes == [[2, 3, 4]]
    rows = 2 * 4
    assert (row.flops, row.special_ops) == (3 * 24 + rows, 24 + rows)


def test_log_softmax_opset_11_coerces_to_2d():
    # before opset 13 the input is flattened to [2, 3·4] at axis 1: 2 rows of 12
    row = single(one_node("LogSoftmax", {"x": [2, 3, 4]}, axis=1, opset=11))
    assert row.output_shapes == [[2, 3, 4]]
    assert (row.flops, row.special_ops) == (3 * 24 + 2, 24 + 2)


def test_argmax():
    # 5 values per output, 4 comparisons; int64 output of shape [3, 1]
    row = single(_argmax())
    assert row.output_shapes == [[3, 1]]
    assert row.flops == 15 - 3
    assert row.output_bytes == 8 * 3


def _argmax() -> onnx.ModelProto:
    node = helper.make_node("ArgMax", ["x"], ["y"], name="n", axis=1)
    graph = helper.make_graph([node], "argmax", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m
