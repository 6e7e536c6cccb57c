"""Patch statistics for calibrated rewrites: im2col against onnxruntime's Conv, second moments by hand, memory that
does not grow with the samples, streaming equal to one batch (passes/patches.py, passes/statistics.py)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import helper

from onnxcost.datasets import ArrayDataset
from onnxcost.passes import Grouped, Separable
from onnxcost.passes.driver import Rewriter
from onnxcost.passes.patches import conv_patches, output_rows
from onnxcost.passes.statistics import SecondMoments, collect_moments, exposed
from onnxcost.validation import run, session
from support.rewrite_models import finish, single_conv


def _site(model: onnx.ModelProto, structure=None):
    return Rewriter(model, structure or Separable()).sites["conv"]


@pytest.mark.parametrize("kernel, spatial, attrs", [
    ((3, 3), (9, 11), {"pads": [1, 1, 1, 1]}),
    ((3, 3), (9, 11), {"strides": [2, 3], "pads": [0, 1, 2, 1]}),
    ((3, 2), (12, 10), {"dilations": [2, 1], "pads": [2, 0, 1, 1]}),
    ((3, 3), (9, 10), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((4, 4), (9, 10), {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    ((3, 3), (9, 10), {"auto_pad": "VALID", "strides": [1, 2]}),
    ((5,), (17,), {"strides": [2], "pads": [2, 1]}),
    ((2, 3, 2), (5, 6, 4), {"pads": [1, 1, 0, 0, 1, 1]}),
])
def test_patches_times_weights_is_the_conv(kernel, spatial, attrs):
    # The conv at every output position is W (Cout x Cin·K) times the patch: the patches are exactly what it reads.
    model = single_conv(4, 6, kernel, spatial, bias=False, batch=2, **attrs)
    site = _site(model)
    x = np.random.default_rng(3).standard_normal((2, 4, *spatial)).astype(np.float32)
    y = run(session(model), {"x": x})["y"]
    patches = conv_patches(x, site)
    expected = patches.reshape(len(patches), -1) @ site.weight.reshape(6, -1).T
    np.testing.assert_allclose(expected, output_rows(y), rtol=1e-5, atol=1e-5)
    assert patches.shape == (2 * int(np.prod(y.shape[2:])), 4, int(np.prod(kernel)))


def _tiny_conv() -> onnx.ModelProto:
    # x [N, 1, 1, 3] -> Conv 1x2 (no pads, no bias) -> y [N, 1, 1, 2]
    node = helper.make_node("Conv", ["x", "conv.weight"], ["y"], name="conv", kernel_shape=[1, 2])
    return finish([node], {"x": ["N", 1, 1, 3]}, ["y"], {"conv.weight": np.ones((1, 1, 1, 2), np.float32)})


def test_second_moments_by_hand():
    # Input [1, 2, 3]: patches (1, 2) and (2, 3); Σ p pᵀ = [[1+4, 2+6], [2+6, 4+9]] = [[5, 8], [8, 13]] over 2 rows,
    # so E[p pᵀ] = [[2.5, 4], [4, 6.5]].
    model = _tiny_conv()
    site = _site(model)
    data = ArrayDataset({"x": np.array([1, 2, 3], np.float32).reshape(1, 1, 1, 3)})
    moments = collect_moments(model, [site], {"conv": 1}, data.batches(1))["conv"]
    np.testing.assert_array_equal(moments.sums, [[[5, 8], [8, 13]]])
    assert (moments.rows, moments.samples) == (2, 1)
    np.testing.assert_array_equal(moments.moments(), [[[2.5, 4], [4, 6.5]]])


def test_blocks_of_channels_hold_the_per_channel_moments_on_their_diagonal():
    # Grouped G=2 on Cin=4: blocks of 2 channels, (2·9) x (2·9) each; channel c's 9x9 sits at block c // 2,
    # rows and columns (c % 2)·9 .. +9 (a block's patch is channel-major).
    model = single_conv(4, 6, (3, 3), (7, 7), pads=[1, 1, 1, 1])
    site = _site(model, Grouped(2))
    data = ArrayDataset({"x": np.random.default_rng(0).standard_normal((3, 4, 7, 7)).astype(np.float32)})
    blocks = collect_moments(model, [site], {"conv": 2}, data.batches(1))["conv"].moments()
    channels = collect_moments(model, [site], {"conv": 1}, data.batches(1))["conv"].moments()
    assert blocks.shape == (2, 18, 18) and channels.shape == (4, 9, 9)
    for c in range(4):
        q, j = divmod(c, 2)
        np.testing.assert_allclose(blocks[q, j * 9:(j + 1) * 9, j * 9:(j + 1) * 9], channels[c], rtol=1e-12)


def test_streaming_batches_equals_one_big_batch():
    model = single_conv(5, 4, (3, 3), (8, 8), pads=[1, 1, 1, 1], strides=[2, 1])
    site = _site(model)
    x = np.random.default_rng(1).standard_normal((7, 5, 8, 8)).astype(np.float32)
    streamed = collect_moments(exposed(model, []), [site], {"conv": 1}, ArrayDataset({"x": x}).batches(1))["conv"]
    whole = SecondMoments.empty(5, 9, 1)
    whole.add(conv_patches(x, site), 7)  # all 7 samples at once
    np.testing.assert_allclose(streamed.sums, whole.sums, rtol=1e-12)
    assert (streamed.rows, streamed.samples) == (whole.rows, whole.samples) == (7 * 4 * 8, 7)


class _Generated:
    """A dataset that makes each batch when asked: holds no samples itself."""

    def __init__(self, count: int, shape: tuple[int, ...]):
        self.count, self.shape, self.names = count, shape, ("x",)

    def batches(self, n: int):
        rng = np.random.default_rng(0)
        for start in range(0, self.count, n):
            yield {"x": rng.standard_normal((min(n, self.count - start), *self.shape)).astype(np.float32)}


def test_memory_does_not_grow_with_the_number_of_samples():
    # The accumulator is (Cin, K, K) whatever the samples; the peak of Python/numpy allocations while collecting
    # is that of one batch: 60 samples must not need more than 4 (each sample's conv input is 8·32·32·4 = 32 KiB,
    # its patches 288 KiB, so holding the samples would add ~19 MiB).
    model = single_conv(8, 8, (3, 3), (32, 32), pads=[1, 1, 1, 1])
    site = _site(model)
    peaks, sizes = [], []
    for count in (4, 60):
        tracemalloc.start()
        moments = collect_moments(model, [site], {"conv": 1}, _Generated(count, (8, 32, 32)).batches(1))["conv"]
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        sizes.append(moments.sums.nbytes)
        assert moments.samples == count
    assert sizes == [8 * 9 * 9 * 8] * 2  # float64 sums, Cin x K x K
    assert peaks[1] < 1.25 * peaks[0] + 256 * 1024
