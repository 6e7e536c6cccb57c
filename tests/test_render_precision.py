"""The quantized breakdown in the terminal and Markdown totals: shown for a quantized model, absent for a float one."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import onnxcost
from onnxcost.render import render


def integer_matmul():
    """x uint8 [1, 4] · W uint8 [4, 3] -> int32 y (MatMulInteger): 4·3 = 12 int8 MACs, 12 bytes of int8 weights."""
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["x", "W"], ["y"], name="mm")], "q",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 3])],
        [numpy_helper.from_array(np.ones((4, 3), np.uint8), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_quantized_totals_are_split_by_precision():
    report = onnxcost.analyze_model(integer_matmul())
    assert (report.totals.macs, report.totals.macs_int8, report.totals.param_bytes_int8) == (12, 12, 12)
    table = render(report, "table")
    assert "int8 MACs" in table and "int8 weights" in table
    md = render(report, "md")
    assert "| int8 MACs | 12 |" in md and "| int8 weights | 12 |" in md


def test_float_totals_have_no_breakdown(vgg16):
    table = render(onnxcost.analyze_model(vgg16), "table")
    assert "int8" not in table and "weight-only" not in table
