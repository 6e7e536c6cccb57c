"""Exporter realism: a sample model rewritten the way real exporters write graphs.

The zoo builders write one plain form (opset 17, NCHW, BatchNormalization kept, every constant an
initializer, no value_info). Real files differ; each function here takes such a model and returns
the same network, with the same weights and the same outputs, in one exporter's style:

- ``torchscript_style``: PyTorch's TorchScript exporter (``torch.onnx.export``, constant folding
  on): BatchNormalization folded into the preceding Conv, ``x.view(x.size(0), -1)`` written as
  Shape → Gather → Unsqueeze → Concat → Reshape, a dynamic batch axis, small constants as Constant
  nodes, an Identity node on a weight, value_info with symbolic dims, ``/layer1/layer1.0/conv1/Conv``
  names.
- ``dynamo_style``: PyTorch's newer exporter (``dynamo=True``): opset 18 (ReduceMean's axes an
  input, global pooling as ReduceMean), modules as ONNX local functions that share one definition
  per structure, no value_info.
- ``tf2onnx_style``: tf2onnx from a Keras model: NHWC input, a Transpose pair around every
  layout-bound op (Conv, pooling, BatchNormalization), Dense layers as MatMul + Add, 'SAME'
  padding as auto_pad, opset 13.
- ``float16``: weights and activations in float16.
- ``external_files``: the data files of a model written with its weights beside it
  (``onnxcost.files.save_with_external_data`` writes one).

The report must give the same MACs for all of them (tests/test_exporters.py).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NCHW_TO_NHWC = [0, 2, 3, 1]
NHWC_TO_NCHW = [0, 3, 1, 2]
FUNCTION_DOMAIN = "pkg.onnxcost.samples"


# --- shared helpers ---------------------------------------------------------------------------

def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _set_attr(node: onnx.NodeProto, name: str, value) -> None:
    for index, attr in enumerate(node.attribute):
        if attr.name == name:
            del node.attribute[index]
            break
    if value is not None:
        node.attribute.append(helper.make_attribute(name, value))


def _consumers(graph: onnx.GraphProto) -> dict[str, list[int]]:
    """Tensor name → indices of the nodes reading it (indices: protobuf wrappers have no stable id())."""
    found: dict[str, list[int]] = defaultdict(list)
    for index, node in enumerate(graph.node):
        for name in node.input:
            found[name].append(index)
    return found


def _weights(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def _replace_initializers(graph: onnx.GraphProto, arrays: dict[str, np.ndarray]) -> None:
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(np.asarray(a), name) for name, a in arrays.items())


def _drop_unused(nodes: Iterable[onnx.NodeProto], weights: dict[str, np.ndarray]) -> None:
    used = {name for node in nodes for name in node.input}
    for name in [n for n in weights if n not in used]:
        del weights[name]


def _set_opset(model: onnx.ModelProto, version: int) -> None:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = version


def _constant_node(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], name=name, value=numpy_helper.from_array(np.asarray(value), name))


# --- PyTorch, TorchScript exporter --------------------------------------------------------------

def torchscript_style(model: onnx.ModelProto, batch: str = "batch_size") -> onnx.ModelProto:
    """A copy of ``model`` as ``torch.onnx.export`` (TorchScript, constant folding on) writes it; the
    first axis of the input and the output becomes the named dimension ``batch``."""
    model = _copy(model)
    graph = model.graph
    weights = _weights(graph)
    counter = iter(range(500, 10**6))  # TorchScript numbers the tensors it creates: onnx::Conv_500, ...
    _fold_batch_norms(graph, weights, lambda op: f"onnx::{op}_{next(counter)}")
    graph_input = graph.input[0].name
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type == "Flatten":
            nodes.extend(_view_as_batch_by_rest(node))
        elif node.op_type == "Expand":
            nodes.extend(_expand_over_batch(node, graph_input, weights))
        else:
            if node.op_type == "Reshape":
                shape = weights[node.input[1]].copy()
                shape[0] = 0  # "copy the batch dimension": the exported view(n, ...) with n = x.size(0)
                weights[node.input[1]] = shape
            nodes.append(node)
    # The classifier's weight reaches its Gemm through an Identity (deduplicated parameters do this).
    last_gemm = next((n for n in reversed(nodes) if n.op_type == "Gemm"), None)
    if last_gemm is not None:
        alias = f"onnx::Gemm_{next(counter)}"
        nodes.insert(nodes.index(last_gemm), helper.make_node("Identity", [last_gemm.input[1]], [alias], name="Identity"))
        last_gemm.input[1] = alias
    _drop_unused(nodes, weights)
    # Small constants (shapes, axes, scalars) become Constant nodes; weights stay initializers.
    constants = {name for name, a in weights.items() if a.dtype != np.float32 or a.ndim == 0}
    nodes = [_constant_node(name, weights.pop(name)) for name in sorted(constants)] + nodes
    del graph.node[:]
    graph.node.extend(nodes)
    _replace_initializers(graph, weights)
    _torch_names(graph)
    _rename_value(graph, graph.input[0].name, "input")
    _rename_value(graph, graph.output[0].name, "output")
    for value in [*graph.input, *graph.output]:
        value.type.tensor_type.shape.dim[0].Clear()
        value.type.tensor_type.shape.dim[0].dim_param = batch
    model.producer_name, model.producer_version = "pytorch", "2.1.0"
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    del graph.value_info[:]
    graph.value_info.extend(inferred.graph.value_info)
    return model


def _fold_batch_norms(graph: onnx.GraphProto, weights: dict[str, np.ndarray], new_name: Callable[[str], str]) -> None:
    """Fold every BatchNormalization that is a Conv's only consumer into that Conv."""
    consumers = _consumers(graph)
    nodes = list(graph.node)
    producers = {out: index for index, node in enumerate(nodes) for out in node.output}
    outputs = {v.name for v in graph.output}
    dropped: set[int] = set()
    for index, node in enumerate(nodes):
        if node.op_type != "BatchNormalization" or node.input[0] not in producers:
            continue
        conv = nodes[producers[node.input[0]]]
        if conv.op_type != "Conv" or len(consumers[conv.output[0]]) != 1 or conv.output[0] in outputs:
            continue
        scale, shift, mean, var = (weights[name] for name in node.input[1:5])
        factor = scale / np.sqrt(var + _attrs(node).get("epsilon", 1e-5))
        kernel = weights[conv.input[1]] * factor[:, None, None, None]
        bias = weights[conv.input[2]] if len(conv.input) > 2 and conv.input[2] else np.zeros_like(scale)
        folded = ((bias - mean) * factor + shift).astype(np.float32)
        kernel_name, bias_name = new_name("Conv"), new_name("Conv")
        weights[kernel_name], weights[bias_name] = kernel.astype(np.float32), folded
        del conv.input[1:]
        conv.input.extend([kernel_name, bias_name])
        conv.output[0] = node.output[0]
        dropped.add(index)
    kept = [n for i, n in enumerate(nodes) if i not in dropped]
    del graph.node[:]
    graph.node.extend(kept)
    _drop_unused(graph.node, weights)


