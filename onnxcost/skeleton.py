"""A weightless working copy of a model: what shape inference and costing read.

The copy keeps every node, type and tensor's dtype and dims, but the data of
large tensors is left behind, so its size grows with the graph and not with
the weights (a 7B-parameter model's skeleton is a few MB). Constant nodes
become initializers, so weights behave the same whether an exporter stored
them as initializers (PyTorch) or Constant nodes (Paddle2ONNX). Local
functions are inlined. A negative dim_value, which some exporters (Paddle2ONNX)
write for "unknown", becomes a named free dimension (``name_free_dims``).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx.inliner
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from . import walk
from .errors import InvalidModelError
from .tensors import FLOAT_TYPES, numel

# Tensors that keep their data: integer and bool ones up to 4096 elements (shapes, axes, indices,
# sizes) and float ones up to 64 (scalars, Resize scales). The rest are weights, whose values a
# report never needs.
SMALL_INTEGER_ELEMENTS = 4096
SMALL_FLOAT_ELEMENTS = 64


# What a skeleton keeps of the model it is made from (fields of ModelProto, then of its GraphProto): the copy sets
# these, the in-place path clears every other field set (sparse initializers become dense ones either way).
_KEPT = frozenset({"ir_version", "opset_import", "producer_name", "producer_version", "functions", "graph"})
_KEPT_OF_GRAPH = frozenset({"name", "input", "output", "value_info", "initializer", "node"})


def build_skeleton(model: onnx.ModelProto, nested: bool | None = None, in_place: bool = False) -> onnx.ModelProto:
    """A weightless working copy of ``model`` (left unchanged): large tensors keep only dtype and dims, sparse
    initializers become dense ones, local functions are inlined and Constant nodes become initializers.
    ``nested``: ``walk.nests`` of the main graph, when the caller knows it. ``in_place``: ``model`` itself becomes
    the skeleton (for a caller that owns it: a copy of a large graph's nodes costs more than the rest)."""
    if in_place:
        return _finish(_strip_in_place(model), nested)
    skeleton = onnx.ModelProto()
    skeleton.ir_version = model.ir_version
    skeleton.opset_import.extend(model.opset_import)
    skeleton.producer_name = model.producer_name
    skeleton.producer_version = model.producer_version
    skeleton.functions.extend(model.functions)
    graph = skeleton.graph
    source = model.graph
    graph.name = source.name
    graph.input.extend(source.input)
    graph.output.extend(source.output)
    graph.value_info.extend(source.value_info)
    graph.initializer.extend(stripped(t) for t in source.initializer)
    graph.initializer.extend(_dense(sparse) for sparse in source.sparse_initializer)
    graph.node.extend(source.node)
    return _finish(skeleton, nested)


def _strip_in_place(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` made what the copy of ``build_skeleton`` holds."""
    graph = model.graph
    for tensor in graph.initializer:
        if not keeps_data(tensor):
            tensor.CopyFrom(stripped(tensor))
    graph.initializer.extend(_dense(sparse) for sparse in graph.sparse_initializer)
    for message, kept in ((model, _KEPT), (graph, _KEPT_OF_GRAPH)):
        for field, _ in message.ListFields():
            if field.name not in kept:
                message.ClearField(field.name)
    return model


def _dense(sparse: onnx.SparseTensorProto) -> TensorProto:
    """A sparse initializer as the dense tensor it stands for (dims and dtype; its data stripped as any tensor's)."""
    dense = stripped(sparse.values)
    dense.name = sparse.values.name
    del dense.dims[:]
    dense.dims.extend(sparse.dims)
    return dense


def _finish(skeleton: onnx.ModelProto, nested: bool | None) -> onnx.ModelProto:
    if skeleton.functions:
        skeleton = _inline_functions(skeleton)
        nested = None  # inlining may bring the functions' control flow in
    for sub in walk.graphs(skeleton.graph, nested is not False):  # unknown: walked
        _constants_to_initializers(sub)
        name_free_dims(sub, unnamed_inputs=sub is skeleton.graph)
    return skeleton


def free_dim_name(tensor: str, axis: int) -> str:
    """The name given to axis ``axis`` of ``tensor`` when the model declares it with a negative dim_value (or, on
    an input, with neither a value nor a name):
    ``x_dim0`` for axis 0 of input ``x`` (docs/conventions.md); bound like any dim_param (``dims={"x_dim0": 1}``)."""
    return f"{tensor}_dim{axis}"


ANONYMOUS_DIMS = frozenset({"?"})  # Paddle2ONNX's "unknown": each one its own dimension, not one shared symbol


def name_free_dims(graph: onnx.GraphProto, unnamed_inputs: bool = False) -> None:
    """Negative dim_values of ``graph``'s inputs, outputs and value_info (-1 is how Paddle2ONNX and others write
    "unknown") and dim_params "?" become dim_params named by ``free_dim_name``, so they are free dimensions like
    any other, independent of each other. ``unnamed_inputs`` (the main graph): so do the dims of its inputs that
    have neither a value nor a name (inside, inference sets those from the outer graph)."""
    stored = {t.name for t in graph.initializer} if unnamed_inputs else set()
    inputs = {v.name for v in graph.input if v.name not in stored} if unnamed_inputs else set()
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if not value.type.HasField("tensor_type"):
            continue
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            kind = dim.WhichOneof("value")
            if (kind == "dim_value" and dim.dim_value < 0) or (kind == "dim_param" and dim.dim_param in ANONYMOUS_DIMS) \
                    or (kind is None and value.name in inputs):
                dim.dim_param = free_dim_name(value.name, axis)


def keeps_data(tensor: TensorProto) -> bool:
    """Whether the skeleton keeps ``tensor``'s values (small, stored inline, not a weight)."""
    if tensor.data_location == TensorProto.EXTERNAL:
        return False
    limit = SMALL_FLOAT_ELEMENTS if tensor.data_type in FLOAT_TYPES else SMALL_INTEGER_ELEMENTS
    return numel(tensor.dims) <= limit


def stripped(tensor: TensorProto) -> TensorProto:
    """``tensor`` with its dtype and dims, and its data only when ``keeps_data``."""
    if keeps_data(tensor):
        copy = TensorProto()
        copy.CopyFrom(tensor)
        return copy
    copy = TensorProto(name=tensor.name, data_type=tensor.data_type)
    copy.dims.extend(tensor.dims)
    return copy


def constant_tensor(node: onnx.NodeProto) -> TensorProto | None:
    """The value of a Constant node as a TensorProto named after its output (None if not expressible)."""
    if len(node.output) != 1 or len(node.attribute) != 1:
        return None
    attr = node.attribute[0]
    name = node.output[0]
    if attr.type == AttributeProto.TENSOR:
        tensor = TensorProto()
        tensor.CopyFrom(attr.t)
        tensor.name = name
        return tensor
    scalar_kinds = {
        "value_float": np.float32, "value_floats": np.float32,
        "value_int": np.int64, "value_ints": np.int64,
    }
    if attr.name in scalar_kinds:
        value = np.array(helper.get_attribute_value(attr), dtype=scalar_kinds[attr.name])
        return numpy_helper.from_array(value, name)
    return None  # sparse_value, strings: left as a node


def _inline_functions(skeleton: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.inliner.inline_local_functions(skeleton)
    except Exception as exc:  # the inliner raises bare C++ errors on malformed functions
        raise InvalidModelError(f"cannot inline the model's local functions: {exc}") from exc


def _constants_to_initializers(graph: onnx.GraphProto) -> None:
    """Constant nodes of ``graph`` (main graph or subgraph) become its initializers, large ones stripped."""
    tensors = {
        index: constant_tensor(node) for index, node in enumerate(graph.node)
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx")
    }
    tensors = {index: tensor for index, tensor in tensors.items() if tensor is not None}
    if not tensors:
        return
    keep = [node for index, node in enumerate(graph.node) if index not in tensors]
    graph.initializer.extend(stripped(tensor) for tensor in tensors.values())
    del graph.node[:]
    graph.node.extend(keep)
