"""validate --yardstick: the reference against itself with its weights rounded (int8 per output channel, fp16),
each rounded value worked out by hand."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from onnxcost.cli import commands
from onnxcost.errors import InputSpecError
from onnxcost.validation import validate
from onnxcost.validation.yardstick import rounded

runner = CliRunner()


def _model(nodes, inputs, outputs, weights) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(np.asarray(w, np.float32), name) for name, w in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def _matmul(w) -> onnx.ModelProto:
    return _model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])], {"w": w})


def test_int8_rounds_a_conv_weight_per_output_channel():
    # Channel 0: largest magnitude 1, so the step is 1/127: 0.333 -> 42.291 -> 42/127, -0.25 -> -31.75 -> -32/127.
    # Channel 1 is all zeros and stays so. The bias (1-D) is not a weight to round.
    weight = [[[[1.0, 0.333, -0.25]]], [[[0.0, 0.0, 0.0]]]]
    model = _model([helper.make_node("Conv", ["x", "w", "b"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 3])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1, 1])],
                   {"w": weight, "b": [0.333, 0.1]})
    result = rounded(model, "int8")
    assert result.tensors == 1
    got = _weights(result.model)
    np.testing.assert_allclose(got["w"][0, 0, 0], [1.0, 42 / 127, -32 / 127], rtol=1e-6)
    np.testing.assert_array_equal(got["w"][1], np.zeros((1, 1, 3), np.float32))
    np.testing.assert_array_equal(got["b"], np.float32([0.333, 0.1]))
    assert numpy_helper.to_array(model.graph.initializer[0])[0, 0, 0, 1] == np.float32(0.333)  # the input is left alone


def test_int8_rounds_a_conv_transpose_weight_per_output_channel_on_its_axis_1():
    # [Cin = 2, Cout = 2, 1, 1]: output channel 0 is w[:, 0] = (1.0, 0.333), channel 1 is w[:, 1] = (0.5, -0.2).
    model = _model([helper.make_node("ConvTranspose", ["x", "w"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 1, 1])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1, 1])],
                   {"w": [[[[1.0]], [[0.5]]], [[[0.333]], [[-0.2]]]]})
    got = _weights(rounded(model, "int8").model)["w"][:, :, 0, 0]
    # Channel 0: step 1/127, 0.333 -> 42.291 -> 42/127. Channel 1: step 0.5/127, -0.2 -> -50.8 -> -51 * 0.5/127.
    # (Per input channel, axis 0, the steps would be 1/127 and 0.333/127, and 0.5 would not survive as 0.5.)
    np.testing.assert_allclose(got, [[1.0, 0.5], [42 / 127, -51 * 0.5 / 127]], rtol=1e-6)


def test_int8_rounds_a_matmul_weight_per_column_and_a_transposed_gemm_weight_per_row():
    # MatMul [K, N]: column 0's step 0.2/127 (0.07 -> 44.45 -> 44), column 1's 2/127 (0.01 -> 0.635 -> 1).
    w = [[0.07, 2.0], [-0.2, 0.01]]
    got = _weights(rounded(_matmul(w), "int8").model)["w"]
    np.testing.assert_allclose(got, [[44 * 0.2 / 127, 2.0], [-0.2, 2 / 127]], rtol=1e-6)
    # Gemm with transB = 1 holds the weight as [N, K]: the same figures, transposed, per row.
    gemm = _model([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])], {"w": np.float32(w).T})
    np.testing.assert_allclose(_weights(rounded(gemm, "int8").model)["w"], np.float32(got).T, rtol=1e-6)


def test_fp16_rounds_each_weight_to_the_nearest_half_precision_value():
    got = _weights(rounded(_matmul([[0.1, 1.0], [3.0, -2.0]]), "fp16").model)["w"]
    # 0.1 in float16 is 1638/16384 = 0.0999755859375; the others are exact in float16.
    np.testing.assert_array_equal(got, np.float32([[0.0999755859375, 1.0], [3.0, -2.0]]))


def test_a_weight_read_by_two_nodes_is_rounded_once_and_a_constant_node_weight_too():
    constant = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.float32([[0.333, 1.0]]).T, "c"))
    model = _model([constant, helper.make_node("MatMul", ["x", "w"], ["y1"]), helper.make_node("MatMul", ["x", "w"], ["y2"]),
                    helper.make_node("MatMul", ["x", "c"], ["y3"])],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2])],
                   [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y1", "y2", "y3")],
                   {"w": [[0.333, 1.0], [1.0, 0.5]]})
    result = rounded(model, "int8")
    assert result.tensors == 2
    # w's column 0: step 1/127, 0.333 -> 42/127; the Constant's single column the same.
    assert _weights(result.model)["w"][0, 0] == pytest.approx(42 / 127, rel=1e-6)
    folded = numpy_helper.to_array(result.model.graph.node[0].attribute[0].t)
    np.testing.assert_allclose(folded[:, 0], [42 / 127, 1.0], rtol=1e-6)


def test_validate_measures_the_yardstick_on_the_same_inputs():
    w = np.float32([[0.07, 2.0], [-0.2, 0.01]])
    by_hand = np.float32([[44 * 0.2 / 127, 2.0], [-0.2, 2 / 127]])
    model = _matmul(w)
    x = np.float32([[1.0, 2.0], [-1.0, 0.5], [3.0, 1.0]])
    result = validate(model, model, feeds={"x": x}, yardstick="int8")
    y, y_rounded = x @ w, x @ by_hand
    figures = result.yardstick.comparison.outputs[0]
    assert figures.rel_l2_error == pytest.approx(np.linalg.norm(y_rounded - y) / np.linalg.norm(y), rel=1e-4)
    assert figures.max_abs_error == pytest.approx(np.abs(y_rounded - y).max(), rel=1e-4)
    assert result.comparison.outputs[0].rel_l2_error == 0  # B is A itself
    record = result.to_dict()["yardstick"]
    assert (record["kind"], record["rounded_tensors"]) == ("int8", 1)
    assert record["comparison"]["outputs"][0]["rel_l2_error"] == figures.rel_l2_error
    with pytest.raises(InputSpecError, match="yardstick must be one of int8, fp16"):
        validate(model, model, feeds={"x": x}, yardstick="int4")


def test_the_command_prints_the_yardstick_under_the_comparison(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_matmul([[0.07, 2.0], [-0.2, 0.01]]), str(path))
    app = commands()
    table = runner.invoke(app, ["validate", str(path), str(path), "--yardstick", "fp16"])
    assert table.exit_code == 0, table.output
    assert "Yardstick:" in table.output and "weights rounded to fp16 (1 weight tensor)" in table.output
    piped = runner.invoke(app, ["validate", str(path), str(path), "--yardstick", "int8", "-f", "json"])
    assert piped.exit_code == 0
    assert json.loads(piped.stdout)["yardstick"]["kind"] == "int8"
    wrong = runner.invoke(app, ["validate", str(path), str(path), "--yardstick", "int4"])
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
