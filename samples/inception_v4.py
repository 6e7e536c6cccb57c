"""Inception-v4 and Inception-ResNet-v2 (Szegedy et al. 2016, arXiv:1602.07261) as in Cadene's
pretrained-models.pytorch (ports of the TF-slim checkpoints), 299x299, 1000 classes.

Module names follow Cadene's (``features.N`` for Inception-v4; ``conv2d_1a``, ``mixed_5b``,
``repeat.N``, ... for Inception-ResNet-v2). Every conv but the residual 1x1s is a BasicConv2d
(conv without bias, BatchNorm eps 0.001, ReLU). Like TF-slim, Inception-ResNet-v2 ends its stem
with an Inception-v3-style Mixed_5b module instead of the paper's Fig. 3 stem; the auxiliary
classifiers are training-only and left out.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import (basic_conv, inception_reduction_a, inception_resnet_block, inception_resnet_mixed_5b,
                    inception_resnet_mixed_7a, inception_v4_a, inception_v4_b, inception_v4_c,
                    inception_v4_reduction_b, inception_v4_stem)

# Branches of the residual units, each a list of (channels, kernel, pad) BasicConv2d layers.
BLOCK35 = [[(32, 1, 0)], [(32, 1, 0), (32, 3, 1)], [(32, 1, 0), (48, 3, 1), (64, 3, 1)]]
BLOCK17 = [[(192, 1, 0)], [(128, 1, 0), (160, (1, 7), (0, 3)), (192, (7, 1), (3, 0))]]
BLOCK8 = [[(192, 1, 0)], [(192, 1, 0), (224, (1, 3), (0, 1)), (256, (3, 1), (1, 0))]]


def _stem_convs(g: GraphBuilder, x: str, names: tuple[str, str, str]) -> str:
    """The three first convs of both networks: 3x3/2 valid (32), 3x3 valid (32), 3x3 same (64)."""
    x = basic_conv(g, x, 32, 3, names[0], stride=2)
    x = basic_conv(g, x, 32, 3, names[1])
    return basic_conv(g, x, 64, 3, names[2], pad=1)


def _head(g: GraphBuilder, x: str, name: str, classes: int) -> str:
    """8x8 average pool, flatten, linear layer ``last_linear``."""
    x = g.flatten(g.avg_pool(x, name, kernel=8, stride=8, count_include_pad=False), "flatten")
    return g.linear(x, g.shape(x)[1], classes, "last_linear")


def inception_v4(seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """Inception-v4 (Fig. 9), batch 1, 3x299x299 input: stem, 4 Inception-A, Reduction-A
    (k, l, m, n = 192, 224, 256, 384), 7 Inception-B, Reduction-B, 3 Inception-C."""
    g = GraphBuilder("inception_v4", seed=seed)
    x = g.input("input", [1, 3, 299, 299])
    x = inception_v4_stem(g, _stem_convs(g, x, ("features.0", "features.1", "features.2")), "features")
    index = 6
    for _ in range(4):
        x, index = inception_v4_a(g, x, f"features.{index}"), index + 1
    x, index = inception_reduction_a(g, x, f"features.{index}", 192, 224, 256, 384), index + 1
    for _ in range(7):
        x, index = inception_v4_b(g, x, f"features.{index}"), index + 1
    x, index = inception_v4_reduction_b(g, x, f"features.{index}"), index + 1
    for _ in range(3):
        x, index = inception_v4_c(g, x, f"features.{index}"), index + 1
    g.output(_head(g, x, "avg_pool", classes))
    return g.build()


def inception_resnet_v2(seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """Inception-ResNet-v2 (Fig. 15), batch 1, 3x299x299 input: stem, Mixed_5b, 10 Block35 (scale
    0.17), Reduction-A (k, l, m, n = 256, 256, 384, 384), 20 Block17 (0.10), Reduction-B, 9 Block8
    (0.20) and a last Block8 without scaling or ReLU, a 1x1 conv to 1536 channels."""
    g = GraphBuilder("inception_resnet_v2", seed=seed)
    x = g.input("input", [1, 3, 299, 299])
    x = _stem_convs(g, x, ("conv2d_1a", "conv2d_2a", "conv2d_2b"))
    x = basic_conv(g, g.max_pool(x, "maxpool_3a", kernel=3, stride=2), 80, 1, "conv2d_3b")
    x = basic_conv(g, x, 192, 3, "conv2d_4a")
    x = inception_resnet_mixed_5b(g, g.max_pool(x, "maxpool_5a", kernel=3, stride=2), "mixed_5b")
    for index in range(10):
        x = inception_resnet_block(g, x, BLOCK35, 0.17, f"repeat.{index}")
    x = inception_reduction_a(g, x, "mixed_6a", 256, 256, 384, 384)
    for index in range(20):
        x = inception_resnet_block(g, x, BLOCK17, 0.10, f"repeat_1.{index}")
    x = inception_resnet_mixed_7a(g, x, "mixed_7a")
    for index in range(9):
        x = inception_resnet_block(g, x, BLOCK8, 0.20, f"repeat_2.{index}")
    x = inception_resnet_block(g, x, BLOCK8, 1.0, "block8", relu=False)
    x = basic_conv(g, x, 1536, 1, "conv2d_7b")
    g.output(_head(g, x, "avgpool_1a", classes))
    return g.build()
