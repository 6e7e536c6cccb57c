"""Trained models from PyPI wheels (support/trained.py) on inputs drawn in code (support/rendered.py).

The costs of the real models against an independent count, the harness's own pieces against hand-made
cases, and issue 17's must-show thresholds for calibrated rewrites, measured on held-out rendered data (seeds
never used for calibration). A test that needs a model skips when the wheel cannot be fetched, and fails
when CI=true.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os

import numpy as np
import onnx
import pytest
from onnx import helper

import onnxcost
import onnxcost.passes as passes
from onnxcost.validation import run, session
from support import rendered, trained

SHAPES = {name: {spec.input_name: list(spec.shape)} for name, spec in trained.MODELS.items()}


def _calibration_api() -> None:
    """Skip (fail under CI=true) unless ``passes.rewrite`` takes ``calibration`` and ArrayDataset exists."""
    found = ("calibration" in inspect.signature(passes.rewrite).parameters
             and importlib.util.find_spec("onnxcost.datasets") is not None
             and hasattr(importlib.import_module("onnxcost.datasets"), "ArrayDataset"))
    if not found:
        message = "calibrated rewrites (passes.rewrite(calibration=...), datasets.ArrayDataset) do not exist yet"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _first_output(model: onnx.ModelProto, name: str, batch: np.ndarray) -> np.ndarray:
    sess = session(model)
    first = sess.get_outputs()[0].name
    return np.concatenate([run(sess, {name: batch[i:i + 1]})[first] for i in range(len(batch))])


# --- the harness ------------------------------------------------------------------------------------------------

def test_ctc_decode_merges_repeats_then_drops_blank():
    characters = ["blank", "a", "b", " "]
    # steps: a a blank a b b blank -> "a" (a a merged), blank dropped, "a" again, "b" (b b merged) = "aab"
    steps = [1, 1, 0, 1, 2, 2, 0]
    scores = np.eye(4)[steps][None]
    assert rendered.ctc_decode(scores, characters) == ["aab"]


def test_iou_is_pooled_over_samples():
    a = np.zeros((2, 1, 2, 2), dtype=bool)
    b = np.zeros((2, 1, 2, 2), dtype=bool)
    a[0, 0, 0, :] = True  # 2 pixels
    b[0, 0, 0, 0] = True  # 1 of them
    b[1, 0, 1, 1] = True  # 1 pixel only in b
    # intersection 1, union 3 -> 1/3
    assert rendered.iou(a, b) == pytest.approx(1 / 3)
    assert rendered.iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_calibration_and_held_out_seeds_are_disjoint_and_pictures_repeat():
    assert not set(rendered.seeds(1000, rendered.CALIBRATION)) & set(rendered.seeds(1000, rendered.HELD_OUT))
    assert np.array_equal(rendered.page(7), rendered.page(7))
    assert not np.array_equal(rendered.page(7), rendered.page(8))


def test_det_input_is_bgr_scaled_to_minus_one_one():
    pixels = np.zeros((32, 32, 3), dtype=np.uint8)
    pixels[..., 0] = 255  # pure red: R = 255, G = B = 0
    x = rendered.det_input([pixels])
    # BGR order: channel 0 is blue (0 -> (0/255 - 0.5)/0.5 = -1), channel 2 is red (255 -> (1 - 0.5)/0.5 = 1)
    assert x.shape == (1, 3, 32, 32)
    assert x[0, 0].max() == -1.0 and x[0, 2].min() == 1.0


def test_rapidocr_recogniser_reads_the_rendered_lines():
    """The preprocessing follows rapidocr's: the trained recogniser reads most rendered lines exactly."""
    model = onnx.load(str(trained.require("rec")))
    characters = trained.ctc_characters(model)
    assert len(characters) == 6625  # blank + 6,623 metadata lines + " ": the output's width
    lines = [rendered.text_line(s, characters) for s in rendered.seeds(16, rendered.HELD_OUT)]
    decoded = rendered.ctc_decode(_first_output(model, "x", rendered.rec_input([l for l, _ in lines])), characters)
    exact = sum(d.strip() == text for d, (_, text) in zip(decoded, lines))
    assert exact >= 10, list(zip(decoded, [t for _, t in lines]))  # random strings, no language model to help


# --- costs against an independent count ---------------------------------------------------------------------------

def _constant_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    for node in model.graph.node:  # Paddle2ONNX keeps the weights in Constant nodes
        if node.op_type == "Constant":
            shapes[node.output[0]] = list(node.attribute[0].t.dims)
    return shapes


