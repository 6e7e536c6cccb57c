"""Swin Transformer blocks with shifted windows, and Swin-T, written the way PyTorch's TorchScript exporter writes
torchvision's ``shifted_window_attention`` when the input's batch, height and width are dynamic axes.

Every shape is computed at run time from ``Shape`` of the activations (Gather, Mul, Unsqueeze, Concat, and ``//``
and ``%`` as the exporter writes floor_divide and remainder: Div, Less, Xor, Equal, Not, And, Cast, Sub): the
padding to a multiple of the window (F.pad: Pad with pads reversed through Reshape/Slice/Transpose), the roll
(torch.roll: Slice + Concat), the window partition and reverse (Reshape/Transpose), the attention mask (built
over ``Range``s of the padded size with GreaterOrEqual/Where, ConstantOfShape, Expand, Unsqueeze, a difference of
Unsqueezes and two masked_fills as Where), and the crop back to the input's size. Only the weights are constants.

A block's input ``x`` is [batch, height, width, C] (channels last, as in torchvision); its output the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INT_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class SwinConfig:
    """One block's sizes: channels, heads, window (square), shift, MLP ratio."""

    channels: int = 96
    heads: int = 3
    window: int = 7
    shift: int = 3
    mlp_ratio: int = 4


@dataclass
class _Graph:
    nodes: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    count: int = 0

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attrs) -> str | list[str]:
        self.count += 1
        names = [f"{op_type}_{self.count}" if outputs == 1 else f"{op_type}_{self.count}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=f"{op_type}_{self.count}", **attrs))
        return names[0] if outputs == 1 else names

    def const(self, value, dtype=np.int64) -> str:
        """A constant as TorchScript writes them: a Constant node."""
        self.count += 1
        name = f"const_{self.count}"
        tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
        self.nodes.append(helper.make_node("Constant", [], [name], name=f"Constant_{self.count}", value=tensor))
        return name

    def weight(self, name: str, value: np.ndarray) -> str:
        self.weights.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def dim(self, tensor: str, axis: int) -> str:
        """A 0-d int64 size of ``tensor``'s ``axis``: Shape -> Gather, the exporter's x.size(axis)."""
        return self.op("Gather", self.op("Shape", tensor), self.const(axis), axis=0)

    def vector(self, *parts: str | list[int]) -> str:
        """A 1-D int64 shape: 0-d sizes (names) unsqueezed, lists of ints as constants, then one Concat."""
        return self.op("Concat", *(self.const(p) if isinstance(p, list) else self.op("Unsqueeze", p, self.const([0]))
                                   for p in parts), axis=0)

    def roll(self, x: str, shift: int, axes: tuple[int, int]) -> str:
        """torch.roll(x, (shift, shift), axes): per axis, Slice x[-shift:] and x[:-shift] and Concat them."""
        for axis in axes:
            tail = self.op("Slice", x, self.const([-shift]), self.const([INT_MAX]), self.const([axis]))
            head = self.op("Slice", x, self.const([0]), self.const([-shift]), self.const([axis]))
            x = self.op("Concat", tail, head, axis=axis)
        return x

    def floordiv(self, a: str, b: str) -> str:
        """a // b on 0-d int64 sizes as the exporter writes floor_divide: Div (truncating), then minus 1 where the
        signs differ and the division is inexact (Xor of Less, Not Equal of the remainder, Cast, Sub)."""
        zero = self.const(0)
        quotient = self.op("Div", a, b)
        negative = self.op("Xor", self.op("Less", a, zero), self.op("Less", b, zero))
        inexact = self.op("Not", self.op("Equal", self.op("Sub", a, self.op("Mul", quotient, b)), zero))
        return self.op("Sub", quotient, self.op("Cast", self.op("And", negative, inexact), to=TensorProto.INT64))

    def remainder(self, a: str, b: str) -> str:
        """a % b as the exporter writes aten::remainder: a - (a // b) · b."""
        return self.op("Sub", a, self.op("Mul", self.floordiv(a, b), b))

    def pad(self, x: str, torch_pads: str) -> str:
        """F.pad(x, torch_pads) of a 4-D x: pads in torch order (last axis first, padded with zeros to 8), reversed
        in pairs through Reshape [-1, 2], Slice with step -1, Transpose and Reshape [-1], then Pad."""
        pairs = self.op("Reshape", torch_pads, self.const([-1, 2]))
        reversed_pairs = self.op("Slice", pairs, self.const([-1]), self.const([-INT_MAX]), self.const([0]),
                                 self.const([-1]))
        pads = self.op("Reshape", self.op("Transpose", reversed_pairs, perm=[1, 0]), self.const([-1]))
        pads = self.op("Cast", pads, to=TensorProto.INT64)
        return self.op("Pad", x, pads, self.const(0.0, np.float32), mode="constant")

    def linear(self, x: str, name: str, fan_in: int, fan_out: int, rng) -> str:
        """F.linear on a 3-D tensor: MatMul by the transposed weight, then Add the bias."""
        w = self.weight(f"{name}.weight_t", rng.standard_normal((fan_in, fan_out)) * 0.05)
        b = self.weight(f"{name}.bias", rng.standard_normal(fan_out) * 0.05)
        return self.op("Add", self.op("MatMul", x, w), b)

    def layer_norm(self, x: str, name: str, channels: int) -> str:
        scale = self.weight(f"{name}.weight", np.ones(channels))
        bias = self.weight(f"{name}.bias", np.zeros(channels))
        return self.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=1e-5)