def _view_as_batch_by_rest(node: onnx.NodeProto) -> list[onnx.NodeProto]:
    """Flatten(x) as TorchScript writes x.view(x.size(0), -1)."""
    x = node.input[0]
    sizes, target = _batch_size_and(x, np.array([-1], dtype=np.int64), node.name)
    return [*sizes, helper.make_node("Reshape", [x, target], list(node.output), name=node.name)]


def _expand_over_batch(node: onnx.NodeProto, graph_input: str, weights: dict[str, np.ndarray]) -> list[onnx.NodeProto]:
    """Expand(t, [1, ...]) as tensor.expand(x.size(0), ...): the batch read from the input's shape."""
    rest = weights[node.input[1]][1:].astype(np.int64)
    sizes, target = _batch_size_and(graph_input, rest, node.name)
    return [*sizes, helper.make_node("Expand", [node.input[0], target], list(node.output), name=node.name)]


def _batch_size_and(x: str, rest: np.ndarray, base: str) -> tuple[list[onnx.NodeProto], str]:
    """The shape [x.size(0), *rest] as TorchScript computes it: Shape → Gather → Unsqueeze → Concat.

    Returns the nodes and the name of the int64 shape they produce; every name starts '<base>.size.'."""
    names = {part: f"{base}.size.{part}" for part in ("shape", "index", "size0", "axes", "n", "rest", "target")}
    return [
        helper.make_node("Shape", [x], [names["shape"]], name=names["shape"]),
        _constant_node(names["index"], np.array(0, dtype=np.int64)),
        helper.make_node("Gather", [names["shape"], names["index"]], [names["size0"]], name=names["size0"], axis=0),
        _constant_node(names["axes"], np.array([0], dtype=np.int64)),
        helper.make_node("Unsqueeze", [names["size0"], names["axes"]], [names["n"]], name=names["n"]),
        _constant_node(names["rest"], rest),
        helper.make_node("Concat", [names["n"], names["rest"]], [names["target"]], name=names["target"], axis=0),
    ], names["target"]


