"""Data movement against hand-computed shapes and memory traffic.

Movement ops cost zero FLOPs; their traffic is the bytes read plus the bytes written. Every input is
read in full, except Shape (metadata only) and Gather/Slice (only what they copy, plus their
indices), so an embedding lookup counts the gathered rows, not the table, as traffic, while the
table's elements still count as parameters. Integer shape constants are not parameters.
"""

import numpy as np
import onnx
from support.costcheck import single
from support.builders import one_node, zeros
from onnx import TensorProto, helper, numpy_helper

import onnxcost

F32 = 4  # bytes per float32 element


def typed_model(nodes, inputs: dict, outputs: dict, weights: dict | None = None, opset: int = 17, **opsets) -> onnx.ModelProto:
    """A model whose inputs are {name: (elem_type, shape)} and outputs {name: elem_type or (elem_type, shape)}."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(name, elem, shape) for name, (elem, shape) in inputs.items()],
        [helper.make_tensor_value_info(name, *(out if isinstance(out, tuple) else (out, None))) for name, out in outputs.items()],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (weights or {}).items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in opsets.items()])
    m.ir_version = 8
    return m


def int64s(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def test_concat():
    row = single(one_node("Concat", {"a": [2, 3], "b": [2, 5]}, axis=1))
    assert row.output_shapes == [[2, 8]]
    assert (row.macs, row.flops) == (0, 0)
    assert row.bytes_read == F32 * (6 + 10) and row.output_bytes == F32 * 16
    assert row.memory_traffic_bytes == F32 * 32


def test_split_sizes_are_not_params():
    # split [2, 4] along axis 1 of [2, 6]: outputs [2, 2] and [2, 4]; the int64 sizes are read too
    row = single(one_node("Split", {"x": [2, 6]}, {"split": int64s(2, 4)}, outputs=2, axis=1))
    assert row.output_shapes == [[2, 2], [2, 4]]
    assert row.params == 0
    assert row.output_bytes == F32 * (4 + 8)
    assert row.bytes_read == F32 * 12 + 8 * 2


def test_reshape_int64_shape_is_not_a_param():
    # [2, 3, 4] -> [4, -1] = [4, 6]
    row = single(one_node("Reshape", {"x": [2, 3, 4]}, {"shape": int64s(4, -1)}))
    assert row.output_shapes == [[4, 6]]
    assert (row.flops, row.params, row.param_bytes) == (0, 0, 0)
    assert row.bytes_read == F32 * 24 + 8 * 2  # data and the 2-element shape tensor
    assert row.output_bytes == F32 * 24


def test_transpose():
    row = single(one_node("Transpose", {"x": [2, 3, 4]}, perm=[2, 0, 1]))
    assert row.output_shapes == [[4, 2, 3]]
    assert row.flops == 0 and row.memory_traffic_bytes == 2 * F32 * 24


def test_flatten():
    # axis 2 of [2, 3, 4, 5]: [2·3, 4·5]
    row = single(one_node("Flatten", {"x": [2, 3, 4, 5]}, axis=2))
    assert row.output_shapes == [[6, 20]]


def test_squeeze_and_unsqueeze():
    row = single(one_node("Squeeze", {"x": [1, 3, 1, 5]}, {"axes": int64s(0, 2)}))
    assert row.output_shapes == [[3, 5]]
    assert row.params == 0
    row = single(one_node("Unsqueeze", {"x": [3, 5]}, {"axes": int64s(0, 3)}))
    assert row.output_shapes == [[1, 3, 5, 1]]


def test_gather_embedding_table_is_a_param_and_only_gathered_rows_are_read():
    # Embedding: table [100, 16] float, token ids [2, 5] -> [2, 5, 16].
    # The whole table is a parameter; the traffic reads only the 10 rows gathered (and the ids).
    node = helper.make_node("Gather", ["table", "ids"], ["y"], name="n", axis=0)
    m = typed_model([node], {"ids": (TensorProto.INT64, [2, 5])}, {"y": TensorProto.FLOAT}, {"table": zeros(100, 16)})
    row = single(m, feeds={"ids": np.arange(10, dtype=np.int64).reshape(2, 5)})
    assert row.output_shapes == [[2, 5, 16]]
    assert row.params == 100 * 16
    assert row.param_bytes == F32 * 1600
    gathered = F32 * 2 * 5 * 16  # 10 rows of 16 floats
    assert row.output_bytes == gathered
    assert row.bytes_read == gathered + 8 * 2 * 5  # the rows and the int64 ids
    assert row.memory_traffic_bytes == 2 * gathered + 80


def test_gather_activation_axis_1():
    # indices [2] along axis 1 of [3, 4, 5] -> [3, 2, 5]
    row = single(one_node("Gather", {"x": [3, 4, 5]}, {"i": int64s(0, 3)}, axis=1))
    assert row.output_shapes == [[3, 2, 5]]
    assert row.params == 0
    assert row.bytes_read == F32 * 30 + 8 * 2


def test_slice_reads_only_the_slice():
    # [4, 10], rows 1:3, columns 0:10:2 -> [2, 5]; starts/ends/axes/steps are int64 settings
    consts = {"starts": int64s(1, 0), "ends": int64s(3, 10), "axes": int64s(0, 1), "steps": int64s(1, 2)}
    row = single(one_node("Slice", {"x": [4, 10]}, consts))
    assert row.output_shapes == [[2, 5]]
    assert row.params == 0
    assert row.output_bytes == F32 * 10
    assert row.bytes_read == F32 * 10 + 4 * 2 * 8  # the copied elements and the four 2-element int64 inputs


def test_pad_value_is_not_a_param():
    # pads [0, 0, 1, 1, 0, 0, 1, 1]: H and W grow by 2; the 0-d float constant_value is a setting
    row = single(one_node("Pad", {"x": [1, 2, 3, 3]}, {"pads": int64s(0, 0, 1, 1, 0, 0, 1, 1),
                                                       "value": np.array(0.5, np.float32)}))
    assert row.output_shapes == [[1, 2, 5, 5]]
    assert (row.flops, row.params) == (0, 0)


def test_expand():
    # [3, 1] expanded to [2, 3, 4] by broadcasting
    row = single(one_node("Expand", {"x": [3, 1]}, {"shape": int64s(2, 3, 4)}))
    assert row.output_shapes == [[2, 3, 4]]
    assert row.output_bytes == F32 * 24
    assert row.bytes_read == F32 * 3 + 8 * 3


def test_cast_changes_bytes_not_elements():
    node = helper.make_node("Cast", ["x"], ["y"], name="n", to=TensorProto.FLOAT16)
    row = single(typed_model([node], {"x": (TensorProto.FLOAT, [2, 3])}, {"y": TensorProto.FLOAT16}))
    assert row.output_shapes == [[2, 3]]
    assert (row.bytes_read, row.output_bytes) == (F32 * 6, 2 * 6)


def test_shape_reads_no_data():
    # Shape reads the metadata only: 0 bytes read, 3 int64 written
    node = helper.make_node("Shape", ["x"], ["y"], name="n")
    row = single(typed_model([node], {"x": (TensorProto.FLOAT, [2, 3, 4])}, {"y": TensorProto.INT64}))
    assert row.output_shapes == [[3]]
    assert (row.flops, row.bytes_read, row.output_bytes) == (0, 0, 8 * 3)


def test_op_without_rule_costs_zero_with_traffic_and_one_warning():
    # A custom-domain op: no rule, no onnx inference; its output shape is the declared graph output's.
    node = helper.make_node("Mystery", ["x"], ["y"], name="n", domain="example.custom")
    m = typed_model([node], {"x": (TensorProto.FLOAT, [2, 3, 4])}, {"y": (TensorProto.FLOAT, [2, 12])}, **{"example.custom": 1})
    onnx.checker.check_model(m, full_check=True)
    report = onnxcost.analyze_model(m)
    (row,) = report.nodes
    assert (row.macs, row.flops, row.special_ops) == (0, 0, 0)
    assert not row.costed
    assert row.output_shapes == [[2, 12]]
    assert (row.bytes_read, row.output_bytes) == (F32 * 24, F32 * 24)
    assert row.memory_traffic_bytes == 2 * F32 * 24
    assert len(report.warnings) == 1
    assert "example.custom.Mystery" in report.warnings[0]
    assert report.totals.macs == 0 and report.totals.memory_traffic_bytes == 2 * F32 * 24


def test_op_without_rule_between_known_ops():
    # The unknown op does not stop the costing of the nodes around it; its output is typed by value_info.
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu"),
        helper.make_node("Mystery", ["a"], ["b"], name="mystery", domain="example.custom"),
        helper.make_node("MatMul", ["b", "w"], ["y"], name="matmul"),
    ]
    m = typed_model(nodes, {"x": (TensorProto.FLOAT, [2, 3])}, {"y": (TensorProto.FLOAT, [2, 4])}, {"w": zeros(3, 4)},
                    **{"example.custom": 1})
    m.graph.value_info.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, [2, 3]))
    onnx.checker.check_model(m, full_check=True)
    report = onnxcost.analyze_model(m)
    rows = {r.name: r for r in report.nodes}
    assert rows["relu"].flops == 6
    assert rows["mystery"].macs == 0
    assert rows["matmul"].output_shapes == [[2, 4]]
    assert rows["matmul"].macs == 2 * 4 * 3
    assert len(report.warnings) == 1


def test_op_without_rule_or_shapes_does_not_crash():
    # No rule and no declared output shape: 0 MACs and FLOPs, the op listed in a warning, and the
    # output tensor whose dimensions no inference could give named in a warning (never silently guessed).
    node = helper.make_node("Mystery", ["x"], ["y"], name="n", domain="example.custom")
    m = typed_model([node], {"x": (TensorProto.FLOAT, [2, 3, 4])}, {"y": TensorProto.FLOAT}, **{"example.custom": 1})
    report = onnxcost.analyze_model(m)
    (row,) = report.nodes
    assert (row.macs, row.flops, row.costed) == (0, 0, False)
    assert row.bytes_read == F32 * 24
    assert any("example.custom.Mystery" in w for w in report.warnings)
    assert any("'y'" in w for w in report.warnings)
