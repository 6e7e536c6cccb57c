"""Residual networks: ResNet-18, -34, -50, Wide ResNet-50-2, ResNeXt-50 32x4d, SE-ResNet-50,
SE-ResNeXt-50 32x4d (ImageNet, 224x224) and the pre-activation ResNet-164 (CIFAR-10, 32x32).

The ImageNet models follow torchvision's ResNet (module names ``conv1``, ``layer1.0.conv1``, ...,
``fc``); ResNet-18 and -34 are made of basic blocks (two 3x3 convs), the others of bottlenecks
that differ only in width, groups and squeeze-and-excitation:

- ResNet-50 (He et al. 2015, arXiv:1512.03385): width = planes. torchvision strides the 3x3
  conv ("v1.5"); ``stride_in_1x1=True`` gives the paper's layout (stride on the first 1x1).
- Wide ResNet-50-2 (Zagoruyko & Komodakis 2016, arXiv:1605.07146): width = 2·planes.
- ResNeXt-50 32x4d (Xie et al. 2016, arXiv:1611.05431): 32 groups of 4 channels per 64 planes.
- SE-ResNet-50 (Hu et al. 2017, arXiv:1709.01507): reduction 16 on every unit, stride on the
  first 1x1 as in the authors' Caffe models.
- SE-ResNeXt-50 32x4d (Hu et al.; Cadene's pretrained-models se_resnext50_32x4d): ResNeXt-50's
  bottleneck with the stride on the 3x3 and SE (reduction 16) on every unit.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import basic_block, bottleneck, preact_bottleneck

RESNET18_LAYERS = (2, 2, 2, 2)
RESNET34_LAYERS = (3, 4, 6, 3)
RESNET50_LAYERS = (3, 4, 6, 3)
PLANES = (64, 128, 256, 512)


def build_resnet(name: str, layers=RESNET50_LAYERS, width_per_group: int = 64, groups: int = 1,
                 stride_in_1x1: bool = False, se_reduction: int | None = None, seed: int = 0,
                 resolution: int = 224, classes: int = 1000, basic: bool = False) -> onnx.ModelProto:
    """An ImageNet ResNet, batch 1: ``layers`` units per stage. Bottlenecks have a width of
    planes·width_per_group/64·groups channels, ``groups`` in their 3x3, output 4·planes, the other
    options as for ``bottleneck`` (units.py); ``basic`` units (ResNet-18/34) output planes."""
    g = GraphBuilder(name, seed=seed)
    x = g.input("input", [1, 3, resolution, resolution])
    x = g.conv_bn_act(x, 64, 7, "", stride=2, pad=3, parts=("conv1", "bn1", "relu"))
    x = g.max_pool(x, "maxpool", kernel=3, stride=2, pad=1)
    for stage, (blocks, planes) in enumerate(zip(layers, PLANES), start=1):
        width = planes * width_per_group // 64 * groups
        for index in range(blocks):
            stride = 2 if stage > 1 and index == 0 else 1
            if basic:
                x = basic_block(g, x, planes, stride, f"layer{stage}.{index}")
                continue
            x = bottleneck(g, x, width, planes * 4, stride, f"layer{stage}.{index}", groups=groups,
                           stride_in_1x1=stride_in_1x1, se_reduction=se_reduction)
    x = g.flatten(g.global_avg_pool(x, "avgpool"), "flatten")
    x = g.linear(x, g.shape(x)[1], classes, "fc")
    g.output(x)
    return g.build()


def resnet18(seed: int = 0) -> onnx.ModelProto:
    """ResNet-18 as torchvision builds it: basic blocks, (2, 2, 2, 2) per stage."""
    return build_resnet("resnet18", layers=RESNET18_LAYERS, basic=True, seed=seed)


def resnet34(seed: int = 0) -> onnx.ModelProto:
    """ResNet-34 as torchvision builds it: basic blocks, (3, 4, 6, 3) per stage."""
    return build_resnet("resnet34", layers=RESNET34_LAYERS, basic=True, seed=seed)


def resnet50(seed: int = 0, stride_in_1x1: bool = False) -> onnx.ModelProto:
    """ResNet-50 as torchvision builds it (stride on the 3x3); ``stride_in_1x1`` gives the paper's layout."""
    return build_resnet("resnet50", stride_in_1x1=stride_in_1x1, seed=seed)


def wide_resnet50_2(seed: int = 0) -> onnx.ModelProto:
    """Wide ResNet-50-2: ResNet-50 with bottlenecks twice as wide."""
    return build_resnet("wide_resnet50_2", width_per_group=128, seed=seed)


def resnext50_32x4d(seed: int = 0) -> onnx.ModelProto:
    """ResNeXt-50 32x4d: 32 groups of 4 channels per 64 planes in every 3x3."""
    return build_resnet("resnext50_32x4d", width_per_group=4, groups=32, seed=seed)


def se_resnet50(seed: int = 0) -> onnx.ModelProto:
    """SE-ResNet-50: squeeze-and-excitation (reduction 16) on every unit, stride on the first 1x1."""
    return build_resnet("se_resnet50", stride_in_1x1=True, se_reduction=16, seed=seed)


def se_resnext50_32x4d(seed: int = 0) -> onnx.ModelProto:
    """SE-ResNeXt-50 32x4d: ResNeXt-50 32x4d (stride on the 3x3) with squeeze-and-excitation (reduction
    16) on every unit."""
    return build_resnet("se_resnext50_32x4d", width_per_group=4, groups=32, se_reduction=16, seed=seed)


def preact_resnet(depth: int = 164, seed: int = 0, classes: int = 10) -> onnx.ModelProto:
    """Pre-activation ResNet for CIFAR (He et al. 2016, arXiv:1603.05027), depth 9n + 2, as in the
    authors' resnet-pre-act.lua: a 3x3 conv to 16 channels, three stages of n bottlenecks ending
    in 64, 128, 256 channels (stride 1, 2, 2), BN-ReLU, 8x8 average pool, linear layer."""
    if (depth - 2) % 9:
        raise ValueError(f"depth must be 9n + 2, got {depth}")
    units = (depth - 2) // 9
    g = GraphBuilder(f"preact_resnet{depth}", seed=seed)
    x = g.input("input", [1, 3, 32, 32])
    x = g.conv(x, 3, 16, 3, "conv1", bias=False)
    for stage, (cout, stride) in enumerate(zip((64, 128, 256), (1, 2, 2)), start=1):
        for index in range(units):
            x = preact_bottleneck(g, x, cout, stride if index == 0 else 1, f"layer{stage}.{index}")
    x = g.relu(g.batch_norm(x, "bn"), "relu")
    x = g.flatten(g.global_avg_pool(x, "avgpool"), "flatten")
    x = g.linear(x, 256, classes, "fc")
    g.output(x)
    return g.build()


def preact_resnet164(seed: int = 0) -> onnx.ModelProto:
    """The pre-activation ResNet-164 for CIFAR-10 (18 bottlenecks per stage)."""
    return preact_resnet(164, seed=seed)
