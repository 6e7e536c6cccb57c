"""DenseNet-121 (Huang et al. 2016, arXiv:1608.06993; DenseNet-BC, growth rate 32, 4·k
bottleneck, compression 0.5), as in torchvision, 224x224."""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import dense_block, transition

DENSENET121_BLOCKS = (6, 12, 24, 16)


def densenet121(seed: int = 0, classes: int = 1000, growth: int = 32, bn_size: int = 4) -> onnx.ModelProto:
    """DenseNet-121, batch 1, 3x224x224 input, ``classes`` outputs: ``growth`` channels per dense layer,
    ``bn_size``·growth in its bottleneck, each transition halving the channels."""
    g = GraphBuilder("densenet121", seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    x = g.conv_bn_act(x, 64, 7, "features", stride=2, pad=3, parts=("conv0", "norm0", "relu0"))
    x = g.max_pool(x, "features.pool0", kernel=3, stride=2, pad=1)
    for index, layers in enumerate(DENSENET121_BLOCKS, start=1):
        x = dense_block(g, x, layers, growth, bn_size, f"features.denseblock{index}")
        if index < len(DENSENET121_BLOCKS):
            x = transition(g, x, g.channels(x) // 2, f"features.transition{index}")
    x = g.relu(g.batch_norm(x, "features.norm5"), "relu")
    x = g.flatten(g.global_avg_pool(x, "adaptive_avg_pool2d"), "flatten")
    x = g.linear(x, g.shape(x)[1], classes, "classifier")
    g.output(x)
    return g.build()