def _torch_scope(name: str) -> str:
    """'layer1.0.downsample.0' → '/layer1/layer1.0/downsample/downsample.0' (TorchScript's scopes)."""
    parts = name.split(".")
    scopes = []
    for index, part in enumerate(parts):
        scopes.append(f"{parts[index - 1]}.{part}" if part.isdigit() and index else part)
    return "/" + "/".join(scopes)


def _torch_names(graph: onnx.GraphProto) -> None:
    """Node names '/scope/Op', their outputs '/scope/Op_output_0' (initializers keep their names)."""
    renames: dict[str, str] = {}
    taken: set[str] = set()
    keep = {t.name for t in graph.initializer} | {v.name for v in graph.input}
    for node in graph.node:
        name = f"{_torch_scope(node.name)}/{node.op_type}" if node.op_type != "Constant" else f"/{node.op_type}"
        unique, count = name, 0
        while unique in taken:
            count += 1
            unique = f"{name}_{count}"
        taken.add(unique)
        node.name = unique
        for index, out in enumerate(node.output):
            if out and out not in keep:
                renames[out] = f"{unique}_output_{index}"
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
        if node.op_type == "Constant":
            node.attribute[0].t.name = node.output[0]
    for value in graph.output:
        value.name = renames.get(value.name, value.name)


def _rename_value(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.name == old:
            value.name = new


# --- PyTorch, dynamo exporter -----------------------------------------------------------------------

def dynamo_style(model: onnx.ModelProto, module_of: Callable[[str], str | None] | None = None) -> onnx.ModelProto:
    """Opset 18 and local functions. ``module_of`` maps a node name to its module ('layer1.0') or
    None for nodes left in the main graph; by default the first two dotted parts of names that have
    at least three."""
    model = _copy(model)
    graph = model.graph
    weights = _weights(graph)
    module_of = module_of or _two_level_module
    _set_opset(model, 18)
    nodes = []
    for node in graph.node:
        if node.op_type == "GlobalAveragePool":  # adaptive_avg_pool2d(x, 1) decomposes to mean over H, W
            axes = f"{node.name}.axes"
            weights[axes] = np.array([-1, -2], dtype=np.int64)
            node = helper.make_node("ReduceMean", [node.input[0], axes], list(node.output), name=node.name, keepdims=1)
        elif node.op_type == "ReduceMean" and "axes" in _attrs(node):  # opset 18: axes is an input
            axes = f"{node.name}.axes"
            weights[axes] = np.array(_attrs(node)["axes"], dtype=np.int64)
            _set_attr(node, "axes", None)
            node.input.append(axes)
        elif node.op_type == "Flatten":
            target = f"{node.name}.shape"
            weights[target] = np.array([1, -1], dtype=np.int64)
            node = helper.make_node("Reshape", [node.input[0], target], list(node.output), name=node.name)
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    _replace_initializers(graph, weights)
    del graph.value_info[:]
    _into_functions(model, module_of)
    model.producer_name, model.producer_version = "pytorch", "2.5.0"
    return model


def _two_level_module(name: str) -> str | None:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) >= 3 else None


