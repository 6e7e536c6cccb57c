"""Measured sensitivity (passes/sensitivity.py): probe ranks, the gain curve, the measured error against numpy, and a
budget that follows how much a later op amplifies a layer's error where the per-layer proxy cannot see it."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnxcost import passes
from onnxcost.datasets import ArrayDataset
from onnxcost.passes.sensitivity import Curve, divergence, is_distribution, probe_ranks, relative_squared_error
from onnxcost.validation import run, session
from support.rewrite_models import finish

C, SIDE, LOUD = 16, 6, 10.0
OPTIONS = dict(selection=passes.Selection(min_channels=1), inputs={"x": [1, C, SIDE, SIDE]}, check=False)


def test_gain_is_interpolated_between_probes_and_held_outside():
    # gains measured / proxy at ranks 2, 4, 6: 0.4/0.1 = 4, 0.2/0.1 = 2, 0.1/0.05 = 2
    curve = Curve(ranks=(2, 4, 6), measured=(0.4, 0.2, 0.1), proxy=(0.1, 0.1, 0.05))
    assert curve.gain(2) == pytest.approx(4.0)
    assert curve.gain(3) == pytest.approx(3.0)  # halfway between 4 and 2
    assert curve.gain(1) == pytest.approx(4.0) and curve.gain(9) == pytest.approx(2.0)  # nearest probe outside
    assert curve.error(3, 0.5) == pytest.approx(1.5)  # 0.5 x 3
    # a probe at an exact rank (proxy 0) says nothing about the gain: the other probes decide
    assert Curve((2, 4), (0.3, 0.0), (0.1, 0.0)).gain(4) == pytest.approx(3.0)
    assert Curve((4,), (0.0,), (0.0,)).gain(4) == 1.0
    # a proxy at rounding level (1e-12) with a measured -1e-9 (float noise) would give a gain of -1000: ignored
    assert Curve((2, 4), (-1e-9, 0.2), (1e-12, 0.1)).gain(2) == pytest.approx(2.0)
    assert Curve((2, 4), (-1e-3, 0.2), (0.1, 0.1)).gain(2) == 0.0  # a measured error is never below 0


def test_relative_squared_error_sums_outputs_over_samples():
    a = [{"y": np.array([3.0, 4.0]), "z": np.array([1.0])}, {"y": np.array([0.0, 0.0]), "z": np.array([1.0])}]
    b = [{"y": np.array([3.0, 5.0]), "z": np.array([1.5])}, {"y": np.array([1.0, 0.0]), "z": np.array([1.0])}]
    # y: (1 + 1) / (9 + 16) = 0.08; z: 0.25 / (1 + 1) = 0.125
    assert relative_squared_error(a, b) == pytest.approx(0.08 + 0.125)


def test_divergence_is_kl_for_distributions_and_relative_error_otherwise():
    a = [{"p": np.array([[0.5, 0.5], [0.9, 0.1]]), "y": np.array([3.0, 4.0])}]
    b = [{"p": np.array([[0.25, 0.75], [0.9, 0.1]]), "y": np.array([3.0, 5.0])}]
    assert is_distribution(a[0]["p"]) and not is_distribution(a[0]["y"]) and not is_distribution(np.array([[1.0]]))
    # p: KL of row 1 = 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75) = 0.5 ln(4/3), row 2: 0; mean 0.25 ln(4/3).
    # y: 1 / 25 = 0.04 (relative squared error).
    assert divergence(a, b) == pytest.approx(0.25 * np.log(4 / 3) + 0.04)


def _branches():
    """Two 1x1 convs of the same input, one of them multiplied by LOUD before the sum: its error counts
    LOUD² = 100 times more in the output, which neither layer's own relative output error can tell (the rewrite
    folds the Mul into conv a, whose relative error does not change with its scale)."""
    rng = np.random.default_rng(3)
    wa, wb = (rng.standard_normal((2, C, C, 1, 1)) / np.sqrt(C)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "a.weight"], ["a"], name="a"),
             helper.make_node("Conv", ["x", "b.weight"], ["b"], name="b"),
             helper.make_node("Mul", ["a", "loud"], ["a10"], name="amplify"),
             helper.make_node("Add", ["a10", "b"], ["y"], name="sum")]
    model = finish(nodes, {"x": ["N", C, SIDE, SIDE]}, ["y"],
                   {"a.weight": wa, "b.weight": wb, "loud": np.array(LOUD, np.float32)})
    return model, wa[:, :, 0, 0], wb[:, :, 0, 0]


def _inputs(rng: np.random.Generator, count: int, mixing: np.ndarray) -> np.ndarray:
    """Channels near a 6-dimensional subspace with unequal scales, as trained activations are."""
    sources = rng.standard_normal((count, SIDE, SIDE, 6)) * np.geomspace(3.0, 0.3, 6)
    return (np.einsum("nhwk,kc->nchw", sources, mixing) + 0.05 * rng.standard_normal((count, C, SIDE, SIDE))) \
        .astype(np.float32)


@pytest.fixture(scope="module")
def branches():
    rng = np.random.default_rng(11)
    mixing = rng.standard_normal((6, C))
    return (*_branches(), _inputs(rng, 40, mixing), _inputs(rng, 16, mixing))


def test_probe_ranks_follow_the_layer_macs(branches):
    model, *_ = branches
    rewriter = passes.Rewriter(model, passes.Grouped(1), inputs=OPTIONS["inputs"])
    site = rewriter.sites["a"]
    d = rewriter._planner.decomposition(site)
    # 16 -> 16 1x1 at 6x6: dense 256·36 MACs, rank r costs r·(16 + 16)·36. At most 0.75 of dense: 32r <= 192,
    # r = 6; 0.5: 32r <= 128, r = 4; 0.25: 32r <= 64, r = 2.
    assert probe_ranks(site, rewriter.structure, d) == [2, 4, 6]
    assert probe_ranks(site, rewriter.structure, d, (0.01,)) == []  # no rank is that cheap


def test_measured_error_is_the_models_output_error(branches):
    # Onnxruntime runs of the model with one layer rewritten, against numpy: y = LOUD·Wa x + Wb x is linear, so
    # with a alone rewritten the error is Σ‖LOUD (Wa − Ŵa) x‖² / Σ‖y‖² over the first 16 calibration samples.
    model, wa, wb, data, _ = branches
    rewriter = passes.Rewriter(model, passes.Grouped(1), inputs=OPTIONS["inputs"])
    rewriter.calibrate(ArrayDataset({"x": data}), OPTIONS["selection"])
    curves = rewriter.measure_sensitivity()
    x = data[:16].transpose(0, 2, 3, 1).reshape(-1, C).astype(np.float64)  # 40 samples: 32 calibrate, first 16 probe
    y = x @ (LOUD * wa + wb).T
    for name, w, scale in (("a", wa, LOUD), ("b", wb, 1.0)):
        d = rewriter._planner.decomposition(rewriter.sites[name])
        curve = curves[name]
        assert curve.ranks == (2, 4, 6)
        for rank, measured, proxy in zip(curve.ranks, curve.measured, curve.proxy):
            error = x @ (scale * w - d.compose(rank)[:, :, 0, 0]).T  # the Mul by LOUD is folded into a's weights
            assert measured == pytest.approx(np.sum(error ** 2) / np.sum(y ** 2), rel=1e-3)
            assert proxy == pytest.approx(d.squared_error(rank) / d.squared_norm)
    # the loud branch's error reaches the output LOUD² = 100 times more (relative to its own output's scale)
    ratio = curves["a"].gain(4) / curves["b"].gain(4)
    scale_a, scale_b = np.sum((x @ wa.T) ** 2), np.sum((x @ wb.T) ** 2)
    assert ratio == pytest.approx(LOUD ** 2 * scale_a / scale_b, rel=0.2)  # proxies on 32 samples, probes on 16


def test_budget_by_sensitivity_spares_the_amplified_layer(branches):
    # At 0.7x MACs (512·36 dense, rank r of a layer 32r·36: ranks summing to 11 at most) each layer's own output
    # error is about the same at the same rank, so the proxy budget cuts both alike; the measured one gives the loud
    # branch the larger rank. Measured here: ranks a 5, b 6 (proxy) against a 6, b 5 (sensitivity), relative L2
    # error on 16 unseen samples 0.047 against 0.012.
    model, _, _, data, unseen = branches
    mode = passes.TargetMacs(ratio=0.7)
    common = dict(OPTIONS, calibration=ArrayDataset({"x": data}), refit=False)
    proxy = passes.rewrite(model, passes.Grouped(1), mode, sensitivity=False, **common)
    measured = passes.rewrite(model, passes.Grouped(1), mode, **common)
    assert measured.plan.macs_after <= measured.plan.budget and proxy.plan.macs_after <= proxy.plan.budget
    ranks = {l.name: (l.rank if l.rewrite else None) for l in measured.plan.layers}
    before = {l.name: (l.rank if l.rewrite else None) for l in proxy.plan.layers}
    assert ranks["a"] is None or ranks["a"] > ranks["b"]
    assert before["a"] is not None and before["b"] is not None
    assert _error(model, measured.model, unseen) * 3 < _error(model, proxy.model, unseen)
    assert any("measured sensitivity" in note for note in measured.plan.notes)
    assert not any("measured sensitivity" in note for note in proxy.plan.notes)


def _error(model, rewritten, x) -> float:
    a = run(session(model), {"x": x})["y"]
    b = run(session(rewritten), {"x": x})["y"]
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))
