"""The network units of the zoo, each written once over ``GraphBuilder`` layers.

Every function takes the builder, the input tensor and a name prefix, and
returns the unit's output tensor. Node names follow the reference
implementations (torchvision's module paths such as ``layer1.0.conv1``, Keras
layer names for Xception), so a report reads like the model's source.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .blocks import GraphBuilder

# The last layer of a residual branch starts small (as torchvision's zero_init_residual, but not
# zero): a sum of many branches then keeps activations in float16's range and the random model's
# outputs meaningful. 0.2 scales the BatchNorm scale (or the conv's weight std when no BN follows).
RESIDUAL_GAMMA = 0.2


# --- residual networks ---------------------------------------------------------

def bottleneck(g: GraphBuilder, x: str, width: int, cout: int, stride: int, name: str, groups: int = 1,
               stride_in_1x1: bool = False, se_reduction: int | None = None) -> str:
    """ResNet bottleneck: 1x1 → 3x3 (``groups``) → 1x1, each with BatchNorm, ReLU after the sum.

    torchvision strides the 3x3 ("ResNet v1.5"); the paper's Caffe models stride the first 1x1
    (``stride_in_1x1``). ``se_reduction`` adds a squeeze-and-excitation module on the residual
    branch before the sum (Hu et al.). A projection shortcut (1x1 + BatchNorm) is added when the
    shape changes.
    """
    first, middle = (stride, 1) if stride_in_1x1 else (1, stride)
    out = g.conv_bn_act(x, width, 1, name, stride=first, parts=("conv1", "bn1", "relu"))
    out = g.conv_bn_act(out, width, 3, name, stride=middle, groups=groups, parts=("conv2", "bn2", "relu"))
    out = g.conv_bn_act(out, cout, 1, name, act=None, parts=("conv3", "bn3", "relu"), gamma=RESIDUAL_GAMMA)
    if se_reduction is not None:
        out = squeeze_excitation(g, out, cout // se_reduction, f"{name}.se_module")
    shortcut = x
    if stride != 1 or g.channels(x) != cout:
        shortcut = g.conv_bn_act(x, cout, 1, f"{name}.downsample", stride=stride, act=None, parts=("0", "1", ""))
    return g.relu(g.add(out, shortcut, f"{name}.add"), f"{name}.relu")


def basic_block(g: GraphBuilder, x: str, cout: int, stride: int, name: str) -> str:
    """ResNet basic block (He et al., Fig. 2 left; torchvision's BasicBlock for ResNet-18/34): two 3x3
    convs with BatchNorm, ReLU after the sum, the stride on the first; a projection shortcut (1x1 +
    BatchNorm) when the shape changes."""
    out = g.conv_bn_act(x, cout, 3, name, stride=stride, parts=("conv1", "bn1", "relu"))
    out = g.conv_bn_act(out, cout, 3, name, act=None, parts=("conv2", "bn2", "relu"), gamma=RESIDUAL_GAMMA)
    shortcut = x
    if stride != 1 or g.channels(x) != cout:
        shortcut = g.conv_bn_act(x, cout, 1, f"{name}.downsample", stride=stride, act=None, parts=("0", "1", ""))
    return g.relu(g.add(out, shortcut, f"{name}.add"), f"{name}.relu")


def preact_bottleneck(g: GraphBuilder, x: str, cout: int, stride: int, name: str) -> str:
    """Pre-activation bottleneck (He et al. 2016, the authors' resnet-pre-act.lua): BN → ReLU → conv
    three times, width cout/4, stride on the first 1x1, convolutions without bias. When the shape
    changes, the first BN-ReLU is shared and a 1x1 projection of its output is the shortcut."""
    cin, width = g.channels(x), cout // 4
    pre = g.relu(g.batch_norm(x, f"{name}.bn1"), f"{name}.relu1")
    if cin == cout and stride == 1:
        shortcut = x
    else:
        shortcut = g.conv(pre, cin, cout, 1, f"{name}.shortcut", stride=stride, bias=False)
    out = g.conv(pre, cin, width, 1, f"{name}.conv1", stride=stride, bias=False)
    out = g.relu(g.batch_norm(out, f"{name}.bn2"), f"{name}.relu2")
    out = g.conv(out, width, width, 3, f"{name}.conv2", bias=False)
    out = g.relu(g.batch_norm(out, f"{name}.bn3"), f"{name}.relu3")
    out = g.conv(out, width, cout, 1, f"{name}.conv3", bias=False, gain=2 * RESIDUAL_GAMMA**2)
    return g.add(out, shortcut, f"{name}.add")


def squeeze_excitation(g: GraphBuilder, x: str, squeeze: int, name: str) -> str:
    """Squeeze-and-excitation: global pool → 1x1 conv (C → squeeze) → ReLU → 1x1 conv → sigmoid → scale."""
    channels = g.channels(x)
    s = g.global_avg_pool(x, f"{name}.avg_pool")
    s = g.relu(g.conv(s, channels, squeeze, 1, f"{name}.fc1"), f"{name}.relu")
    s = g.act(g.conv(s, squeeze, channels, 1, f"{name}.fc2"), "sigmoid", f"{name}.sigmoid")
    return g.mul(x, s, f"{name}.scale")


# --- compact networks ----------------------------------------------------------

def fire(g: GraphBuilder, x: str, squeeze: int, expand1x1: int, expand3x3: int, name: str) -> str:
    """SqueezeNet's fire module: 1x1 squeeze, then 1x1 and 3x3 expands concatenated (convs with bias)."""
    s = g.relu(g.conv(x, g.channels(x), squeeze, 1, f"{name}.squeeze"), f"{name}.squeeze_activation")
    e1 = g.relu(g.conv(s, squeeze, expand1x1, 1, f"{name}.expand1x1"), f"{name}.expand1x1_activation")
    e3 = g.relu(g.conv(s, squeeze, expand3x3, 3, f"{name}.expand3x3"), f"{name}.expand3x3_activation")
    return g.concat([e1, e3], f"{name}.cat")


def depthwise_separable(g: GraphBuilder, x: str, cout: int, stride: int, index: int) -> str:
    """MobileNet V1 unit (Howard et al., Fig. 3): 3x3 depthwise and 1x1 pointwise, each with BN and ReLU.
    Layer names as in the Keras application (conv_dw_1, conv_dw_1_bn, ...)."""
    channels = g.channels(x)
    x = g.conv_bn_act(x, channels, 3, "", stride=stride, groups=channels,
                      parts=(f"conv_dw_{index}", f"conv_dw_{index}_bn", f"conv_dw_{index}_relu"))
    return g.conv_bn_act(x, cout, 1, "", parts=(f"conv_pw_{index}", f"conv_pw_{index}_bn", f"conv_pw_{index}_relu"))


def inverted_residual(g: GraphBuilder, x: str, cout: int, stride: int, expand_ratio: int, name: str) -> str:
    """MobileNet V2 unit: 1x1 expand (ReLU6) → 3x3 depthwise (ReLU6) → 1x1 linear projection,
    with the identity added when the shape is kept. torchvision's module names (``features.N.conv.i``)."""
    cin = g.channels(x)
    hidden = cin * expand_ratio
    layers = ("0", "1", "2")
    y, index = x, 0
    if expand_ratio != 1:
        y = g.conv_bn_act(y, hidden, 1, f"{name}.conv.0", act="relu6", parts=layers)
        index = 1
    y = g.conv_bn_act(y, hidden, 3, f"{name}.conv.{index}", stride=stride, groups=hidden, act="relu6", parts=layers)
    residual = stride == 1 and cin == cout
    y = g.conv(y, hidden, cout, 1, f"{name}.conv.{index + 1}", bias=False)
    y = g.batch_norm(y, f"{name}.conv.{index + 2}", gamma=RESIDUAL_GAMMA if residual else 1.0)
    return g.add(x, y, f"{name}.add") if residual else y


def shuffle_v1_unit(g: GraphBuilder, x: str, cout: int, groups: int, stride: int, name: str,
                    first_grouped: bool = True) -> str:
    """ShuffleNet V1 unit (Zhang et al., Fig. 2): 1x1 group conv → channel shuffle → 3x3 depthwise →
    1x1 group conv. Stride 2 concatenates a 3x3 average pool of the input (the branch then makes
    cout - cin channels); stride 1 adds the input. Bottleneck width cout/4; the first unit of the
    network does not group its first 1x1 (its 24 input channels are too few)."""
    cin = g.channels(x)
    mid = cout // 4
    branch = cout - cin if stride == 2 else cout
    y = g.conv_bn_act(x, mid, 1, name, groups=groups if first_grouped else 1, parts=("gconv1", "bn1", "relu"))
    y = g.channel_shuffle(y, groups, f"{name}.shuffle")
    y = g.conv_bn_act(y, mid, 3, name, stride=stride, groups=mid, act=None, parts=("dwconv", "bn2", ""))
    y = g.conv_bn_act(y, branch, 1, name, groups=groups, act=None, parts=("gconv2", "bn3", ""), gain=1.0,
                      gamma=RESIDUAL_GAMMA if stride == 1 else 1.0)
    if stride == 1:
        return g.relu(g.add(x, y, f"{name}.add"), f"{name}.relu_out")
    shortcut = g.avg_pool(x, f"{name}.shortcut", kernel=3, stride=2, pad=1)
    return g.relu(g.concat([shortcut, y], f"{name}.cat"), f"{name}.relu_out")


def shuffle_v2_unit(g: GraphBuilder, x: str, cout: int, stride: int, name: str, authors: bool = False) -> str:
    """ShuffleNet V2 unit (Ma et al., Fig. 3 c/d; torchvision's InvertedResidual): stride 1 splits the
    channels in half and transforms one half; stride 2 feeds the input to both branches, a 3x3
    depthwise + 1x1 projection and the 1x1 → 3x3 depthwise → 1x1 main branch. The concatenation
    is shuffled with 2 groups. torchvision gives each stride-2 branch cout/2 channels; the authors'
    code (``authors=True``, megvii ShuffleNet-Series) keeps the input's channels in the projection
    and makes cout - cin in the main branch."""
    cin = g.channels(x)
    half = cout // 2
    if stride == 1:
        kept, x = g.split(x, [cin // 2] * 2, f"{name}.chunk")
        branches, main = [kept], cout - cin // 2
    else:
        projected = cin if authors else half
        left = g.conv_bn_act(x, cin, 3, f"{name}.branch1", stride=2, groups=cin, act=None, parts=("0", "1", ""))
        left = g.conv_bn_act(left, projected, 1, f"{name}.branch1", parts=("2", "3", "4"), gain=1.0)
        branches, main = [left], cout - projected
    right = g.conv_bn_act(x, half, 1, f"{name}.branch2", parts=("0", "1", "2"))
    right = g.conv_bn_act(right, half, 3, f"{name}.branch2", stride=stride, groups=half, act=None, parts=("3", "4", ""))
    right = g.conv_bn_act(right, main, 1, f"{name}.branch2", parts=("5", "6", "7"), gain=1.0)
    out = g.concat([*branches, right], f"{name}.cat")
    return g.channel_shuffle(out, 2, f"{name}.channel_shuffle")


# --- DenseNet --------------------------------------------------------------------

def dense_block(g: GraphBuilder, x: str, layers: int, growth: int, bn_size: int, name: str) -> str:
    """DenseNet-BC block: each layer (BN-ReLU-1x1 conv to bn_size·growth, BN-ReLU-3x3 conv to growth)
    reads the concatenation of every earlier feature map, as torchvision's _DenseLayer does."""
    features = [x]
    for index in range(1, layers + 1):
        layer = f"{name}.denselayer{index}"
        joined = features[0] if len(features) == 1 else g.concat(features, f"{layer}.cat")
        y = g.relu(g.batch_norm(joined, f"{layer}.norm1"), f"{layer}.relu1")
        y = g.conv(y, g.channels(y), bn_size * growth, 1, f"{layer}.conv1", bias=False)
        y = g.relu(g.batch_norm(y, f"{layer}.norm2"), f"{layer}.relu2")
        features.append(g.conv(y, bn_size * growth, growth, 3, f"{layer}.conv2", bias=False))
    return g.concat(features, f"{name}.cat")


def transition(g: GraphBuilder, x: str, cout: int, name: str) -> str:
    """DenseNet transition: BN → ReLU → 1x1 conv → 2x2 average pool, stride 2."""
    y = g.relu(g.batch_norm(x, f"{name}.norm"), f"{name}.relu")
    y = g.conv(y, g.channels(y), cout, 1, f"{name}.conv", bias=False)
    return g.avg_pool(y, f"{name}.pool", kernel=2, stride=2)


# --- Dual Path Networks (Cadene's port of the authors' MXNet code; BatchNorm eps 0.001) -------------

def bn_act_conv(g: GraphBuilder, x: str, cout: int, kernel: int, name: str, stride: int = 1, groups: int = 1) -> str:
    """DPN's BnActConv2d: BatchNorm → ReLU → conv without bias ('same' padding), named
    ``name.bn``, ``name.act``, ``name.conv``."""
    y = g.relu(g.batch_norm(x, f"{name}.bn", eps=1e-3), f"{name}.act")
    return g.conv(y, g.channels(y), cout, kernel, f"{name}.conv", stride=stride, groups=groups, bias=False,
                  pad=(kernel - 1) // 2)


def dual_path_block(g: GraphBuilder, x: tuple[str, str | None], width: int, bw: int, inc: int, groups: int,
                    name: str, kind: str = "normal") -> tuple[str, str]:
    """A DPN unit (Chen et al. 2017, Fig. 2e): on the concatenation of the residual and dense paths,
    BN-ReLU-1x1 (``width``) → BN-ReLU-3x3 (``groups``) → BN-ReLU-1x1 to ``bw`` + ``inc`` channels; the
    first ``bw`` are added to the residual path, the other ``inc`` appended to the dense path.
    ``kind`` 'proj' (stride 1) or 'down' (stride 2) first projects the input to ``bw`` + 2·``inc``
    channels, the new residual and dense paths. ``x`` is (residual, dense), dense None for a
    single tensor; returns the new (residual, dense)."""
    resid, dense = x
    x_in = resid if dense is None else g.concat([resid, dense], f"{name}.cat_in")
    stride = 2 if kind == "down" else 1
    if kind != "normal":
        projected = bn_act_conv(g, x_in, bw + 2 * inc, 1, f"{name}.c1x1_w_s{stride}", stride=stride)
        resid, dense = g.split(projected, [bw, 2 * inc], f"{name}.split_w")
    y = bn_act_conv(g, x_in, width, 1, f"{name}.c1x1_a")
    y = bn_act_conv(g, y, width, 3, f"{name}.c3x3_b", stride=stride, groups=groups)
    # Scaled down as the last layer of a residual branch (RESIDUAL_GAMMA): no BatchNorm follows it.
    y = g.conv(g.relu(g.batch_norm(y, f"{name}.c1x1_c.bn", eps=1e-3), f"{name}.c1x1_c.act"), width, bw + inc, 1,
               f"{name}.c1x1_c.conv", bias=False, gain=2 * RESIDUAL_GAMMA**2)
    out1, out2 = g.split(y, [bw, inc], f"{name}.split_c")
    return g.add(resid, out1, f"{name}.resid"), g.concat([dense, out2], f"{name}.dense")


# --- Inception-v3 (torchvision's modules; every conv is BasicConv2d: conv, BN eps 0.001, ReLU) ------

def basic_conv(g: GraphBuilder, x: str, cout: int, kernel, name: str, stride: int = 1, pad=0) -> str:
    """torchvision's BasicConv2d: conv without bias → BatchNorm (eps 0.001) → ReLU."""
    return g.conv_bn_act(x, cout, kernel, name, stride=stride, pad=pad, eps=1e-3)


def inception_a(g: GraphBuilder, x: str, pool_features: int, name: str) -> str:
    """Inception-v3's Mixed_5 module (Fig. 5 of the paper): 1x1, 5x5, double 3x3 and pooled 1x1
    branches concatenated; ``pool_features`` channels in the pooled branch."""
    b1 = basic_conv(g, x, 64, 1, f"{name}.branch1x1")
    b5 = basic_conv(g, x, 48, 1, f"{name}.branch5x5_1")
    b5 = basic_conv(g, b5, 64, 5, f"{name}.branch5x5_2", pad=2)
    b3 = basic_conv(g, x, 64, 1, f"{name}.branch3x3dbl_1")
    b3 = basic_conv(g, b3, 96, 3, f"{name}.branch3x3dbl_2", pad=1)
    b3 = basic_conv(g, b3, 96, 3, f"{name}.branch3x3dbl_3", pad=1)
    bp = g.avg_pool(x, f"{name}.avg_pool", kernel=3, stride=1, pad=1)
    bp = basic_conv(g, bp, pool_features, 1, f"{name}.branch_pool")
    return g.concat([b1, b5, b3, bp], f"{name}.cat")


def inception_b(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v3's Mixed_6a grid reduction: strided 3x3, strided double 3x3 and max pool branches."""
    b3 = basic_conv(g, x, 384, 3, f"{name}.branch3x3", stride=2)
    bd = basic_conv(g, x, 64, 1, f"{name}.branch3x3dbl_1")
    bd = basic_conv(g, bd, 96, 3, f"{name}.branch3x3dbl_2", pad=1)
    bd = basic_conv(g, bd, 96, 3, f"{name}.branch3x3dbl_3", stride=2)
    bp = g.max_pool(x, f"{name}.max_pool", kernel=3, stride=2)
    return g.concat([b3, bd, bp], f"{name}.cat")


def inception_c(g: GraphBuilder, x: str, c7: int, name: str) -> str:
    """Inception-v3's Mixed_6b-e module (Fig. 6): 7x7 convolutions factorized into 1x7 and 7x1,
    ``c7`` channels inside the 7x7 branches."""
    row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    b1 = basic_conv(g, x, 192, 1, f"{name}.branch1x1")
    b7 = basic_conv(g, x, c7, 1, f"{name}.branch7x7_1")
    b7 = basic_conv(g, b7, c7, row[0], f"{name}.branch7x7_2", pad=row[1])
    b7 = basic_conv(g, b7, 192, col[0], f"{name}.branch7x7_3", pad=col[1])
    bd = basic_conv(g, x, c7, 1, f"{name}.branch7x7dbl_1")
    for index, ((kernel, pad), width) in enumerate(zip([col, row, col, row], [c7, c7, c7, 192]), start=2):
        bd = basic_conv(g, bd, width, kernel, f"{name}.branch7x7dbl_{index}", pad=pad)
    bp = g.avg_pool(x, f"{name}.avg_pool", kernel=3, stride=1, pad=1)
    bp = basic_conv(g, bp, 192, 1, f"{name}.branch_pool")
    return g.concat([b1, b7, bd, bp], f"{name}.cat")


def inception_d(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v3's Mixed_7a grid reduction: strided 3x3, 1x7-7x1-strided 3x3 and max pool branches."""
    b3 = basic_conv(g, x, 192, 1, f"{name}.branch3x3_1")
    b3 = basic_conv(g, b3, 320, 3, f"{name}.branch3x3_2", stride=2)
    b7 = basic_conv(g, x, 192, 1, f"{name}.branch7x7x3_1")
    b7 = basic_conv(g, b7, 192, (1, 7), f"{name}.branch7x7x3_2", pad=(0, 3))
    b7 = basic_conv(g, b7, 192, (7, 1), f"{name}.branch7x7x3_3", pad=(3, 0))
    b7 = basic_conv(g, b7, 192, 3, f"{name}.branch7x7x3_4", stride=2)
    bp = g.max_pool(x, f"{name}.max_pool", kernel=3, stride=2)
    return g.concat([b3, b7, bp], f"{name}.cat")


def inception_e(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v3's Mixed_7b-c module (Fig. 7): 3x3 branches split into parallel 1x3 and 3x1 convs."""
    b1 = basic_conv(g, x, 320, 1, f"{name}.branch1x1")
    b3 = basic_conv(g, x, 384, 1, f"{name}.branch3x3_1")
    b3 = g.concat([basic_conv(g, b3, 384, (1, 3), f"{name}.branch3x3_2a", pad=(0, 1)),
                   basic_conv(g, b3, 384, (3, 1), f"{name}.branch3x3_2b", pad=(1, 0))], f"{name}.cat_3x3")
    bd = basic_conv(g, x, 448, 1, f"{name}.branch3x3dbl_1")
    bd = basic_conv(g, bd, 384, 3, f"{name}.branch3x3dbl_2", pad=1)
    bd = g.concat([basic_conv(g, bd, 384, (1, 3), f"{name}.branch3x3dbl_3a", pad=(0, 1)),
                   basic_conv(g, bd, 384, (3, 1), f"{name}.branch3x3dbl_3b", pad=(1, 0))], f"{name}.cat_3x3dbl")
    bp = g.avg_pool(x, f"{name}.avg_pool", kernel=3, stride=1, pad=1)
    bp = basic_conv(g, bp, 192, 1, f"{name}.branch_pool")
    return g.concat([b1, b3, bd, bp], f"{name}.cat")


def inception_aux(g: GraphBuilder, x: str, classes: int, name: str) -> str:
    """The auxiliary classifier on Mixed_6e (used in training; exporters in eval mode leave it out)."""
    y = g.avg_pool(x, f"{name}.avg_pool", kernel=5, stride=3)
    y = basic_conv(g, y, 128, 1, f"{name}.conv0")
    y = basic_conv(g, y, 768, 5, f"{name}.conv1")
    y = g.flatten(g.global_avg_pool(y, f"{name}.adaptive_avg_pool"), f"{name}.flatten")
    return g.linear(y, 768, classes, f"{name}.fc")


# --- Inception-v4 and Inception-ResNet-v2 (Cadene's pretrained-models modules; BasicConv2d as above,
# average pools without the padding in the count) ----------------------------------------------------

def _avg_pool_3x3(g: GraphBuilder, x: str, name: str) -> str:
    return g.avg_pool(x, name, kernel=3, stride=1, pad=1, count_include_pad=False)


def inception_v4_stem(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v4's Mixed_3a, Mixed_4a and Mixed_5a (Szegedy et al. 2016, Fig. 3), ``name``.3-5:
    64 channels at 147x147 to 384 at 35x35, each step a max pool or strided conv concatenated
    with a conv branch."""
    pooled = g.max_pool(x, f"{name}.3.maxpool", kernel=3, stride=2)
    x = g.concat([pooled, basic_conv(g, x, 96, 3, f"{name}.3.conv", stride=2)], f"{name}.3.cat")
    b0 = basic_conv(g, x, 64, 1, f"{name}.4.branch0.0")
    b0 = basic_conv(g, b0, 96, 3, f"{name}.4.branch0.1")
    b1 = basic_conv(g, x, 64, 1, f"{name}.4.branch1.0")
    b1 = basic_conv(g, b1, 64, (1, 7), f"{name}.4.branch1.1", pad=(0, 3))
    b1 = basic_conv(g, b1, 64, (7, 1), f"{name}.4.branch1.2", pad=(3, 0))
    b1 = basic_conv(g, b1, 96, 3, f"{name}.4.branch1.3")
    x = g.concat([b0, b1], f"{name}.4.cat")
    conv = basic_conv(g, x, 192, 3, f"{name}.5.conv", stride=2)
    return g.concat([conv, g.max_pool(x, f"{name}.5.maxpool", kernel=3, stride=2)], f"{name}.5.cat")


def inception_v4_a(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v4's Inception-A (Fig. 4), 384 channels at 35x35: 1x1, 1x1-3x3, 1x1-3x3-3x3 and
    pooled 1x1 branches of 96 channels each."""
    b0 = basic_conv(g, x, 96, 1, f"{name}.branch0")
    b1 = basic_conv(g, x, 64, 1, f"{name}.branch1.0")
    b1 = basic_conv(g, b1, 96, 3, f"{name}.branch1.1", pad=1)
    b2 = basic_conv(g, x, 64, 1, f"{name}.branch2.0")
    b2 = basic_conv(g, b2, 96, 3, f"{name}.branch2.1", pad=1)
    b2 = basic_conv(g, b2, 96, 3, f"{name}.branch2.2", pad=1)
    b3 = basic_conv(g, _avg_pool_3x3(g, x, f"{name}.branch3.0"), 96, 1, f"{name}.branch3.1")
    return g.concat([b0, b1, b2, b3], f"{name}.cat")


def inception_reduction_a(g: GraphBuilder, x: str, name: str, k: int, l: int, m: int, n: int) -> str:
    """Reduction-A (Fig. 7) with the paper's filter counts k, l, m, n (Table 1): a strided 3x3 of n,
    1x1 (k) → 3x3 (l) → strided 3x3 (m), and a max pool, concatenated."""
    b0 = basic_conv(g, x, n, 3, f"{name}.branch0", stride=2)
    b1 = basic_conv(g, x, k, 1, f"{name}.branch1.0")
    b1 = basic_conv(g, b1, l, 3, f"{name}.branch1.1", pad=1)
    b1 = basic_conv(g, b1, m, 3, f"{name}.branch1.2", stride=2)
    return g.concat([b0, b1, g.max_pool(x, f"{name}.branch2", kernel=3, stride=2)], f"{name}.cat")


def inception_v4_b(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v4's Inception-B (Fig. 5), 1024 channels at 17x17: 7x7 convs factorized into 1x7
    and 7x1."""
    row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
    b0 = basic_conv(g, x, 384, 1, f"{name}.branch0")
    b1 = basic_conv(g, x, 192, 1, f"{name}.branch1.0")
    b1 = basic_conv(g, b1, 224, row[0], f"{name}.branch1.1", pad=row[1])
    b1 = basic_conv(g, b1, 256, col[0], f"{name}.branch1.2", pad=col[1])
    b2 = basic_conv(g, x, 192, 1, f"{name}.branch2.0")
    for index, ((kernel, pad), width) in enumerate(zip([col, row, col, row], [192, 224, 224, 256]), start=1):
        b2 = basic_conv(g, b2, width, kernel, f"{name}.branch2.{index}", pad=pad)
    b3 = basic_conv(g, _avg_pool_3x3(g, x, f"{name}.branch3.0"), 128, 1, f"{name}.branch3.1")
    return g.concat([b0, b1, b2, b3], f"{name}.cat")


def inception_v4_reduction_b(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v4's Reduction-B (Fig. 8), 17x17 to 8x8: 1x1-strided 3x3, 1x1-1x7-7x1-strided 3x3 and
    a max pool."""
    b0 = basic_conv(g, x, 192, 1, f"{name}.branch0.0")
    b0 = basic_conv(g, b0, 192, 3, f"{name}.branch0.1", stride=2)
    b1 = basic_conv(g, x, 256, 1, f"{name}.branch1.0")
    b1 = basic_conv(g, b1, 256, (1, 7), f"{name}.branch1.1", pad=(0, 3))
    b1 = basic_conv(g, b1, 320, (7, 1), f"{name}.branch1.2", pad=(3, 0))
    b1 = basic_conv(g, b1, 320, 3, f"{name}.branch1.3", stride=2)
    return g.concat([b0, b1, g.max_pool(x, f"{name}.branch2", kernel=3, stride=2)], f"{name}.cat")


def inception_v4_c(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-v4's Inception-C (Fig. 6), 1536 channels at 8x8: 3x3 branches split into parallel
    1x3 and 3x1 convs."""
    b0 = basic_conv(g, x, 256, 1, f"{name}.branch0")
    b1 = basic_conv(g, x, 384, 1, f"{name}.branch1_0")
    b1 = g.concat([basic_conv(g, b1, 256, (1, 3), f"{name}.branch1_1a", pad=(0, 1)),
                   basic_conv(g, b1, 256, (3, 1), f"{name}.branch1_1b", pad=(1, 0))], f"{name}.cat1")
    b2 = basic_conv(g, x, 384, 1, f"{name}.branch2_0")
    b2 = basic_conv(g, b2, 448, (3, 1), f"{name}.branch2_1", pad=(1, 0))
    b2 = basic_conv(g, b2, 512, (1, 3), f"{name}.branch2_2", pad=(0, 1))
    b2 = g.concat([basic_conv(g, b2, 256, (1, 3), f"{name}.branch2_3a", pad=(0, 1)),
                   basic_conv(g, b2, 256, (3, 1), f"{name}.branch2_3b", pad=(1, 0))], f"{name}.cat2")
    b3 = basic_conv(g, _avg_pool_3x3(g, x, f"{name}.branch3.0"), 256, 1, f"{name}.branch3.1")
    return g.concat([b0, b1, b2, b3], f"{name}.cat")


def inception_resnet_mixed_5b(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-ResNet-v2's Mixed_5b (the Inception-v3-style module of the TF-slim model that
    replaces the paper's stem ending): 192 to 320 channels at 35x35."""
    b0 = basic_conv(g, x, 96, 1, f"{name}.branch0")
    b1 = basic_conv(g, x, 48, 1, f"{name}.branch1.0")
    b1 = basic_conv(g, b1, 64, 5, f"{name}.branch1.1", pad=2)
    b2 = basic_conv(g, x, 64, 1, f"{name}.branch2.0")
    b2 = basic_conv(g, b2, 96, 3, f"{name}.branch2.1", pad=1)
    b2 = basic_conv(g, b2, 96, 3, f"{name}.branch2.2", pad=1)
    b3 = basic_conv(g, _avg_pool_3x3(g, x, f"{name}.branch3.0"), 64, 1, f"{name}.branch3.1")
    return g.concat([b0, b1, b2, b3], f"{name}.cat")


def inception_resnet_block(g: GraphBuilder, x: str, branches: Sequence[Sequence[tuple]], scale: float, name: str,
                           relu: bool = True) -> str:
    """An Inception-ResNet-v2 unit (Block35, Block17, Block8; Figs. 16-19): parallel branches of
    BasicConv2d, each a list of (channels, kernel, pad), concatenated; a 1x1 conv with bias back to
    the input's channels, scaled by ``scale`` (the paper's residual scaling, 0.1-0.3) and added to
    the input; ReLU unless ``relu`` is False."""
    outs = []
    for index, layers in enumerate(branches):
        y = x
        for depth, (width, kernel, pad) in enumerate(layers):
            label = f"{name}.branch{index}" + (f".{depth}" if len(layers) > 1 else "")
            y = basic_conv(g, y, width, kernel, label, pad=pad)
        outs.append(y)
    joined = g.concat(outs, f"{name}.cat")
    y = g.conv(joined, g.channels(joined), g.channels(x), 1, f"{name}.conv2d")
    y = g.add(g.mul(y, g.scalar(f"{name}.scale", scale), f"{name}.scaled"), x, f"{name}.add")
    return g.relu(y, f"{name}.relu") if relu else y


def inception_resnet_mixed_7a(g: GraphBuilder, x: str, name: str) -> str:
    """Inception-ResNet-v2's Reduction-B (Fig. 18): three 1x1-then-strided-3x3 branches and a max pool,
    1088 to 2080 channels, 17x17 to 8x8."""
    b0 = basic_conv(g, x, 256, 1, f"{name}.branch0.0")
    b0 = basic_conv(g, b0, 384, 3, f"{name}.branch0.1", stride=2)
    b1 = basic_conv(g, x, 256, 1, f"{name}.branch1.0")
    b1 = basic_conv(g, b1, 288, 3, f"{name}.branch1.1", stride=2)
    b2 = basic_conv(g, x, 256, 1, f"{name}.branch2.0")
    b2 = basic_conv(g, b2, 288, 3, f"{name}.branch2.1", pad=1)
    b2 = basic_conv(g, b2, 320, 3, f"{name}.branch2.2", stride=2)
    return g.concat([b0, b1, b2, g.max_pool(x, f"{name}.branch3", kernel=3, stride=2)], f"{name}.cat")


# --- Xception (Keras layer names) -------------------------------------------------

def separable_conv(g: GraphBuilder, x: str, cout: int, name: str) -> str:
    """Keras SeparableConv2D, 3x3 'same', no bias: a depthwise conv then a 1x1 conv, nothing between."""
    channels = g.channels(x)
    y = g.conv(x, channels, channels, 3, f"{name}.depthwise", groups=channels, bias=False)
    return g.conv(y, channels, cout, 1, f"{name}.pointwise", bias=False, gain=1.0)


def xception_block(g: GraphBuilder, x: str, widths: Sequence[int], name: str, downsample: bool,
                   relu_first: bool = True) -> str:
    """An Xception module (Chollet, Fig. 5): [ReLU] → separable conv → BN, per width; downsampling
    modules end with a 3x3 'same' max pool, stride 2, and project the shortcut with a strided 1x1
    conv + BN; the others add the input unchanged."""
    shortcut = x
    if downsample:
        shortcut = g.conv_bn_act(x, widths[-1], 1, "", stride=2, act=None,
                                 parts=(f"{name}_residual", f"{name}_residual_bn", ""), eps=1e-3)
    y = x
    for index, width in enumerate(widths, start=1):
        layer = f"{name}_sepconv{index}"
        if index > 1 or relu_first:
            y = g.relu(y, f"{layer}_act")
        last = index == len(widths)
        y = g.batch_norm(separable_conv(g, y, width, layer), f"{layer}_bn", eps=1e-3,
                         gamma=RESIDUAL_GAMMA if last else 1.0)
    if downsample:
        y = g.max_pool(y, f"{name}_pool", kernel=3, stride=2, pad=same_pads(g.shape(y)[2:], 3, 2))
    return g.add(y, shortcut, f"{name}_add")


def same_pads(size: Sequence[int], kernel: int, stride: int) -> tuple[int, int, int, int]:
    """TensorFlow's 'SAME' padding as ONNX pads: output ceil(size / stride), the odd pixel at the end."""
    begins, ends = [], []
    for extent in size:
        total = max((-(-extent // stride) - 1) * stride + kernel - extent, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return (*begins, *ends)


# --- vision transformer ------------------------------------------------------------

def encoder_block(g: GraphBuilder, x: str, heads: int, mlp_dim: int, name: str) -> str:
    """Pre-norm transformer encoder layer (torchvision's EncoderBlock): x + attention(LN(x)),
    then + MLP(LN(·)) with an exact GELU."""
    width = g.shape(x)[-1]
    y = self_attention(g, g.layer_norm(x, f"{name}.ln_1"), heads, f"{name}.self_attention")
    x = g.add(x, y, f"{name}.add_1")
    y = g.dense(g.layer_norm(x, f"{name}.ln_2"), mlp_dim, f"{name}.mlp.0")
    y = g.dense(g.gelu(y, f"{name}.mlp.1"), width, f"{name}.mlp.3")
    return g.add(x, y, f"{name}.add_2")


def self_attention(g: GraphBuilder, x: str, heads: int, name: str) -> str:
    """Multi-head self-attention: one input projection to q, k, v, scaled dot products per head,
    softmax, weighted sum, output projection."""
    batch, tokens, width = g.shape(x)
    head_dim = width // heads
    qkv = g.dense(x, 3 * width, f"{name}.in_proj")
    q, k, v = g.split(qkv, [width] * 3, f"{name}.split", axis=-1)

    def per_head(t: str, perm: list[int], label: str) -> str:
        t = g.reshape(t, [batch, tokens, heads, head_dim], f"{name}.{label}_heads")
        return g.transpose(t, perm, f"{name}.{label}_transpose")

    q = per_head(q, [0, 2, 1, 3], "q")
    k = per_head(k, [0, 2, 3, 1], "k")
    v = per_head(v, [0, 2, 1, 3], "v")
    scores = g.mul(g.matmul(q, k, f"{name}.scores"), g.scalar(f"{name}.scale", 1 / np.sqrt(head_dim)),
                   f"{name}.scaled")
    weights = g.softmax(scores, f"{name}.softmax")
    context = g.transpose(g.matmul(weights, v, f"{name}.context"), [0, 2, 1, 3], f"{name}.merge")
    context = g.reshape(context, [batch, tokens, width], f"{name}.merge_heads")
    return g.dense(context, width, f"{name}.out_proj")
