"""Costs as formulas in free dimensions: hand-derived polynomials, and evaluation equal to the concrete report."""

from __future__ import annotations

import json

import pytest
import sympy
from support.builders import model, zeros
from support.symbolic_models import gqa_decoder, strided_cnn
from onnx import helper
from typer.testing import CliRunner

from onnxcost.analysis import analyze_model
from onnxcost.cli import app
from onnxcost.samples import vgg16
from onnxcost.symbolic.poly import Poly, evaluate, human, parse, value_range

batch, seq, H, W, N = (Poly.symbol(n) for n in ("batch", "seq", "H", "W", "N"))
FIGURES = ("macs", "flops", "special_ops", "output_bytes", "bytes_read", "memory_traffic_bytes", "output_shapes")


def assert_same_as_concrete(built, dims: dict) -> None:
    """The formulas evaluated at ``dims`` equal the report computed with ``dims`` given, node by node."""
    symbolic = analyze_model(built)
    concrete = analyze_model(built, dims=dims)
    evaluated = symbolic.at(**dims)
    assert len(evaluated.nodes) == len(concrete.nodes)
    for got, want in zip(evaluated.nodes, concrete.nodes):
        assert [getattr(got, f) for f in FIGURES] == [getattr(want, f) for f in FIGURES], want.name
    for name in ("macs", "flops", "special_ops", "activation_bytes", "memory_traffic_bytes", "peak_activation_bytes"):
        assert getattr(evaluated.totals, name) == getattr(concrete.totals, name), name
    assert evaluated.peak.bytes == concrete.peak.bytes and evaluated.peak.node == concrete.peak.node


# --- the polynomial itself --------------------------------------------------

def test_floor_division_splits_off_the_exact_part():
    # floor((2·H + 6 + 1)/2) = H + 3 + floor(1/2) = H + 3: no floor left when the rest is a constant
    assert (2 * H + 7) // 2 == H + 3
    # bytes of N·seq float32 elements: (32·N·seq + 7)//8 = 4·N·seq
    assert (32 * N * seq + 7) // 8 == 4 * N * seq
    # a 3x3 stride-2 pad-1 conv: floor((H + 2 - 3)/2) + 1 = floor((H + 1)/2)
    out = (H + 2 - 3) // 2 + 1
    assert str(out) == "floor((H + 1)/2)"
    assert [evaluate(out, {"H": h}) for h in (1, 2, 3, 224, 225)] == [1, 1, 2, 112, 113]


def test_constant_results_are_plain_integers_and_comparisons_refuse():
    assert (batch - batch) == 0 and isinstance(batch * 0 + 5, int)
    with pytest.raises(TypeError):
        bool(batch > 2)
    with pytest.raises(TypeError):
        int(batch)