def relative_position_index(window: int) -> np.ndarray:
    """torchvision's relative_position_index: [window², window²] indices into the (2·window - 1)² bias table."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return (relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]).reshape(-1)


def _block(g: _Graph, x: str, c: int, heads: int, ws: int, shift: int, mlp_ratio: int, prefix: str, rng) -> str:
    """torchvision's SwinTransformerBlock on NHWC ``x``: x + attn(norm1(x)), then + mlp(norm2(·)). A ``shift`` of 0
    (the exporter traced ``window >= pad_H``) leaves out the rolls and the mask."""
    h = g.layer_norm(x, f"{prefix}.norm1", c)
    batch, height, width = g.dim(h, 0), g.dim(h, 1), g.dim(h, 2)
    window = g.const(ws)
    # pad_r = (ws - W % ws) % ws, pad_b likewise; F.pad(x, (0, 0, 0, pad_r, 0, pad_b)) as the exporter writes it:
    # the torch-order pads padded with zeros to 2·rank, reversed in pairs (Reshape/Slice step -1/Transpose).
    pad_r = g.remainder(g.op("Sub", window, g.remainder(width, window)), window)
    pad_b = g.remainder(g.op("Sub", window, g.remainder(height, window)), window)
    h = g.pad(h, g.vector([0, 0, 0], pad_r, [0], pad_b, [0, 0]))
    pad_h, pad_w = g.dim(h, 1), g.dim(h, 2)
    if shift:
        h = g.roll(h, -shift, (1, 2))
    rows, cols = g.floordiv(pad_h, window), g.floordiv(pad_w, window)
    num_windows = g.op("Mul", rows, cols)
    channels = g.dim(h, 3)
    # Window partition: [B, rows, ws, cols, ws, C] -> permute -> [B·windows, ws², C].
    h = g.op("Reshape", h, g.vector(batch, rows, [ws], cols, [ws], channels))
    h = g.op("Transpose", h, perm=[0, 1, 3, 2, 4, 5])
    h = g.op("Reshape", h, g.vector(g.op("Mul", batch, num_windows), [ws * ws], channels))
    tokens, length = g.dim(h, 0), g.dim(h, 1)
    qkv = g.linear(h, f"{prefix}.attn.qkv", c, 3 * c, rng)
    qkv = g.op("Reshape", qkv, g.vector(tokens, length, [3, heads], g.floordiv(channels, g.const(heads))))
    qkv = g.op("Transpose", qkv, perm=[2, 0, 3, 1, 4])
    q, k, v = (g.op("Gather", qkv, g.const(i), axis=0) for i in range(3))
    q = g.op("Mul", q, g.const((c // heads) ** -0.5, np.float32))
    attn = g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2]))
    # Relative position bias: table [(2ws-1)², heads] gathered by index, [ws², ws², heads] -> [heads, ws², ws²].
    table = g.weight(f"{prefix}.attn.relative_position_bias_table",
                     rng.standard_normal(((2 * ws - 1) ** 2, heads)) * 0.02)
    bias = g.op("Gather", table, g.const(relative_position_index(ws)), axis=0)
    bias = g.op("Transpose", g.op("Reshape", bias, g.const([ws * ws, ws * ws, -1])), perm=[2, 0, 1])
    attn = g.op("Add", attn, g.op("Unsqueeze", bias, g.const([0])))
    if shift:
        attn = g.op("Add", g.op("Reshape", attn, g.vector(g.floordiv(tokens, num_windows), num_windows,
                                                           [heads], length, length)),
                    g.op("Unsqueeze", _shift_mask(g, pad_h, pad_w, window, num_windows, ws, shift), g.const([0, 2])))
        attn = g.op("Reshape", attn, g.vector([-1, heads], length, length))
    attn = g.op("Softmax", attn, axis=-1)
    h = g.op("Transpose", g.op("MatMul", attn, v), perm=[0, 2, 1, 3])
    h = g.op("Reshape", h, g.vector(tokens, length, channels))
    h = g.linear(h, f"{prefix}.attn.proj", c, c, rng)
    # Window reverse: [B, rows, cols, ws, ws, C] -> permute -> [B, pad_H, pad_W, C]; roll back; crop to H x W.
    h = g.op("Reshape", h, g.vector(batch, rows, cols, [ws, ws], channels))
    h = g.op("Transpose", h, perm=[0, 1, 3, 2, 4, 5])
    h = g.op("Reshape", h, g.vector(batch, pad_h, pad_w, channels))
    if shift:
        h = g.roll(h, shift, (1, 2))
    h = g.op("Slice", h, g.const([0, 0]), g.vector(height, width), g.const([1, 2]))
    x = g.op("Add", x, h)
    # MLP: Linear, exact GELU as the exporter writes it (x·0.5·(1 + erf(x/√2))), Linear.
    m = g.linear(g.layer_norm(x, f"{prefix}.norm2", c), f"{prefix}.mlp.0", c, mlp_ratio * c, rng)
    erf = g.op("Erf", g.op("Div", m, g.const(np.sqrt(2.0), np.float32)))
    m = g.op("Mul", g.op("Mul", m, g.op("Add", erf, g.const(1.0, np.float32))), g.const(0.5, np.float32))
    m = g.linear(m, f"{prefix}.mlp.3", mlp_ratio * c, c, rng)
    return g.op("Add", x, m)


def _patch_merging(g: _Graph, x: str, c: int, prefix: str, rng) -> str:
    """torchvision's PatchMerging: pad H and W to even (F.pad by H % 2, W % 2 at run time), the four strided
    quarters x[..., 0::2, 0::2, :] ... concatenated to 4C, LayerNorm, Linear 4C -> 2C without bias."""
    height, width = g.dim(x, 1), g.dim(x, 2)
    two = g.const(2)
    x = g.pad(x, g.vector([0, 0, 0], g.remainder(width, two), [0], g.remainder(height, two), [0, 0]))
    quarters = [g.op("Slice", x, g.const([i, j]), g.const([INT_MAX, INT_MAX]), g.const([1, 2]), g.const([2, 2]))
                for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    x = g.layer_norm(g.op("Concat", *quarters, axis=-1), f"{prefix}.norm", 4 * c)
    return g.op("MatMul", x, g.weight(f"{prefix}.reduction.weight_t", rng.standard_normal((4 * c, 2 * c)) * 0.02))


def _model(g: _Graph, inputs: list, output: str, output_shape: list) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, "swin", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                                                                       output_shape)], g.weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch",
                              producer_version="2.1.0")
    model.ir_version = 8
    return model


def swin_block(config: SwinConfig = SwinConfig(), dims=("batch", "height", "width"), seed: int = 0) -> onnx.ModelProto:
    """One shifted-window Swin block (LayerNorm, W-MSA with shift, residual, LayerNorm, MLP, residual) over
    input 'x' of shape [*dims, channels]; ``dims`` are dim_params (dynamic axes) or ints."""
    g = _Graph()
    c = config.channels
    rng = np.random.default_rng(seed)
    out = _block(g, "x", c, config.heads, config.window, config.shift, config.mlp_ratio, "block", rng)
    return _model(g, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [*dims, c])], out, [*dims, c])


# Swin-T (Liu et al. 2021; torchvision swin_t): patch 4, embedding 96, depths 2-2-6-2, heads 3-6-12-24, window 7.
SWIN_T = {"patch": 4, "embed": 96, "depths": (2, 2, 6, 2), "heads": (3, 6, 12, 24), "window": 7, "classes": 1000}


def swin_t(dims=("batch", "height", "width")) -> onnx.ModelProto:
    """Swin-T on image 'x' [batch, 3, height, width] -> logits [batch, 1000]. Its 28 M weights are zeros: their
    values do not matter to a cost, and the model stays quick to build."""
    g = _Graph()
    rng = _Zeros()
    batch, height, width = dims
    c, ws = SWIN_T["embed"], SWIN_T["window"]
    patch = SWIN_T["patch"]
    x = g.op("Conv", "x", g.weight("features.0.0.weight", np.zeros((c, 3, patch, patch))),
             g.weight("features.0.0.bias", np.zeros(c)), kernel_shape=[patch, patch], strides=[patch, patch])
    x = g.layer_norm(g.op("Transpose", x, perm=[0, 2, 3, 1]), "features.0.2", c)
    for stage, (depth, heads) in enumerate(zip(SWIN_T["depths"], SWIN_T["heads"])):
        if stage:
            x = _patch_merging(g, x, c, f"features.{2 * stage}", rng)
            c *= 2
        # The last stage is 7x7 at 224: the exporter traced window >= pad_H, so its blocks have no shift.
        last = stage == len(SWIN_T["depths"]) - 1
        for index in range(depth):
            shift = 0 if index % 2 == 0 or last else ws // 2
            x = _block(g, x, c, heads, ws, shift, 4, f"features.{2 * stage + 1}.{index}", rng)
    x = g.op("Transpose", g.layer_norm(x, "norm", c), perm=[0, 3, 1, 2])
    x = g.op("Flatten", g.op("GlobalAveragePool", x), axis=1)
    logits = g.op("Gemm", x, g.weight("head.weight", np.zeros((SWIN_T["classes"], c))),
                  g.weight("head.bias", np.zeros(SWIN_T["classes"])), transB=1)
    return _model(g, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, height, width])], logits,
                  [batch, SWIN_T["classes"]])


class _Zeros:
    """Stands in for a random generator where weights may be zeros: standard_normal gives zeros of the shape."""

    def standard_normal(self, shape):
        return np.zeros(shape)


def _shift_mask(g: _Graph, pad_h: str, pad_w: str, window: str, num_windows: str, ws: int, shift: int) -> str:
    """The shifted-window attention mask [windows, ws², ws²]: 0 within a region, -100 across regions.

    torchvision fills a zero [pad_H, pad_W] map with a region id per (row band, column band), bands cut at
    pad - ws and pad - shift; the export builds it over Ranges of the padded size. Then the map is partitioned
    into windows like the activations and compared pairwise."""
    def band(size: str) -> str:  # 0, 1, 2 along one axis
        positions = g.op("Range", g.const(0), size, g.const(1))
        second = g.op("GreaterOrEqual", positions, g.op("Sub", size, window))
        third = g.op("GreaterOrEqual", positions, g.op("Sub", size, g.const(shift)))
        ones = g.op("Cast", second, to=TensorProto.FLOAT)
        return g.op("Add", ones, g.op("Where", third, g.const(1.0, np.float32), g.const(0.0, np.float32)))
    size = g.vector(pad_h, pad_w)
    zeros = g.op("ConstantOfShape", size, value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]))
    rows = g.op("Expand", g.op("Unsqueeze", g.op("Mul", band(pad_h), g.const(3.0, np.float32)), g.const([1])), size)
    cols = g.op("Expand", g.op("Unsqueeze", band(pad_w), g.const([0])), size)
    regions = g.op("Add", zeros, g.op("Add", rows, cols))
    regions = g.op("Reshape", regions, g.vector(g.floordiv(pad_h, window), [ws], g.floordiv(pad_w, window), [ws]))
    regions = g.op("Reshape", g.op("Transpose", regions, perm=[0, 2, 1, 3]), g.vector(num_windows, [ws * ws]))
    mask = g.op("Sub", g.op("Unsqueeze", regions, g.const([1])), g.op("Unsqueeze", regions, g.const([2])))
    zero = g.const(0.0, np.float32)
    mask = g.op("Where", g.op("Not", g.op("Equal", mask, zero)), g.const(-100.0, np.float32), mask)
    return g.op("Where", g.op("Equal", mask, zero), zero, mask)