def _into_functions(model: onnx.ModelProto, module_of: Callable[[str], str | None]) -> None:
    """Replace each module's nodes with a call of a local function; modules of the same structure
    share one function. Small constants used only inside a module become Constant nodes in it."""
    graph = model.graph
    groups: dict[str, list[int]] = defaultdict(list)
    for index, node in enumerate(graph.node):
        module = module_of(node.name)
        if module is not None:
            groups[module].append(index)
    consumers = _consumers(graph)
    graph_outputs = {v.name for v in graph.output}
    initializers = {t.name: t for t in graph.initializer}
    small = {name for name, t in initializers.items()
             if t.data_type != TensorProto.FLOAT or len(t.dims) == 0}
    functions: dict[bytes, onnx.FunctionProto] = {}
    replaced: dict[int, onnx.NodeProto | None] = {}
    for module, indices in groups.items():
        if not _convex(graph, set(indices)):
            continue
        members = [graph.node[i] for i in indices]
        inside = set(indices)
        produced = {out for n in members for out in n.output}
        inputs, local_constants = [], []
        for n in members:
            for name in n.input:
                if not name or name in produced or name in inputs or name in local_constants:
                    continue
                private = name in small and all(c in inside for c in consumers[name])
                (local_constants if private else inputs).append(name)
        outputs = [out for n in members for out in n.output
                   if out in graph_outputs or any(c not in inside for c in consumers[out])]
        function, call_inputs = _function_for(module, members, inputs, outputs, local_constants, initializers, functions)
        call = helper.make_node(function.name, call_inputs, outputs, name=module, domain=FUNCTION_DOMAIN)
        replaced[indices[0]] = call
        for i in indices[1:]:
            replaced[i] = None
    nodes = [replaced.get(i, node) for i, node in enumerate(graph.node)]
    del graph.node[:]
    graph.node.extend(n for n in nodes if n is not None)
    used = {name for n in graph.node for name in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    model.functions.extend(functions.values())
    if functions:
        model.opset_import.append(helper.make_opsetid(FUNCTION_DOMAIN, 1))


def _function_for(module, members, inputs, outputs, local_constants, initializers, functions):
    """The function for this module (an existing one when the structure matches) and its call's inputs."""
    rename = {name: f"x{i}" for i, name in enumerate(inputs)}
    rename.update({name: f"c{i}" for i, name in enumerate(local_constants)})
    body = [helper.make_node("Constant", [], [rename[name]], value=_renamed(initializers[name], rename[name]))
            for name in local_constants]
    for index, node in enumerate(members):
        for out_index, out in enumerate(node.output):
            rename.setdefault(out, f"t{index}_{out_index}")
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = f"n{index}_{node.op_type}"
        copy.input[:] = [rename.get(n, n) if n else "" for n in node.input]
        copy.output[:] = [rename[n] for n in node.output]
        body.append(copy)
    key = b"".join(n.SerializeToString() for n in body) + repr(([rename[o] for o in outputs], len(inputs))).encode()
    if key not in functions:
        functions[key] = helper.make_function(
            FUNCTION_DOMAIN, re.sub(r"\W", "_", module), [rename[n] for n in inputs], [rename[o] for o in outputs],
            body, opset_imports=[helper.make_opsetid("", 18)],
        )
    return functions[key], inputs


def _renamed(tensor: onnx.TensorProto, name: str) -> onnx.TensorProto:
    copy = TensorProto()
    copy.CopyFrom(tensor)
    copy.name = name
    return copy


def _convex(graph: onnx.GraphProto, indices: set[int]) -> bool:
    """No path leaves the group and comes back (the group can be one node without a cycle)."""
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output}
    # Nodes reachable from the group through outside nodes, in topological order (the graph is sorted).
    tainted: set[int] = set()
    for i, node in enumerate(graph.node):
        feeders = {producer[n] for n in node.input if n in producer}
        if i in indices:
            if feeders & tainted:
                return False
        elif feeders & (indices | tainted):
            tainted.add(i)
    return True


