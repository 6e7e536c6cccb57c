"""One structure per kernel size (passes/mixed.py, ``--separable --grouped G``): the separable form for KxK convs,
grouped for 1x1 convs, in one plan. Exact against onnxruntime, MACs and params by hand, the calibrated refit
through both structures, and the CLI."""

from __future__ import annotations

import json

import numpy as np
from onnx import helper
from typer.testing import CliRunner

from onnxcost import passes
from onnxcost.cli import app
from onnxcost.datasets import ArrayDataset
from onnxcost.passes.block_factorize import GroupedFactors
from onnxcost.passes.factorize import SeparableFactors
from onnxcost.validation import run, session
from support.rewrite_models import finish

ALL = passes.Selection(min_channels=1)


def _stack(seed: int = 0):
    # x[1, 8, 6, 6] -> c1: 3x3 conv 8 -> 8, pads 1, bias -> h -> c2: 1x1 conv 8 -> 4, bias -> y[1, 4, 6, 6].
    rng = np.random.default_rng(seed)
    weights = {"c1.weight": rng.standard_normal((8, 8, 3, 3)), "c1.bias": rng.standard_normal(8),
               "c2.weight": rng.standard_normal((4, 8, 1, 1)), "c2.bias": rng.standard_normal(4)}
    nodes = [helper.make_node("Conv", ["x", "c1.weight", "c1.bias"], ["h"], name="c1", kernel_shape=[3, 3],
                              pads=[1] * 4),
             helper.make_node("Conv", ["h", "c2.weight", "c2.bias"], ["y"], name="c2", kernel_shape=[1, 1])]
    return finish(nodes, {"x": [1, 8, 6, 6]}, ["y"], {k: v.astype(np.float32) for k, v in weights.items()})


def _rel(a, b) -> float:
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


def test_each_kernel_takes_its_structure_and_exact_is_the_same_function():
    model = _stack()
    result = passes.rewrite(model, passes.SeparableAndGrouped(2), passes.Exact(), ALL, emission="gather")
    x = np.random.default_rng(1).standard_normal((1, 8, 6, 6)).astype(np.float32)
    assert _rel(run(session(model), {"x": x})["y"], run(session(result.model), {"x": x})["y"]) < 1e-5
    assert result.plan.structure == "separable (KxK) + grouped G=2 (1x1)"
    # c1 has no gather emission: the separable form's own at its rank (concat first at r > 1 on a dense conv).
    assert [l.emission for l in result.plan.rewritten] == ["concat", "gather"]
    ops = [n.op_type for n in result.model.graph.node]
    assert ops.count("Gather") == 1 and ops.count("Concat") == 1


def test_macs_and_params_by_hand_at_rank_1():
    # c1, separable r = 1: depthwise 3x3 8·1·9·36 = 2,592 + pointwise 8·8·36 = 2,304 -> 4,896 (dense 8·8·9·36 = 20,736);
    #     params 8·9 + 8·8 + 8 = 144.
    # c2, grouped G = 2, r = 1: M = G·G·r = 4 middle channels; grouped 1x1 8 -> 4, 4·(8/2)·36 = 576, then grouped 1x1
    #     4 -> 4, 4·(4/2)·36 = 288 -> 864 (dense 4·8·36 = 1,152); params 4·4 + 4·2 + 4 = 28.
    result = passes.rewrite(_stack(), passes.SeparableAndGrouped(2), passes.Rank(1), ALL, emission="gather")
    layers = {l.name: l for l in result.plan.rewritten}
    assert (layers["c1"].macs_before, layers["c1"].macs_after, layers["c1"].params_after) == (20_736, 4_896, 144)
    assert (layers["c2"].macs_before, layers["c2"].macs_after, layers["c2"].params_after) == (1_152, 864, 28)
    assert result.report.totals.macs == 4_896 + 864


