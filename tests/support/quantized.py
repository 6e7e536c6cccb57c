"""Quantized models for the tests: one typed node (uint8 activations, int8 weights, com.microsoft ops), a small
decoder built with onnx.helper, and what onnxruntime's quantization tools need (a seeded calibration reader)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader

MS = "com.microsoft"
U8, I8, F32, I32, I64 = TensorProto.UINT8, TensorProto.INT8, TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64


def typed_model(
    nodes: Sequence[onnx.NodeProto],
    graph_inputs: Mapping[str, tuple[int, Sequence[int]]],
    outputs: Mapping[str, int],
    weights: Mapping[str, np.ndarray | TensorProto] | None = None,
    opset: int = 17,
) -> onnx.ModelProto:
    """A model of ``nodes``: ``graph_inputs`` {name: (dtype, shape)} are the graph's inputs, ``weights`` {name:
    array or TensorProto} its initializers, ``outputs`` {name: dtype} its outputs (shapes left to inference).
    The com.microsoft domain is imported too."""
    graph = helper.make_graph(
        list(nodes), "q",
        [helper.make_tensor_value_info(name, dtype, list(shape)) for name, (dtype, shape) in graph_inputs.items()],
        [helper.make_tensor_value_info(name, dtype, None) for name, dtype in outputs.items()],
        [_tensor(name, value) for name, value in (weights or {}).items()],
    )
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS, 1)])
    built.ir_version = 10 if opset >= 21 else 8
    return built


def typed_node(
    op_type: str,
    inputs: Sequence[str],
    graph_inputs: Mapping[str, tuple[int, Sequence[int]]],
    weights: Mapping[str, np.ndarray | TensorProto] | None = None,
    outputs: Mapping[str, int] | None = None,
    domain: str = MS,
    onnx_opset: int = 17,
    **attrs,
) -> onnx.ModelProto:
    """A model of one node named 'n' reading ``inputs`` in order ('' for a skipped optional one), of the default
    domain's ``onnx_opset``; the rest as for ``typed_model``, with one uint8 output 'y' by default."""
    outputs = dict(outputs or {"y": U8})
    node = helper.make_node(op_type, list(inputs), list(outputs), name="n", domain=domain, **attrs)
    return typed_model([node], graph_inputs, outputs, weights, onnx_opset)


def _tensor(name: str, value) -> TensorProto:
    if isinstance(value, TensorProto):
        value.name = name
        return value
    return numpy_helper.from_array(np.asarray(value), name)


def int4(dims: Sequence[int], signed: bool = False) -> TensorProto:
    """A stored int4 (or uint4) tensor of ``dims`` holding ones, two values to a byte."""
    return helper.make_tensor("", TensorProto.INT4 if signed else TensorProto.UINT4, list(dims),
                              [1] * int(np.prod(dims)))


def scalar(value, dtype) -> np.ndarray:
    """A 0-d tensor: a per-tensor scale or zero point."""
    return np.array(value, dtype=dtype)


# The decoder: an embedding, q/k/v/o projections, an MLP and an lm_head, all MatMuls by stored weights.
VOCAB, WIDTH, HIDDEN, SEQUENCE = 256, 64, 128, 8
DECODER_MATRICES = {  # name: (K, N)
    "Wq": (WIDTH, WIDTH), "Wk": (WIDTH, WIDTH), "Wv": (WIDTH, WIDTH), "Wo": (WIDTH, WIDTH),
    "Wup": (WIDTH, HIDDEN), "Wdown": (HIDDEN, WIDTH), "lm_head": (WIDTH, VOCAB),
}


def decoder() -> onnx.ModelProto:
    """A float decoder step over SEQUENCE token ids: embed [VOCAB, WIDTH] gathered, q, k, v summed, then o,
    up, Relu, down and the lm_head; weights seeded random."""
    rng = np.random.default_rng(0)
    weights = {"embed": (VOCAB, WIDTH), **DECODER_MATRICES}
    initializers = [numpy_helper.from_array((rng.standard_normal(shape) * 0.05).astype(np.float32), name)
                    for name, shape in weights.items()]
    nodes = [
        helper.make_node("Gather", ["embed", "ids"], ["h"], name="embed"),
        helper.make_node("MatMul", ["h", "Wq"], ["q"], name="q"),
        helper.make_node("MatMul", ["h", "Wk"], ["k"], name="k"),
        helper.make_node("MatMul", ["h", "Wv"], ["v"], name="v"),
        helper.make_node("Sum", ["q", "k", "v"], ["a"], name="mix"),
        helper.make_node("MatMul", ["a", "Wo"], ["o"], name="o"),
        helper.make_node("MatMul", ["o", "Wup"], ["u"], name="up"),
        helper.make_node("Relu", ["u"], ["r"], name="act"),
        helper.make_node("MatMul", ["r", "Wdown"], ["d"], name="down"),
        helper.make_node("MatMul", ["d", "lm_head"], ["logits"], name="lm_head"),
    ]
    graph = helper.make_graph(
        nodes, "decoder", [helper.make_tensor_value_info("ids", I64, [1, SEQUENCE])],
        [helper.make_tensor_value_info("logits", F32, [1, SEQUENCE, VOCAB])], initializers,
    )
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    built.ir_version = 10
    onnx.checker.check_model(built)
    return built


class SeededReader(CalibrationDataReader):
    """A calibration data reader for onnxruntime's quantize_static: ``batches`` seeded random inputs of uniform
    [0, 1) values for a model's one float input."""

    def __init__(self, model: onnx.ModelProto, batches: int = 2):
        value = model.graph.input[0]
        shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
        rng = np.random.default_rng(0)
        self._feeds = iter([{value.name: rng.random(shape, dtype=np.float32)} for _ in range(batches)])

    def get_next(self):
        return next(self._feeds, None)
