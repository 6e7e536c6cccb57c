"""Dimensions the ONNX rules allow and exporters write (issue 10): a negative dim_value is a free dimension
(Paddle2ONNX writes -1 for "unknown"), named after its tensor and axis; a zero one is an empty tensor."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

import onnxcost
from support.bad_inputs import negative_dimension, zero_dimension
from support.builders import model, one_node, zeros

# The PP-OCR direction classifier's stem as Paddle2ONNX writes it: every dim of the input -1 but the channels,
# the output's free dims -1 too, opset 11.
PADDLE_CONV = {"W": zeros(8, 3, 3, 3)}
# Conv 3->8, 3x3, pads 1 on a 1x3x48x192 input: MACs = 1·8·48·192·(3·3·3) = 73,728·27 = 1,990,656.
PADDLE_MACS = 1_990_656


def paddle_style() -> onnx.ModelProto:
    built = model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1])],
                  {"x": [-1, 3, -1, -1]}, ["y"], PADDLE_CONV, opset=11)
    built.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 8, -1, -1]))
    return built


def test_negative_dims_take_the_input_override_before_any_check():
    report = onnxcost.analyze(paddle_style(), inputs={"x": [1, 3, 48, 192]})
    assert report.totals.macs == PADDLE_MACS
    assert report.nodes[0].output_shapes == [[1, 8, 48, 192]]
    assert report.warnings == []


def test_negative_dims_are_named_after_input_and_axis_and_bind_with_dims():
    report = onnxcost.analyze(paddle_style(), dims={"x_dim0": 2, "x_dim2": 48, "x_dim3": 192})
    assert report.totals.macs == 2 * PADDLE_MACS
    assert report.warnings == []
    assert [i.shape for i in report.model.inputs] == [[2, 3, 48, 192]]


def test_question_mark_dims_are_each_their_own_dimension():
    # Paddle2ONNX also writes "?" for unknown: [None, 3, "?", "?"] must take 48x192, not one symbol for both.
    built = model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1])],
                  {"x": [1, 3, "?", "?"]}, ["y"], PADDLE_CONV, opset=11)
    assert onnxcost.analyze(built, inputs={"x": [1, 3, 48, 192]}).totals.macs == PADDLE_MACS
    assert onnxcost.analyze(built, dims={"x_dim2": 48, "x_dim3": 192}).totals.macs == PADDLE_MACS


def test_unbound_negative_dims_are_assumed_1_with_the_usual_warning():
    report = onnxcost.analyze(paddle_style(), dims={"x_dim2": 48})
    assert "input 'x': dimension 'x_dim0' is unknown; assumed 1 (give it with --dim x_dim0=N)" in report.warnings
    assert "input 'x': dimension 'x_dim3' is unknown; assumed 1 (give it with --dim x_dim3=N)" in report.warnings
    assert report.totals.macs == PADDLE_MACS // 192  # 1·8·48·1·27 = 10,368


def test_input_dims_without_value_or_name_are_named_and_free():
    # [?, 3, ?, 8] with neither value nor name at axes 0 and 2: named x_dim0 and x_dim2 like a -1, so they bind with
    # --dim and the formulas are in them. Conv 3x3 pad 1, 3 -> 4 channels: 4·8·27 = 864 MACs per sample and row.
    built = model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv", pads=[1, 1, 1, 1])],
                  {"x": [None, 3, None, 8]}, ["y"], {"W": zeros(4, 3, 3, 3)})
    report = onnxcost.analyze(built)
    assert "input 'x': dimension 'x_dim2' is unknown; assumed 1 (give it with --dim x_dim2=N)" in report.warnings
    assert str(report.totals.macs_expr) == "864*x_dim0*x_dim2"
    assert onnxcost.analyze(built, dims={"x_dim0": 2, "x_dim2": 5}).totals.macs == 864 * 2 * 5


def test_negative_dims_of_value_info_inside_are_free_too():
    built = model([helper.make_node("Relu", ["x"], ["h"], name="a"), helper.make_node("Relu", ["h"], ["y"], name="b")],
                  {"x": [2, 5]}, ["y"])
    built.graph.value_info.append(helper.make_tensor_value_info("h", TensorProto.FLOAT, [-1, 5]))
    report = onnxcost.analyze(built)
    assert [r.output_shapes for r in report.nodes] == [[[2, 5]], [[2, 5]]]
    assert report.totals.flops == 2 * 10  # two Relus, 1 FLOP per element of [2, 5]


def test_inputs_override_a_declared_shape_too_large_to_count():
    # Declared [2^40, 2^40] (2^80 elements): refused as declared, costed as given.
    built = one_node("Relu", {"x": [2**40, 2**40]})
    report = onnxcost.analyze(built, inputs={"x": [3, 4]})
    assert report.totals.flops == 12  # Relu: 1 FLOP per element of [3, 4]


def test_zero_sized_tensors_are_legal_and_cost_nothing():
    # MatMul [0, 16] x [16, 8] -> [0, 8]: MACs = 0·8·16 = 0; the weight still counts 128 parameters.
    report = onnxcost.analyze(one_node("MatMul", {"x": [0, 16]}, {"W": zeros(16, 8)}))
    assert report.nodes[0].output_shapes == [[0, 8]]
    assert (report.totals.macs, report.totals.params) == (0, 128)
    assert not any("assumed 1" in w for w in report.warnings)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "onnxcost", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def test_cli_reports_negative_and_zero_dims(tmp_path):
    (tmp_path / "negative").mkdir()
    (tmp_path / "zero").mkdir()
    negative, zero = negative_dimension(tmp_path / "negative"), zero_dimension(tmp_path / "zero")
    named = _cli("report", negative, "-f", "json")
    assert named.returncode == 0 and "dimension 'x_dim1' is unknown; assumed 1" in named.stderr
    given = _cli("report", negative, "--input", "x:1x4", "-f", "json")
    assert given.returncode == 0 and given.stderr == ""
    empty = _cli("report", zero, "-f", "json")
    assert empty.returncode == 0 and empty.stderr == ""


def test_debug_prints_the_error_once_on_its_own_line(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(one_node("Add", {"x": [1, 4]}, order=["x", "ghost"]), path)
    result = _cli("report", path, "--debug")
    message = "node 'n' (Add) reads 'ghost', which no node, input or initializer defines"
    assert result.returncode == 2
    assert result.stderr.count(message) == 1
    assert result.stderr.splitlines()[-1] == f"error: graph: {message}"
    assert "Traceback" in result.stderr


def test_a_graph_stored_out_of_order_is_walked_in_execution_order_with_each_nodes_own_figures():
    # Stored MatMul first, then the Relu that feeds it and the Shape/Reshape pair (a shape computation) after
    # both: the rows come in execution order, each with its own node's figures. By hand, x [2, 4]:
    # Relu 8 FLOPs; MatMul [2,4]x[4,3]: 2·3·4 = 24 MACs, 12 parameters; Reshape to [3, 2] 0 MACs.
    nodes = [
        helper.make_node("MatMul", ["r", "W"], ["m"], name="matmul"),
        helper.make_node("Reshape", ["m", "s"], ["y"], name="reshape"),
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Shape", ["m"], ["full"], name="shape"),
        helper.make_node("Concat", ["full"], ["s0"], name="concat", axis=0),
        helper.make_node("ReduceProd", ["s0"], ["s1"], name="prod", keepdims=1),
        helper.make_node("Div", ["s1", "two"], ["s2"], name="half"),
        helper.make_node("Concat", ["s2", "two"], ["s"], name="pair", axis=0),
    ]
    weights = {"W": zeros(4, 3), "two": np.array([2], dtype=np.int64)}
    report = onnxcost.analyze(model(nodes, {"x": [2, 4]}, ["y"], weights))
    names = [row.name for row in report.nodes]
    assert names.index("relu") < names.index("matmul") < names.index("shape") < names.index("reshape")
    rows = {row.name: row for row in report.nodes}
    assert (rows["relu"].flops, rows["relu"].output_shapes) == (8, [[2, 4]])
    assert (rows["matmul"].macs, rows["matmul"].params, rows["matmul"].inputs) == (24, 12, ["r", "W"])
    assert rows["reshape"].output_shapes == [[3, 2]]
    assert report.totals.macs == 24
