"""Both factors refitted on the rewritten model's inputs: the low-rank pair by reduced-rank regression, the
pointwise-first form by alternating least squares; each checked against a direct solution on the data rows."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from onnxcost import passes
from onnxcost.datasets import ArrayDataset
from onnxcost.passes import refit_both
from onnxcost.passes.output_factorize import PointwiseFirstFactors
from onnxcost.passes.refit import NormalEquations
from onnxcost.passes.refit_both import alternating, reduced_rank
from onnxcost.validation import run, session

from test_calibrated import C, _ramps, _stack


def _correlated(rng, rows, dims, rank, noise=0.05):
    scales = np.geomspace(3.0, 0.3, rank)
    return (rng.standard_normal((rows, rank)) * scales) @ rng.standard_normal((rank, dims)) \
        + noise * rng.standard_normal((rows, dims)) + rng.standard_normal(dims)  # not centred: the bias matters


def _equations(x, y, chunks=3):
    equations = NormalEquations.empty(x.shape[1], y.shape[1], 1)
    for part in np.array_split(np.arange(len(x)), chunks):
        equations.add(x[part], y[part])
    return equations


def _sse(x, y, weights, bias):
    return float(np.sum((y - x @ weights.T - bias) ** 2))


def test_reduced_rank_regression_against_a_direct_fit_on_the_rows():
    # min over rank-r W and any b of Σ‖y − W x − b‖²: centre x and y (the best b is ȳ − W x̄); with Xc = Q R (thin
    # QR of the rows, no normal equations), ‖Yc − Q R Wᵀ‖ is minimised by the rank-r truncated SVD of Qᵀ Yc, so
    # W* = (R⁻¹ SVD_r(Qᵀ Yc))ᵀ. The library works from Σ x xᵀ and Σ x yᵀ added in three chunks.
    rng = np.random.default_rng(0)
    x = _correlated(rng, 600, 12, 5)
    y = x @ rng.standard_normal((12, 7)) + 0.1 * rng.standard_normal((600, 7)) + 3.0
    equations = _equations(x, y)
    for rank in (1, 2, 4):
        first, second, bias = reduced_rank(equations, rank, ridge=0.0)
        assert first.shape == (rank, 12) and second.shape == (7, rank)
        weights = second @ first
        assert np.linalg.matrix_rank(weights) == rank
        xc, yc = x - x.mean(0), y - y.mean(0)
        q, r = np.linalg.qr(xc)
        u, s, vt = np.linalg.svd(q.T @ yc, full_matrices=False)
        direct = np.linalg.solve(r, (u[:, :rank] * s[:rank]) @ vt[:rank]).T  # (7, 12)
        direct_bias = y.mean(0) - direct @ x.mean(0)
        np.testing.assert_allclose(weights, direct, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(bias, direct_bias, rtol=1e-7, atol=1e-9)
        # Its error is the discarded part of Qᵀ Yc plus what no linear map of x explains.
        unexplained = np.sum(yc ** 2) - np.sum(s ** 2)
        np.testing.assert_allclose(_sse(x, y, weights, bias), unexplained + np.sum(s[rank:] ** 2), rtol=1e-8)


def _pointwise_first_rows(rng, rows, cin, k):
    x = np.stack([_correlated(rng, rows, k, 2) for _ in range(cin)], axis=1)  # (rows, Cin, K), like patches
    return x.reshape(rows, cin * k)


def test_alternating_least_squares_ends_on_a_least_squares_step():
    # Pointwise first, Cin 5, K 4, Cout 3, rank 2: per output o, w_o(c, k) = Σ_t a_ot[c] d_ot[k]. Targets from a
    # dense conv, so rank 2 cannot reproduce them. From the (deliberately poor) weight-only start, the result
    # must (1) have a small fraction of the start's error on the data, (2) end on a least-squares step: with its
    # a's fixed, its taps and bias are numpy's lstsq on the explicit design matrix of the rows (the alternation
    # ends after a taps step; the rescaling of a_t and d_t after it changes neither product nor fit).
    rng = np.random.default_rng(1)
    cin, k, cout, rank = 5, 4, 3, 2
    x = _pointwise_first_rows(rng, 2000, cin, k)
    dense = rng.standard_normal((cout, cin, k))
    y = x @ dense.reshape(cout, -1).T + 0.05 * rng.standard_normal((2000, cout)) + 1.0
    start = PointwiseFirstFactors(pointwise=rng.standard_normal((cout * rank, cin)),
                                  spatial=rng.standard_normal((cout, rank, k)), rank=rank, group=1)
    fitted = alternating(_equations(x, y), start, ridge=0.0)
    a = fitted.pointwise.reshape(cout, rank, cin)
    d = fitted.spatial.reshape(cout, rank, k)
    weights = np.einsum("otc,otk->ock", a, d).reshape(cout, -1)
    start_weights = np.einsum("otc,otk->ock", start.pointwise.reshape(cout, rank, cin), start.spatial).reshape(cout, -1)
    ones = np.ones((len(x), 1))
    assert _sse(x, y, weights, fitted.bias) < 0.01 * _sse(x, y, start_weights, y.mean(0) - start_weights @ x.mean(0))
    xs = x.reshape(-1, cin, k)
    for o in range(cout):
        # t-step design: column (t, k) is Σ_c a_ot[c] x[c, k]
        design = np.hstack([np.einsum("nck,tc->ntk", xs, a[o]).reshape(len(x), -1), ones])
        solution = np.linalg.lstsq(design, y[:, o], rcond=None)[0]
        np.testing.assert_allclose(design @ solution, design @ np.r_[d[o].reshape(-1), fitted.bias[o]], rtol=1e-5,
                                   atol=1e-5 * np.abs(y[:, o]).max())


def test_alternating_reaches_an_exact_structure():
    # Targets made by a rank-2 pointwise-first layer itself (no noise): from a random start (relative error about
    # 1) the alternation must come close to it. Measured: 2.9e-5 after 10 rounds, 1.8e-5 after 40, 1.3e-6 after
    # 1,000: alternating least squares crawls along directions the data barely excites (each channel's patches
    # span 2 of their 9 dims, plus noise), where the error is small anyway.
    rng = np.random.default_rng(2)
    cin, k, cout, rank = 6, 9, 4, 2
    x = _pointwise_first_rows(rng, 3000, cin, k)
    a, d = rng.standard_normal((cout, rank, cin)), rng.standard_normal((cout, rank, k))
    y = x @ np.einsum("otc,otk->ock", a, d).reshape(cout, -1).T - 0.5
    start = PointwiseFirstFactors(pointwise=rng.standard_normal((cout * rank, cin)),
                                  spatial=rng.standard_normal((cout, rank, k)), rank=rank, group=1)
    fitted = alternating(_equations(x, y), start, ridge=0.0)
    weights = np.einsum("otc,otk->ock", fitted.pointwise.reshape(cout, rank, cin), fitted.spatial).reshape(cout, -1)
    assert _sse(x, y, weights, fitted.bias) / np.sum((y - y.mean(0)) ** 2) < 1e-4


def _stack_and_data():
    rng = np.random.default_rng(7)
    mixing = rng.standard_normal((2, C))
    return _stack(), _ramps(rng, 40, mixing)


def _layer_output(model, x, name="h"):
    """Tensor ``name`` of ``model`` on ``x``."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return run(session(probe), {"x": x})[name].astype(np.float64)


