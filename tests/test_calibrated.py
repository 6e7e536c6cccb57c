"""Activation-aware (calibrated) factors: the whitened closed form against reduced-rank regression, predicted
output errors against measured ones, the least-squares refit against numpy's lstsq, and a conv stack whose
correlated input makes the calibrated factors far better than weight-only at the same rank
(passes/whitening.py, passes/refit.py, passes/calibration.py, the driver's ``calibration=``)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from onnxcost import passes
from onnxcost.datasets import ArrayDataset
from onnxcost.passes.block_factorize import block_matrices, block_svd
from onnxcost.passes.calibration import Calibration, held_out_count
from onnxcost.passes.factorize import channel_matrices, channel_svd
from onnxcost.passes.refit import NormalEquations
from onnxcost.passes.whitening import calibrated_block_svd, calibrated_channel_svd, whitened_svd
from onnxcost.validation import run, session
from support.rewrite_models import finish


def _correlated(rng: np.random.Generator, rows: int, dims: int, rank: int, noise: float = 0.05) -> np.ndarray:
    """rows x dims data near a rank-``rank`` subspace with unequal scales: what trained activations look like."""
    scales = np.geomspace(3.0, 0.3, rank)
    return (rng.standard_normal((rows, rank)) * scales) @ rng.standard_normal((rank, dims)) \
        + noise * rng.standard_normal((rows, dims))


def test_closed_form_is_reduced_rank_regression():
    # The best rank-r A' for min ||P Aᵀ - P A'ᵀ||_F² is, directly (Izenman 1975): fit Y = P Aᵀ (A itself is the
    # least-squares fit), then project onto the top-r right singular vectors V_r of Y: A' = V_r V_rᵀ A.
    # The whitened SVD (S = PᵀP/n = L Lᵀ, A' = SVD_r(A L) L⁻¹) must give the same matrix and error.
    rng = np.random.default_rng(0)
    p = _correlated(rng, 500, 9, 4)
    a = rng.standard_normal((6, 9))
    y = p @ a.T
    for r in (1, 2, 3):
        v = np.linalg.svd(y, full_matrices=False)[2][:r].T  # (6, r)
        direct = v @ v.T @ a
        u, s, vt = whitened_svd(a[None], (p.T @ p / len(p))[None], np.float64, ridge=0.0)
        closed = (u[0, :, :r] * s[0, :r]) @ vt[0, :r]
        np.testing.assert_allclose(closed, direct, rtol=1e-6, atol=1e-8)
        # The discarded squared singular values are the mean squared output error on the data.
        measured = np.sum((y - p @ closed.T) ** 2) / len(p)
        np.testing.assert_allclose((s[0, r:] ** 2).sum(), measured, rtol=1e-8)
        # ... which no other rank-r matrix beats: not the weight-only SVD, not perturbations of the closed form.
        wu, ws, wvt = np.linalg.svd(a)
        weight_only = (wu[:, :r] * ws[:r]) @ wvt[:r]
        assert np.sum((y - p @ weight_only.T) ** 2) / len(p) >= measured
        for _ in range(20):
            nudged_u = u[0, :, :r] * s[0, :r] + 1e-3 * rng.standard_normal((6, r))
            nudged_v = vt[0, :r] + 1e-3 * rng.standard_normal((r, 9))
            assert np.sum((y - p @ (nudged_u @ nudged_v).T) ** 2) / len(p) >= measured


def _channel_patches(rng, rows, cin, k):
    return np.stack([_correlated(rng, rows, k, 3) for _ in range(cin)], axis=1)  # (rows, Cin, K)


def test_separable_predicted_error_is_the_output_error_per_channel():
    # Σ_c E||(M_c - M'_c) p_c||² measured on the patches equals the predicted squared error (the discarded
    # whitened singular values), and is below the weight-only factors' output error at every rank.
    rng = np.random.default_rng(1)
    w = rng.standard_normal((8, 4, 3, 3))
    patches = _channel_patches(rng, 400, 4, 9)
    moments = np.einsum("nci,ncj->cij", patches, patches) / len(patches)
    calibrated = calibrated_channel_svd(w, 1, moments, samples=400, ridge=0.0)
    weight_only = channel_svd(w)
    m = channel_matrices(w, 1)  # (Cin, Cout, K)

    def output_error(factors):
        approx = channel_matrices(_compose_separable(factors), 1)
        return sum(np.mean(np.sum((patches[:, c] @ (m[c] - approx[c]).T) ** 2, axis=1)) for c in range(4))

    for r in range(1, 9):
        measured = output_error(calibrated.factors(r))
        np.testing.assert_allclose(calibrated.squared_error(r), measured, rtol=1e-6, atol=1e-9)
        assert measured <= output_error(weight_only.factors(r)) * (1 + 1e-9)
    np.testing.assert_allclose(calibrated.squared_norm,
                               sum(np.mean(np.sum((patches[:, c] @ m[c].T) ** 2, axis=1)) for c in range(4)), rtol=1e-9)


def _compose_separable(factors):
    from onnxcost.passes.factorize import compose_separable

    return compose_separable(factors)


def test_grouped_predicted_error_is_the_output_error_per_block():
    # G = 2: block (p, q) sees input group q's patch (2 channels x 9 = 18 values), whitened by that group's moments.
    rng = np.random.default_rng(2)
    w = rng.standard_normal((6, 4, 3, 3))
    patches = np.stack([_correlated(rng, 600, 18, 5) for _ in range(2)], axis=1)  # (rows, G, b·K)
    moments = np.einsum("ngi,ngj->gij", patches, patches) / len(patches)
    calibrated = calibrated_block_svd(w, 2, moments, samples=600, ridge=0.0)
    weight_only = block_svd(w, 2)
    blocks = block_matrices(w, 2)  # (G_p, G_q, a, b·K)

    def output_error(factors):
        from onnxcost.passes.block_factorize import compose_grouped

        approx = block_matrices(compose_grouped(factors), 2)
        return sum(np.mean(np.sum((patches[:, q] @ (blocks[p, q] - approx[p, q]).T) ** 2, axis=1))
                   for p in range(2) for q in range(2))

    for r in (1, 2, 3):
        measured = output_error(calibrated.factors(r))
        np.testing.assert_allclose(calibrated.squared_error(r), measured, rtol=1e-6, atol=1e-9)
        assert measured <= output_error(weight_only.factors(r)) * (1 + 1e-9)


def test_refit_is_least_squares_per_group_and_streams():
    # A grouped 1x1 conv (2 groups, 6 middle -> 4 outputs): each group's weights and bias are lstsq of its outputs
    # on its 3 middle channels and a constant; adding the rows in 3 chunks gives the same solution.
    rng = np.random.default_rng(3)
    z = rng.standard_normal((300, 6))
    y = rng.standard_normal((300, 4))
    equations = NormalEquations.empty(6, 4, 2)
    for chunk in np.array_split(np.arange(300), 3):
        equations.add(z[chunk], y[chunk])
    weights, bias = equations.solve(ridge=0.0)
    for g in range(2):
        design = np.hstack([z[:, 3 * g:3 * g + 3], np.ones((300, 1))])
        solution = np.linalg.lstsq(design, y[:, 2 * g:2 * g + 2], rcond=None)[0]
        np.testing.assert_allclose(weights[2 * g:2 * g + 2], solution[:3].T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bias[2 * g:2 * g + 2], solution[3], rtol=1e-9, atol=1e-12)
    assert equations.zz.shape == (2, 4, 4) and equations.rows == 300


def test_held_out_split():
    # A fifth of the samples (at least one batch, at most 16) validate, the rest calibrate; fewer than two batches:
    # none held out. 40 -> 8, 100 -> 16 (cap), 7 -> 1, 1 -> 0; with a fixed batch of 4: 40 -> 8, 7 -> 0.
    assert [held_out_count(n) for n in (40, 100, 7, 1)] == [8, 16, 1, 0]
    assert [held_out_count(n, 4) for n in (40, 7)] == [8, 0]


# A conv stack on smooth images: x[c](h, w) = a_c + b_c·h + c_c·w, the (a, b, c) of the 8 channels mixing only 2
# sources, so each channel's 3x3 patches span 3 of their 9 dims and the channels are correlated.
C, SIDE = 8, 12


def _stack(relu: bool = True):
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((16, C, 3, 3)) / np.sqrt(C * 9)).astype(np.float32)
    w2 = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "c1.weight"], ["h"], name="c1", kernel_shape=[3, 3]),
             helper.make_node("Relu" if relu else "Identity", ["h"], ["hr"], name="between"),
             helper.make_node("Conv", ["hr", "c2.weight"], ["y"], name="c2", kernel_shape=[3, 3])]
    return finish(nodes, {"x": ["N", C, SIDE, SIDE]}, ["y"], {"c1.weight": w1, "c2.weight": w2})


def _ramps(rng: np.random.Generator, count: int, mixing: np.ndarray) -> np.ndarray:
    sources = rng.standard_normal((count, 2, 3))
    coefficients = np.einsum("njk,jc->nck", sources, mixing)  # (count, C, 3)
    h, w = np.meshgrid(np.arange(SIDE) / SIDE, np.arange(SIDE) / SIDE, indexing="ij")
    return (coefficients[..., 0, None, None] + coefficients[..., 1, None, None] * h
            + coefficients[..., 2, None, None] * w).astype(np.float32)


@pytest.fixture(scope="module")
def stack_data():
    rng = np.random.default_rng(7)
    mixing = rng.standard_normal((2, C))
    return _stack(), ArrayDataset({"x": _ramps(rng, 40, mixing)}), _ramps(rng, 16, mixing)


def _error(model, rewritten, x) -> float:
    a = run(session(model), {"x": x})["y"]
    b = run(session(rewritten), {"x": x})["y"]
    return float(np.linalg.norm(b - a) / np.linalg.norm(a))


@pytest.mark.parametrize("structure, rank", [(passes.Separable(), 2), (passes.Grouped(2), 3)])
def test_calibrated_output_error_is_five_times_lower_than_weight_only(stack_data, structure, rank):
    # Measured here (relative L2 on 16 unseen samples): separable r=2 weight-only 0.87, whitened 0.065, refit 0.027;
    # grouped G=2 r=3 weight-only 0.95, whitened 0.14, refit 0.10.
    model, data, unseen = stack_data
    emission = structure.emissions[-1]  # multiplier, gather: one form, no timing
    options = dict(selection=passes.Selection(min_channels=1), emission=emission, check=False)
    weight_only = passes.rewrite(model, structure, passes.Rank(rank), **options)
    whitened = passes.rewrite(model, structure, passes.Rank(rank), calibration=data, refit=False, **options)
    refitted = passes.rewrite(model, structure, passes.Rank(rank), calibration=data, **options)
    base = _error(model, weight_only.model, unseen)
    assert base > 0.5
    assert _error(model, whitened.model, unseen) * 5 <= base
    assert _error(model, refitted.model, unseen) * 5 <= base
    # Same ranks, same MACs: only the factors differ.
    assert [l.rank for l in refitted.plan.rewritten] == [l.rank for l in weight_only.plan.rewritten] == [rank, rank]
    assert refitted.plan.macs_after == weight_only.plan.macs_after


def test_calibrated_plan_says_so(stack_data):
    model, data, _ = stack_data
    result = passes.rewrite(model, passes.Separable(), passes.Rank(2), passes.Selection(min_channels=1), calibration=data,
                            check=False)
    # 40 samples: 8 held out for validation, 32 calibrate.
    assert result.plan.calibration == {"samples": 32, "held_out": 8, "refit": True}
    assert any(n.startswith("factors calibrated on 32 sample(s)") for n in result.plan.notes)
    assert result.comparison.input_source == "8 held-out calibration sample(s)"
    record = result.to_dict()["plan"]
    assert record["calibration"]["samples"] == 32
    for layer in record["layers"]:
        # the predicted output error is a fraction, and the weight error is that of the calibrated factors
        assert 0 <= layer["output_rel_error"] < 1 and 0 < layer["weight_rel_error"] < 2
    # the refit wrote a bias for convs that had none: the params count it (16 per layer)
    plain = passes.rewrite(model, passes.Separable(), passes.Rank(2), passes.Selection(min_channels=1), dry_run=True)
    assert result.plan.params_after == plain.plan.params_after + 2 * 16
    assert "calibration" not in plain.to_dict()["plan"]
    assert "output_rel_error" not in plain.to_dict()["plan"]["layers"][0]


def test_budget_spends_by_output_error(stack_data):
    # With calibration the budget minimises the summed relative squared *output* error: whatever ranks the
    # weight-only budget picks, scored by the calibrated errors they are no better than the calibrated choice.
    model, data, _ = stack_data
    mode = passes.TargetMacs(ratio=0.6)
    calibrated = passes.Rewriter(model, passes.Separable())
    calibrated.calibrate(data, passes.Selection(min_channels=1))
    plan = calibrated.plan(mode, passes.Selection(min_channels=1), emission="multiplier")
    weight_only = passes.Rewriter(model, passes.Separable()).plan(mode, passes.Selection(min_channels=1),
                                                                  emission="multiplier")
    assert plan.macs_after <= plan.budget and weight_only.macs_after <= weight_only.budget

    def output_error(ranks: dict[str, int | None]) -> float:
        total = 0.0
        for name, rank in ranks.items():
            if rank is not None:
                d = calibrated._planner.decomposition(calibrated.sites[name])
                total += d.squared_error(rank) / d.squared_norm
        return total

    chosen = {l.name: l.rank if l.rewrite else None for l in plan.layers}
    other = {l.name: l.rank if l.rewrite else None for l in weight_only.layers}
    assert output_error(chosen) <= output_error(other)
    assert chosen != other  # here the two objectives disagree (calibrated c1 4, c2 3; weight-only c1 5, c2 2)
    assert "summed relative squared output error on the calibration data" in plan.notes[-2]


def test_calibration_refuses_what_is_not_data():
    with pytest.raises(passes.RewriteOptionError) as caught:
        Calibration.of(ArrayDataset({"x": np.zeros((3, 2), np.float32)}), _fixed_batch_model(4))
    assert caught.value.parameter == "calibration"


def _fixed_batch_model(batch: int):
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    return finish([node], {"x": [batch, 2]}, ["y"], {})


def test_exact_mode_with_calibration_is_still_exact(stack_data):
    # Whitening does not change what reproduces the weights: at the exact rank the calibrated factors are the
    # conv again (no refit in exact mode), validated at the exact bound of 1e-4.
    model, data, unseen = stack_data
    result = passes.rewrite(model, passes.Separable(), passes.Exact(), passes.Selection(min_channels=1),
                            calibration=data)
    assert result.plan.calibration["refit"] is False
    assert _error(model, result.model, unseen) < 1e-5


def test_refit_is_sequential_so_later_layers_absorb_earlier_errors():
    # Without the ReLU the stack is linear and its input lives in a 6-dimensional space (2 sources x 3 ramp
    # coefficients): the 8 depthwise outputs of rank 1 span enough of it that the 1x1 refit can restore each
    # layer's output exactly, *if* c2 is fitted on the inputs it will see (c1 already refitted). Measured: whitened
    # 0.094, refitted layer after layer 1.1e-5; refitting both layers in one pass on the whitened model gave 0.22.
    rng = np.random.default_rng(7)
    mixing = rng.standard_normal((2, C))
    model, data, unseen = _stack(relu=False), ArrayDataset({"x": _ramps(rng, 40, mixing)}), _ramps(rng, 16, mixing)
    options = dict(selection=passes.Selection(min_channels=1), emission="multiplier", check=False)
    whitened = passes.rewrite(model, passes.Separable(), passes.Rank(1), calibration=data, refit=False, **options)
    refitted = passes.rewrite(model, passes.Separable(), passes.Rank(1), calibration=data, **options)
    assert _error(model, whitened.model, unseen) > 0.05
    assert _error(model, refitted.model, unseen) < 1e-3


def test_non_finite_activations_are_the_data_s_fault(stack_data):
    model, data, _ = stack_data
    bad = np.full((4, C, SIDE, SIDE), np.inf, np.float32)
    with pytest.raises(passes.RewriteOptionError) as caught:
        passes.rewrite(model, passes.Separable(), passes.Rank(2), passes.Selection(min_channels=1),
                       calibration=ArrayDataset({"x": bad}), dry_run=True)
    assert caught.value.parameter == "calibration" and "not finite" in str(caught.value)
