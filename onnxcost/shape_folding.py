"""Evaluating the small shape-computing subgraphs exporters write.

PyTorch, Paddle and TensorFlow exports compute reshape targets at run time
(Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Mod/Where in window
attention). Once the input shapes are known these are constants: evaluating
them with numpy lets shape inference see concrete numbers. Only int-sized
tensors are evaluated; anything that would grow large is left alone, and
sizes are checked before anything is allocated (a Concat of 65,536 copies of
a constant, a Tile by 2^28, a Max over thousands of inputs).

``propagation_bound`` tells, before any inference runs, how large the values
such subgraphs compute could get, so that inference which propagates values
without limits of its own (onnx's data propagation) is not run when they are
large.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import numpy as np
import onnx
from onnx import helper

from . import walk
from .errors import LazyLogger
from .tensors import numel

# Nothing larger than this is materialized while folding.
MAX_FOLDED_ELEMENTS = 1 << 16

Evaluator = Callable[[list, dict], list]

logger = LazyLogger(__name__)


def _guard(shape) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape) or numel(shape) > MAX_FOLDED_ELEMENTS:
        raise ValueError("too large to fold")
    return shape


def _axes(inputs: list, attrs: dict, index: int) -> list[int] | None:
    if len(inputs) > index and inputs[index] is not None:
        return [int(a) for a in np.asarray(inputs[index]).reshape(-1)]
    return list(attrs["axes"]) if "axes" in attrs else None


def _guard_total(inputs: list) -> None:
    """An output made of all the inputs (Concat) is refused before it is allocated."""
    if sum(np.size(x) for x in inputs if x is not None) > MAX_FOLDED_ELEMENTS:
        raise ValueError("too large to fold")


def _broadcasting(fn: Callable) -> Evaluator:
    def run(inputs: list, attrs: dict) -> list:
        _guard(np.broadcast_shapes(*(np.shape(x) for x in inputs)))
        return [fn(*inputs)]
    return run


def _int_div(a, b):
    if np.issubdtype(np.result_type(a, b), np.integer):
        quotient = np.abs(a) // np.abs(b)  # ONNX integer division truncates toward zero
        return (quotient * np.sign(a) * np.sign(b)).astype(np.result_type(a, b))
    return a / b


def _mod(inputs, attrs):
    a, b = inputs
    _guard(np.broadcast_shapes(np.shape(a), np.shape(b)))
    return [np.fmod(a, b) if attrs.get("fmod", 0) else np.mod(a, b)]


def _slice(inputs, attrs):
    data = inputs[0]
    if len(inputs) >= 3:
        starts, ends = inputs[1].reshape(-1), inputs[2].reshape(-1)
        axes = _axes(inputs, {}, 3) or list(range(len(starts)))
        steps = inputs[4].reshape(-1) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    else:  # opset < 10 keeps them in attributes
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * data.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return [data[tuple(index)]]


def _reshape(inputs, attrs):
    data, shape = inputs[0], [int(d) for d in inputs[1].reshape(-1)]
    if not attrs.get("allowzero", 0):
        shape = [data.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [data.reshape(shape)]


def _unsqueeze(inputs, attrs):
    data = inputs[0]
    axes = sorted(a % (data.ndim + len(_axes(inputs, attrs, 1))) for a in _axes(inputs, attrs, 1))
    for axis in axes:
        data = np.expand_dims(data, axis)
    return [data]


def _squeeze(inputs, attrs):
    axes = _axes(inputs, attrs, 1)
    return [np.squeeze(inputs[0], axis=None if axes is None else tuple(axes))]


def _reduce(fn):
    def run(inputs, attrs):
        axes = _axes(inputs, attrs, 1)
        if axes == [] and attrs.get("noop_with_empty_axes", 0):
            return [inputs[0]]
        keep = bool(attrs.get("keepdims", 1))
        return [fn(inputs[0], axis=None if not axes else tuple(axes), keepdims=keep)]
    return run


def _constant_of_shape(inputs, attrs):
    shape = _guard(inputs[0].reshape(-1))
    value = attrs.get("value")
    fill = onnx.numpy_helper.to_array(value).reshape(-1)[0] if value is not None else np.float32(0)
    return [np.full(shape, fill, dtype=np.asarray(fill).dtype)]


def _range(inputs, attrs):
    start, limit, delta = (np.asarray(x).reshape(()) for x in inputs)
    count = max(int(np.ceil((limit - start) / delta)), 0)
    _guard([count])
    return [np.arange(start, limit, delta).astype(np.result_type(start, limit, delta))]


def _expand(inputs, attrs):
    shape = _guard(np.broadcast_shapes(inputs[0].shape, tuple(int(d) for d in inputs[1].reshape(-1))))
    return [np.broadcast_to(inputs[0], shape).copy()]


def _tile(inputs, attrs):
    repeats = [int(r) for r in inputs[1].reshape(-1)]
    _guard([d * r for d, r in zip(inputs[0].shape, repeats)])
    return [np.tile(inputs[0], repeats)]


def _cast(inputs, attrs):
    return [inputs[0].astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))]


def _concat(inputs, attrs):
    _guard_total(inputs)
    return [np.concatenate([np.atleast_1d(x) for x in inputs], axis=attrs.get("axis", 0))]


def _gather(inputs, attrs):
    data, indices = inputs
    axis = attrs.get("axis", 0) % max(np.ndim(data), 1)
    _guard([*np.shape(data)[:axis], *np.shape(indices), *np.shape(data)[axis + 1:]])
    return [np.take(inputs[0], inputs[1].astype(np.int64), axis=attrs.get("axis", 0))]


def _where(inputs, attrs):
    _guard(np.broadcast_shapes(*(x.shape for x in inputs)))
    return [np.where(*inputs)]


def _transpose(inputs, attrs):
    return [np.transpose(inputs[0], attrs.get("perm"))]


def _flatten(inputs, attrs):
    data = inputs[0]
    axis = attrs.get("axis", 1) % (data.ndim + 1) if data.ndim else 0
    return [data.reshape(numel(data.shape[:axis]), numel(data.shape[axis:]))]


EVALUATORS: dict[str, Evaluator] = {
    "Identity": lambda i, a: [i[0]],
    "Cast": _cast,
    "CastLike": lambda i, a: [i[0].astype(i[1].dtype)],
    "Gather": _gather,
    "Slice": _slice,
    "Concat": _concat,
    "Reshape": _reshape,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Flatten": _flatten,
    "Transpose": _transpose,
    "Add": _broadcasting(np.add),
    "Sub": _broadcasting(np.subtract),
    "Mul": _broadcasting(np.multiply),
    "Div": _broadcasting(_int_div),
    "Mod": _mod,
    "Neg": lambda i, a: [np.negative(i[0])],
    "Abs": lambda i, a: [np.abs(i[0])],
    "Sign": lambda i, a: [np.sign(i[0])],
    "Floor": lambda i, a: [np.floor(i[0])],
    "Ceil": lambda i, a: [np.ceil(i[0])],
    "Sqrt": lambda i, a: [np.sqrt(i[0])],
    "Pow": _broadcasting(np.power),
    "Min": _broadcasting(lambda *xs: functools.reduce(np.minimum, xs)),  # pairwise: never all inputs at once
    "Max": _broadcasting(lambda *xs: functools.reduce(np.maximum, xs)),
    "Equal": _broadcasting(np.equal),
    "Less": _broadcasting(np.less),
    "LessOrEqual": _broadcasting(np.less_equal),
    "Greater": _broadcasting(np.greater),
    "GreaterOrEqual": _broadcasting(np.greater_equal),
    "Not": lambda i, a: [np.logical_not(i[0])],
    "And": _broadcasting(np.logical_and),
    "Or": _broadcasting(np.logical_or),
    "Xor": _broadcasting(np.logical_xor),  # the sign test of floor division as PyTorch exports it
    "Where": _where,
    "Range": _range,
    "ConstantOfShape": _constant_of_shape,
    "Expand": _expand,
    "Tile": _tile,
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMin": _reduce(np.min),
    "ReduceMax": _reduce(np.max),
}


def fold(
    nodes: list[onnx.NodeProto],
    values: dict[str, np.ndarray],
    static_shapes: Mapping[str, tuple[int, ...]],
) -> list[onnx.NodeProto]:
    """Evaluate, in order, every node computable from ``values``; returns the folded nodes.

    ``values`` (known small tensors) is extended in place. ``static_shapes``
    gives the fully known shapes, which is all Shape and Size need.
    """
    folded = []
    for node in nodes:
        if node.domain not in ("", "ai.onnx") or any(out in values for out in node.output if out):
            continue
        outputs = _evaluate(node, values, static_shapes)
        if outputs is None or len(outputs) < len(node.output):
            continue
        for name, value in zip(node.output, outputs):
            if name:
                values[name] = np.asarray(value)
        folded.append(node)
    return folded


def evaluate(node: onnx.NodeProto, values: Mapping[str, np.ndarray],
             static_shapes: Mapping[str, tuple[int, ...]]) -> list[np.ndarray] | None:
    """The outputs of one standard-domain ``node`` computed from ``values`` (Shape and Size from
    ``static_shapes``), or None when an input is unknown, the op is not one evaluated here, or a result would be
    too large."""
    if node.domain not in ("", "ai.onnx"):
        return None
    outputs = _evaluate(node, values, static_shapes)
    return None if outputs is None or len(outputs) < len(node.output) else outputs


def evaluate_with_reference(node: onnx.NodeProto, values: Mapping[str, np.ndarray],
                            opset: int) -> list[np.ndarray] | None:
    """The outputs of ``node`` computed by onnx's reference implementation, for an op ``evaluate`` does not know,
    when every input is a known value. The caller has checked that the outputs' shapes are known and small; random
    ops and ops without inputs are never run. None when the reference raises or a result is not a number."""
    names = [name for name in node.input if name]
    if not names or any(name not in values for name in names) or node.op_type in _NOT_REPEATABLE:
        return None
    from onnx.reference import ReferenceEvaluator  # imported only when an exporter used such an op for shapes

    graph = helper.make_graph(
        [node], "one_node", [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(values[n].dtype),
                                                           values[n].shape) for n in dict.fromkeys(names)],
        [helper.make_tensor_value_info(n, 0, None) for n in node.output if n])
    try:
        with np.errstate(all="ignore"):
            evaluator = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]))
            outputs = evaluator.run(None, {n: values[n] for n in names})
    except Exception:  # any input the op rejects: left unknown
        logger.debug("reference evaluation failed: node '%s' (%s)", node.name, node.op_type, exc_info=True)
        return None
    outputs = [np.asarray(out) for out in outputs]
    if any(out.size > MAX_FOLDED_ELEMENTS or out.dtype.kind not in "biuf" for out in outputs):
        return None
    return outputs


_NOT_REPEATABLE = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}


def _evaluate(node, values, static_shapes) -> list | None:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type in ("Shape", "Size"):
        shape = static_shapes.get(node.input[0])
        if shape is None:
            return None
        if node.op_type == "Size":
            return [np.array(numel(shape), dtype=np.int64)]
        start, end = attrs.get("start", 0), attrs.get("end", None)
        return [np.array(shape[start:end], dtype=np.int64)]
    evaluator = EVALUATORS.get(node.op_type)
    if evaluator is None:
        return None
    inputs = []
    for name in node.input:
        if not name:
            inputs.append(None)
        elif name in values:
            inputs.append(values[name])
        else:
            return None
    try:
        with np.errstate(all="ignore"):
            outputs = evaluator(inputs, attrs)
    except Exception:  # an input the op rejects: leave the node to shape inference
        logger.debug("not folded: node '%s' (%s)", node.name, node.op_type, exc_info=True)
        return None
    outputs = [np.asarray(out) for out in outputs]
    if any(out.size > MAX_FOLDED_ELEMENTS or out.dtype.kind not in "biuf" for out in outputs):
        return None  # too large, or inputs of mixed kinds a valid model would not have
    return outputs


def propagation_bound(model: onnx.ModelProto, nested: bool = True, table: walk.NodeTable | None = None) -> int:
    """An upper bound of the elements of any value computed from the model's constants and shapes (what onnx's
    data propagation materializes), from dims alone, before anything is evaluated.

    A value starts at a stored constant whose data the skeleton keeps, at a Size (one element) or at a Shape (at
    most the largest rank in the model: a declared one, or the length of a Reshape's, Expand's or
    ConstantOfShape's shape value). A node all of whose inputs are values computes one: a Concat the sum of its
    inputs, any other op at most the largest of them (data propagation handles 1-D values). Anything computed
    from an activation is none. ``nested=False``: the main graph holds no subgraph (``walk.nests``); ``table``: its
    ``walk.NodeTable`` then, when the caller has one.
    """
    from .skeleton import keeps_data

    graphs = list(walk.graphs(model.graph, nested))
    sizes: dict[str, int] = {}
    vectors: set[str] = set()  # values known to be 1-D (shapes, their Concats, 1-D constants)
    rank = 1
    for graph in graphs:
        for value in [*graph.input, *graph.output, *graph.value_info]:
            if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape"):
                rank = max(rank, len(value.type.tensor_type.shape.dim))
        for tensor in graph.initializer:
            rank = max(rank, len(tensor.dims))
            if keeps_data(tensor):
                sizes[tensor.name] = numel(tensor.dims)
                if len(tensor.dims) == 1:
                    vectors.add(tensor.name)
    table = table if table is not None and not nested else None
    if not sizes and not (any(f[0] in ("Shape", "Size") for f in table.fields) if table is not None else
                          any(node.op_type in ("Shape", "Size") for graph in graphs for node in graph.node)):
        return 0  # nothing to propagate (the common case of a graph without shape subgraphs)
    for graph in graphs:
        nodes, in_order = _read_nodes(graph) if table is None else _from_table(table)
        if not in_order:
            from .structure import topological_order  # networkx: only for the rare graph stored out of order

            outer = {name for other in graphs for n in other.node for name in n.output}
            outer |= {value.name for other in graphs for value in [*other.input, *other.initializer]}
            nodes = [(n.op_type, n.domain, [name for name in n.input if name], list(n.output))
                     for n in topological_order(graph, outer)]
        for op_type, domain, inputs, outputs in nodes:
            if domain not in ("", "ai.onnx"):
                continue
            slot = _SHAPE_SLOTS.get(op_type)
            if slot is not None and len(inputs) > slot:
                rank = max(rank, sizes.get(inputs[slot], 0))  # its output has as many dims as that value has elements
            # Most nodes read an activation, and compute no value: their first input tells, without a call per node.
            if op_type == "Shape" or op_type == "Size" or (inputs and inputs[0] in sizes):
                size = _value_bound(op_type, inputs, sizes, rank, vectors)
                if size is not None:
                    sizes.update((name, size) for name in outputs if name)
            if op_type == "Shape" or op_type == "Concat" and any(name in vectors for name in inputs):
                vectors.update(outputs)
    return max(sizes.values(), default=0)


_SHAPE_SLOTS = {"Reshape": 1, "Expand": 1, "ConstantOfShape": 0}


def _value_bound(op_type: str, inputs: list[str], sizes: dict[str, int], rank: int, vectors: set[str]) -> int | None:
    if op_type == "Shape":
        return rank
    if op_type == "Size":
        return 1
    if not inputs or any(name not in sizes for name in inputs):
        return None
    if op_type == "Concat":
        return sum(sizes[name] for name in inputs)
    if op_type == "Gather" and len(inputs) == 2 and inputs[0] in vectors:
        return sizes[inputs[1]]  # from a 1-D value, one element per index: x.size(i) is 1, not the rank
    return max(sizes[name] for name in inputs)


def _from_table(table: walk.NodeTable) -> tuple[list[tuple], bool]:
    """``_read_nodes`` from fields already read."""
    if table.in_order:  # the checker's sort found it so
        return [(op_type, domain, [name for name in inputs if name], outputs)
                for op_type, domain, _, inputs, outputs in table.fields], True
    return _in_stored_order((op_type, domain, inputs, outputs) for op_type, domain, _, inputs, outputs in table.fields)


def _read_nodes(graph: onnx.GraphProto) -> tuple[list[tuple], bool]:
    """(op type, domain, inputs given, outputs) of every node of ``graph`` as stored, each node's fields read once, and
    whether no node reads a tensor a later node produces (``_in_stored_order``)."""
    return _in_stored_order((node.op_type, node.domain, node.input, list(node.output)) for node in graph.node)


def _in_stored_order(fields) -> tuple[list[tuple], bool]:
    """(op type, domain, inputs given, outputs) per (op type, domain, inputs, outputs) of ``fields``, and whether the
    nodes are in order, found in the same pass: a name read before any node made it is pending; the graph is in
    order when no node makes a pending name."""
    nodes = []
    made: set[str] = set()
    pending: set[str] = set()
    for op_type, domain, inputs, outputs in fields:
        inputs = [name for name in inputs if name]
        pending.update(name for name in inputs if name not in made)
        made.update(outputs)
        nodes.append((op_type, domain, inputs, outputs))
    return nodes, pending.isdisjoint(made)
