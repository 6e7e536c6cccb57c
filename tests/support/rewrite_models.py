"""Small models for the rewrite tests: single convs of every kind and a ResNet-style block, seeded weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The VGG-16 sample's convs: (name, Cin, Cout, output side), and its published totals
# (Simonyan & Zisserman, configuration D; see tests/test_vgg16.py).
VGG16_CONVS = [
    ("conv1_1", 3, 64, 224), ("conv1_2", 64, 64, 224),
    ("conv2_1", 64, 128, 112), ("conv2_2", 128, 128, 112),
    ("conv3_1", 128, 256, 56), ("conv3_2", 256, 256, 56), ("conv3_3", 256, 256, 56),
    ("conv4_1", 256, 512, 28), ("conv4_2", 512, 512, 28), ("conv4_3", 512, 512, 28),
    ("conv5_1", 512, 512, 14), ("conv5_2", 512, 512, 14), ("conv5_3", 512, 512, 14),
]
VGG16_MACS = 15_470_264_320
VGG16_PARAMS = 138_357_544


def finish(nodes, inputs: dict[str, Sequence[int]], outputs: Sequence[str], weights: dict[str, np.ndarray],
           opset: int = 17) -> onnx.ModelProto:
    """A checker-valid model: inputs typed, outputs typed by shape inference."""
    graph = helper.make_graph(
        list(nodes), "test",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output}
    for value in model.graph.output:
        value.CopyFrom(inferred[value.name])
    onnx.checker.check_model(model, full_check=True)
    return model


def single_conv(cin: int, cout: int, kernel: Sequence[int], spatial: Sequence[int], *, group: int = 1,
                bias: bool = True, seed: int = 0, weight: np.ndarray | None = None, batch: int = 1, **attrs) -> onnx.ModelProto:
    """x[batch, cin, *spatial] -> Conv 'conv' -> y."""
    rng = np.random.default_rng(seed)
    w = weight if weight is not None else rng.standard_normal((cout, cin // group, *kernel)).astype(np.float32)
    weights = {"conv.weight": w.astype(np.float32)}
    inputs = ["x", "conv.weight"]
    if bias:
        weights["conv.bias"] = rng.standard_normal(cout).astype(np.float32)
        inputs.append("conv.bias")
    node = helper.make_node("Conv", inputs, ["y"], name="conv", group=group, kernel_shape=list(kernel), **attrs)
    return finish([node], {"x": [batch, cin, *spatial]}, ["y"], weights)


def resnet_block(seed: int = 0, cin: int = 16, cout: int = 32, side: int = 16) -> onnx.ModelProto:
    """A ResNet basic block with a projection shortcut (He et al. 2015, option B), convs without bias:

    x -> conv_a 3x3 stride 2 pad 1 -> bn_a -> relu_a -> conv_b 3x3 pad 1 -> bn_b --+--> Add -> relu_out
    x -> conv_s 1x1 stride 2 -> bn_s ------------------------------------------------+
    """
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}

    def he(name, shape):
        fan_in = int(np.prod(shape[1:]))
        weights[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        return name

    def bn(prefix, x, channels):
        weights[f"{prefix}.scale"] = rng.uniform(0.5, 1.5, channels).astype(np.float32)
        weights[f"{prefix}.bias"] = rng.normal(0, 0.1, channels).astype(np.float32)
        weights[f"{prefix}.mean"] = rng.normal(0, 0.1, channels).astype(np.float32)
        weights[f"{prefix}.var"] = rng.uniform(0.5, 2.0, channels).astype(np.float32)
        return helper.make_node("BatchNormalization", [x, f"{prefix}.scale", f"{prefix}.bias", f"{prefix}.mean", f"{prefix}.var"],
                                [prefix], name=prefix, epsilon=1e-5)

    nodes = [
        helper.make_node("Conv", ["x", he("conv_a.weight", (cout, cin, 3, 3))], ["conv_a"], name="conv_a",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        bn("bn_a", "conv_a", cout),
        helper.make_node("Relu", ["bn_a"], ["relu_a"], name="relu_a"),
        helper.make_node("Conv", ["relu_a", he("conv_b.weight", (cout, cout, 3, 3))], ["conv_b"], name="conv_b",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        bn("bn_b", "conv_b", cout),
        helper.make_node("Conv", ["x", he("conv_s.weight", (cout, cin, 1, 1))], ["conv_s"], name="conv_s",
                         kernel_shape=[1, 1], strides=[2, 2]),
        bn("bn_s", "conv_s", cout),
        helper.make_node("Add", ["bn_b", "bn_s"], ["sum"], name="add"),
        helper.make_node("Relu", ["sum"], ["out"], name="relu_out"),
    ]
    return finish(nodes, {"x": [1, cin, side, side]}, ["out"], weights)


def conv_mul_add(seed: int = 0) -> onnx.ModelProto:
    """conv (8->16, 3x3, bias) -> Mul by a [16,1,1] constant -> Add a [1,16,1,1] constant -> Relu."""
    rng = np.random.default_rng(seed)
    weights = {
        "conv.weight": rng.standard_normal((16, 8, 3, 3)).astype(np.float32),
        "conv.bias": rng.standard_normal(16).astype(np.float32),
        "scale": rng.uniform(0.5, 2.0, (16, 1, 1)).astype(np.float32),
        "shift": rng.standard_normal((1, 16, 1, 1)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c", "scale"], ["m"], name="mul"),
        helper.make_node("Add", ["shift", "m"], ["a"], name="add"),
        helper.make_node("Relu", ["a"], ["y"], name="relu"),
    ]
    return finish(nodes, {"x": [1, 8, 12, 12]}, ["y"], weights)


def spectral_weight(cout: int, cin: int, kernel: Sequence[int], singular_values: Sequence[float], seed: int = 0) -> np.ndarray:
    """Conv weights whose every input-channel matrix W[:, i] (cout x K) has exactly these singular values."""
    rng = np.random.default_rng(seed)
    k = int(np.prod(kernel))
    s = np.asarray(singular_values, dtype=np.float64)
    q = len(s)
    w = np.empty((cout, cin, k))
    for i in range(cin):
        u, _ = np.linalg.qr(rng.standard_normal((cout, q)))
        v, _ = np.linalg.qr(rng.standard_normal((k, q)))
        w[:, i, :] = (u * s) @ v.T
    return w.reshape(cout, cin, *kernel).astype(np.float32)
