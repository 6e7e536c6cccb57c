"""The separable rewrite end to end: onnxruntime says the outputs match, onnxcost's report of the written
model says the MACs are the predicted ones, and both equal the figures computed here by hand.

Hand formulas (N = 1): dense conv MACs = ∏out·Cout·(Cin/g)·K; separable at rank r =
∏out·(Cin·r·K + Cout·(Cin/g)·r), K = kernel elements.
"""

import numpy as np
import onnx
import pytest

import onnxcost
from onnxcost import passes
from onnxcost.passes import Energy, Exact, Rank, Selection, TargetMacs

from support.conv_cases import SEPARABLE_CONVS
from support.rewrite_models import VGG16_CONVS, VGG16_MACS, VGG16_PARAMS, conv_mul_add, resnet_block, single_conv, spectral_weight


def separable_macs(side, cin, cout, rank, k=9):
    return side * side * (cin * rank * k + cout * cin * rank)


@pytest.fixture(scope="module")
def vgg16_exact(vgg16, tmp_path_factory):
    result = passes.separable(vgg16, Exact(), emission="multiplier")
    path = tmp_path_factory.mktemp("exact") / "vgg16.exact.onnx"
    result.save(path)
    return result, path


@pytest.fixture(scope="module")
def vgg16_rank1(vgg16, tmp_path_factory):
    result = passes.separable(vgg16, Rank(1), validate=False)
    path = tmp_path_factory.mktemp("rank1") / "vgg16.rank1.onnx"
    result.save(path)
    return result, path


# --- VGG-16 ------------------------------------------------------------------------------------

def test_vgg16_exact_matches_in_onnxruntime(vgg16_exact):
    result, _ = vgg16_exact
    (output,) = result.comparison.outputs
    assert output.name == "fc8" and output.shape == [1, 1000]
    assert output.rel_l2_error < 1e-5
    assert output.top1_agreement == 1.0
    assert result.comparison.ok


def test_vgg16_exact_costs_dense_plus_cin_k_squared(vgg16_exact):
    """Exact rank 9 (= K, as Cout >= 64 > 9): each rewritten conv costs its dense MACs + side²·Cin·81."""
    result, path = vgg16_exact
    extra = sum(side * side * cin * 81 for name, cin, _, side in VGG16_CONVS if name != "conv1_1")
    assert extra == 723_437_568
    report = onnxcost.analyze(str(path))
    assert report.totals.macs == VGG16_MACS + extra == result.plan.macs_after
    rows = {row.name: row for row in report.nodes}
    for name, cin, cout, side in VGG16_CONVS[1:]:
        assert rows[f"{name}/dw"].macs == side * side * cin * 9 * 9
        assert rows[f"{name}/pw"].macs == side * side * cout * cin * 9
        assert name not in rows
    assert rows["conv1_1"].op_type == "Conv"  # the stem (3 input channels) is skipped by default
    assert any("costs the dense conv plus Cin·K²" in note for note in result.plan.notes)
    assert any(note.startswith("MACs grow") for note in result.plan.notes)
    assert all(layer.rank == 9 and layer.exact_rank == 9 for layer in result.plan.rewritten)


def test_vgg16_written_model_passes_the_full_check(vgg16_exact):
    _, path = vgg16_exact
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    pw = next(n for n in model.graph.node if n.name == "conv3_1/pw")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in pw.attribute}
    assert attrs["kernel_shape"] == [1, 1] and attrs["group"] == 1
    assert len(pw.input) == 3  # the bias moves to the pointwise conv
    dw = next(n for n in model.graph.node if n.name == "conv3_1/dw")
    dw_attrs = {a.name: onnx.helper.get_attribute_value(a) for a in dw.attribute}
    assert dw_attrs["group"] == 128 and dw_attrs["pads"] == [1, 1, 1, 1] and len(dw.input) == 2


