"""ShuffleNet V1 (Zhang et al. 2017, arXiv:1707.01083) and V2 (Ma et al. 2018, arXiv:1807.11164),
224x224.

V1 follows the authors' reference code (megvii-model/ShuffleNet-Series, ShuffleNetV1): stage
widths per group count and width multiplier, bottlenecks a quarter of the output, a classifier
without bias. V2 follows torchvision by default (module names ``stage2.0.branch2.0``, ...);
``layout="authors"`` gives the reference code's stride-2 units and bias-free classifier, the
network behind the paper's complexity figures.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import shuffle_v1_unit, shuffle_v2_unit

STAGE_REPEATS = (4, 8, 4)
# (stem width, stage widths) per (groups, width multiplier), as in the reference code.
SHUFFLENET_V1_WIDTHS = {
    (3, "0.5x"): (12, (120, 240, 480)), (3, "1.0x"): (24, (240, 480, 960)),
    (3, "1.5x"): (24, (360, 720, 1440)), (3, "2.0x"): (48, (480, 960, 1920)),
    (8, "0.5x"): (16, (192, 384, 768)), (8, "1.0x"): (24, (384, 768, 1536)),
    (8, "1.5x"): (24, (576, 1152, 2304)), (8, "2.0x"): (48, (768, 1536, 3072)),
}
# (stage widths, last conv width) per width multiplier.
SHUFFLENET_V2_WIDTHS = {
    "0.5x": ((48, 96, 192), 1024), "1.0x": ((116, 232, 464), 1024),
    "1.5x": ((176, 352, 704), 1024), "2.0x": ((244, 488, 976), 2048),
}


def shufflenet_v1(groups: int = 3, width: str = "1.0x", seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """ShuffleNet V1 with ``groups`` (3 or 8) and a width multiplier ('0.5x' to '2.0x'), batch 1,
    3x224x224 input, ``classes`` outputs."""
    stem, widths = SHUFFLENET_V1_WIDTHS[(groups, width)]
    g = GraphBuilder(f"shufflenet_v1_g{groups}_{width}", seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    x = g.conv_bn_act(x, stem, 3, "first_conv", stride=2, parts=("0", "1", "2"))
    x = g.max_pool(x, "maxpool", kernel=3, stride=2, pad=1)
    index = 0
    for stage, (repeats, cout) in enumerate(zip(STAGE_REPEATS, widths)):
        for repeat in range(repeats):
            x = shuffle_v1_unit(g, x, cout, groups, 2 if repeat == 0 else 1, f"features.{index}",
                                first_grouped=not (stage == 0 and repeat == 0))
            index += 1
    x = g.flatten(g.global_avg_pool(x, "globalpool"), "flatten")
    x = g.linear(x, widths[-1], classes, "classifier.0", bias=False)
    g.output(x)
    return g.build()


def shufflenet_v2(width: str = "1.0x", layout: str = "torchvision", seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """ShuffleNet V2 at a width multiplier ('0.5x' to '2.0x'), batch 1, 3x224x224 input; ``layout``
    'torchvision' or 'authors' (see the module docstring)."""
    if layout not in ("torchvision", "authors"):
        raise ValueError(f"layout is 'torchvision' or 'authors', not '{layout}'")
    widths, last = SHUFFLENET_V2_WIDTHS[width]
    authors = layout == "authors"
    g = GraphBuilder(f"shufflenet_v2_{width}" + ("_authors" if authors else ""), seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    x = g.conv_bn_act(x, 24, 3, "conv1", stride=2, parts=("0", "1", "2"))
    x = g.max_pool(x, "maxpool", kernel=3, stride=2, pad=1)
    for stage, (repeats, cout) in enumerate(zip(STAGE_REPEATS, widths), start=2):
        for repeat in range(repeats):
            x = shuffle_v2_unit(g, x, cout, 2 if repeat == 0 else 1, f"stage{stage}.{repeat}", authors=authors)
    x = g.conv_bn_act(x, last, 1, "conv5", parts=("0", "1", "2"))
    x = g.reduce_mean(x, [2, 3], "mean")  # torchvision: x.mean([2, 3])
    x = g.linear(x, last, classes, "fc", bias=not authors)
    g.output(x)
    return g.build()


def shufflenet_v1_g3(seed: int = 0) -> onnx.ModelProto:
    """ShuffleNet V1 1.0x with 3 groups."""
    return shufflenet_v1(3, "1.0x", seed=seed)


def shufflenet_v2_x1_0(seed: int = 0) -> onnx.ModelProto:
    """ShuffleNet V2 1.0x as in torchvision."""
    return shufflenet_v2("1.0x", seed=seed)