# --- TensorFlow, tf2onnx ---------------------------------------------------------------------------

LAYOUT_BOUND = {"Conv", "MaxPool", "AveragePool", "BatchNormalization"}
ELEMENTWISE = {"Relu", "Clip", "Sigmoid", "Add", "Mul"}


def tf2onnx_style(model: onnx.ModelProto, prefix: str | None = None) -> onnx.ModelProto:
    """The graph tf2onnx writes for the same network built in Keras (before its transpose optimizer):
    NHWC tensors throughout, ops that need NCHW wrapped in Transposes. Supports the CNN zoo's ops;
    raises ValueError on ops it has no NHWC form for (channel shuffles, transformer blocks)."""
    model = _copy(model)
    graph = model.graph
    weights = _weights(graph)
    prefix = prefix or f"StatefulPartitionedCall/{graph.name}"
    rank4 = _rank4_tensors(model)
    flattened: dict[str, tuple[int, int, int]] = {}  # Flatten outputs of NHWC maps: (C, H, W)
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        scope = f"{prefix}/{node.name.replace('.', '/')}"
        if node.op_type in LAYOUT_BOUND:
            nodes.extend(_wrapped_in_transposes(node, scope))
        elif node.op_type == "GlobalAveragePool":
            nodes.append(helper.make_node("ReduceMean", list(node.input), list(node.output), name=f"{scope}/Mean",
                                          axes=[1, 2], keepdims=1))
        elif node.op_type == "ReduceMean" and node.input[0] in rank4:
            axes = [NCHW_TO_NHWC.index(a % 4) for a in _attrs(node)["axes"]]
            _set_attr(node, "axes", sorted(axes))
            node.name = f"{scope}/Mean"
            nodes.append(node)
        elif node.op_type in ("Concat", "Split") and node.input[0] in rank4:
            _set_attr(node, "axis", NCHW_TO_NHWC.index(_attrs(node)["axis"] % 4))
            node.name = f"{scope}/{'concat' if node.op_type == 'Concat' else 'split'}"
            nodes.append(node)
        elif node.op_type == "Flatten":
            shape = rank4.get(node.input[0])
            if shape is not None and shape[2] * shape[3] > 1:
                flattened[node.output[0]] = shape[1:]
            node.name = f"{scope}/Reshape"
            nodes.append(node)
        elif node.op_type == "Gemm":
            nodes.extend(_dense(node, scope, weights, flattened.get(node.input[0])))
        elif node.op_type in ELEMENTWISE or node.op_type == "Softmax" or not any(n in rank4 for n in node.input):
            node.name = f"{scope}/{node.op_type}"
            nodes.append(node)
        else:
            raise ValueError(f"tf2onnx style: no NHWC form for {node.op_type} '{node.name}' on a 4-D tensor")
    _drop_unused(nodes, weights)
    del graph.node[:]
    graph.node.extend(nodes)
    _replace_initializers(graph, weights)
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            values = [dims[i].dim_value for i in NCHW_TO_NHWC]
            for dim, size in zip(dims, values):
                dim.dim_value = size
    _rename_value(graph, graph.input[0].name, "input_1")
    _set_opset(model, 13)
    model.producer_name, model.producer_version = "tf2onnx", "1.16.1"
    return model