def test_the_grammar_reads_back_in_python_sympy_and_onnxcost():
    formula = 256 * batch * seq**2 + 73728 * batch * seq + ((H - 1) // 2 + 1) * 3
    text = str(formula)
    assert parse(text) == formula
    values = {"batch": 3, "seq": 17, "H": 225}
    expected = 256 * 3 * 17**2 + 73728 * 3 * 17 + (224 // 2 + 1) * 3
    assert evaluate(formula, values) == expected
    assert int(sympy.sympify(text).subs(values)) == expected
    assert eval(text, {"floor": lambda x: int(x // 1)}, dict(values)) == expected


def test_human_form():
    assert human(15470264320 * N) == "15.47 G·N"
    assert human(256 * batch * seq**2 + 73728 * batch * seq) == "256·batch·seq² + 73.73 K·batch·seq"


def test_ranges_exact_for_non_decreasing_and_by_visiting_small_boxes():
    assert value_range(15470264320 * N, {"N": (1, 64)}, {}) == (15470264320, 64 * 15470264320, True)
    # (seq - 10)² is not monotone: visited point by point, min 0 at seq = 10, max 90² at seq = 100
    assert value_range((seq - 10) ** 2, {"seq": (1, 100)}, {}) == (0, 8100, True)


# --- models -------------------------------------------------------------------

def test_vgg16_with_a_free_batch_is_the_published_count_times_n():
    built = vgg16()
    for value in (built.graph.input[0], built.graph.output[0]):  # a dynamic batch, as exporters declare it
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    report = analyze_model(built)
    assert report.formulas.totals["macs"] == 15470264320 * N  # Simonyan & Zisserman's VGG-16 at 224x224
    assert report.formulas.peak_exact
    assert_same_as_concrete(built, {"N": 8})


def test_gqa_decoder_formula_is_the_hand_polynomial():
    report = analyze_model(gqa_decoder(layers=2))
    # per layer and token: 64·64 + 2·64·32 + 64·64 + 3·64·128 = 36,864; attention 2·4·16 = 128 per batch·seq²
    assert report.formulas.totals["macs"] == 2 * (36864 * batch * seq + 128 * batch * seq**2)
    assert report.formulas.missing == []
    scores = next(f for r, f in zip(report.nodes, report.formulas.nodes) if r.outputs == ["l0_scores"])
    assert scores["macs"] == 64 * batch * seq**2  # batch·4 heads·seq·seq·16
    assert scores["output_shapes"] == [[batch, 4, seq, seq]]


@pytest.mark.parametrize("dims", [{"batch": 1, "seq": 128}, {"batch": 4, "seq": 2048}, {"batch": 2, "seq": 7}])
def test_gqa_decoder_formulas_equal_the_concrete_report(dims):
    assert_same_as_concrete(gqa_decoder(layers=2), dims)


def test_strided_cnn_formula_has_the_floors_of_its_strides():
    report = analyze_model(strided_cnn())
    h1, w1 = (H - 1) // 2 + 1, (W - 1) // 2 + 1
    h2, w2 = (h1 - 1) // 2 + 1, (w1 - 1) // 2 + 1
    h3, w3 = (h2 - 1) // 2 + 1, (w2 - 1) // 2 + 1
    # conv1 8·27 per pixel, conv2 16·72, conv3 16·16, fc 16·10
    assert report.formulas.totals["macs"] == 216 * h1 * w1 + 1152 * h2 * w2 + 256 * h3 * w3 + 160
    assert evaluate(report.formulas.totals["macs"], {"H": 224, "W": 224}) == \
        216 * 112 * 112 + 1152 * 56 * 56 + 256 * 28 * 28 + 160


@pytest.mark.parametrize("dims", [{"H": 224, "W": 224}, {"H": 17, "W": 33}, {"H": 1, "W": 2}, {"H": 100, "W": 7}])
def test_strided_cnn_formulas_equal_the_concrete_report(dims):
    assert_same_as_concrete(strided_cnn(), dims)


def test_a_node_whose_size_depends_on_values_gets_no_formula_and_is_named():
    # NonZero's output size depends on the data: nothing can say it in the dims
    nodes = [helper.make_node("NonZero", ["x"], ["nz"]), helper.make_node("Transpose", ["nz"], ["y"])]
    report = analyze_model(model(nodes, {"x": ["n"]}, ["y"], output_types={"y": 7}))
    assert report.formulas.nodes[1] is None
    assert any("no formula" in w for w in report.warnings)


def test_a_model_valid_only_at_one_size_names_the_node_and_gives_no_totals():
    # a Flatten into a Gemm of fixed width works only at H = 2: at the probes inference stops at the Gemm
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)]
    report = analyze_model(model(nodes, {"x": [1, 1, "H", 2]}, ["y"], {"w": zeros(3, 4)}))
    assert report.formulas.missing == ["'Gemm_1' (Gemm): no formula for the shape of 'y'"]
    assert report.formulas.totals == {}
    assert report.formulas.nodes[0]["output_bytes"] == 8 * H  # the Flatten: [1, 2·H] floats
    assert "the totals have none (give the dimensions with --dim)" in report.warnings[-1]
    assert report.warnings[-1].endswith("the model may accept only some sizes of a dimension (a recogniser's fixed "
                                        "height): give that one with --dim")


def test_all_bound_does_no_symbolic_work():
    report = analyze_model(gqa_decoder(layers=1), dims={"batch": 2, "seq": 5})
    assert report.formulas is None
    assert "formulas" not in report.to_dict()


def test_json_and_ranges_from_the_command_line(tmp_path):
    path = tmp_path / "decoder.onnx"
    import onnx

    onnx.save(gqa_decoder(layers=2), path)
    result = CliRunner().invoke(app, ["report", str(path), "-f", "json", "--dim", "batch=1:64", "--dim", "seq=128"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # seq = 128 bound: MACs = 2·(36,864·128 + 128·128²)·batch = 13,631,488·batch
    assert data["totals"]["macs_expr"] == "13631488*batch"
    assert data["totals"]["macs"] == 13631488  # the integers stay at the free dimension's 1
    assert data["totals"]["macs_range"] == [13631488, 64 * 13631488]
    assert data["formulas"]["dims"] == ["batch"] and data["formulas"]["ranges"]["exact"] is True
    assert parse(data["totals"]["flops_expr"]) == parse(data["totals"]["flops_expr"].replace(" ", ""))


def test_table_shows_the_law():
    import onnx
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/decoder.onnx"
        onnx.save(gqa_decoder(layers=2), path)
        result = CliRunner().invoke(app, ["report", path])
    assert result.exit_code == 0, result.output
    assert "256·batch·seq² + 73.73 K·batch·seq" in result.stdout


def _loop_with_trip_count_input():
    """A Loop whose trip count M is a model input (known only at run time); its body is a [1, 4] x [4, 4] MatMul
    (16 MACs) and a Relu."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    body = helper.make_graph(
        [helper.make_node("MatMul", ["s_in", "W"], ["s_mm"], name="body_mm"),
         helper.make_node("Relu", ["s_mm"], ["s_out"], name="body_relu"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [1, 4])],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body, name="decode/loop")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("M", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.ones((4, 4), np.float32), "W"), numpy_helper.from_array(np.array(True), "cond")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_loop_without_a_fixed_trip_count_gets_its_own_symbol():
    built = _loop_with_trip_count_input()
    report = analyze_model(built)
    trips = Poly.symbol("trip_decode_loop")
    assert report.totals.macs == 16  # counted once, as the warning says
    assert report.formulas.totals["macs"] == 16 * trips
    assert report.totals.macs_expr == "16*trip_decode_loop"
    assert report.at(trip_decode_loop=10).totals.macs == 160
    bound = analyze_model(built, dims={"trip_decode_loop": 10})  # --dim trip_decode_loop=10
    assert bound.totals.macs == 160 and bound.formulas is None
    assert not any("trip count unknown" in w for w in bound.warnings)
    assert analyze_model(built, dims={"trip_nothing": 3}).warnings[-1] == \
        "--dim trip_nothing: no Loop of the model is named 'nothing'"


def test_a_saved_report_keeps_its_formulas():
    from onnxcost.render import render
    from onnxcost.saved import report_from_dict

    report = analyze_model(strided_cnn())
    data = json.loads(render(report, "json"))
    saved = report_from_dict(data)
    assert saved.to_dict() == data
    assert saved.at(H=17, W=33).totals.macs == analyze_model(strided_cnn(), dims={"H": 17, "W": 33}).totals.macs


def _if_model(side: bool):
    """An If on x [n, 4]: the then branch multiplies by a [4, 4] weight twice (32·n MACs); the else branch once
    (16·n), and with ``side`` also multiplies z [m, 4] by it twice, an output nobody reads (32·m)."""
    from onnx import TensorProto

    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 4], [0.0] * 16)
    then_g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["t1"], name="then_mm1"),
                                helper.make_node("MatMul", ["t1", "W"], ["t"], name="then_mm2")], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    extra = [helper.make_node("MatMul", ["z", "W"], ["s1"], name="else_side1"),
             helper.make_node("MatMul", ["s1", "W"], ["s2"], name="else_side2")] if side else []
    else_g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["e"], name="else_mm"), *extra], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    graph = helper.make_graph(
        [helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g, name="if")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["m", 4]),
         helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_an_if_branch_heavier_for_every_value_is_the_one_counted():
    # then: 32·n MACs, else: 16·n; then is heavier for every n
    report = analyze_model(_if_model(side=False))
    assert report.formulas.totals["macs"] == 32 * Poly.symbol("n") and report.formulas.notes == []


def test_an_if_branch_heavier_only_for_some_values_is_said():
    # then: 32·n, else: 16·n + 32·m; at n = m = 1 else is heavier (48 > 32) and counted; for n > 2·m then is
    report = analyze_model(_if_model(side=True))
    assert report.totals.macs == 48
    assert report.formulas.totals["macs"] == 16 * Poly.symbol("n") + 32 * Poly.symbol("m")
    assert report.formulas.notes == ["If 'if': the totals count branch 'else_branch', the heavier at the report's own "
                                     "values; another is heavier for other values of the dimensions"]


def test_dimension_names_that_are_not_identifiers_become_identifiers():
    # Paddle2ONNX names free dims 'p2o.DynamicDimension.0': formulas call it p2o_DynamicDimension_0
    built = strided_cnn()
    dims = built.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "p2o.DynamicDimension.0", "9w"
    report = analyze_model(built)
    data = report.to_dict()["formulas"]
    assert data["dims"] == ["p2o_DynamicDimension_0", "_9w"]
    assert data["dim_names"] == {"p2o_DynamicDimension_0": "p2o.DynamicDimension.0", "_9w": "9w"}
    expected = analyze_model(built, dims={"p2o.DynamicDimension.0": 64, "9w": 96}).totals.macs
    assert report.at(p2o_DynamicDimension_0=64, _9w=96).totals.macs == expected
    assert int(sympy.sympify(report.totals.macs_expr).subs({"p2o_DynamicDimension_0": 64, "_9w": 96})) == expected


def test_the_same_model_gives_the_same_bytes_whatever_the_hash_seed(tmp_path):
    # Polynomials hash through their names' strings, which Python salts per process: nothing may depend on that
    # order (the peak's candidates did).
    import os
    import subprocess
    import sys

    import onnx

    path = tmp_path / "cnn.onnx"
    onnx.save(strided_cnn(), path)
    outputs = {subprocess.run([sys.executable, "-m", "onnxcost", "report", str(path), "-f", "json"],
                              capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2", "5")}
    assert len(outputs) == 1