def test_vgg16_rank1_cuts_conv_macs_over_7x_as_predicted(vgg16_rank1):
    result, path = vgg16_rank1
    report = onnxcost.analyze(str(path))
    conv_macs = sum(row.macs for row in report.nodes if row.op_type == "Conv")
    by_hand = 224 * 224 * 64 * 3 * 9 + sum(separable_macs(side, cin, cout, 1) for _, cin, cout, side in VGG16_CONVS[1:])
    assert conv_macs == by_hand == 1_862_633_472
    assert 15_346_630_656 / conv_macs >= 7
    assert report.totals.macs == result.plan.macs_after == by_hand + 123_633_664
    assert report.totals.params == result.plan.params_after
    # params: each conv's Cout·Cin·9 weights become Cin·9 + Cout·Cin, biases stay.
    saved = sum(cout * cin * 9 - (cin * 9 + cout * cin) for _, cin, cout, _ in VGG16_CONVS[1:])
    assert report.totals.params == VGG16_PARAMS - saved
    layer = next(l for l in result.plan.layers if l.name == "conv3_2")
    assert layer.macs_after == separable_macs(56, 256, 256, 1) and layer.rank == 1


def test_vgg16_selection_and_dry_run_plan(vgg16):
    rewriter = passes.Rewriter(vgg16, passes.Separable())
    plan = rewriter.plan(Rank(2), Selection(include=("conv4_*", "conv5_*"), exclude=("conv5_3",)), emission="multiplier")
    assert [l.name for l in plan.rewritten] == ["conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2"]
    reasons = {l.name: l.reason for l in plan.layers if not l.rewrite}
    assert reasons["conv5_3"] == "matched by exclude" and reasons["conv1_2"] == "not matched by include"
    expected = VGG16_MACS - sum(side * side * cout * cin * 9 - separable_macs(side, cin, cout, 2)
                                for name, cin, cout, side in VGG16_CONVS if name[:5] in ("conv4", "conv5") and name != "conv5_3")
    assert plan.macs_after == expected
    # min_channels=1 lets the stem in; r=2 on 3 input channels: 224²·(3·2·9 + 64·3·2) < 224²·64·3·9.
    plan = rewriter.plan(Rank(2), Selection(include=("conv1_1",), min_channels=1), emission="multiplier")
    assert [l.name for l in plan.rewritten] == ["conv1_1"]
    assert plan.rewritten[0].macs_after == 224 * 224 * (3 * 2 * 9 + 64 * 3 * 2)


def test_vgg16_target_macs_meets_the_budget(vgg16):
    rewriter = passes.Rewriter(vgg16, passes.Separable())
    plan = rewriter.plan(TargetMacs(ratio=0.5), emission="multiplier")
    assert plan.budget == VGG16_MACS // 2
    assert plan.macs_after <= VGG16_MACS // 2
    assert plan.rewritten and all(l.macs_after < l.macs_before for l in plan.rewritten)
    # Absolute: 3G. The greedy spends the error where it buys the most MACs.
    plan = rewriter.plan(TargetMacs.parse("3G"), emission="multiplier")
    assert plan.budget == 3_000_000_000 and plan.macs_after <= 3_000_000_000
    with pytest.raises(passes.BudgetUnreachable, match="cannot be met"):
        rewriter.plan(TargetMacs.parse("1G"), emission="multiplier")  # rank 1 everywhere still leaves 1.99 G


def test_default_mode_never_makes_a_model_more_expensive(vgg16):
    """Default: energy 0.99. VGG-16's random weights have flat spectra, so 0.99 needs r = 9: nothing pays."""
    plan = passes.Rewriter(vgg16, passes.Separable()).plan(emission="multiplier")
    assert plan.mode == "energy 0.99"
    assert plan.macs_after <= plan.macs_before and plan.params_after <= plan.params_before
    assert all(l.macs_after < l.macs_before for l in plan.rewritten)
    assert all("would not reduce MACs" in l.reason for l in plan.layers if not l.rewrite and l.name != "conv1_1")


# --- a ResNet block: stride 2 with padding, no bias, BatchNormalization, residual add -------------------