def _rank4_tensors(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            shapes[value.name] = tuple(d.dim_value for d in dims)
    return shapes


def _wrapped_in_transposes(node: onnx.NodeProto, scope: str) -> list[onnx.NodeProto]:
    op = {"Conv": "Conv2D", "MaxPool": "MaxPool", "AveragePool": "AvgPool", "BatchNormalization": "FusedBatchNormV3"}[node.op_type]
    name = f"{scope}/{op}"
    nhwc_in, nhwc_out = node.input[0], node.output[0]
    nchw_in, nchw_out = f"{name}__transpose_in:0", f"{name}:0"
    node.name = name
    node.input[0], node.output[0] = nchw_in, nchw_out
    if node.op_type == "Conv":
        _same_padding(node)
    return [
        helper.make_node("Transpose", [nhwc_in], [nchw_in], name=f"{name}__transpose_in", perm=NHWC_TO_NCHW),
        node,
        helper.make_node("Transpose", [nchw_out], [nhwc_out], name=f"{name}__transpose_out", perm=NCHW_TO_NHWC),
    ]


def _same_padding(node: onnx.NodeProto) -> None:
    """Stride-1 convs with (k - 1) / 2 on every side are TensorFlow's 'SAME': written as auto_pad."""
    attrs = _attrs(node)
    kernel, pads = attrs.get("kernel_shape"), attrs.get("pads", [0, 0, 0, 0])
    if attrs.get("strides", [1, 1]) == [1, 1] and all(k % 2 for k in kernel) and \
            pads == [(k - 1) // 2 for k in kernel] * 2 and any(pads):
        _set_attr(node, "pads", None)
        _set_attr(node, "auto_pad", "SAME_UPPER")


def _dense(node: onnx.NodeProto, scope: str, weights: dict[str, np.ndarray], nhwc: tuple[int, int, int] | None):
    """Gemm(x, W, b, transB=1) as Keras Dense: MatMul(x, Wᵀ) then Add(b); a Flatten of an NHWC map
    (C, H, W) reorders W's input axis so the product is the same."""
    if _attrs(node).get("transB", 0) != 1 or _attrs(node).get("transA", 0):
        raise ValueError(f"tf2onnx style: Gemm '{node.name}' is not a Dense layer")
    kernel = weights.pop(node.input[1])
    if nhwc is not None:
        c, h, w = nhwc
        kernel = kernel.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(kernel.shape[0], -1)
    kernel_name = f"{scope}/MatMul/ReadVariableOp:0"
    weights[kernel_name] = np.ascontiguousarray(kernel.T)
    product = f"{scope}/MatMul:0"
    nodes = [helper.make_node("MatMul", [node.input[0], kernel_name], [product], name=f"{scope}/MatMul")]
    if len(node.input) > 2 and node.input[2]:
        nodes.append(helper.make_node("Add", [product, node.input[2]], list(node.output), name=f"{scope}/BiasAdd"))
    else:
        nodes[0].output[0] = node.output[0]
    return nodes


# --- float16, and the files of external data --------------------------------------------------------------

def float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every float32 weight, constant, input and output as float16 (what onnxconverter-common's
    convert_float_to_float16 writes when nothing is kept in float32)."""
    model = _copy(model)
    graph = model.graph
    half = [numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name)
            if t.data_type == TensorProto.FLOAT else t for t in graph.initializer]
    del graph.initializer[:]
    graph.initializer.extend(half)
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute[0].type == onnx.AttributeProto.TENSOR \
                and node.attribute[0].t.data_type == TensorProto.FLOAT:
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(node.attribute[0].t).astype(np.float16), node.attribute[0].t.name))
        if node.op_type == "Cast" and _attrs(node).get("to") == TensorProto.FLOAT:
            _set_attr(node, "to", TensorProto.FLOAT16)
    for value in [*graph.input, *graph.output]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.FLOAT16
    del graph.value_info[:]
    return model


def external_files(path: str | os.PathLike) -> Iterable[Path]:
    """The files a model's external data lives in (for tests and cleanup)."""
    model = onnx.load(str(path), load_external_data=False)
    locations = {entry.value for t in model.graph.initializer for entry in t.external_data if entry.key == "location"}
    return [Path(path).parent / location for location in sorted(locations)]
