"""A yardstick for a candidate's figures: the reference itself with its weights rounded as int8 or fp16 storage rounds
them, run on the same inputs.

A task-level figure alone does not say whether a change is small: on rendered text lines of random characters, the
PP-OCRv4 recogniser with its weights rounded to int8 (per output channel) keeps only 76% of its strings, about what a
0.85x rewrite keeps (docs/frontier.md). The yardstick puts that figure next to the candidate's.

- ``int8``: each weight scaled per output channel so that its largest magnitude is 127, rounded to integers and scaled
  back (symmetric, as weight quantizers do: onnxruntime's ``quantize_static`` per channel, PyTorch's
  ``per_channel_symmetric``); kept in the tensor's float type, so only the rounding differs;
- ``fp16``: each weight rounded to float16 and back.

The weights are the stored (initializer or Constant) float inputs of rank >= 2 that a Conv, ConvTranspose, Gemm or
MatMul reads as its second input; the output channels are axis 0 of a Conv's, axis 1 of a ConvTranspose's, the last
axis of a MatMul's, and axis 1 of a Gemm's (0 with transB). Biases, normalisation and activations are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from .. import walk
from ..errors import InputSpecError

YARDSTICKS = ("int8", "fp16")
_FLOATS = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16)
_WEIGHED = ("Conv", "ConvTranspose", "Gemm", "MatMul")


@dataclass
class Rounded:
    """The reference with its weights rounded, and how many weight tensors were."""

    model: onnx.ModelProto
    tensors: int


def check_kind(kind: str) -> None:
    """Refuse a yardstick that is not one of YARDSTICKS."""
    if kind not in YARDSTICKS:
        raise InputSpecError(f"yardstick must be one of {', '.join(YARDSTICKS)}, not {kind!r}", parameter="yardstick")


def describe(kind: str) -> str:
    """What a yardstick is, in a few words: 'weights rounded to int8 per output channel'."""
    return {"int8": "weights rounded to int8 per output channel", "fp16": "weights rounded to fp16"}[kind]


def rounded(model: onnx.ModelProto, kind: str) -> Rounded:
    """A copy of ``model`` (its weights read in) with every weight of a Conv, ConvTranspose, Gemm or MatMul rounded as
    ``kind`` (one of YARDSTICKS) rounds it; a tensor several nodes read is rounded once, on the first one's axis."""
    check_kind(kind)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    done: set[str] = set()
    for graph in walk.graphs(copy.graph):
        stored = {t.name: t for t in graph.initializer}
        stored.update((n.output[0], a.t) for n in graph.node if n.op_type == "Constant" and n.output
                      for a in n.attribute if a.name == "value")
        for node in graph.node:
            if node.op_type not in _WEIGHED or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
                continue
            name = node.input[1]
            tensor = stored.get(name)
            if tensor is None or name in done or tensor.data_type not in _FLOATS or len(tensor.dims) < 2:
                continue
            weight = numpy_helper.to_array(tensor)
            tensor.CopyFrom(numpy_helper.from_array(_round(weight, kind, _channel_axis(node, weight.ndim)), tensor.name))
            done.add(name)
    return Rounded(copy, len(done))


def _channel_axis(node: onnx.NodeProto, rank: int) -> int:
    """The axis of a weight's output channels for ``node`` (its second input)."""
    if node.op_type == "Conv":
        return 0
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return rank - 1  # MatMul: [..., K, N]


def _round(weight: np.ndarray, kind: str, axis: int) -> np.ndarray:
    if kind == "fp16":
        return weight.astype(np.float16).astype(weight.dtype)
    values = weight.astype(np.float64)
    others = tuple(i for i in range(values.ndim) if i != axis)
    largest = np.max(np.abs(values), axis=others, keepdims=True)
    scale = np.where(largest > 0, largest / 127.0, 1.0)  # an all-zero channel stays zero
    return (np.round(values / scale) * scale).astype(weight.dtype)
