"""SqueezeNet 1.0 (Iandola et al. 2016, arXiv:1602.07360) and 1.1 (the authors' revision, 2.4x
less computation, same accuracy), as in torchvision: 224x224, max pools with ceil_mode, a 1x1
conv classifier followed by global average pooling.

The paper's bypass variants of 1.0 (Section 6, Fig. 2, Table 3): the simple bypass adds the input
of fire3, fire5, fire7 and fire9 (the modules whose input and output have the same channels) to
their output; the complex bypass also adds a 1x1 conv (with bias, Caffe's default) of the input
to the output of fire2, fire4, fire6 and fire8, where the channel counts differ. In torchvision's
numbering fire2 is ``features.3``.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import fire

# (squeeze, expand 1x1, expand 3x3) per fire module; "pool" is a 3x3/2 max pool.
SQUEEZENET_1_0 = [(16, 64, 64), (16, 64, 64), (32, 128, 128), "pool", (32, 128, 128), (48, 192, 192),
                  (48, 192, 192), (64, 256, 256), "pool", (64, 256, 256)]
SQUEEZENET_1_1 = [(16, 64, 64), (16, 64, 64), "pool", (32, 128, 128), (32, 128, 128), "pool", (48, 192, 192),
                  (48, 192, 192), (64, 256, 256), (64, 256, 256)]


BYPASSES = (None, "simple", "complex")


def build_squeezenet(name: str, stem: tuple[int, int], layout: list, seed: int = 0, classes: int = 1000,
                     bypass: str | None = None) -> onnx.ModelProto:
    """A SqueezeNet, batch 1, 3x224x224 input: a stem conv of ``stem`` = (channels, kernel), stride 2,
    then ``layout``'s fire modules and pools, a 1x1 conv classifier and a global average pool.
    ``bypass`` None, 'simple' or 'complex' (see the module's docstring)."""
    if bypass not in BYPASSES:
        raise ValueError(f"bypass must be one of {BYPASSES}, got {bypass!r}")
    g = GraphBuilder(name, seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    width, kernel = stem
    x = g.relu(g.conv(x, 3, width, kernel, "features.0", stride=2, pad=0), "features.1")
    x = g.max_pool(x, "features.2", kernel=3, stride=2, ceil_mode=True)
    for index, layer in enumerate(layout, start=3):
        if layer == "pool":
            x = g.max_pool(x, f"features.{index}", kernel=3, stride=2, ceil_mode=True)
        else:
            y = fire(g, x, *layer, f"features.{index}")
            if bypass is not None and g.channels(x) == g.channels(y):
                y = g.add(y, x, f"features.{index}.bypass")
            elif bypass == "complex":
                shortcut = g.conv(x, g.channels(x), g.channels(y), 1, f"features.{index}.bypass_conv", gain=1.0)
                y = g.add(y, shortcut, f"features.{index}.bypass")
            x = y
    x = g.relu(g.conv(x, g.channels(x), classes, 1, "classifier.1"), "classifier.2")
    x = g.flatten(g.global_avg_pool(x, "classifier.3"), "flatten")
    g.output(x)
    return g.build()


def squeezenet1_0(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet 1.0: a 7x7 stem of 96 channels."""
    return build_squeezenet("squeezenet1_0", (96, 7), SQUEEZENET_1_0, seed)


def squeezenet1_1(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet 1.1: a 3x3 stem of 64 channels and earlier pools."""
    return build_squeezenet("squeezenet1_1", (64, 3), SQUEEZENET_1_1, seed)


def squeezenet1_0_simple_bypass(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet 1.0 with the paper's simple bypass (identity shortcuts around fire3, 5, 7, 9)."""
    return build_squeezenet("squeezenet1_0_simple_bypass", (96, 7), SQUEEZENET_1_0, seed, bypass="simple")


def squeezenet1_0_complex_bypass(seed: int = 0) -> onnx.ModelProto:
    """SqueezeNet 1.0 with the paper's complex bypass (the simple one plus 1x1 conv shortcuts around
    fire2, 4, 6, 8)."""
    return build_squeezenet("squeezenet1_0_complex_bypass", (96, 7), SQUEEZENET_1_0, seed, bypass="complex")