def test_resnet_block_exact_in_onnxruntime():
    result = passes.separable(resnet_block(), Exact(), emission="multiplier")
    assert result.comparison.worst_rel_l2_error < 1e-5
    layers = {l.name: l for l in result.plan.layers}
    assert layers["conv_a"].rewrite and layers["conv_a"].folded == ["bn_a"]
    assert layers["conv_b"].rewrite and layers["conv_b"].folded == ["bn_b"]
    assert not layers["conv_s"].rewrite and layers["conv_s"].reason == "1x1 kernel: nothing to separate"
    ops = [n.op_type for n in result.model.graph.node]
    assert ops.count("BatchNormalization") == 1  # only the shortcut's, whose 1x1 conv is not rewritten
    names = [n.name for n in result.model.graph.node]
    assert {"conv_a/dw", "conv_a/pw", "conv_b/dw", "conv_b/pw"} <= set(names)
    # conv_a: 16 -> 32, 3x3 stride 2 on 16x16 -> 8x8; exact rank 9 (Cout 32 > K 9).
    assert layers["conv_a"].macs_before == 8 * 8 * 32 * 16 * 9
    assert layers["conv_a"].macs_after == 8 * 8 * (16 * 9 * 9 + 32 * 16 * 9)
    # params: before W (32·16·9) + BN (4·32); after dw 16·9·9 + pw 32·16·9 + the folded bias 32.
    assert layers["conv_a"].params_before == 32 * 16 * 9 + 4 * 32
    assert layers["conv_a"].params_after == 16 * 81 + 32 * 16 * 9 + 32
    assert result.report.totals.macs == result.plan.macs_after
    assert result.report.totals.params == result.plan.params_after


def test_resnet_block_rank2_prediction_matches_the_report():
    result = passes.separable(resnet_block(), Rank(2), emission="concat")
    a = next(l for l in result.plan.layers if l.name == "conv_a")
    assert a.macs_after == 8 * 8 * (16 * 2 * 9 + 32 * 16 * 2) and a.emission == "concat"
    rows = {row.name: row for row in result.report.nodes}
    assert rows["conv_a/dw.0"].macs + rows["conv_a/dw.1"].macs + rows["conv_a/pw"].macs == a.macs_after
    assert rows["conv_a/dw"].op_type == "Concat"


def test_mul_and_add_after_a_conv_are_folded():
    result = passes.separable(conv_mul_add(), Exact(), emission="multiplier")
    layer = result.plan.rewritten[0]
    assert layer.folded == ["mul", "add"]
    assert [n.op_type for n in result.model.graph.node] == ["Conv", "Conv", "Relu"]
    assert result.comparison.worst_rel_l2_error < 1e-5
    # params before: W 16·8·9 + b 16 + scale 16 + shift 16
    assert layer.params_before == 16 * 8 * 9 + 3 * 16


# --- every kind of conv, exact in onnxruntime --------------------------------------------------------

