"""Small model factories for the tests: one node or a short chain, built with onnx.helper."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, Sequence[int | str]],
    outputs: Sequence[str],
    weights: Mapping[str, np.ndarray] | None = None,
    opset: int = 17,
    elem_type: int = TensorProto.FLOAT,
    extra_opsets: Mapping[str, int] | None = None,
    output_types: Mapping[str, int] | None = None,
) -> onnx.ModelProto:
    """A model of ``nodes`` with float inputs of the given shapes and ``weights`` as initializers.

    Outputs are float unless ``output_types`` says otherwise."""
    graph = helper.make_graph(
        list(nodes),
        "test",
        [helper.make_tensor_value_info(name, elem_type, list(shape)) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, (output_types or {}).get(name, elem_type), None) for name in outputs],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in (weights or {}).items()],
    )
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    built = helper.make_model(graph, opset_imports=opsets)
    built.ir_version = 8
    return built


def one_node(
    op_type: str,
    inputs: Mapping[str, Sequence[int]],
    weights: Mapping[str, np.ndarray] | None = None,
    order: Sequence[str] | None = None,
    outputs: int = 1,
    opset: int = 17,
    domain: str = "",
    **attrs,
) -> onnx.ModelProto:
    """A model with a single ``op_type`` node named 'n' reading ``order`` (default: inputs then weights)."""
    names = list(order) if order is not None else [*inputs, *(weights or {})]
    out_names = ["y"] if outputs == 1 else [f"y{i}" for i in range(outputs)]
    node = helper.make_node(op_type, names, out_names, name="n", domain=domain, **attrs)
    extra = {domain: 1} if domain else None
    return model([node], inputs, out_names, weights, opset=opset, extra_opsets=extra)


def zeros(*shape: int) -> np.ndarray:
    """A float32 array of zeros: a weight whose values do not matter to a cost."""
    return np.zeros(shape, dtype=np.float32)
