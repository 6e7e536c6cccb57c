"""Where errors stop: a bug in a cost rule is an internal error (exit 3, a request to report it), a malformed
model is bad input (exit 2); what the library gives up on quietly leaves a trace in the debug log."""

import logging
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

import onnxcost
from onnxcost.cli import commands
from onnxcost.costs import registry
from onnxcost.errors import CostRuleError, InvalidModelError, OnnxcostError

from support.builders import model, one_node, zeros

runner = CliRunner()


def relu_model() -> onnx.ModelProto:
    return model([helper.make_node("Relu", ["x"], ["y"], name="act")], {"x": [1, 4]}, ["y"])


def broken_rule(ctx):
    return {}["no such key"]  # KeyError: what a slip in a rule raises


def conv_with_matrix_weight() -> onnx.ModelProto:
    """A Conv whose declared output shape lets its rule run although inference cannot use the rank-2 weight."""
    built = one_node("Conv", {"x": [1, 2, 5, 5], "W": [2, 2]})
    built.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4]))
    return built


def cli(*args):
    return runner.invoke(commands(), [str(arg) for arg in args])


def test_a_broken_standard_rule_is_an_internal_error(monkeypatch):
    monkeypatch.setitem(registry._RULES, ("", "Relu"), broken_rule)
    with pytest.raises(CostRuleError) as info:
        onnxcost.analyze_model(relu_model())
    assert not isinstance(info.value, OnnxcostError)  # never reported as the user's fault
    assert str(info.value) == "the cost rule for Relu failed on node 'act': KeyError: 'no such key'"
    assert isinstance(info.value.__cause__, KeyError)


def test_the_cli_asks_for_a_report_and_exits_3(monkeypatch, tmp_path):
    path = tmp_path / "relu.onnx"
    onnx.save(relu_model(), path)
    monkeypatch.setitem(registry._RULES, ("", "Relu"), broken_rule)
    result = cli("report", path)
    assert result.exit_code == 3, result.output
    assert result.stderr.count("\n") == 1 and "please report" in result.stderr
    assert "Relu" in result.stderr and "'act'" in result.stderr and "KeyError" in result.stderr


def test_a_malformed_model_is_still_bad_input(tmp_path):
    # LSTM's W must be [directions, 4·hidden, input]; a rank-2 W passes onnx.checker (it sees no shapes).
    lstm = one_node("LSTM", {"x": [3, 1, 4]}, {"W": zeros(8, 4), "R": zeros(1, 8, 2)}, hidden_size=2)
    with pytest.raises(InvalidModelError, match=r"node 'n' \(LSTM\) does not match its operator's definition: "
                                                r"input 1 has rank 2, the op takes rank 3"):
        onnxcost.analyze_model(lstm)
    path = tmp_path / "lstm.onnx"
    onnx.save(lstm, path)
    result = cli("report", path)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "input 1 has rank 2" in result.stderr


def test_a_rule_of_another_domain_that_raises_blames_the_model(monkeypatch):
    # Nobody checked a contrib node against its op's definition: a rule that cannot read it says so.
    monkeypatch.setitem(registry._RULES, ("com.example", "Thing"), broken_rule)
    thing = one_node("Thing", {"x": [1, 4]}, domain="com.example")
    with pytest.raises(InvalidModelError) as info:
        onnxcost.analyze_model(thing)
    assert str(info.value) == "node 'n' (Thing) does not match its operator's definition: KeyError: 'no such key'"


@pytest.mark.parametrize("name, built, message", [
    ("Gemm of a scalar", lambda: one_node("Gemm", {"a": [], "b": [3, 4]}), "input 0 (A) is a scalar"),
    ("Einsum with a letter too many", lambda: one_node("Einsum", {"a": [2, 3], "b": [3, 4]}, equation="ijk,jk->i"),
     "gives operand 0 3 letters, its rank is 2"),
    ("Einsum with an operand too few", lambda: one_node("Einsum", {"a": [2, 3], "b": [3, 4]}, equation="ij->i"),
     "names 1 operands, node has 2"),
    ("MaxPool with an empty window", lambda: one_node("MaxPool", {"x": [1, 1, 4, 4]}, kernel_shape=[0, 0]),
     "kernel_shape [0, 0] has a dimension below 1"),
    ("Conv with a matrix weight", lambda: conv_with_matrix_weight(), "input 1 (the weight) has rank 2"),
    ("LpNormalization of a scalar", lambda: one_node("LpNormalization", {"x": []}), "input 0 is a scalar"),
])
def test_checker_valid_nodes_that_do_not_fit_their_op(name, built, message):
    with pytest.raises(InvalidModelError, match=re.escape(message)):
        onnxcost.analyze_model(built())


def test_swallowed_failures_leave_a_debug_trace(caplog):
    # An int64 initializer of 4 elements holding 3 values: not a usable constant, the report goes on without it.
    bad = numpy_helper.from_array(np.array([1, 1, 4], np.int64), "shape")
    del bad.dims[:]
    bad.dims.append(4)
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="r")]
    broken = model(nodes, {"x": [1, 4]}, ["y"])
    broken.graph.initializer.append(bad)
    with caplog.at_level(logging.DEBUG, logger="onnxcost"):
        report = onnxcost.analyze_model(broken)
    assert report.nodes[0].output_shapes == [None]  # the reshape target stays unknown
    logged = {r.getMessage(): r for r in caplog.records if r.name == "onnxcost.shapes"}
    assert logged["initializer 'shape' is not a usable constant"].exc_info is not None  # with the traceback
    assert logged["onnxruntime symbolic shape inference failed"].exc_info is not None


def test_library_messages_name_parameters_and_the_cli_names_flags(tmp_path):
    path = tmp_path / "relu.onnx"
    onnx.save(relu_model(), path)
    with pytest.raises(OnnxcostError) as info:
        onnxcost.analyze(path, max_file_bytes=10)
    assert "(raise it with max_file_bytes if you trust the file)" in str(info.value)
    assert info.value.parameter == "max_file_bytes"
    result = cli("report", path, "--max-file-size", "10")
    assert result.exit_code == 2 and "(raise it with --max-file-size if you trust the file)" in result.stderr
    with pytest.raises(OnnxcostError, match=r"^inputs x: the model declares rank 2, got 1 dimensions$") as info:
        onnxcost.analyze(path, inputs={"x": [4]})
    assert info.value.message_for({"inputs": "--input"}) == "--input x: the model declares rank 2, got 1 dimensions"


def test_a_parameter_quoted_as_a_name_is_not_taken_for_the_flag():
    error = InvalidModelError("input 'inputs' declares a dimension of 0; give a real shape with inputs inputs:DxDx...",
                              parameter="inputs")
    assert error.message_for({"inputs": "--input"}) == (
        "input 'inputs' declares a dimension of 0; give a real shape with --input inputs:DxDx...")
