"""Sample models built in memory (no downloads): ``onnxcost report --sample NAME``.

The zoo of classic CNNs (and one vision transformer), each with seeded random weights, batch 1,
at the architecture's usual resolution; their parameter counts and MACs are tested against the
published figures (tests/test_zoo.py) and tabulated in docs/zoo.md
(``python -m onnxcost.samples.zoo_table docs/zoo.md``).
"""

from __future__ import annotations

from collections.abc import Callable

import onnx

from .alexnet import alexnet, alexnet_caffe
from .densenet import densenet121
from .dpn import dpn68, dpn92
from .inception import inception_v3
from .inception_v4 import inception_resnet_v2, inception_v4
from .mobilenet import mobilenet_v1, mobilenet_v2
from .resnet import (preact_resnet164, resnet18, resnet34, resnet50, resnext50_32x4d, se_resnet50, se_resnext50_32x4d,
                     wide_resnet50_2)
from .shufflenet import shufflenet_v1_g3, shufflenet_v2_x1_0
from .squeezenet import squeezenet1_0, squeezenet1_0_complex_bypass, squeezenet1_0_simple_bypass, squeezenet1_1
from .vgg import vgg16, vgg19
from .vit import vit_b_16
from .xception import xception

SAMPLES: dict[str, Callable[[], onnx.ModelProto]] = {
    "alexnet": alexnet,
    "alexnet_caffe": alexnet_caffe,
    "vgg16": vgg16,
    "vgg19": vgg19,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
    "preact_resnet164": preact_resnet164,
    "wide_resnet50_2": wide_resnet50_2,
    "resnext50_32x4d": resnext50_32x4d,
    "se_resnet50": se_resnet50,
    "se_resnext50_32x4d": se_resnext50_32x4d,
    "squeezenet1_0": squeezenet1_0,
    "squeezenet1_0_simple_bypass": squeezenet1_0_simple_bypass,
    "squeezenet1_0_complex_bypass": squeezenet1_0_complex_bypass,
    "squeezenet1_1": squeezenet1_1,
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "shufflenet_v1_g3": shufflenet_v1_g3,
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0,
    "xception": xception,
    "densenet121": densenet121,
    "dpn68": dpn68,
    "dpn92": dpn92,
    "inception_v3": inception_v3,
    "inception_v4": inception_v4,
    "inception_resnet_v2": inception_resnet_v2,
    "vit_b_16": vit_b_16,
}


def build(name: str) -> onnx.ModelProto:
    """Build the sample ``name``; raises KeyError with the known names if there is none."""
    try:
        builder = SAMPLES[name]
    except KeyError:
        raise KeyError(f"no sample named '{name}'; known: {', '.join(sorted(SAMPLES))}") from None
    return builder()
