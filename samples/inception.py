"""Inception-v3 (Szegedy et al. 2015, arXiv:1512.00567) as in torchvision, 299x299.

Exporters write the model in eval mode, where torchvision does not run the auxiliary
classifier, so the graph has no AuxLogits branch; ``aux_logits=True`` adds it as a second
output (as a training-mode graph would have it), so its parameters can be counted too.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import basic_conv, inception_a, inception_aux, inception_b, inception_c, inception_d, inception_e


def inception_v3(seed: int = 0, classes: int = 1000, aux_logits: bool = False) -> onnx.ModelProto:
    """Inception-v3, batch 1, 3x299x299 input, ``classes`` outputs; ``aux_logits`` adds the auxiliary
    classifier's logits as a second output."""
    g = GraphBuilder("inception_v3", seed=seed)
    x = g.input("input", [1, 3, 299, 299])
    x = basic_conv(g, x, 32, 3, "Conv2d_1a_3x3", stride=2)
    x = basic_conv(g, x, 32, 3, "Conv2d_2a_3x3")
    x = basic_conv(g, x, 64, 3, "Conv2d_2b_3x3", pad=1)
    x = g.max_pool(x, "maxpool1", kernel=3, stride=2)
    x = basic_conv(g, x, 80, 1, "Conv2d_3b_1x1")
    x = basic_conv(g, x, 192, 3, "Conv2d_4a_3x3")
    x = g.max_pool(x, "maxpool2", kernel=3, stride=2)
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        x = inception_a(g, x, pool_features, name)
    x = inception_b(g, x, "Mixed_6a")
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = inception_c(g, x, c7, name)
    aux = inception_aux(g, x, classes, "AuxLogits") if aux_logits else None
    x = inception_d(g, x, "Mixed_7a")
    x = inception_e(g, x, "Mixed_7b")
    x = inception_e(g, x, "Mixed_7c")
    x = g.flatten(g.global_avg_pool(x, "avgpool"), "flatten")
    x = g.linear(x, 2048, classes, "fc")
    g.output(x)
    if aux is not None:
        g.output(aux)
    return g.build()