def _dense_macs_by_onnxruntime(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> int:
    """MACs of the model's Conv, ConvTranspose and MatMul nodes, from tensor shapes onnxruntime really produced
    (every such node's input and output added as a graph output), with DESIGN.md's formulas."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    weights = _constant_shapes(model)
    dense = [n for n in probe.graph.node if n.op_type in ("Conv", "ConvTranspose", "MatMul")]
    known = {o.name for o in probe.graph.output}
    for name in {t for n in dense for t in (*n.input[:2], n.output[0])} - known - set(weights):
        probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    sess = session(probe)
    shapes = {k: (list(v.shape)) for k, v in run(sess, feed).items()} | weights
    total = 0
    for node in dense:
        x, w, y = shapes[node.input[0]], shapes[node.input[1]], shapes[node.output[0]]
        if node.op_type == "Conv":  # N·Cout·∏out·(Cin/g)·∏kernel; the weight is [Cout, Cin/g, k...]
            total += y[0] * y[1] * int(np.prod(y[2:])) * int(np.prod(w[1:]))
        elif node.op_type == "ConvTranspose":  # N·Cin·∏in·(Cout/g)·∏kernel; the weight is [Cin, Cout/g, k...]
            total += x[0] * x[1] * int(np.prod(x[2:])) * int(np.prod(w[1:]))
        else:  # MatMul: ∏output·K
            total += int(np.prod(y)) * x[-1]
    return total


def test_det_first_conv_by_hand():
    model = onnx.load(str(trained.require("det")))
    report = onnxcost.analyze(model, SHAPES["det"])
    first = next(row for row in report.nodes if row.op_type == "Conv")
    # x 1x3x640x640, 16 filters 3x3, stride 2, pad 1 -> 1x16x320x320: 16·320·320·3·3·3 = 44,236,800 MACs
    assert first.output_shapes == [[1, 16, 320, 320]]
    assert first.macs == 16 * 320 * 320 * 3 * 3 * 3 == 44_236_800


@pytest.mark.parametrize("name", ["det", "rec", "cls", "yolov8n"])
def test_trained_model_macs_match_onnxruntime_shapes(name):
    """The report's MACs at the benchmark's input shape equal the count from onnxruntime's real shapes: det
    2.30 G at 640x640 and rec 702 M at 48x320 as the issue measured them."""
    model = onnx.load(str(trained.require(name)))
    spec = trained.MODELS[name]
    report = onnxcost.analyze(model, SHAPES[name])
    feed = {spec.input_name: np.zeros(spec.shape, dtype=np.float32)}
    assert report.totals.macs == _dense_macs_by_onnxruntime(model, feed)
    if name == "det":
        assert round(report.totals.macs / 1e9, 2) == 2.30
    if name == "rec":
        assert round(report.totals.macs / 1e6) == 702


def test_paddle_unknown_dims_are_independent():
    """cls's input is [None, 3, '?', '?']: Paddle2ONNX writes '?' for an unknown dim, so each '?' is a dimension
    of its own (x_dim2, x_dim3) and 48x192 is accepted; the test above counts its MACs from onnxruntime's shapes."""
    model = onnx.load(str(trained.require("cls")))
    name = trained.MODELS["cls"].input_name
    report = onnxcost.analyze(model, dims={f"{name}_dim0": 1, f"{name}_dim2": 48, f"{name}_dim3": 192})
    assert report.model.inputs[0].shape == [1, 3, 48, 192] and report.warnings == []


# --- issue 17's must-show thresholds (held-out rendered data) ------------------------------------------------------

def test_calibrated_separable_det_keeps_the_text_mask():
    """Calibrated --separable --target-macs 0.7x on PP-OCRv4 det: mask IoU >= 0.97, rel. L2 <= 0.10 on held-out
    pages (weight-only: 0.89 and 0.33 measured here)."""
    _calibration_api()
    from onnxcost.datasets import ArrayDataset

    path = trained.require("det")
    pages = [rendered.page(s) for s in rendered.seeds(8, rendered.CALIBRATION)]
    calibration = ArrayDataset({"x": rendered.det_input(pages)})
    result = passes.rewrite(path, passes.Separable(), passes.TargetMacs(ratio=0.7), inputs=SHAPES["det"],
                            calibration=calibration, validate=False)
    assert result.report.totals.macs <= 0.7 * onnxcost.analyze(str(path), SHAPES["det"]).totals.macs
    held = rendered.det_input([rendered.page(s) for s in rendered.seeds(4, rendered.HELD_OUT)])
    reference = _first_output(onnx.load(str(path)), "x", held)
    rewritten = _first_output(result.model, "x", held)
    assert rendered.iou(rendered.text_mask(reference), rendered.text_mask(rewritten)) >= 0.97
    assert rendered.rel_l2(reference, rewritten) <= 0.10


@pytest.fixture(scope="module")
def rec_strings() -> dict[str, list[str]]:
    """The greedy CTC strings of 32 held-out lines: PP-OCRv4 rec ("original"), calibrated --grouped 2 at <= 0.85x MACs
    on 32 other lines ("rewritten"), and the original with its weights rounded to int8 per output channel ("int8")."""
    _calibration_api()
    from onnxcost.datasets import ArrayDataset
    from onnxcost.validation.yardstick import rounded

    path = trained.require("rec")
    original = onnx.load(str(path))
    characters = trained.ctc_characters(original)
    lines = [rendered.text_line(s, characters)[0] for s in rendered.seeds(32, rendered.CALIBRATION)]
    result = passes.rewrite(path, passes.Grouped(2), passes.TargetMacs(ratio=0.85), inputs=SHAPES["rec"],
                            calibration=ArrayDataset({"x": rendered.rec_input(lines)}), validate=False)
    assert result.report.totals.macs <= 0.85 * onnxcost.analyze(str(path), SHAPES["rec"]).totals.macs
    held = rendered.rec_input([rendered.text_line(s, characters)[0] for s in rendered.seeds(32, rendered.HELD_OUT)])
    models = {"original": original, "rewritten": result.model, "int8": rounded(original, "int8").model}
    return {key: rendered.ctc_decode(_first_output(model, "x", held), characters) for key, model in models.items()}


def _kept(strings: dict[str, list[str]], key: str) -> float:
    return float(np.mean([a == b for a, b in zip(strings["original"], strings[key])]))


@pytest.mark.xfail(strict=True, reason="issue 17's threshold is not reached yet: with the measured-sensitivity budget "
                   "26 of these 32 held-out lines (81%) keep their string (50 of 64: 78%); int8 weight rounding keeps "
                   "22 (docs/frontier.md lists what was tried)")
def test_calibrated_grouped_rec_keeps_the_strings(rec_strings):
    """Calibrated --grouped 2 at <= 0.85x MACs on PP-OCRv4 rec: >= 90% of held-out lines decode to the same CTC
    string (weight-only: 0 of 32 measured here)."""
    assert _kept(rec_strings, "rewritten") >= 0.9, list(zip(rec_strings["original"], rec_strings["rewritten"]))


def test_calibrated_grouped_rec_keeps_as_many_strings_as_int8_weights(rec_strings):
    """The same rewrite changes no more of these strings than rounding the original's weights to int8 per output
    channel does (validate --yardstick int8): 26 and 22 of 32 kept when this was written."""
    assert _kept(rec_strings, "int8") < 1.0  # the lines are hard enough for int8 rounding to flip some
    assert _kept(rec_strings, "rewritten") >= _kept(rec_strings, "int8")


@pytest.mark.parametrize("name", ["det", "cls", "yolov8n", "rec"])
def test_formulas_of_trained_models_equal_their_reports_at_two_sizes(name):
    """Issue 10: with the exporters' own free dims (Paddle2ONNX's 'p2o.DynamicDimension.*' and -1, YOLOv8's
    batch/height/width), every figure's formula evaluated at the size the model runs at, and at a second one,
    equals the report computed at that size, node by node. The recogniser only works at height 48 (a Concat of
    its pooled height with a height-1 branch): it is given, and the formulas are in batch and width."""
    model = trained.load(name)
    spec = trained.MODELS[name]
    fixed = {"x_dim2": 48} if name == "rec" else {}
    report = onnxcost.analyze_model(model, dims=fixed)
    found = report.formulas
    assert found.missing == [] and found.totals
    n, _, h, w = spec.shape
    for values in ([n, h, w], [2, h + 96, w + 64]):  # the free dims are batch, height, width, in that order
        if fixed:
            values = [values[0], values[2]]
        given = {**fixed, **{found.names.get(s, s): v for s, v in zip(found.symbols, values)}}
        concrete = onnxcost.analyze_model(model, dims=given)
        evaluated = report.at(**dict(zip(found.symbols, values)))
        for got, want in zip(evaluated.nodes, concrete.nodes):
            assert (got.macs, got.flops, got.memory_traffic_bytes, got.output_shapes) == \
                (want.macs, want.flops, want.memory_traffic_bytes, want.output_shapes), want.name
        assert evaluated.totals.macs == concrete.totals.macs and evaluated.peak.bytes == concrete.peak.bytes
