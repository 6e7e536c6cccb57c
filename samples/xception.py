"""Xception (Chollet 2016, arXiv:1610.02357, Fig. 5) with the Keras application's layer names,
299x299. Keras pads 'valid' in the two entry convs and 'same' elsewhere; 'same' max pools
get TensorFlow's padding (the odd pixel at the end), written as explicit ONNX pads.
BatchNormalization epsilon is Keras' 0.001."""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import separable_conv, xception_block

MIDDLE_FLOW_BLOCKS = 8


def xception(seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """Xception, batch 1, 3x299x299 input, ``classes`` outputs: entry flow, 8 middle-flow modules,
    exit flow."""
    g = GraphBuilder("xception", seed=seed)
    x = g.input("input", [1, 3, 299, 299])
    x = g.conv_bn_act(x, 32, 3, "", stride=2, pad=0, eps=1e-3,
                      parts=("block1_conv1", "block1_conv1_bn", "block1_conv1_act"))
    x = g.conv_bn_act(x, 64, 3, "", pad=0, eps=1e-3, parts=("block1_conv2", "block1_conv2_bn", "block1_conv2_act"))
    x = xception_block(g, x, [128, 128], "block2", downsample=True, relu_first=False)
    x = xception_block(g, x, [256, 256], "block3", downsample=True)
    x = xception_block(g, x, [728, 728], "block4", downsample=True)
    for index in range(5, 5 + MIDDLE_FLOW_BLOCKS):
        x = xception_block(g, x, [728] * 3, f"block{index}", downsample=False)
    x = xception_block(g, x, [728, 1024], "block13", downsample=True)
    for index, width in enumerate((1536, 2048), start=1):
        layer = f"block14_sepconv{index}"
        x = g.relu(g.batch_norm(separable_conv(g, x, width, layer), f"{layer}_bn", eps=1e-3), f"{layer}_act")
    x = g.flatten(g.global_avg_pool(x, "avg_pool"), "flatten")
    x = g.linear(x, 2048, classes, "predictions")
    g.output(x)
    return g.build()
