"""The separable decomposition alone (numpy): exactness, Eckart-Young optimality, groups, dilation, folding, budget.

The reference for "what a conv computes" is a direct numpy implementation of
ONNX Conv's definition (``reference_conv``), independent of the code under test.
"""

import itertools

import numpy as np
import pytest

from onnxcost.passes.blockwise_svd import squared_error_by_rank
from onnxcost.passes.budget import LayerOptions, RankOption, Unreachable, allocate
from onnxcost.passes.factorize import channel_svd, compose_separable
from onnxcost.passes.fold import batchnorm_affine, fold_affine, per_channel_vector
from onnxcost.passes.modes import energy_rank

from support.rewrite_models import spectral_weight


def reference_conv(x, w, b=None, group=1, strides=None, pads=None, dilations=None):
    """ONNX Conv by its definition: y[n, o, p] = b[o] + sum_{j, t} w[o, j, t] · xpad[n, g·Cin/g + j, p·s + t·d]."""
    n, cin, *spatial = x.shape
    cout, cin_g, *kernel = w.shape
    nd = len(kernel)
    strides = strides or [1] * nd
    dilations = dilations or [1] * nd
    pads = pads or [0] * 2 * nd
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)])
    out_spatial = [(xp.shape[2 + i] - dilations[i] * (kernel[i] - 1) - 1) // strides[i] + 1 for i in range(nd)]
    y = np.zeros((n, cout, *out_spatial))
    cout_g = cout // group
    for o in range(cout):
        g = o // cout_g
        for j in range(cin_g):
            for t in itertools.product(*[range(k) for k in kernel]):
                window = tuple(slice(t[i] * dilations[i], t[i] * dilations[i] + strides[i] * (out_spatial[i] - 1) + 1, strides[i])
                               for i in range(nd))
                y[:, o] += w[(o, j, *t)] * xp[(slice(None), g * cin_g + j, *window)]
        if b is not None:
            y[:, o] += b[o]
    return y


def separable_conv(x, factors, group, **spatial):
    """Depthwise (group = Cin) with the original's strides/pads/dilations, then a 1x1 conv with ``group`` groups."""
    cin = x.shape[1]
    middle = reference_conv(x, factors.depthwise.astype(np.float64), group=cin, **spatial)
    pointwise = factors.pointwise.astype(np.float64).reshape(*factors.pointwise.shape, *([1] * (x.ndim - 2)))
    return reference_conv(middle, pointwise, group=group)


@pytest.mark.parametrize("shape, group, spatial, conv_args", [
    ((6, 4, 3, 3), 1, (7, 8), {}),
    ((6, 4, 3, 3), 1, (9, 9), {"strides": [2, 1], "pads": [1, 0, 2, 1]}),
    ((8, 2, 3, 3), 2, (9, 9), {"dilations": [2, 2], "pads": [2, 2, 2, 2]}),  # grouped and dilated
    ((6, 2, 5), 3, (17,), {"dilations": [3], "strides": [2]}),  # 1-D, grouped, dilated
    ((4, 3, 3, 2, 3), 1, (5, 4, 6), {"pads": [1, 0, 1, 1, 1, 0]}),  # 3-D, non-square kernel
])
def test_full_rank_reproduces_the_conv(shape, group, spatial, conv_args):
    rng = np.random.default_rng(1)
    w = rng.standard_normal(shape)
    cin = shape[1] * group
    x = rng.standard_normal((2, cin, *spatial))
    svd = channel_svd(w, group)
    full = svd.max_rank
    assert full == min(shape[0] // group, int(np.prod(shape[2:])))
    factors = svd.factors(full)
    assert factors.depthwise.shape == (cin * full, 1, *shape[2:])
    assert factors.pointwise.shape == (shape[0], shape[1] * full)
    assert np.allclose(compose_separable(factors), w, atol=1e-12)
    assert np.allclose(separable_conv(x, factors, group, **conv_args), reference_conv(x, w, group=group, **conv_args), atol=1e-10)
    assert svd.squared_error(full) == pytest.approx(0.0, abs=1e-20 + 1e-12 * svd.squared_norm)


def test_concat_layout_computes_the_same_conv():
    """r multiplier-1 depthwise convs concatenated (channel t·Cin + c), pointwise columns permuted."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((5, 3, 3, 3))
    x = rng.standard_normal((1, 3, 6, 7))
    factors = channel_svd(w, 1).factors(2)
    ordered = factors.concat_order()
    parts = [reference_conv(x, ordered.depthwise[t], group=3, pads=[1] * 4) for t in range(2)]
    middle = np.concatenate(parts, axis=1)
    y = reference_conv(middle, ordered.pointwise.reshape(5, 6, 1, 1))
    assert np.allclose(y, separable_conv(x, factors, 1, pads=[1] * 4), atol=1e-12)


def test_error_at_rank_r_is_the_eckart_young_optimum():
    """||W - W_r||² = sum over input channels of the discarded σ², each channel's SVD computed here by hand."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((7, 4, 3, 3))
    svd = channel_svd(w, 1)
    for r in range(1, svd.max_rank + 1):
        by_hand = sum(float(np.sum(np.linalg.svd(w[:, i].reshape(7, 9), compute_uv=False)[r:] ** 2)) for i in range(4))
        approx = compose_separable(svd.factors(r))
        assert np.sum((approx - w) ** 2) == pytest.approx(by_hand, rel=1e-9)
        assert svd.squared_error(r) == pytest.approx(by_hand, rel=1e-9)
        # No other rank-r choice does better: random depthwise filters with least-squares pointwise weights.
        for _ in range(5):
            worse = 0.0
            for i in range(4):
                m = w[:, i].reshape(7, 9)
                basis = rng.standard_normal((r, 9))
                coeffs, *_ = np.linalg.lstsq(basis.T, m.T, rcond=None)
                worse += float(np.sum((coeffs.T @ basis - m) ** 2))
            assert worse >= by_hand - 1e-9


def test_known_spectrum_gives_known_errors_and_energy_ranks():
    """Every channel has σ = (3, 2, 1): energies 9, 4, 1 of 14 per channel."""
    w = spectral_weight(cout=6, cin=5, kernel=(3, 3), singular_values=[3, 2, 1])
    svd = channel_svd(w, 1)
    assert svd.exact_rank == 3
    assert svd.squared_norm == pytest.approx(5 * 14, rel=1e-6)
    assert svd.squared_error(1) == pytest.approx(5 * (4 + 1), rel=1e-6)
    assert svd.squared_error(2) == pytest.approx(5 * 1, rel=1e-5)
    assert svd.squared_error(3) == pytest.approx(0, abs=1e-9)
    # kept(1) = 9/14 = 0.643, kept(2) = 13/14 = 0.929, kept(3) = 1
    assert energy_rank(svd, 0.6) == 1
    assert energy_rank(svd, 0.9) == 2
    assert energy_rank(svd, 13 / 14 - 1e-6) == 2
    assert energy_rank(svd, 0.95) == 3
    assert energy_rank(svd, 1.0) == 3


def test_squared_error_by_rank_sums_over_channels():
    s = np.array([[3.0, 2.0, 1.0], [4.0, 0.0, 0.0]])
    assert squared_error_by_rank(s).tolist() == [9 + 4 + 1 + 16, 4 + 1, 1, 0]


def test_numerical_rank_of_low_rank_weights():
    w = spectral_weight(cout=16, cin=4, kernel=(3, 3), singular_values=[5, 1e-1])
    svd = channel_svd(w, 1)
    assert svd.max_rank == 9 and svd.exact_rank == 2
    factors = svd.factors(2)
    assert np.allclose(compose_separable(factors), w, atol=1e-6)


def test_factors_keep_the_weights_dtype():
    w = np.random.default_rng(4).standard_normal((4, 2, 3, 3)).astype(np.float16)
    factors = channel_svd(w, 1).factors(2)
    assert factors.depthwise.dtype == np.float16 and factors.pointwise.dtype == np.float16


def test_grouped_pointwise_is_block_diagonal():
    """With g groups the 1x1 conv reads only its group's depthwise channels: (Cout, Cin/g·r), group g."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 2, 3, 3))  # Cout 6, Cin 6, 3 groups
    factors = channel_svd(w, 3).factors(2)
    assert factors.pointwise.shape == (6, 4) and factors.depthwise.shape == (12, 1, 3, 3)
    # Input channel 2 (group 1) must not reach output channels of groups 0 or 2.
    x = np.zeros((1, 6, 5, 5))
    x[0, 2] = rng.standard_normal((5, 5))
    y = separable_conv(x, factors, 3)
    assert np.all(y[0, [0, 1, 4, 5]] == 0) and np.any(y[0, 2:4] != 0)


# --- folding ------------------------------------------------------------------------------------

def test_batchnorm_folds_into_weights_and_bias():
    rng = np.random.default_rng(6)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    scale, offset = np.array([1.5, 0.5, 2.0]), np.array([0.1, -0.2, 0.3])
    mean, var, eps = np.array([0.2, -0.1, 0.0]), np.array([4.0, 0.25, 1.0]), 0.0
    a, c = batchnorm_affine(scale, offset, mean, var, eps)
    assert a.tolist() == [0.75, 1.0, 2.0]  # scale / sqrt(var)
    assert c == pytest.approx([0.1 - 0.75 * 0.2, -0.2 + 0.1, 0.3])
    wf, bf = fold_affine(w, b, a, c)
    x = rng.standard_normal((1, 2, 6, 6))
    conv_then_bn = (reference_conv(x, w.astype(np.float64), b) - mean[:, None, None]) / np.sqrt(var + eps)[:, None, None] \
        * scale[:, None, None] + offset[:, None, None]
    assert np.allclose(reference_conv(x, wf.astype(np.float64), bf), conv_then_bn, atol=1e-5)
    assert wf.dtype == np.float32 and bf.dtype == np.float32


def test_scale_alone_keeps_a_missing_bias_missing():
    w = np.ones((2, 1, 1, 1), np.float32)
    wf, bf = fold_affine(w, None, np.array([2.0, 3.0]), None)
    assert bf is None and wf.ravel().tolist() == [2.0, 3.0]
    wf, bf = fold_affine(w, None, None, np.array([0.5, -1.0]))
    assert bf.tolist() == [0.5, -1.0]


@pytest.mark.parametrize("shape, ok", [
    ((), True), ((1,), True), ((4, 1, 1), True), ((1, 4, 1, 1), True), ((1, 1, 1), True),
    ((4,), False),  # right-aligned it is the last spatial axis, not the channels
    ((1, 4, 2, 1), False), ((2, 4, 1, 1), False), ((1, 1, 4, 1, 1), False), ((3, 1, 1), False),
])
def test_per_channel_constants(shape, ok):
    value = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1
    vector = per_channel_vector(value, 4, 4)
    assert (vector is not None) == ok
    if ok:
        assert vector.shape == (4,)


# --- budget ------------------------------------------------------------------------------------

def test_budget_takes_the_least_error_per_mac_saved():
    layers = {
        "a": LayerOptions(100, [RankOption(1, 20, 0.5), RankOption(2, 40, 0.1)]),
        "b": LayerOptions(100, [RankOption(1, 30, 0.2), RankOption(2, 120, 0.0)]),  # rank 2 saves nothing
    }
    # Saving 60: a@2 saves 60 for 0.1 (best); b@1 saves 70 for 0.2; a@1 saves 80 for 0.5.
    got = allocate(layers, 60)
    assert got.ranks == {"a": 2, "b": None} and got.saved == 60 and got.error == pytest.approx(0.1)
    # Saving 100: a@2 + b@1 saves 130 for 0.3; a@1 + b@1 150 for 0.7; a@1 alone 80 is short.
    got = allocate(layers, 100)
    assert got.ranks == {"a": 2, "b": 1} and got.error == pytest.approx(0.3)
    assert allocate(layers, 0).ranks == {"a": None, "b": None}


def test_budget_refines_an_overshooting_step():
    # a's hull skips rank 2 (saved 50 for 0.09 lies above the line to rank 1, saved 100 for 0.1), so the
    # greedy step saves 100 where 50 are needed; refinement then moves a to rank 2: less error, budget met.
    layers = {
        "a": LayerOptions(100, [RankOption(1, 0, 0.1), RankOption(2, 50, 0.09)]),
        "b": LayerOptions(100, [RankOption(1, 90, 0.05)]),
    }
    got = allocate(layers, 50)
    assert got.ranks == {"a": 2, "b": None}
    assert got.saved == 50 and got.error == pytest.approx(0.09)


def test_budget_unreachable_says_how_far_it_gets():
    layers = {"a": LayerOptions(100, [RankOption(1, 40, 0.5)])}
    with pytest.raises(Unreachable) as info:
        allocate(layers, 61)
    assert info.value.best == 60
