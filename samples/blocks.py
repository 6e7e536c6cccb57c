"""A small graph builder for the sample models: onnx.helper + numpy, seeded weights.

Weights are He-normal (std = sqrt(2 / fan_in)) so activations keep their scale
through deep ReLU stacks and onnxruntime's outputs stay finite and meaningful
for validation (a conv whose input is not rectified takes ``gain=1``, LeCun's
std). Biases are small, non-zero values so a rewrite that drops a bias is
caught. BatchNormalization gets random but sane statistics: scale and
variance in [0.8, 1.2], small shift and mean, so it is close to the identity
it is after training; the units scale down the last layer of every residual
branch (``gamma``/``gain``) so sums of many branches keep activations within
float16's range.

The builder tracks the static shape of every tensor its layer methods write,
so the networks are written without repeating channel counts and spatial
sizes; ``conv`` checks its ``cin`` against the tracked shape. Network units
built from these layers (residual units, fire modules, shuffle units, ...)
are in ``units.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

DEFAULT_OPSET = 17

Size2 = int | tuple[int, int]
Pads = int | tuple[int, int] | tuple[int, int, int, int]


class GraphBuilder:
    """A graph being written: nodes named after their first output, weights kept as numpy arrays
    until ``build``, and the static shape of every tensor the layer methods write. ``seed`` seeds
    every random weight; ``opset`` is the default domain's version."""

    def __init__(self, name: str, seed: int = 0, opset: int = DEFAULT_OPSET):
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._names: set[str] = set()

    # --- graph plumbing ---------------------------------------------------------

    def input(self, name: str, shape: Sequence[int | str], elem_type: int = TensorProto.FLOAT) -> str:
        """Declare a graph input; its shape is tracked when every dim is a number (a str is a named dim)."""
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        self._names.add(name)
        if all(isinstance(d, int) for d in shape):
            self.shapes[name] = tuple(shape)
        return name

    def output(self, name: str, shape: Sequence[int | str] | None = None, elem_type: int = TensorProto.FLOAT) -> None:
        """Declare ``name`` a graph output, of its tracked shape unless ``shape`` is given."""
        shape = self.shapes[name] if shape is None else shape
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    def constant(self, name: str, array: np.ndarray) -> str:
        """Store ``array`` as an initializer under a unique name made from ``name``; returns that name."""
        name = self.unique(name)
        self.initializers[name] = np.asarray(array)
        self.shapes[name] = self.initializers[name].shape
        return name

    def ints(self, name: str, values: Sequence[int]) -> str:
        """An int64 vector constant (shapes, axes, split sizes)."""
        return self.constant(name, np.array(values, dtype=np.int64))

    def scalar(self, name: str, value: float) -> str:
        """A 0-d float constant (an epsilon, a scale): a constant, not a parameter."""
        return self.constant(name, np.array(value, dtype=np.float32))

    def weight(self, name: str, shape: Sequence[int], fan_in: int | None = None, gain: float = 2.0) -> str:
        """A random float32 weight, He-normal: std sqrt(gain / fan_in); ``fan_in`` by default the
        product of the dims after the first (Cin/groups·kh·kw for a conv)."""
        fan_in = fan_in or int(np.prod(shape[1:]))
        std = np.float32(np.sqrt(gain / fan_in))
        return self.constant(name, self.rng.standard_normal(tuple(shape), dtype=np.float32) * std)

    def bias(self, name: str, size: int) -> str:
        """A random float32 vector of ``size`` values, std 0.01 (small, non-zero: a rewrite that drops it shows)."""
        return self.constant(name, (self.rng.standard_normal(size, dtype=np.float32) * np.float32(0.01)))

    def node(self, op_type: str, inputs: Sequence[str], name: str, outputs: int = 1, **attrs) -> str | list[str]:
        """Append an ``op_type`` node named ``name`` (made unique) and return its output: the node's name,
        or '<name>:i' for each of ``outputs`` > 1 outputs (then a list). Tracks no shape."""
        name = self.unique(name)
        names = [name if i == 0 and outputs == 1 else f"{name}:{i}" for i in range(outputs)]
        self._names.update(names)
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=name, **attrs))
        return names[0] if outputs == 1 else names

    def unique(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3``, ... when it is taken; the name returned is reserved."""
        candidate, counter = name, 1
        while candidate in self._names:
            counter += 1
            candidate = f"{name}_{counter}"
        self._names.add(candidate)
        return candidate

    def shape(self, x: str) -> tuple[int, ...]:
        """The tracked static shape of ``x``; KeyError when the builder has none."""
        try:
            return self.shapes[x]
        except KeyError:
            raise KeyError(f"the builder does not know the shape of '{x}'") from None

    def channels(self, x: str) -> int:
        """The channel count of ``x`` (axis 1, NCHW)."""
        return self.shape(x)[1]

    def _shaped(self, x: str, shape: Sequence[int]) -> str:
        self.shapes[x] = tuple(int(d) for d in shape)
        return x

    def build(self) -> onnx.ModelProto:
        """The model: opset ``opset``, IR version 8, producer 'onnxcost.samples', every weight a raw
        little-endian initializer."""
        model = helper.make_model(
            helper.make_graph(self.nodes, self.name, self.inputs, self.outputs),
            opset_imports=[helper.make_opsetid("", self.opset)],
            producer_name="onnxcost.samples",
        )
        model.ir_version = 8
        # Written straight into the model: helper.make_graph would copy every weight twice.
        for name, array in self.initializers.items():
            tensor = model.graph.initializer.add()
            tensor.name = name
            tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
            tensor.dims.extend(array.shape)
            tensor.raw_data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        return model

    # --- layers -------------------------------------------------------------------

    def conv(self, x: str, cin: int, cout: int, kernel: Size2, name: str, stride: Size2 = 1, pad: Pads | None = None,
             groups: int = 1, dilation: int = 1, bias: bool = True, gain: float = 2.0) -> str:
        """Conv; ``kernel``/``stride`` an int or (h, w); ``pad`` an int, (h, w) or ONNX's
        (top, left, bottom, right); None pads 'same' for stride 1 ((k - 1) / 2 per side).
        Weights have std sqrt(gain / fan_in)."""
        kh, kw = _pair(kernel)
        pads = [(kh - 1) // 2 * dilation, (kw - 1) // 2 * dilation] * 2 if pad is None else _pads(pad)
        if x in self.shapes and self.channels(x) != cin:
            raise ValueError(f"conv '{name}': input '{x}' has {self.channels(x)} channels, not {cin}")
        w = self.weight(f"{name}.weight", [cout, cin // groups, kh, kw], gain=gain)
        inputs = [x, w] + ([self.bias(f"{name}.bias", cout)] if bias else [])
        out = self.node("Conv", inputs, name, kernel_shape=[kh, kw], strides=list(_pair(stride)),
                        pads=pads, group=groups, dilations=[dilation, dilation])
        if x in self.shapes:
            n, _, h, w_ = self.shape(x)
            self._shaped(out, (n, cout, *_window((h, w_), (kh, kw), _pair(stride), pads, dilation)))
        return out

    def batch_norm(self, x: str, name: str, eps: float = 1e-5, gamma: float = 1.0) -> str:
        """BatchNormalization in inference; ``gamma`` scales the random scale (residual branches)."""
        c = self.channels(x)
        scale = self.constant(f"{name}.weight", (self.rng.uniform(0.8, 1.2, c) * gamma).astype(np.float32))
        shift = self.constant(f"{name}.bias", (self.rng.standard_normal(c) * 0.05).astype(np.float32))
        mean = self.constant(f"{name}.running_mean", (self.rng.standard_normal(c) * 0.05).astype(np.float32))
        var = self.constant(f"{name}.running_var", self.rng.uniform(0.8, 1.2, c).astype(np.float32))
        return self._shaped(self.node("BatchNormalization", [x, scale, shift, mean, var], name, epsilon=eps),
                            self.shape(x))

    def act(self, x: str, kind: str | None, name: str) -> str:
        """An activation by kind: 'relu', 'relu6' (Clip 0..6), 'sigmoid', 'gelu' (exact, with Erf), or None."""
        if kind is None:
            return x
        if kind == "relu":
            out = self.node("Relu", [x], name)
        elif kind == "relu6":
            out = self.node("Clip", [x, self.scalar(f"{name}.min", 0.0), self.scalar(f"{name}.max", 6.0)], name)
        elif kind == "sigmoid":
            out = self.node("Sigmoid", [x], name)
        elif kind == "gelu":
            return self.gelu(x, name)
        else:
            raise ValueError(f"unknown activation '{kind}'")
        return self._shaped(out, self.shape(x))

    def relu(self, x: str, name: str) -> str:
        """ReLU of ``x``."""
        return self.act(x, "relu", name)

    def gelu(self, x: str, name: str) -> str:
        """GELU as exporters write it below opset 20: x · 0.5 · (1 + erf(x / √2))."""
        scaled = self.node("Div", [x, self.scalar(f"{name}.sqrt2", float(np.sqrt(2.0)))], f"{name}.div")
        erf = self.node("Erf", [scaled], f"{name}.erf")
        plus = self.node("Add", [erf, self.scalar(f"{name}.one", 1.0)], f"{name}.add")
        times = self.node("Mul", [x, plus], f"{name}.mul")
        out = self.node("Mul", [times, self.scalar(f"{name}.half", 0.5)], name)
        for tensor in (scaled, erf, plus, times, out):
            self._shaped(tensor, self.shape(x))
        return out

    def conv_bn_act(self, x: str, cout: int, kernel: Size2, name: str, stride: Size2 = 1, pad: Pads | None = None,
                    groups: int = 1, act: str | None = "relu", parts: Sequence[str] = ("conv", "bn", "relu"),
                    eps: float = 1e-5, gain: float = 2.0, gamma: float = 1.0) -> str:
        """Conv (no bias) → BatchNormalization → activation, named ``name.conv``, ``name.bn``,
        ``name.relu`` (``parts`` renames them: ResNet's ("conv1", "bn1", "relu"), torchvision's
        Conv2dNormActivation ("0", "1", "2"))."""
        conv_name, bn_name, act_name = (f"{name}.{part}" if name else part for part in parts)
        y = self.conv(x, self.channels(x), cout, kernel, conv_name, stride=stride, pad=pad, groups=groups, bias=False,
                      gain=gain)
        return self.act(self.batch_norm(y, bn_name, eps=eps, gamma=gamma), act, act_name)

    def max_pool(self, x: str, name: str, kernel: int = 2, stride: int = 2, pad: Pads = 0, ceil_mode: bool = False) -> str:
        """MaxPool with a square ``kernel`` and ``stride``; ``pad`` as for ``conv``; ``ceil_mode`` rounds
        the output size up."""
        return self._pool("MaxPool", x, name, kernel, stride, pad, ceil_mode=int(ceil_mode))

    def avg_pool(self, x: str, name: str, kernel: int = 2, stride: int = 2, pad: Pads = 0,
                 count_include_pad: bool = True, ceil_mode: bool = False) -> str:
        """AveragePool as ``max_pool``; ``count_include_pad`` divides by the whole window, padding included."""
        return self._pool("AveragePool", x, name, kernel, stride, pad, ceil_mode=int(ceil_mode),
                          count_include_pad=int(count_include_pad))

    def _pool(self, op: str, x: str, name: str, kernel: int, stride: int, pad: Pads, **attrs) -> str:
        pads = _pads(pad)
        out = self.node(op, [x], name, kernel_shape=[kernel, kernel], strides=[stride, stride], pads=pads, **attrs)
        if x in self.shapes:
            n, c, h, w = self.shape(x)
            spatial = _window((h, w), (kernel, kernel), (stride, stride), pads, 1, ceil=bool(attrs["ceil_mode"]))
            self._shaped(out, (n, c, *spatial))
        return out

    def lrn(self, x: str, name: str, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0) -> str:
        """Local response normalization across ``size`` channels (AlexNet's Caffe defaults)."""
        return self._shaped(self.node("LRN", [x], name, size=size, alpha=alpha, beta=beta, bias=bias), self.shape(x))

    def global_avg_pool(self, x: str, name: str) -> str:
        """GlobalAveragePool: [N, C, H, W] → [N, C, 1, 1]."""
        n, c = self.shape(x)[:2]
        return self._shaped(self.node("GlobalAveragePool", [x], name), (n, c, 1, 1))

    def reduce_mean(self, x: str, axes: Sequence[int], name: str, keepdims: bool = False) -> str:
        """ReduceMean over ``axes`` (negative ones count from the end); they are dropped unless ``keepdims``."""
        shape = self.shape(x)
        axes = [a % len(shape) for a in axes]
        out = self.node("ReduceMean", [x], name, axes=list(axes), keepdims=int(keepdims))
        kept = [1 if i in axes else d for i, d in enumerate(shape)] if keepdims else \
            [d for i, d in enumerate(shape) if i not in axes]
        return self._shaped(out, kept)

    def flatten(self, x: str, name: str) -> str:
        """Flatten at axis 1: [N, ...] → [N, product of the other dims]."""
        out = self.node("Flatten", [x], name, axis=1)
        if x in self.shapes:
            shape = self.shape(x)
            self._shaped(out, (shape[0], int(np.prod(shape[1:]))))
        return out

    def linear(self, x: str, fin: int, fout: int, name: str, bias: bool = True) -> str:
        """A fully connected layer on a 2-D input: Gemm with the weight stored [fout, fin]."""
        w = self.weight(f"{name}.weight", [fout, fin])
        inputs = [x, w] + ([self.bias(f"{name}.bias", fout)] if bias else [])
        out = self.node("Gemm", inputs, name, transB=1)
        if x in self.shapes:
            self._shaped(out, (self.shape(x)[0], fout))
        return out

    def dense(self, x: str, fout: int, name: str) -> str:
        """A fully connected layer on the last axis of any input: MatMul (weight [fin, fout]) + Add."""
        shape = self.shape(x)
        w = self.weight(f"{name}.weight", [shape[-1], fout], fan_in=shape[-1])
        product = self._shaped(self.node("MatMul", [x, w], name), (*shape[:-1], fout))
        return self.add(product, self.bias(f"{name}.bias", fout), f"{name}.add_bias")

    # --- element-wise and data movement ------------------------------------------

    def add(self, a: str, b: str, name: str) -> str:
        """Add, with numpy broadcasting."""
        return self._shaped(self.node("Add", [a, b], name), _broadcast(self.shape(a), self.shape(b)))

    def mul(self, a: str, b: str, name: str) -> str:
        """Mul, with numpy broadcasting."""
        return self._shaped(self.node("Mul", [a, b], name), _broadcast(self.shape(a), self.shape(b)))

    def concat(self, xs: Sequence[str], name: str, axis: int = 1) -> str:
        """Concat along ``axis`` (the channels by default)."""
        shapes = [self.shape(x) for x in xs]
        shape = list(shapes[0])
        shape[axis] = sum(s[axis] for s in shapes)
        return self._shaped(self.node("Concat", list(xs), name, axis=axis), shape)

    def split(self, x: str, sizes: Sequence[int], name: str, axis: int = 1) -> list[str]:
        """Split along ``axis`` into parts of ``sizes``; one output per part."""
        outs = self.node("Split", [x, self.ints(f"{name}.split", sizes)], name, outputs=len(sizes), axis=axis)
        shape = list(self.shape(x))
        for out, size in zip(outs, sizes):
            shape[axis] = size
            self._shaped(out, shape)
        return outs

    def reshape(self, x: str, shape: Sequence[int], name: str) -> str:
        """Reshape to a fully given ``shape`` (no 0 or -1: the builder knows every size)."""
        if int(np.prod(shape)) != int(np.prod(self.shape(x))):
            raise ValueError(f"reshape '{name}': {self.shape(x)} cannot become {tuple(shape)}")
        return self._shaped(self.node("Reshape", [x, self.ints(f"{name}.shape", shape)], name), shape)

    def transpose(self, x: str, perm: Sequence[int], name: str) -> str:
        """Transpose: output axis i is input axis ``perm[i]``."""
        shape = self.shape(x)
        return self._shaped(self.node("Transpose", [x], name, perm=list(perm)), [shape[p] for p in perm])

    def matmul(self, a: str, b: str, name: str) -> str:
        """MatMul with numpy's batch broadcasting: [..., M, K] x [..., K, N] → [..., M, N]."""
        sa, sb = self.shape(a), self.shape(b)
        batch = _broadcast(sa[:-2], sb[:-2])
        return self._shaped(self.node("MatMul", [a, b], name), (*batch, sa[-2], sb[-1]))

    def softmax(self, x: str, name: str, axis: int = -1) -> str:
        """Softmax over ``axis``."""
        return self._shaped(self.node("Softmax", [x], name, axis=axis), self.shape(x))

    def layer_norm(self, x: str, name: str, eps: float = 1e-6) -> str:
        """LayerNormalization over the last axis, random scale in [0.5, 1.5] and a small random shift."""
        width = self.shape(x)[-1]
        scale = self.constant(f"{name}.weight", self.rng.uniform(0.5, 1.5, width).astype(np.float32))
        shift = self.constant(f"{name}.bias", (self.rng.standard_normal(width) * 0.1).astype(np.float32))
        out = self.node("LayerNormalization", [x, scale, shift], name, axis=-1, epsilon=eps)
        return self._shaped(out, self.shape(x))

    def gather(self, x: str, index: int, axis: int, name: str) -> str:
        """Take one slice (``x[:, index]`` for axis 1); the axis is dropped."""
        shape = list(self.shape(x))
        out = self.node("Gather", [x, self.constant(f"{name}.index", np.array(index, dtype=np.int64))], name, axis=axis)
        del shape[axis]
        return self._shaped(out, shape)

    def expand(self, x: str, shape: Sequence[int], name: str) -> str:
        """Expand ``x`` to ``shape`` by broadcasting."""
        return self._shaped(self.node("Expand", [x, self.ints(f"{name}.shape", shape)], name),
                            _broadcast(self.shape(x), tuple(shape)))

    def channel_shuffle(self, x: str, groups: int, name: str) -> str:
        """Reshape [N, G, C/G, H, W] → Transpose [0, 2, 1, 3, 4] → Reshape [N, C, H, W]."""
        n, c, h, w = self.shape(x)
        grouped = self.reshape(x, [n, groups, c // groups, h, w], f"{name}.reshape")
        swapped = self.transpose(grouped, [0, 2, 1, 3, 4], f"{name}.transpose")
        return self.reshape(swapped, [n, c, h, w], name)


def _pair(value: Size2) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _pads(pad: Pads) -> list[int]:
    """ONNX pads [top, left, bottom, right] from an int, (h, w) or the four values."""
    if isinstance(pad, int):
        return [pad] * 4
    if len(pad) == 2:
        return [pad[0], pad[1], pad[0], pad[1]]
    return list(pad)


def _window(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], pads: Sequence[int],
            dilation: int, ceil: bool = False) -> tuple[int, int]:
    """Output size of a sliding window (conv or pool) per spatial axis."""
    out = []
    for axis in range(2):
        span = size[axis] + pads[axis] + pads[axis + 2] - dilation * (kernel[axis] - 1) - 1
        steps = -(-span // stride[axis]) if ceil else span // stride[axis]
        count = steps + 1
        if ceil and (count - 1) * stride[axis] >= size[axis] + pads[axis]:
            count -= 1  # the last window would start in the padding only
        out.append(count)
    return out[0], out[1]


def _broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    return tuple(max(x, y) if 1 in (x, y) else x for x, y in zip(a, b))
