"""VGG (Simonyan & Zisserman, 2014, arXiv:1409.1556), configuration D (VGG-16), 224x224.

Layer names follow the authors' Caffe release (conv1_1 ... fc8). Dropout is
an identity at inference and is left out, as exporters in eval mode do.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder

# Output channels per conv in each stage; a pool ends every stage.
VGG16_STAGES = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
VGG19_STAGES = [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4]


def build_vgg(stages: list[list[int]], name: str, seed: int = 0, resolution: int = 224, classes: int = 1000) -> onnx.ModelProto:
    """A VGG, batch 1: per stage, 3x3 convs (with bias and ReLU) of the widths in ``stages``, then a 2x2
    max pool; three fully connected layers (4096, 4096, ``classes``)."""
    g = GraphBuilder(name, seed=seed)
    x = g.input("input", [1, 3, resolution, resolution])
    channels = 3
    for stage, widths in enumerate(stages, start=1):
        for layer, width in enumerate(widths, start=1):
            x = g.relu(g.conv(x, channels, width, 3, f"conv{stage}_{layer}"), f"relu{stage}_{layer}")
            channels = width
        x = g.max_pool(x, f"pool{stage}")
    x = g.flatten(x, "flatten")
    side = resolution // 2 ** len(stages)
    x = g.relu(g.linear(x, channels * side * side, 4096, "fc6"), "relu6")
    x = g.relu(g.linear(x, 4096, 4096, "fc7"), "relu7")
    x = g.linear(x, 4096, classes, "fc8")
    g.output(x, [1, classes])
    return g.build()


def vgg16(seed: int = 0) -> onnx.ModelProto:
    """VGG-16 (configuration D), 224x224."""
    return build_vgg(VGG16_STAGES, "vgg16", seed)


def vgg19(seed: int = 0) -> onnx.ModelProto:
    """VGG-19 (configuration E), 224x224."""
    return build_vgg(VGG19_STAGES, "vgg19", seed)