def _rewrite(model, data, **options):
    return passes.rewrite(model, passes.Grouped(1), passes.Rank(2), calibration=ArrayDataset({"x": data}),
                          selection=passes.Selection(include=["c1"]), check=False, **options)


def _direct_fitted(x, y, rank):
    """The outputs of the best rank-``rank`` affine map of the rows x to y, from the rows (numpy's lstsq, which
    takes rank-deficient x; no normal equations): the least-squares fit's centred outputs, truncated to their top
    ``rank`` principal directions. Unique even where the weights are not."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    fitted = xc @ np.linalg.lstsq(xc, yc, rcond=None)[0]
    u, s, vt = np.linalg.svd(fitted, full_matrices=False)
    return (u[:, :rank] * s[:rank]) @ vt[:rank] + y.mean(0)


def _patches(x):
    """(rows, Cin·9) patches of a 3x3 conv without padding, in the weights' (c, kh, kw) order."""
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # (N, C, H-2, W-2, 3, 3)
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1] * 9).astype(np.float64)


def test_the_rewrite_refits_both_convs_of_a_low_rank_pair(monkeypatch):
    # c1 (3x3, 8 -> 16) of the conv stack of test_calibrated as a rank-2 pair, 40 samples (32 calibrate): 3,200
    # patch rows, 44 per unknown (8·9 + 1), so both convs are refitted. c1 is the first layer, so its inputs in the
    # rewritten model are the original's: the written pair must compute the reduced-rank regression of c1's output
    # on its patches over the 32 calibration samples, computed here from the rows (the ramps' patches span 6 of
    # their 72 dims, so the outputs are compared, not the weights). Its 3x3 conv is not the whitened one; with too
    # many rows asked per unknown, it is. Measured: relative difference 3e-7 to the direct fit (whitened: 0.023).
    model, data = _stack_and_data()
    both, whitened = _rewrite(model, data), _rewrite(model, data, refit=False)
    expected = _direct_fitted(_patches(data[:32]), _rows(_layer_output(model, data[:32])), 2)
    written = _rows(_layer_output(both.model, data[:32]))
    assert np.linalg.norm(written - expected) <= 1e-4 * np.linalg.norm(expected)
    old = _rows(_layer_output(whitened.model, data[:32]))
    assert np.linalg.norm(old - expected) > 1e-2 * np.linalg.norm(expected)
    assert not np.allclose(_weights(both.model, "gconv"), _weights(whitened.model, "gconv"))
    monkeypatch.setattr(refit_both, "MIN_ROWS_PER_UNKNOWN", 10 ** 9)  # no layer has that many rows
    last = _rewrite(model, data)
    np.testing.assert_array_equal(_weights(last.model, "gconv"), _weights(whitened.model, "gconv"))
    assert both.plan.macs_after == last.plan.macs_after == whitened.plan.macs_after


