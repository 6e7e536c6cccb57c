"""Convs of every kind for the rewrite tests, as keyword arguments of ``rewrite_models.single_conv``.

``DENSE_CONVS`` suit both structures (dense, channels divisible by 4 so that G = 4 applies); each structure
adds the kinds only it rewrites: grouped convs for the separable form, a 1x1 kernel for the grouped form.
"""

DENSE_CONVS = {
    "1d": dict(cin=8, cout=16, kernel=[3], spatial=[20], pads=[1, 1]),
    "3d": dict(cin=8, cout=8, kernel=[3, 3, 3], spatial=[5, 6, 7], pads=[1] * 6),
    "stride-pads-dilation": dict(cin=8, cout=16, kernel=[3, 3], spatial=[17, 19], strides=[2, 2], pads=[1, 0, 1, 2], dilations=[2, 1]),
    "same-upper": dict(cin=8, cout=16, kernel=[3, 3], spatial=[17, 19], strides=[2, 1], auto_pad="SAME_UPPER"),
    "non-square": dict(cin=8, cout=16, kernel=[1, 5], spatial=[9, 16], pads=[0, 2, 0, 2]),
    "batch-2": dict(cin=8, cout=16, kernel=[3, 3], spatial=[9, 9], batch=2),
}

SEPARABLE_CONVS = {
    **DENSE_CONVS,
    "grouped-no-bias": dict(cin=8, cout=12, kernel=[3, 3], spatial=[15, 15], group=4, bias=False),
    "grouped-dilated-5x5": dict(cin=8, cout=16, kernel=[5, 5], spatial=[15, 15], group=2, dilations=[2, 2], pads=[4] * 4),
}

GROUPED_CONVS = {
    **DENSE_CONVS,
    "1x1": dict(cin=8, cout=16, kernel=[1, 1], spatial=[6, 7]),
    "no-bias-5x5": dict(cin=8, cout=12, kernel=[5, 5], spatial=[15, 15], bias=False, pads=[2] * 4),
}
