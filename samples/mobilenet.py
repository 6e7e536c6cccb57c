"""MobileNet V1 (Howard et al. 2017, arXiv:1704.04861) and V2 (Sandler et al. 2018,
arXiv:1801.04381), width 1.0, 224x224.

V1 follows the paper's Table 1 (the last depthwise conv has stride 1, as in every
implementation: the table's second "s2" at 7x7 is a typo) with the Keras application's layer
names; V2 follows torchvision (``features.N``, ``classifier.1``).
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import depthwise_separable, inverted_residual

# (output channels, stride) of the 13 depthwise separable units.
MOBILENET_V1_UNITS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1)]
# (expansion t, channels c, repeats n, first stride s) from Sandler et al., Table 2.
MOBILENET_V2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                         (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenet_v1(seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """MobileNet V1 1.0, batch 1, 3x224x224 input, ``classes`` outputs (Keras layer names)."""
    g = GraphBuilder("mobilenet_v1", seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    x = g.conv_bn_act(x, 32, 3, "", stride=2, parts=("conv1", "conv1_bn", "conv1_relu"))
    for index, (cout, stride) in enumerate(MOBILENET_V1_UNITS, start=1):
        x = depthwise_separable(g, x, cout, stride, index)
    x = g.flatten(g.global_avg_pool(x, "global_average_pooling"), "flatten")
    x = g.linear(x, 1024, classes, "predictions")
    g.output(x)
    return g.build()


def mobilenet_v2(seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """MobileNet V2 1.0, batch 1, 3x224x224 input, ``classes`` outputs (torchvision module names)."""
    g = GraphBuilder("mobilenet_v2", seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    x = g.conv_bn_act(x, 32, 3, "features.0", stride=2, act="relu6", parts=("0", "1", "2"))
    index = 1
    for t, c, n, s in MOBILENET_V2_SETTINGS:
        for repeat in range(n):
            x = inverted_residual(g, x, c, s if repeat == 0 else 1, t, f"features.{index}")
            index += 1
    x = g.conv_bn_act(x, 1280, 1, f"features.{index}", act="relu6", parts=("0", "1", "2"))
    x = g.flatten(g.global_avg_pool(x, "adaptive_avg_pool2d"), "flatten")
    x = g.linear(x, 1280, classes, "classifier.1")
    g.output(x)
    return g.build()