def test_calibrated_refit_goes_to_each_layers_structure():
    model = _stack(3)
    data = ArrayDataset({"x": np.random.default_rng(4).standard_normal((24, 1, 8, 6, 6)).astype(np.float32)[:, 0]})
    rewriter = passes.Rewriter(model, passes.SeparableAndGrouped(2))
    rewriter.calibrate(data, ALL)
    plan = rewriter.plan(passes.Rank(1), ALL, emission="gather")
    assert [l.name for l in plan.rewritten] == ["c1", "c2"]
    rewriter.apply(plan)
    refitted = rewriter._refitted
    assert isinstance(refitted["c1"], SeparableFactors) and isinstance(refitted["c2"], GroupedFactors)
    assert plan.calibration["refit"] is True


def test_cli_takes_both_structures(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(_stack().SerializeToString())
    out = tmp_path / "o.onnx"
    result = CliRunner().invoke(app, ["rewrite", str(path), "--separable", "--grouped", "2", "--rank", "1",
                                      "--min-channels", "1", "--emission", "gather", "-o", str(out), "-f", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["plan"]["structure"] == "separable (KxK) + grouped G=2 (1x1)"
    assert record["plan"]["macs_after"] == 4_896 + 864
    assert out.exists()


def test_a_latency_budget_spends_over_both_kinds_of_layer():
    # x[1, 16, 8, 8] -> a: 3x3 conv 16 -> 16, pads 1 -> p: 1x1 conv 16 -> 16 -> y; separable for a, the low-rank pair
    # (G = 1) for p. Injected timings: each conv alone 10 ms; a's replacements 8 ms (save 2), p's 2 ms (save 8); the
    # whole model 40 ms less what its rewritten convs save. 0.85x asks 6 ms: only p can save them, and at every
    # rank the same 8 ms, so the budget takes p at its least-error rank timed and leaves a.
    from onnxcost.passes.latency import plan_for_latency
    from onnxcost.passes.measure import PairedLatency
    from onnxcost.passes.modes import TargetLatency

    rng = np.random.default_rng(5)
    weights = {"wa": rng.standard_normal((16, 16, 3, 3)).astype(np.float32),
               "wp": rng.standard_normal((16, 16, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "wa"], ["t"], name="a", kernel_shape=[3, 3], pads=[1] * 4),
             helper.make_node("Conv", ["t", "wp"], ["y"], name="p", kernel_shape=[1, 1])]
    model = finish(nodes, {"x": [1, 16, 8, 8]}, ["y"], weights)
    saves = {"a": 2e-3, "p": 8e-3}

    def layer_timer(models, feeds):
        name = models["original"].graph.node[0].name
        return {key: 10e-3 if key == "original" else 10e-3 - saves[name] for key in models}

    def whole_timer(original, rewritten, feeds):
        kept = {n.name for n in rewritten.graph.node}
        seconds = 40e-3 - sum(s for name, s in saves.items() if name not in kept)
        return PairedLatency(40e-3, seconds, (seconds / 40e-3,) * 3)

    rewriter = passes.Rewriter(model, passes.SeparableAndGrouped(1))
    plan, budget = plan_for_latency(rewriter, TargetLatency(0.85), ALL, timer=layer_timer, whole=whole_timer)
    assert plan.structure == "separable (KxK) + low-rank pair (1x1)"
    assert [(l.name, l.emission) for l in plan.rewritten] == [("p", "no shuffle")]
    # p's ranks timed: the largest at or under each tenth 0.1 ... 0.9 of its 16·16 = 256 MACs per pixel, at 32·r
    # (25.6: none, 51.2: 1, 76.8: 2, 102.4: 3, 128: 4, 153.6: 4, 179.2: 5, 204.8: 6, 230.4: 7).
    assert plan.rewritten[0].rank == 7 and budget.met
    assert {l.name: sorted(l.ranks) for l in budget.layers}["p"] == [1, 2, 3, 4, 5, 6, 7]
