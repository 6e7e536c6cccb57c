"""Resize and Upsample against hand-computed costs.

Per output element: nearest 0; linear over d resized axes 2^d - 1 one-dimensional interpolations
of 3 FLOPs (a + t·(b - a)); cubic over d axes (4^d - 1)/3 one-dimensional cubic interpolations of
7 FLOPs. ROI, scales and sizes are settings, not parameters.
"""

import numpy as np
import onnx
from support.costcheck import single
from support.builders import one_node

F32 = 4  # bytes per float32 element


def resize(shape, mode: str, scales=None, sizes=None, opset: int = 18, **attrs) -> onnx.ModelProto:
    """Resize(x, roi="", scales, sizes) with the scales or sizes stored as initializers."""
    weights = {"scales": np.array(scales, np.float32)} if scales is not None else {}
    if sizes is not None:
        weights["sizes"] = np.array(sizes, np.int64)
    order = ["x", "", "scales" if scales is not None else "", *(["sizes"] if sizes is not None else [])]
    return one_node("Resize", {"x": shape}, weights, order=order, mode=mode, opset=opset, **attrs)


def test_nearest_costs_nothing_and_scales_are_not_params():
    # scales [1, 1, 2, 2]: [1, 2, 3, 4] -> [1, 2, 6, 8]; nearest copies one input value per output
    row = single(resize([1, 2, 3, 4], "nearest", scales=[1, 1, 2, 2]))
    assert row.output_shapes == [[1, 2, 6, 8]]
    assert (row.macs, row.flops, row.special_ops) == (0, 0, 0)
    assert (row.params, row.param_bytes) == (0, 0)  # the float scales are a setting
    # traffic: x and the 4 float scales read, y written
    assert row.bytes_read == F32 * (2 * 3 * 4 + 4)
    assert row.output_bytes == F32 * 2 * 6 * 8


def test_bilinear():
    # 2 resized axes: 2² - 1 = 3 one-dimensional interpolations a + t·(b - a) of 3 FLOPs
    row = single(resize([1, 2, 3, 4], "linear", scales=[1, 1, 2, 2]))
    assert row.output_shapes == [[1, 2, 6, 8]]
    assert row.flops == 3 * 3 * (2 * 6 * 8)
    assert row.params == 0


def test_linear_over_one_axis_with_sizes():
    # sizes [1, 2, 3, 10]: only W changes, one interpolation (3 FLOPs) per output
    row = single(resize([1, 2, 3, 4], "linear", sizes=[1, 2, 3, 10]))
    assert row.output_shapes == [[1, 2, 3, 10]]
    assert row.flops == 3 * (2 * 3 * 10)
    assert row.params == 0


def test_bicubic():
    # 2 resized axes: 4 interpolations along W and one along H, (4² - 1) / 3 = 5, of 7 FLOPs
    # (4 multiplies, 3 adds)
    row = single(resize([1, 1, 4, 4], "cubic", scales=[1, 1, 2, 2]))
    assert row.output_shapes == [[1, 1, 8, 8]]
    assert row.flops == 7 * 5 * 64


def test_trilinear_downsample():
    # 3 resized axes, halved: 2³ - 1 = 7 interpolations of 3 FLOPs per output
    row = single(resize([1, 1, 4, 4, 4], "linear", scales=[1, 1, 0.5, 0.5, 0.5]))
    assert row.output_shapes == [[1, 1, 2, 2, 2]]
    assert row.flops == 3 * 7 * 8


def test_upsample_opset_9():
    # the old Upsample(x, scales): nearest, scales are not params
    row = single(one_node("Upsample", {"x": [1, 2, 3, 3]}, {"scales": np.array([1, 1, 2, 2], np.float32)},
                          mode="nearest", opset=9))
    assert row.output_shapes == [[1, 2, 6, 6]]
    assert (row.flops, row.params) == (0, 0)


def test_crop_and_resize_roi_is_not_a_param():
    # tf_crop_and_resize with a float roi [8] (starts and ends per axis) and sizes: the roi is a setting.
    # Only H and W change size: 2 axes -> 3 interpolations of 3 FLOPs per output
    weights = {"roi": np.array([0, 0, 0.2, 0.2, 1, 1, 0.8, 0.8], np.float32), "sizes": np.array([1, 2, 4, 4], np.int64)}
    m = one_node("Resize", {"x": [1, 2, 6, 6]}, weights, order=["x", "roi", "", "sizes"], mode="linear",
                 coordinate_transformation_mode="tf_crop_and_resize", opset=18)
    row = single(m)
    assert row.output_shapes == [[1, 2, 4, 4]]
    assert row.flops == 3 * 3 * (2 * 4 * 4)
    assert (row.params, row.param_bytes) == (0, 0)