def test_the_rewrite_refits_both_convs_of_the_pointwise_first_form(monkeypatch):
    # c1 in the pointwise-first form at rank 1 (1x1 conv 8 -> 16, then a depthwise 3x3 conv), 32 calibration
    # samples, 44 rows per unknown: both convs are refitted by alternating least squares from the whitened
    # factors. On the calibration samples c1's relative squared output error must be below the last-conv refit's
    # (measured 0.002091 against 0.002099; whitened 0.002275), and its 1x1 conv must have moved.
    model, data = _stack_and_data()

    def rewrite(**options):
        return passes.rewrite(model, passes.separable_structure("pointwise"), passes.Rank(1),
                              calibration=ArrayDataset({"x": data}), selection=passes.Selection(include=["c1"]),
                              check=False, **options)

    def error(result):
        expected = _layer_output(model, data[:32])
        return float(np.sum((_layer_output(result.model, data[:32]) - expected) ** 2) / np.sum(expected ** 2))

    both, whitened = rewrite(), rewrite(refit=False)
    monkeypatch.setattr(refit_both, "MIN_ROWS_PER_UNKNOWN", 10 ** 9)
    last = rewrite()
    assert error(both) < error(last) < error(whitened)
    np.testing.assert_array_equal(_weights(last.model, "pw"), _weights(whitened.model, "pw"))
    assert not np.allclose(_weights(both.model, "pw"), _weights(whitened.model, "pw"))


def _rows(y):
    """(rows, C) of an NCHW output, in the patches' order."""
    return y.transpose(0, 2, 3, 1).reshape(-1, y.shape[1])


def test_too_few_rows_keep_the_last_conv_refit():
    # 5 samples (4 calibrate): 400 patch rows, 5.5 per unknown: the full fit would follow the noise of so few
    # rows, so the first conv stays the whitened one and only the 1x1 conv is refitted.
    model, data = _stack_and_data()
    assert 4 * 100 < refit_both.MIN_ROWS_PER_UNKNOWN * (8 * 9 + 1)
    refitted, whitened = _rewrite(model, data[:5]), _rewrite(model, data[:5], refit=False)
    np.testing.assert_array_equal(_weights(refitted.model, "gconv"), _weights(whitened.model, "gconv"))
    assert not np.allclose(_weights(refitted.model, "gpw"), _weights(whitened.model, "gpw"))


def _weights(model, part):
    """The weights of the conv whose name ends with ``part`` in ``model``."""
    node = next(n for n in model.graph.node if n.op_type == "Conv" and n.name.endswith(part))
    init = next(i for i in model.graph.initializer if i.name == node.input[1])
    return numpy_helper.to_array(init).astype(np.float64)



