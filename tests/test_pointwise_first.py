"""The separable form in the other order (passes/pointwise_first.py, passes/output_factorize.py): per output
channel, a 1x1 conv Cin -> Cout·r then a grouped KxK conv of Cout groups r -> 1. Exact against onnxruntime,
MACs by hand, rank r against numpy's SVD of each output channel, the calibrated factors against weight-only on
correlated data, the refit against numpy's lstsq, and the per-layer order choice."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

from onnxcost import passes
from onnxcost.datasets import ArrayDataset
from onnxcost.passes.output_factorize import calibrated_output_svd, compose_pointwise_first, refine
from onnxcost.passes.pointwise_first import (POINTWISE_FIRST, SUMMED, PointwiseFirst, SeparableOrder,
                                             separable_structure, traffic_per_mac)
from onnxcost.render.rewrite import render_plan
from onnxcost.validation import run, session
from support.rewrite_models import finish, single_conv

ALL = passes.Selection(min_channels=1)


def _outputs(model, x):
    return run(session(model), {"x": x})["y"]


def _rel(a, b) -> float:
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


def _initializers(model) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_exact_reproduces_a_strided_padded_dilated_conv_with_bias():
    # Cin 12 > Cout 5, 3x3, stride 2, pads (top 1, left 2, bottom 1, right 0), dilations (2, 1), bias.
    model = single_conv(12, 5, (3, 3), (15, 17), strides=[2, 2], pads=[1, 2, 1, 0], dilations=[2, 1], seed=1)
    result = passes.rewrite(model, PointwiseFirst(), passes.Exact(), ALL, emission=POINTWISE_FIRST)
    x = np.random.default_rng(0).standard_normal((1, 12, 15, 17)).astype(np.float32)
    assert _rel(_outputs(model, x), _outputs(result.model, x)) < 1e-5
    layer = result.plan.rewritten[0]
    assert (layer.rank, layer.exact_rank, layer.max_rank, layer.emission) == (9, 9, 9, POINTWISE_FIRST)
    ops = [(n.op_type, n.name) for n in result.model.graph.node]
    assert ops == [("Conv", "conv/pw"), ("Conv", "conv/gconv")]
    weights = _initializers(result.model)
    assert weights["conv/pw.weight"].shape == (45, 12, 1, 1)  # Cout·r = 5·9
    assert weights["conv/gconv.weight"].shape == (5, 9, 3, 3) and weights["conv/gconv.bias"].shape == (5,)
    # Output 7x9: H (15 + 1 + 1 - (2·2 + 1)) // 2 + 1 = 7, W (17 + 2 + 0 - 3) // 2 + 1 = 9: 63 positions.
    # Dense: 5·12·9·63 = 34,020. Exact r = min(Cin, K) = 9: the 1x1 conv at the input's 15·17 = 255 positions
    # 5·9·12·255 = 137,700, the grouped 3x3 conv 5·9·9·63 = 25,515: 163,215.
    assert (layer.macs_before, layer.macs_after) == (34_020, 163_215)
    assert result.report.totals.macs == 163_215
    # Params: 45·12 + 5·9·9 + 5 (bias) = 540 + 405 + 5 = 950.
    assert layer.params_after == 950


def test_exact_with_groups():
    # A grouped original (g = 2): the 1x1 conv keeps its groups; Cin/g = 4 < K = 9, so the exact rank is 4.
    model = single_conv(8, 6, (3, 3), (9, 9), group=2, pads=[1, 1, 1, 1], seed=2, batch=2)
    result = passes.rewrite(model, PointwiseFirst(), passes.Exact(), ALL)
    x = np.random.default_rng(1).standard_normal((2, 8, 9, 9)).astype(np.float32)
    assert _rel(_outputs(model, x), _outputs(result.model, x)) < 1e-5
    assert result.plan.rewritten[0].rank == 4


def test_macs_by_hand_at_rank_2():
    # Cin 16, Cout 4, 3x3, 10x10, pads 1, stride 1. Dense 4·16·9·100 = 57,600. Rank 2: 1x1 conv 4·2·16·100 = 12,800,
    # grouped 3x3 4·2·9·100 = 7,200: 20,000 = 57,600·(2/9 + 2/16) = 57,600·0.34722.
    model = single_conv(16, 4, (3, 3), (10, 10), pads=[1, 1, 1, 1])
    result = passes.rewrite(model, PointwiseFirst(), passes.Rank(2), ALL)
    layer = result.plan.rewritten[0]
    assert (layer.macs_before, layer.macs_after, result.report.totals.macs) == (57_600, 20_000, 20_000)
    # Params: 8·16 + 4·2·9 + 4 = 128 + 72 + 4 = 204.
    assert layer.params_after == 204


def test_rank_r_is_the_best_truncation_per_output_channel():
    model = single_conv(10, 6, (3, 3), (8, 8), pads=[1, 1, 1, 1], seed=3, bias=False)
    weight = _initializers(model)["conv.weight"].astype(np.float64)
    r = 2
    truncated = np.empty_like(weight)
    for o in range(6):
        u, s, vt = np.linalg.svd(weight[o].reshape(10, 9))
        truncated[o] = ((u[:, :r] * s[:r]) @ vt[:r]).reshape(10, 3, 3)
    result = passes.rewrite(model, PointwiseFirst(), passes.Rank(r), ALL, check=False)
    x = np.random.default_rng(2).standard_normal((1, 10, 8, 8)).astype(np.float32)
    reference = single_conv(10, 6, (3, 3), (8, 8), pads=[1, 1, 1, 1], seed=3, bias=False,
                            weight=truncated.astype(np.float32))
    assert _rel(_outputs(reference, x), _outputs(result.model, x)) < 1e-5
    # The plan's weight error is Eckart-Young's: the discarded singular values of every output channel.
    expected = np.linalg.norm(weight - truncated) / np.linalg.norm(weight)
    assert result.plan.rewritten[0].weight_rel_error == pytest.approx(expected, rel=1e-6)


# Smooth images (x[c](h, w) = a_c + b_c·h + c_c·w) whose 16 channels mix 2 sources: the patches of the first conv
# span a few dims of its 16·9 and its channels are correlated.
CIN, SIDE = 16, 12


def _ramps(rng, count, mixing):
    sources = rng.standard_normal((count, 2, 3))
    coefficients = np.einsum("njk,jc->nck", sources, mixing)
    h, w = np.meshgrid(np.arange(SIDE) / SIDE, np.arange(SIDE) / SIDE, indexing="ij")
    return (coefficients[..., 0, None, None] + coefficients[..., 1, None, None] * h
            + coefficients[..., 2, None, None] * w).astype(np.float32)


def _stack():
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((8, CIN, 3, 3)) / np.sqrt(CIN * 9)).astype(np.float32)
    w2 = (rng.standard_normal((4, 8, 3, 3)) / np.sqrt(8 * 9)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "c1.weight"], ["h"], name="c1", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["h"], ["hr"], name="between"),
             helper.make_node("Conv", ["hr", "c2.weight"], ["y"], name="c2", kernel_shape=[3, 3])]
    return finish(nodes, {"x": ["N", CIN, SIDE, SIDE]}, ["y"], {"c1.weight": w1, "c2.weight": w2})


@pytest.fixture(scope="module")
def stack_data():
    rng = np.random.default_rng(7)
    mixing = rng.standard_normal((2, CIN))
    return _stack(), ArrayDataset({"x": _ramps(rng, 40, mixing)}), _ramps(rng, 16, mixing)


def test_calibrated_output_error_is_five_times_lower_than_weight_only(stack_data):
    # Measured here (relative L2 on 16 unseen samples, rank 1): weight-only 0.80, calibrated 0.054, refit 0.056.
    model, data, unseen = stack_data
    options = dict(selection=ALL, check=False)
    weight_only = passes.rewrite(model, PointwiseFirst(), passes.Rank(1), **options)
    whitened = passes.rewrite(model, PointwiseFirst(), passes.Rank(1), calibration=data, refit=False, **options)
    refitted = passes.rewrite(model, PointwiseFirst(), passes.Rank(1), calibration=data, **options)
    original = _outputs(model, unseen)
    base = _rel(original, _outputs(weight_only.model, unseen))
    assert base > 0.3
    assert _rel(original, _outputs(whitened.model, unseen)) * 5 <= base
    assert _rel(original, _outputs(refitted.model, unseen)) * 5 <= base
    assert [l.rank for l in refitted.plan.rewritten] == [l.rank for l in weight_only.plan.rewritten] == [1, 1]
    assert refitted.plan.macs_after == weight_only.plan.macs_after


def test_refit_is_lstsq_of_the_output_on_the_grouped_conv_patches():
    # One conv (its input is the model's): per output channel o, the grouped 3x3 conv's filters and bias are the
    # least-squares fit of the original y_o on the 3x3 patches of its r middle channels (the rewritten 1x1 conv's
    # outputs) and a constant, over the calibration samples (10 given: the first 8 calibrate, 2 are held out).
    cin, cout, side, r = 6, 3, 7, 2
    model = single_conv(cin, cout, (3, 3), (side, side), pads=[1, 1, 1, 1], seed=4)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    x = np.random.default_rng(5).standard_normal((10, cin, side, side)).astype(np.float32)
    # The emission named: with "auto" the timing may pick the summed form, whose weights have other names.
    result = passes.rewrite(model, PointwiseFirst(), passes.Rank(r), ALL, calibration=ArrayDataset({"x": x}), check=False,
                            emission=POINTWISE_FIRST)
    weights = _initializers(result.model)
    pointwise = weights["conv/pw.weight"].reshape(cout * r, cin).astype(np.float64)
    used = x[:8].astype(np.float64)
    y = _outputs(model, x[:8]).astype(np.float64)
    middle = np.pad(np.einsum("mc,nchw->nmhw", pointwise, used), [(0, 0), (0, 0), (1, 1), (1, 1)])
    for o in range(cout):
        columns = [middle[:, o * r + t, i:i + side, j:j + side].reshape(-1) for t in range(r) for i in range(3)
                   for j in range(3)]
        design = np.stack(columns + [np.ones(8 * side * side)], axis=1)
        solution = np.linalg.lstsq(design, y[:, o].reshape(-1), rcond=None)[0]
        np.testing.assert_allclose(weights["conv/gconv.weight"][o].reshape(-1), solution[:-1], rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(weights["conv/gconv.bias"][o], solution[-1], rtol=1e-3, atol=1e-4)


def _two_convs():
    # c1: 16 -> 4 (Cout < Cin: pointwise first), c2: 4 -> 16 (Cout > Cin: depthwise first), both 3x3 stride 1.
    rng = np.random.default_rng(6)
    w1 = rng.standard_normal((4, 16, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "c1.weight"], ["h"], name="c1", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Conv", ["h", "c2.weight"], ["y"], name="c2", kernel_shape=[3, 3], pads=[1] * 4)]
    return finish(nodes, {"x": [1, 16, 10, 10]}, ["y"], {"c1.weight": w1, "c2.weight": w2})


def test_auto_order_per_layer_and_its_column():
    model = _two_convs()
    result = passes.rewrite(model, separable_structure("auto"), passes.Exact(), ALL, emission="multiplier")
    x = np.random.default_rng(8).standard_normal((1, 16, 10, 10)).astype(np.float32)
    assert _rel(_outputs(model, x), _outputs(result.model, x)) < 1e-5
    # c1 has no multiplier emission: it falls back to its preferred one at r > 1, summed, and says so.
    assert [l.emission for l in result.plan.rewritten] == [SUMMED, "multiplier"]
    assert "'multiplier' emission not available here" in result.plan.rewritten[0].note
    # c1 pointwise first, exact r = min(16, 9) = 9: 4·9·16·100 + 4·9·9·100 = 57,600 + 32,400 = 90,000.
    # c2 depthwise first, exact r = min(16, 9) = 9: 4·9·9·100 + 16·36·100 = 32,400 + 57,600 = 90,000.
    assert [l.macs_after for l in result.plan.rewritten] == [90_000, 90_000]
    text = render_plan(result.plan, "m.onnx", width=200)
    rows = [line.split() for line in text.splitlines() if line.strip().startswith(("c1", "c2"))]
    assert rows[0][-1] == "pointwise" and rows[1][-1] == "depthwise"
    assert isinstance(separable_structure("auto"), SeparableOrder)
    assert isinstance(separable_structure(), passes.Separable)


def test_auto_order_rule_at_stride_2():
    # At equal MACs the memory traffic added per MAC decides (onnxcost's report of each replacement at ranks 1 and 2;
    # per rank: the middle tensor written and read, 4 bytes each, and the weights). 3x3, stride 2, pads 1, 16x16
    # input, 8x8 output.
    # 24 -> 16: pointwise first (2·16·256·4 + (16·24 + 16·9)·4) / (16·24·256 + 16·9·64) = 34,880 / 107,520 = 0.324,
    #           depthwise first (2·24·64·4 + (24·9 + 16·24)·4) / (24·9·64 + 16·24·64) = 14,688 / 38,400 = 0.383:
    #           pointwise.
    # 12 -> 8:  pointwise first (2·8·256·4 + (8·12 + 8·9)·4) / (8·12·256 + 8·9·64) = 17,056 / 29,184 = 0.584,
    #           depthwise first (2·12·64·4 + (12·9 + 8·12)·4) / (12·9·64 + 8·12·64) = 6,960 / 13,056 = 0.533:
    #           depthwise, though Cout < Cin.
    for cin, cout, order in ((24, 16, "pointwise"), (12, 8, "depthwise")):
        structure = SeparableOrder()
        model = single_conv(cin, cout, (3, 3), (16, 16), strides=[2, 2], pads=[1, 1, 1, 1])
        site = passes.Rewriter(model, structure).sites["conv"]
        assert structure.order(site) == order, (cin, cout)
        figures = {"pointwise": traffic_per_mac(structure.pointwise, site),
                   "depthwise": traffic_per_mac(structure.depthwise, site)}
        expected = {(24, 16): (34_880 / 107_520, 14_688 / 38_400), (12, 8): (17_056 / 29_184, 6_960 / 13_056)}
        assert (figures["pointwise"], figures["depthwise"]) == pytest.approx(expected[(cin, cout)], rel=1e-12)


def test_unknown_order_is_an_option_error():
    with pytest.raises(passes.RewriteOptionError, match="order"):
        separable_structure("sideways")


def test_refinement_on_the_full_moments_is_least_squares_on_the_data():
    # Patches whose covariance is far from a Kronecker product (each channel its own 3-dim subspace of the 9 taps):
    # the refined factors have a lower output error on the data than the closed form, and their last step (the
    # KxK filters with the 1x1 weights fixed) is the least-squares fit of y_o = <M_o, P> on the features
    # Σ_c A[c, t]·P[c, k], checked against numpy's lstsq.
    rng = np.random.default_rng(9)
    cin, cout, k, r, rows = 5, 3, 9, 2, 4000
    bases = rng.standard_normal((cin, 3, k))
    patches = np.einsum("ncj,cjk->nck", rng.standard_normal((rows, cin, 3)), bases)
    patches += 0.05 * rng.standard_normal(patches.shape)
    weight = rng.standard_normal((cout, cin, 3, 3))
    flat = patches.reshape(rows, -1)
    moments = (flat.T @ flat / rows)[None]
    closed = calibrated_output_svd(weight, 1, moments, 1, refine_steps=0).factors(r)
    refined = refine(weight, closed, moments, steps=4, ridge=0.0)
    y = patches.reshape(rows, -1) @ weight.reshape(cout, -1).T  # (rows, Cout)

    def data_error(factors):
        return np.sum((y - flat @ compose_pointwise_first(factors).reshape(cout, -1).T) ** 2)

    # Measured: relative squared error 0.246 (closed form) -> 0.0014 (refined).
    assert data_error(refined) < 0.1 * data_error(closed)
    a = refined.pointwise.reshape(cout, r, cin)
    for o in range(cout):
        features = np.einsum("tc,nck->ntk", a[o], patches).reshape(rows, r * k)
        solution = np.linalg.lstsq(features, y[:, o], rcond=None)[0]
        np.testing.assert_allclose(refined.spatial[o].reshape(-1), solution, rtol=1e-6, atol=1e-9)


def test_cli_order_option_chooses_the_structure():
    # --order is the separable form's: depthwise (the default) is today's structure, pointwise and auto the new
    # ones; with --grouped it is refused.
    from onnxcost.cli.rewrite_options import parse_structure
    from onnxcost.errors import InputSpecError

    assert type(parse_structure(True, None)) is passes.Separable
    assert type(parse_structure(True, None, "depthwise")) is passes.Separable
    assert type(parse_structure(True, None, "pointwise")) is PointwiseFirst
    assert type(parse_structure(True, None, "auto")) is SeparableOrder
    with pytest.raises(InputSpecError, match="--order pointwise"):
        parse_structure(False, 2, "pointwise")
    both = parse_structure(True, 2, "auto")  # separable (order auto) for KxK, grouped G = 2 for 1x1
    assert type(both) is passes.SeparableAndGrouped
    assert (type(both.separable), both.grouped.groups) == (SeparableOrder, 2)
    with pytest.raises(InputSpecError, match="choose a structure"):
        parse_structure(False, None)


def test_refit_in_row_chunks_is_the_same_fit(monkeypatch):
    # A batch whose regressors pass MAX_MIDDLE_ELEMENTS is added in row chunks: the normal equations are sums over
    # rows, so the fit is the same (to rounding) as in one block. 5·7·7 = 245 rows of 3·2·9 = 54 regressors.
    from onnxcost.passes import calibration

    model = single_conv(6, 3, (3, 3), (7, 7), pads=[1, 1, 1, 1], seed=4, batch=5)
    data = ArrayDataset({"x": np.random.default_rng(5).standard_normal((10, 6, 7, 7)).astype(np.float32)})
    options = dict(selection=ALL, calibration=data, check=False, emission=POINTWISE_FIRST)  # one form, no timing
    whole = _initializers(passes.rewrite(model, PointwiseFirst(), passes.Rank(2), **options).model)
    monkeypatch.setattr(calibration, "MAX_MIDDLE_ELEMENTS", 54 * 40)  # 40 rows at a time: 7 chunks
    chunked = _initializers(passes.rewrite(model, PointwiseFirst(), passes.Rank(2), **options).model)
    for name in ("conv/gconv.weight", "conv/gconv.bias"):
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("group", [1, 2])
def test_summed_emission_is_the_same_function_at_the_same_cost(group):
    # Cin 8, Cout 4, 3x3, 6x6, pads 1, stride 1, rank 2, batch 2; g = 2 keeps the 1x1 convs' groups.
    # Both emissions: 1x1 convs 2·4·2·36·(8/g) MACs, depthwise 3x3 2·4·2·9·36 = 5,184; the Adds have no MACs.
    # g = 1: 4,608 + 5,184 = 9,792; g = 2: 2,304 + 5,184 = 7,488. Params: 8·(8/g) + 4·2·9 + 4 (bias) = 140 or 108.
    model = single_conv(8, 4, (3, 3), (6, 6), group=group, pads=[1, 1, 1, 1], seed=4, batch=2)
    x = np.random.default_rng(2).standard_normal((2, 8, 6, 6)).astype(np.float32)
    results = {e: passes.rewrite(model, PointwiseFirst(), passes.Rank(2), ALL, emission=e)
               for e in (POINTWISE_FIRST, SUMMED)}
    grouped, summed = results[POINTWISE_FIRST].model, results[SUMMED].model
    assert _rel(_outputs(grouped, x), _outputs(summed, x)) < 1e-6
    macs, params = {1: (9_792, 140), 2: (7_488, 108)}[group]
    for result in results.values():
        layer = result.plan.rewritten[0]
        assert (layer.macs_after, result.report.totals.macs, layer.params_after) == (macs, macs, params)
    assert [(n.op_type, n.name) for n in summed.graph.node] == [
        ("Conv", "conv/pw0"), ("Conv", "conv/dw0"), ("Conv", "conv/pw1"), ("Conv", "conv/dw1"), ("Add", "conv/sum1")]
    convs = {n.name: {a.name: helper.get_attribute_value(a) for a in n.attribute} for n in summed.graph.node
             if n.op_type == "Conv"}
    assert [convs[n]["group"] for n in ("conv/pw0", "conv/dw0", "conv/pw1", "conv/dw1")] == [group, 4, group, 4]
    weights = _initializers(summed)
    assert weights["conv/pw0.weight"].shape == (4, 8 // group, 1, 1) and weights["conv/dw1.weight"].shape == (4, 1, 3, 3)
    assert "conv/dw0.bias" in weights and "conv/dw1.bias" not in weights  # the bias once


def test_rank_1_has_only_the_grouped_form():
    # At r = 1 the grouped KxK conv is already depthwise: nothing to sum, one emission.
    model = single_conv(8, 4, (3, 3), (6, 6), pads=[1, 1, 1, 1])
    result = passes.rewrite(model, PointwiseFirst(), passes.Rank(1), ALL)
    assert result.plan.rewritten[0].emission == POINTWISE_FIRST
    assert [n.name for n in result.model.graph.node] == ["conv/pw", "conv/gconv"]
