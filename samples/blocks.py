"""A small graph builder for the sample models: onnx.helper + numpy, seeded weights.

Weights are He-normal (std = sqrt(2 / fan_in)) so activations keep their scale
through deep ReLU stacks and onnxruntime's outputs stay finite and meaningful
for validation. Biases are small, non-zero values so a rewrite that drops a
bias is caught.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

DEFAULT_OPSET = 17


class GraphBuilder:
    def __init__(self, name: str, seed: int = 0, opset: int = DEFAULT_OPSET):
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._names: set[str] = set()

    # --- graph plumbing ---------------------------------------------------------

    def input(self, name: str, shape: Sequence[int | str], elem_type: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, name: str, shape: Sequence[int | str], elem_type: int = TensorProto.FLOAT) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    def constant(self, name: str, array: np.ndarray) -> str:
        name = self.unique(name)
        self.initializers[name] = np.asarray(array)
        return name

    def weight(self, name: str, shape: Sequence[int], fan_in: int | None = None) -> str:
        fan_in = fan_in or int(np.prod(shape[1:]))
        std = np.float32(np.sqrt(2.0 / fan_in))
        return self.constant(name, self.rng.standard_normal(tuple(shape), dtype=np.float32) * std)

    def bias(self, name: str, size: int) -> str:
        return self.constant(name, (self.rng.standard_normal(size, dtype=np.float32) * np.float32(0.01)))

    def node(self, op_type: str, inputs: Sequence[str], name: str, outputs: int = 1, **attrs) -> str | list[str]:
        name = self.unique(name)
        names = [name if i == 0 and outputs == 1 else f"{name}:{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=name, **attrs))
        return names[0] if outputs == 1 else names

    def unique(self, name: str) -> str:
        candidate, counter = name, 1
        while candidate in self._names:
            counter += 1
            candidate = f"{name}_{counter}"
        self._names.add(candidate)
        return candidate

    def build(self) -> onnx.ModelProto:
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

    def conv(self, x: str, cin: int, cout: int, kernel: int, name: str, stride: int = 1, pad: int | None = None,
             groups: int = 1, dilation: int = 1, bias: bool = True) -> str:
        pad = (kernel - 1) // 2 * dilation if pad is None else pad
        w = self.weight(f"{name}.weight", [cout, cin // groups, kernel, kernel])
        inputs = [x, w] + ([self.bias(f"{name}.bias", cout)] if bias else [])
        return self.node("Conv", inputs, name, kernel_shape=[kernel, kernel], strides=[stride, stride],
                         pads=[pad] * 4, group=groups, dilations=[dilation, dilation])

    def relu(self, x: str, name: str) -> str:
        return self.node("Relu", [x], name)

    def max_pool(self, x: str, name: str, kernel: int = 2, stride: int = 2, pad: int = 0) -> str:
        return self.node("MaxPool", [x], name, kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4)

    def flatten(self, x: str, name: str) -> str:
        return self.node("Flatten", [x], name, axis=1)

    def linear(self, x: str, fin: int, fout: int, name: str) -> str:
        w = self.weight(f"{name}.weight", [fout, fin])
        return self.node("Gemm", [x, w, self.bias(f"{name}.bias", fout)], name, transB=1)
