"""Calibration data fixes the free input dimensions it was given at: the plan is costed at the data's size.

The model: one 3x3 conv 16 -> 16 (padding 1) on an input [1, 16, h, w] with h and w free. Costed with h and w
assumed 1, the conv has 16·16·9 = 2,304 MACs (one output pixel); at the data's 8x8, 2,304 · 64 = 147,456.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from onnxcost import passes
from onnxcost.datasets import ArrayDataset
from support.builders import model


def _free_model():
    w = np.random.default_rng(0).standard_normal((16, 16, 3, 3)).astype(np.float32)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="a", pads=[1, 1, 1, 1])
    return model([conv], {"x": [1, 16, "h", "w"]}, ["y"], {"w": w})


def _data(samples=12):
    return ArrayDataset({"x": np.random.default_rng(1).standard_normal((samples, 16, 8, 8)).astype(np.float32)})


def test_free_dims_take_the_calibration_datas_shape():
    rewriter = passes.Rewriter(_free_model(), passes.Separable())
    assert rewriter.sites["a"].macs == 2_304  # h = w = 1 until the data says otherwise
    rewriter.calibrate(_data())
    site = rewriter.sites["a"]
    assert site.input_shape == (1, 16, 8, 8) and site.macs == 147_456
    assert rewriter.inputs == {"x": [1, 16, 8, 8]}
    # the plan is costed there too: rank 1 is 16·9 + 16·16 = 400 MACs per pixel, (2,304 - 400) · 64 fewer
    plan = rewriter.plan(passes.Rank(1), passes.Selection(min_channels=1))
    assert plan.macs_before == 147_456 and plan.macs_before - plan.macs_after == 121_856


def test_shapes_or_dims_the_user_gave_are_kept():
    rewriter = passes.Rewriter(_free_model(), passes.Separable(), dims={"h": 4, "w": 4})
    rewriter.calibrate(ArrayDataset({"x": np.zeros((12, 16, 4, 4), np.float32)}))
    assert rewriter.sites["a"].macs == 2_304 * 16 and rewriter.inputs is None and rewriter.dims == {"h": 4, "w": 4}
