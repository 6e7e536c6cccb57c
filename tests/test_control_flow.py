"""Subgraphs: Loop bodies count times their trip count, Scan bodies times the sequence
length, If counts its more expensive branch; local functions are inlined."""

import numpy as np
import onnx
from onnx import TensorProto as T, helper, numpy_helper

import onnxcost

W = numpy_helper.from_array(np.ones((4, 4), np.float32), "W")


def _checked(graph: onnx.GraphProto, opsets: dict[str, int] | None = None, functions=()) -> onnx.ModelProto:
    """The model of ``graph`` (opset 17 unless ``opsets`` says otherwise), after the full check."""
    opset_imports = [helper.make_opsetid(domain, version) for domain, version in (opsets or {"": 17}).items()]
    m = helper.make_model(graph, opset_imports=opset_imports, functions=list(functions))
    onnx.checker.check_model(m, full_check=True)
    return m


def _loop_body(name, nodes, counter, carried_in, carried_out, cond_node):
    """A Loop body that carries one [1, 4] float from ``carried_in`` to ``carried_out``; the loop
    condition passes through an Identity named ``cond_node``."""
    return helper.make_graph(
        [*nodes, helper.make_node("Identity", ["cond_in"], ["cond_out"], name=cond_node)],
        name,
        [helper.make_tensor_value_info(counter, T.INT64, []), helper.make_tensor_value_info("cond_in", T.BOOL, []),
         helper.make_tensor_value_info(carried_in, T.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("cond_out", T.BOOL, []),
         helper.make_tensor_value_info(carried_out, T.FLOAT, [1, 4])],
    )


def loop_model(trips):
    body = _loop_body("body", [helper.make_node("MatMul", ["s_in", "W"], ["s_mm"], name="body_mm"),
                               helper.make_node("Relu", ["s_mm"], ["s_out"], name="body_relu")],
                      "i", "s_in", "s_out", "body_cond")
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body, name="loop")], "g",
        [helper.make_tensor_value_info("x", T.FLOAT, [1, 4])], [helper.make_tensor_value_info("y", T.FLOAT, [1, 4])],
        [W, numpy_helper.from_array(np.array(trips, np.int64), "M"), numpy_helper.from_array(np.array(True), "cond")],
    )
    return _checked(graph)


def test_loop_body_counts_times_trip_count():
    report = onnxcost.analyze_model(loop_model(5))
    rows = {r.name: r for r in report.nodes}
    assert rows["body_mm"].macs == 1 * 4 * 4  # [1,4] x [4,4]: 4 outputs, 4 MACs each
    assert rows["body_mm"].repeat == 5 and rows["body_mm"].scope == "loop/body"
    assert report.totals.macs == 5 * 16
    assert report.totals.params == 16  # the shared weight once, not per iteration
    assert report.warnings == []


def test_if_counts_the_more_expensive_branch_and_says_so():
    then_g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["t"], name="then_mm")], "then", [],
                               [helper.make_tensor_value_info("t", T.FLOAT, [1, 4])])
    else_g = helper.make_graph([helper.make_node("Relu", ["x"], ["e"], name="else_relu")], "else", [],
                               [helper.make_tensor_value_info("e", T.FLOAT, [1, 4])])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g, name="if")], "g",
        [helper.make_tensor_value_info("x", T.FLOAT, [1, 4]), helper.make_tensor_value_info("c", T.BOOL, [])],
        [helper.make_tensor_value_info("y", T.FLOAT, [1, 4])], [W],
    )
    report = onnxcost.analyze_model(_checked(graph))
    rows = {r.name: r for r in report.nodes}
    assert (rows["then_mm"].repeat, rows["else_relu"].repeat) == (1, 0)
    assert report.totals.macs == 16
    assert report.totals.flops == 2 * 16  # the Relu of the other branch (4 FLOPs) is not in the totals
    assert any("If 'if'" in w and "'then_branch'" in w for w in report.warnings)


def test_scan_body_counts_times_sequence_length():
    # Scan over 6 steps of a [6, 4] sequence, each step a [4] x [4, 4] MatMul: 16 MACs.
    body = helper.make_graph(
        [helper.make_node("MatMul", ["x_t", "W"], ["y_t"], name="step_mm"),
         helper.make_node("Identity", ["acc_in"], ["acc_out"], name="keep")],
        "body",
        [helper.make_tensor_value_info("acc_in", T.FLOAT, [4]), helper.make_tensor_value_info("x_t", T.FLOAT, [4])],
        [helper.make_tensor_value_info("acc_out", T.FLOAT, [4]), helper.make_tensor_value_info("y_t", T.FLOAT, [4])],
    )
    graph = helper.make_graph(
        [helper.make_node("Scan", ["acc", "seq"], ["acc_final", "ys"], body=body, num_scan_inputs=1, name="scan")], "g",
        [helper.make_tensor_value_info("acc", T.FLOAT, [4]), helper.make_tensor_value_info("seq", T.FLOAT, [6, 4])],
        [helper.make_tensor_value_info("acc_final", T.FLOAT, [4]), helper.make_tensor_value_info("ys", T.FLOAT, [6, 4])],
        [W],
    )
    report = onnxcost.analyze_model(_checked(graph))
    assert report.totals.macs == 6 * 16


def test_local_functions_are_inlined_for_costing():
    """The newer PyTorch exporter writes modules as local functions; costs are those of the body."""
    block = helper.make_function(
        "pkg", "Block", ["a", "w"], ["b"],
        [helper.make_node("MatMul", ["a", "w"], ["t"], name="mm"), helper.make_node("Relu", ["t"], ["b"], name="act")],
        [helper.make_opsetid("", 18)],
    )
    graph = helper.make_graph(
        [helper.make_node("Block", ["x", "W"], ["h"], domain="pkg", name="block1"),
         helper.make_node("Block", ["h", "W"], ["y"], domain="pkg", name="block2")], "g",
        [helper.make_tensor_value_info("x", T.FLOAT, [2, 4])], [helper.make_tensor_value_info("y", T.FLOAT, [2, 4])], [W],
    )
    report = onnxcost.analyze_model(_checked(graph, {"": 18, "pkg": 1}, functions=[block]))
    assert [r.op_type for r in report.nodes] == ["MatMul", "Relu", "MatMul", "Relu"]
    assert report.totals.macs == 2 * (2 * 4 * 4)  # two [2,4]x[4,4] products
    assert report.totals.params == 16
    assert report.warnings == []


def test_nested_loops_multiply_and_name_their_scopes():
    inner = loop_model(3).graph.node[0]
    inner.name = "inner"
    body = _loop_body("outer_body", [inner], "j", "x", "y", "outer_cond")
    graph = helper.make_graph(
        [helper.make_node("Loop", ["N", "cond", "x0"], ["out"], body=body, name="outer")], "g",
        [helper.make_tensor_value_info("x0", T.FLOAT, [1, 4])], [helper.make_tensor_value_info("out", T.FLOAT, [1, 4])],
        [W, numpy_helper.from_array(np.array(2, np.int64), "N"), numpy_helper.from_array(np.array(3, np.int64), "M"),
         numpy_helper.from_array(np.array(True), "cond")],
    )
    report = onnxcost.analyze_model(_checked(graph))
    rows = {r.name: r for r in report.nodes}
    assert rows["body_mm"].scope == "outer/body/inner/body"
    assert rows["body_mm"].repeat == 2 * 3
    assert report.totals.macs == 2 * 3 * 16
