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
