"""Dual Path Networks (Chen et al. 2017, arXiv:1707.01629): DPN-68 and DPN-92 as in the authors'
MXNet code (cypw/DPNs) and Cadene's PyTorch port (pretrained-models.pytorch, dpn.py), 224x224.

Module names follow the port (``features.conv2_1.c1x1_a.conv``, ...). The classifier is a 1x1
conv with bias after global average pooling; the port's test-time pooling (a 7x7 average pool,
the classifier, then mean-max pooling) computes the same thing at 224x224, where the features
are 7x7.
"""

from __future__ import annotations

import onnx

from .blocks import GraphBuilder
from .units import dual_path_block


def build_dpn(name: str, small: bool, init_features: int, k_r: int, groups: int, k_sec: tuple[int, ...],
              inc_sec: tuple[int, ...], seed: int = 0, classes: int = 1000) -> onnx.ModelProto:
    """A DPN, batch 1, 3x224x224 input. The stem is a 3x3 conv (``small``, DPN-68) or a 7x7 conv of
    ``init_features`` channels, stride 2, BN-ReLU and a 3x3/2 max pool; stage s (2-5) has
    ``k_sec[s-2]`` units with a residual path of bw = 64·2^(s-2) channels (x4 unless ``small``),
    ``inc_sec[s-2]`` dense channels added per unit and a bottleneck of k_r·bw/(64·factor) channels
    in ``groups`` groups; the first unit of stage 2 projects, the others downsample."""
    factor = 1 if small else 4
    g = GraphBuilder(name, seed=seed)
    x = g.input("input", [1, 3, 224, 224])
    kernel = 3 if small else 7
    x = g.conv_bn_act(x, init_features, kernel, "features.conv1_1", stride=2, pad=kernel // 2, eps=1e-3,
                      parts=("conv", "bn", "act"))
    x = g.max_pool(x, "features.conv1_1.pool", kernel=3, stride=2, pad=1)
    paths: tuple[str, str | None] = (x, None)
    for stage, (units, inc) in enumerate(zip(k_sec, inc_sec), start=2):
        bw = 64 * 2 ** (stage - 2) * factor
        width = k_r * bw // (64 * factor)
        for unit in range(1, units + 1):
            kind = "normal" if unit > 1 else "proj" if stage == 2 else "down"
            paths = dual_path_block(g, paths, width, bw, inc, groups, f"features.conv{stage}_{unit}", kind)
    x = g.concat(list(paths), "features.conv5_bn_ac.cat")
    x = g.relu(g.batch_norm(x, "features.conv5_bn_ac.bn", eps=1e-3), "features.conv5_bn_ac.act")
    x = g.conv(g.global_avg_pool(x, "avg_pool"), g.channels(x), classes, 1, "classifier", gain=1.0)
    g.output(g.flatten(x, "flatten"))
    return g.build()


def dpn68(seed: int = 0) -> onnx.ModelProto:
    """DPN-68: 3x3 stem of 10 channels, k_r 128, 32 groups, (3, 4, 12, 3) units, increments (16, 32, 32, 64)."""
    return build_dpn("dpn68", True, 10, 128, 32, (3, 4, 12, 3), (16, 32, 32, 64), seed)


def dpn92(seed: int = 0) -> onnx.ModelProto:
    """DPN-92: 7x7 stem of 64 channels, k_r 96, 32 groups, (3, 4, 20, 3) units, increments (16, 32, 24, 128)."""
    return build_dpn("dpn92", False, 64, 96, 32, (3, 4, 20, 3), (16, 32, 24, 128), seed)