@pytest.mark.parametrize("emission", ["multiplier", "concat"])
@pytest.mark.parametrize("case", sorted(SEPARABLE_CONVS))
def test_exact_on_every_kind_of_conv(case, emission):
    spec = SEPARABLE_CONVS[case]
    model = single_conv(**spec)
    result = passes.separable(model, Exact(), emission=emission)
    (layer,) = result.plan.layers
    assert layer.rewrite
    assert result.comparison.worst_rel_l2_error < 1e-5, case
    group = spec.get("group", 1)
    k = int(np.prod(spec["kernel"]))
    rank = min(spec["cout"] // group, k)
    assert layer.rank == rank
    out = result.report.model.outputs[0].shape
    positions = int(np.prod(out[2:])) * out[0]
    assert layer.macs_before == positions * spec["cout"] * spec["cin"] // group * k
    assert result.report.totals.macs == layer.macs_after == positions * (spec["cin"] * rank * k + spec["cout"] * spec["cin"] // group * rank)
    expected = "concat" if emission == "concat" and group == 1 and rank > 1 else "multiplier"
    assert layer.emission == expected


# --- modes ------------------------------------------------------------------------------------------

def test_energy_mode_on_a_known_spectrum():
    """σ = (3, 2, 1) per channel: energy 0.9 needs r = 2 (13/14 = 0.929 kept), 0.6 needs r = 1 (9/14)."""
    w = spectral_weight(cout=32, cin=8, kernel=(3, 3), singular_values=[3, 2, 1])
    model = single_conv(8, 32, [3, 3], [10, 10], weight=w, pads=[1] * 4)
    result = passes.separable(model, Energy(0.9), emission="multiplier")
    (layer,) = result.plan.layers
    assert layer.rank == 2 and layer.exact_rank == 3
    assert layer.kept_energy == pytest.approx(13 / 14, rel=1e-5)
    assert layer.weight_rel_error == pytest.approx(np.sqrt(1 / 14), rel=1e-4)
    # The output error is the weight error seen through the data: small but not rounding-level.
    assert 1e-3 < result.comparison.worst_rel_l2_error < 0.5
    plan = passes.Rewriter(model, passes.Separable()).plan(Energy(0.6))
    assert plan.layers[0].rank == 1 and plan.layers[0].kept_energy == pytest.approx(9 / 14, rel=1e-5)


def test_rank_mode_on_low_rank_weights_is_lossless():
    w = spectral_weight(cout=32, cin=8, kernel=(3, 3), singular_values=[2, 1])
    model = single_conv(8, 32, [3, 3], [10, 10], weight=w, pads=[1] * 4)
    result = passes.separable(model, Rank(2), emission="multiplier")
    assert result.plan.layers[0].exact_rank == 2
    assert result.comparison.worst_rel_l2_error < 1e-5
    # Exact mode uses the numerical rank (2), and then it saves MACs: 100·(8·2·9 + 32·8·2) < 100·32·8·9.
    plan = passes.Rewriter(model, passes.Separable()).plan(Exact())
    assert plan.layers[0].rank == 2 and plan.macs_after < plan.macs_before
    assert not any(note.startswith("MACs grow") for note in plan.notes)


def test_a_rewrite_that_would_not_save_is_left_alone_except_in_exact_mode():
    """Cout 4, K 9: rank 3 costs 3/9 + 3/4 > 1 of the dense conv."""
    model = single_conv(8, 4, [3, 3], [10, 10], pads=[1] * 4)
    rewriter = passes.Rewriter(model, passes.Separable())
    plan = rewriter.plan(Rank(3))
    (layer,) = plan.layers
    assert not layer.rewrite and "would not reduce MACs" in layer.reason
    assert plan.macs_after == plan.macs_before == 100 * 4 * 8 * 9
    plan = rewriter.plan(Exact())
    assert plan.layers[0].rewrite and plan.layers[0].rank == 4
    assert plan.macs_after == 100 * (8 * 4 * 9 + 4 * 8 * 4)


def test_rank_above_the_full_rank_is_clipped():
    model = single_conv(8, 4, [3, 3], [10, 10], pads=[1] * 4)
    plan = passes.Rewriter(model, passes.Separable()).plan(Rank(50))
    assert plan.layers[0].rank == 4


def test_depthwise_and_1x1_and_dynamic_weights_are_skipped():
    from support.rewrite_models import finish

    rng = np.random.default_rng(0)
    weights = {"dw.weight": rng.standard_normal((8, 1, 3, 3)).astype(np.float32),
               "pw.weight": rng.standard_normal((8, 8, 1, 1)).astype(np.float32)}
    nodes = [
        onnx.helper.make_node("Conv", ["x", "dw.weight"], ["a"], name="dw", group=8, pads=[1] * 4),
        onnx.helper.make_node("Conv", ["a", "pw.weight"], ["b"], name="pw"),
        onnx.helper.make_node("Conv", ["b", "w"], ["y"], name="dyn", pads=[1] * 4),
    ]
    model = finish(nodes, {"x": [1, 8, 6, 6], "w": [8, 8, 3, 3]}, ["y"], weights)
    plan = passes.Rewriter(model, passes.Separable()).plan(Rank(1))
    reasons = {l.name: l.reason for l in plan.layers}
    assert reasons == {"dw": "already depthwise", "pw": "1x1 kernel: nothing to separate", "dyn": "weights are not a constant"}


# --- emission choice and --measure -------------------------------------------------------------------

def fake_timer(times):
    """A timer that reports fixed medians per model key, recording what it was asked."""
    asked = []

    def timer(models, feeds):
        asked.append(sorted(models))
        assert set(feeds) == {"x"}
        return {key: times[key] for key in models}
    timer.asked = asked
    return timer


def test_auto_emission_takes_the_faster_by_measurement():
    model = resnet_block()
    for faster, times in (("concat", {"multiplier": 2.0, "concat": 1.0}), ("multiplier", {"multiplier": 1.0, "concat": 1.5}),
                          ("concat", {"multiplier": 1.0, "concat": 1.04})):  # within 5%: a tie, concat preferred
        timer = fake_timer(times)
        plan = passes.Rewriter(model, passes.Separable()).plan(Rank(3), timer=timer)
        assert [l.emission for l in plan.rewritten] == [faster, faster]
        assert timer.asked == [["concat", "multiplier"]] * 2
        assert plan.rewritten[0].timings == times


def test_rank1_needs_no_measurement():
    timer = fake_timer({})
    plan = passes.Rewriter(resnet_block(), passes.Separable()).plan(Rank(1), timer=timer)
    assert timer.asked == [] and all(l.emission == "multiplier" for l in plan.rewritten)


def test_measure_keeps_only_the_faster_rewrites():
    model = resnet_block()
    times = {"original": 1.0, "multiplier": 1.2, "concat": 0.9}
    plan = passes.Rewriter(model, passes.Separable()).plan(Rank(2), measure=True, timer=fake_timer(times))
    assert [l.emission for l in plan.rewritten] == ["concat", "concat"]
    times = {"original": 1e-3, "multiplier": 1.2e-3, "concat": 1.1e-3}  # seconds
    plan = passes.Rewriter(model, passes.Separable()).plan(Rank(2), measure=True, timer=fake_timer(times))
    assert plan.rewritten == []
    assert all(l.reason.startswith("measured slower: 1.1 ms rewritten vs 1 ms original") for l in plan.layers if l.name != "conv_s")
    assert plan.macs_after == plan.macs_before


def test_measure_in_real_onnxruntime_reports_timings():
    plan = passes.Rewriter(resnet_block(), passes.Separable()).plan(Rank(2), measure=True)
    for layer in plan.layers:
        if layer.name == "conv_s":
            continue
        assert set(layer.timings) == {"original", "multiplier", "concat"}
        assert all(t > 0 for t in layer.timings.values())
        assert layer.rewrite == (min(layer.timings["multiplier"], layer.timings["concat"]) < layer.timings["original"])


# --- API and errors -------------------------------------------------------------------------------------

def test_validation_failure_raises_with_the_result():
    model = single_conv(8, 32, [3, 3], [10, 10], pads=[1] * 4)
    with pytest.raises(passes.RewriteValidationFailed) as info:
        passes.separable(model, Rank(1), bounds=onnxcost.validation.Bounds(max_rel_error=1e-3))
    assert info.value.exit_code == 1
    assert info.value.result.comparison.worst_rel_l2_error > 1e-3
    result = passes.separable(model, Rank(1), bounds=onnxcost.validation.Bounds(max_rel_error=1e-3), check=False)
    assert not result.ok


@pytest.mark.parametrize("make, message", [
    (lambda: Rank(0), "rank must be an integer >= 1"),
    (lambda: Energy(0), "energy must be in"),
    (lambda: Energy(1.5), "energy must be in"),
    (lambda: TargetMacs.parse("lots"), "target_macs 'lots'"),
    (lambda: TargetMacs.parse("-0.5x"), "ratio must be positive"),
    (lambda: Selection(min_channels=0), "min_channels"),
])
def test_bad_options_are_input_errors(make, message):
    with pytest.raises(onnxcost.OnnxcostError, match=message) as info:
        make()
    assert info.value.exit_code == 2
    # The message starts with the parameter it is about, which the CLI replaces by the flag.
    assert str(info.value).startswith(info.value.parameter)


def test_the_callers_model_is_not_modified():
    model = resnet_block()
    before = model.SerializeToString()
    passes.separable(model, Rank(1), validate=False)
    assert model.SerializeToString() == before


def test_unnamed_nodes_take_the_reports_names():
    model = resnet_block()
    for node in model.graph.node:
        node.name = ""
    result = passes.separable(model, Exact(), emission="multiplier")
    layers = {l.name: l for l in result.plan.layers}
    assert set(layers) == {"Conv_0", "Conv_3", "Conv_5"}  # the report's <op_type>_<row index>
    assert layers["Conv_0"].folded == ["BatchNormalization_1"]
    assert layers["Conv_0"].nodes == ["Conv_0/dw", "Conv_0/pw"]
    assert result.comparison.worst_rel_l2_error < 1e-5
