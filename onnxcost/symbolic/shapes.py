"""Every tensor's shape as polynomials in the model's free dimensions, each dimension checked against inference.

The concrete pipeline (``onnxcost.shapes``) knows every shape once the free dimensions have values. Here the graph
is walked once in order, carrying each dimension as a ``Poly`` and the small integer tensors that shapes are
computed from (Shape → Gather → Concat → Reshape) as arrays of ``Poly``. Ops whose output sizes are arithmetic on
their inputs' have a rule (Conv and pools with their floor, ConvTranspose, Concat, Reshape with 0 and -1, Flatten,
Slice, Pad, Resize, Split, Range, Tile, Expand, DepthToSpace, SpaceToDepth); every other output dimension is the
one of its inputs' dimensions or shape values that takes the same values.

Nothing is taken on trust: the concrete pipeline also runs with the free dimensions set to two probes (64 times
distinct primes, ``probe_bindings``), and a dimension's polynomial is kept only when it equals the concrete dimension
at both (at the report's own values, where free dimensions are 1, a strided model's sizes can be degenerate: that is
said, not checked). A dimension nothing explains leaves its tensor without a symbolic shape; the nodes that
read it get no formula, and the first of them is named.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from .. import walk
from ..shapes import ShapeResult, TensorType
from ..structure import defined_names, topological_order
from ..tensors import INTEGER_TYPES
from .poly import Poly, evaluate, floor_div, identifier

# Two bindings of the free dimensions: 64 times distinct odd primes. Multiples of 64 because FPN-like models (a
# detector's upsampled map added to the one before it) only work at sizes their total stride divides; distinct
# primes so that no constant of the model equals a free dimension's product with another.
PROBE_PRIMES = ((17, 19, 23, 29, 31, 37, 41, 43), (47, 53, 59, 61, 67, 71, 73, 79))
PROBE_MULTIPLE = 64
MAX_VALUE_ELEMENTS = 64  # shape vectors and scalars; larger integer tensors are data, not shapes
SLICE_END = 2**31 - 1  # ends at or past this mean "to the end" (exporters write INT64_MAX, INT32_MAX)


def probe_bindings(symbols: Sequence[str]) -> list[dict[str, int]]:
    """The two bindings the free dimensions are checked at (past eight dimensions, other multiples of 64)."""
    return [{name: PROBE_MULTIPLE * (primes[i % len(primes)] + 100 * (i // len(primes))) for i, name in enumerate(symbols)}
            for primes in PROBE_PRIMES]


@dataclass
class SymbolicShapes:
    """Tensor name -> TensorType whose dims are ints or ``Poly`` (only tensors whose every dim was explained)."""

    symbols: list[str]
    types: dict[str, TensorType]
    values: dict[str, np.ndarray]  # small integer tensors as object arrays of int | Poly
    degenerate: str = ""  # the first tensor whose size at the report's own values differs from its formula's


class _Points:
    """The concrete shapes and values at the report's own binding and at each probe."""

    def __init__(self, primary: ShapeResult, primary_dims: Mapping[str, int],
                 probes: Sequence[tuple[ShapeResult, Mapping[str, int]]]):
        self.results = [primary, *(result for result, _ in probes)]
        self.dims = [dict(primary_dims), *(dict(d) for _, d in probes)]
        self.own: dict = {}
        self.probed: dict = {}

    def at_probes(self, expr) -> tuple[int, ...]:
        """``expr``'s values at the probes, remembered (a shape's dimension is explained by the same values)."""
        found = self.probed.get(expr)
        if found is None:
            found = self.probed[expr] = tuple(evaluate(expr, dims) for dims in self.dims[1:])
        return found

    def at_own(self, expr) -> int:
        """``expr`` at the report's own binding, remembered: the same dims recur everywhere."""
        found = self.own.get(expr)
        if found is None:
            found = self.own[expr] = evaluate(expr, self.dims[0])
        return found

    def value_fits(self, name: str, value: np.ndarray) -> bool:
        """Whether the symbolic value equals every concrete value inference found for ``name``."""
        for result, dims in zip(self.results[1:], self.dims[1:]):
            concrete = result.values.get(name)
            if concrete is None:
                continue
            if np.shape(concrete) != value.shape:
                return False
            if any(evaluate(v, dims) != int(c) for v, c in zip(value.reshape(-1), np.asarray(concrete).reshape(-1))):
                return False
        return True


def symbolic_shapes(skeleton: onnx.ModelProto, symbols: Sequence[str], bound: Mapping[str, int],
                    primary: ShapeResult, probes: Sequence[tuple[ShapeResult, Mapping[str, int]]],
                    order: Sequence[onnx.NodeProto] | None = None) -> SymbolicShapes:
    """Symbolic shapes for ``skeleton`` (not edited) whose free dimensions ``symbols`` were set to 1 in ``primary``
    and to each probe's binding in ``probes``; ``bound`` are the dimensions the user gave. ``order``: the main
    graph's nodes in order, when known (those of a copy of the graph do as well)."""
    free = {name: identifier(name) for name in symbols}  # a dim_param as the name formulas call it
    points = _Points(primary, {free[s]: 1 for s in symbols},
                     [(result, {free[s]: v for s, v in binding.items()}) for result, binding in probes])
    state = SymbolicShapes([free[s] for s in symbols], {}, {})
    for sub in walk.graphs(skeleton.graph):
        for tensor in sub.initializer:
            state.types[tensor.name] = TensorType(tensor.data_type, tuple(tensor.dims))
            if tensor.name in primary.values:
                state.values[tensor.name] = _objects(primary.values[tensor.name])
    for value in skeleton.graph.input:
        if value.name in state.types:
            continue
        dims = _declared(value, free, bound)
        concrete = primary.types.get(value.name)
        if concrete is not None and dims is not None:
            state.types[value.name] = TensorType(concrete.elem_type, dims)
    _walk(skeleton.graph, set(), state, points, primary, order)
    return state


def _declared(value: onnx.ValueInfoProto, free: set[str], bound: Mapping[str, int]) -> tuple | None:
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims = []
    for dim in tensor_type.shape.dim:
        kind = dim.WhichOneof("value")
        if kind == "dim_param" and dim.dim_param in free:
            dims.append(Poly.symbol(free[dim.dim_param]))
        elif kind == "dim_param" and dim.dim_param in bound:
            dims.append(int(bound[dim.dim_param]))
        elif kind == "dim_value":
            dims.append(int(dim.dim_value))
        else:
            return None
    return tuple(dims)


def _objects(array) -> np.ndarray:
    """A small integer tensor (or float constant: Resize's scales) as an object array of Python numbers."""
    array = np.asarray(array)
    if array.dtype.kind not in "iubf" or array.size > MAX_VALUE_ELEMENTS:
        return None
    return array.astype(object)


def _walk(graph: onnx.GraphProto, outer: set[str], state: SymbolicShapes, points: _Points,
          primary: ShapeResult, order: Sequence[onnx.NodeProto] | None = None) -> None:
    visible = set(outer) | defined_names(graph)
    for sub_input in graph.input:  # a subgraph's inputs: explained by their own values at every point, if at all
        if sub_input.name not in state.types and outer:
            _explain(sub_input.name, list, state, points, primary)
    for node in order if order is not None else topological_order(graph, outer):
        inner: list = []
        for _, sub in walk.subgraphs(node):  # first: an If's or a Loop's outputs are its subgraphs' outputs
            _walk(sub, visible, state, points, primary)
            for value in sub.output:
                tensor = state.types.get(value.name)
                if tensor is not None and tensor.shape is not None:
                    inner.extend(d for d in tensor.shape if isinstance(d, Poly))
        _node(node, state, points, primary, inner)
        visible.update(node.output)


def _node(node: onnx.NodeProto, state: SymbolicShapes, points: _Points, primary: ShapeResult,
          inner: Sequence = ()) -> None:
    op = node.op_type if node.domain in ("", "ai.onnx") else None
    inputs, outputs = list(node.input), list(node.output)  # each read of a protobuf field makes new objects
    value_rule, shape_rule = VALUE_RULES.get(op), SHAPE_RULES.get(op)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute} if value_rule or shape_rule else {}
    if op == "Constant":
        for name in outputs:
            if name in primary.values:
                state.values[name] = _objects(primary.values[name])
    types, values = state.types, state.values
    ins_types = [types.get(n) if n else None for n in inputs]
    ins_values = [values.get(n) if n else None for n in inputs]
    if value_rule is not None and outputs and op != "Constant":
        try:
            value = value_rule(ins_types, ins_values, attrs)
        except Exception:  # the rule does not apply (a symbolic operand it cannot take): no value, shapes still checked
            value = None
        if value is not None:
            value = np.asarray(value, dtype=object)
            if value.size <= MAX_VALUE_ELEMENTS and points.value_fits(outputs[0], value):
                values[outputs[0]] = value
    if outputs and outputs[0] not in values and outputs[0] in primary.values:
        constant = _constant_value(outputs[0], points)
        if constant is not None:
            values[outputs[0]] = constant
    proposed: list = []
    if shape_rule is not None:
        try:
            proposed = shape_rule(ins_types, ins_values, attrs)
        except Exception:  # the rule does not apply here; matching may still explain the dims
            proposed = []
    def candidates() -> list:
        found = list(inner)
        for tensor in ins_types:
            if tensor is not None and tensor.shape is not None:
                found.extend(d for d in tensor.shape if isinstance(d, Poly))
        for value in ins_values:
            if value is not None:
                found.extend(v for v in value.reshape(-1) if isinstance(v, Poly))
        return found

    for index, name in enumerate(outputs):
        if name and name not in types:
            _explain(name, candidates, state, points, primary, proposed[index] if index < len(proposed) else None)


def _constant_value(name: str, points: _Points) -> np.ndarray | None:
    """The tensor's concrete value when it is the same at every point (it does not depend on the free dims)."""
    found = [r.values.get(name) for r in points.results]
    return _objects(found[0]) if same_everywhere(found) else None


def same_everywhere(found: Sequence) -> bool:
    """Whether a tensor's values at each point (None: not known there) are all known and all equal."""
    return all(v is not None for v in found) and all(
        v is found[0] or np.shape(v) == np.shape(found[0]) and np.array_equal(v, found[0]) for v in found[1:])


def _explain(name: str, candidates: Callable[[], list], state: SymbolicShapes, points: _Points,
             primary: ShapeResult, proposed: Sequence | None = None) -> None:
    """Give ``name`` a symbolic shape when every dimension is explained; else leave it without one (the nodes that
    read or write it get no formula, ``figures``). ``candidates`` lists the dims of the node's inputs."""
    shapes = []
    for index, result in enumerate(points.results):
        tensor = result.types.get(name)
        if tensor is None or tensor.shape is None or index and name in result.assumed:
            return  # unknown somewhere, or set to 1 at a probe: not explained
        shapes.append(tensor.shape)
    rank = len(shapes[0])
    if any(len(shape) != rank for shape in shapes):
        return
    if all(shape == shapes[1] for shape in shapes[2:]):  # the same at every probe: constants (a shape, a weight)
        if shapes[0] != shapes[1] and not state.degenerate:
            state.degenerate = name
        state.types[name] = TensorType(primary.types[name].elem_type, shapes[1])
        return
    dims = []
    by_values = None
    for axis, (own, *probed) in enumerate(zip(*shapes)):
        column = tuple(probed)
        if column.count(column[0]) == len(column):  # the same at both probes: a constant
            found = column[0]
        else:
            guess = proposed[axis] if proposed is not None and axis < len(proposed) else None
            if type(guess) is Poly and points.at_probes(guess) == column:
                found = guess
            else:  # the first of the inputs' dimensions that takes these values
                if by_values is None:
                    by_values = {}
                    for candidate in candidates():
                        if type(candidate) is Poly:
                            by_values.setdefault(points.at_probes(candidate), candidate)
                found = by_values.get(column)
                if found is None:
                    return
        if not state.degenerate and points.at_own(found) != own:
            state.degenerate = name  # at the report's own values this tensor is not what the formulas say
        dims.append(found)
    state.types[name] = TensorType(primary.types[name].elem_type, tuple(dims))


# --- value rules: small integer tensors (shape vectors) as object arrays ------

def _shape_of(types, index: int) -> tuple:
    tensor = types[index]
    if tensor is None or tensor.shape is None:
        raise ValueError("unknown shape")
    return tensor.shape


def _value(values, index: int) -> np.ndarray:
    if index >= len(values) or values[index] is None:
        raise ValueError("unknown value")
    return values[index]


def _ints(values, index: int) -> list[int]:
    return [int(v) for v in _value(values, index).reshape(-1)]


def _axes_of(values, attrs, index: int) -> list[int] | None:
    if index < len(values) and values[index] is not None:
        return _ints(values, index)
    return list(attrs["axes"]) if "axes" in attrs else None


def _shape_value(types, values, attrs):
    dims = _shape_of(types, 0)
    start, end = attrs.get("start", 0), attrs.get("end", len(dims))
    return np.array(list(dims[start:end]) or [], dtype=object).reshape(-1)


def _gather_value(types, values, attrs):
    indices = np.asarray(_value(values, 1)).astype(np.int64)
    return np.take(_value(values, 0), indices, axis=attrs.get("axis", 0))


def _unsqueeze_value(types, values, attrs):
    data = _value(values, 0)
    axes = sorted(a % (data.ndim + len(_axes_of(values, attrs, 1))) for a in _axes_of(values, attrs, 1))
    for axis in axes:
        data = np.expand_dims(data, axis)
    return data


def _squeeze_value(types, values, attrs):
    data = _value(values, 0)
    axes = _axes_of(values, attrs, 1)
    return np.squeeze(data, axis=tuple(axes) if axes is not None else None)


def _slice_value(types, values, attrs):
    data = _value(values, 0)
    if data.ndim != 1:
        raise ValueError("only 1-D values are sliced")
    starts, ends = (_ints(values, 1), _ints(values, 2)) if len(values) > 2 else (attrs["starts"], attrs["ends"])
    steps = _ints(values, 4) if len(values) > 4 and values[4] is not None else [1]
    return data[slice(starts[0], ends[0], steps[0])]


def _truncating_div(a, b):
    if isinstance(a, Poly) or isinstance(b, Poly):
        return floor_div(a, b)  # dimensions are non-negative: truncation is the floor
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def _cast_value(types, values, attrs):
    """Integers stay what they are; cast to float they are carried as the integers they equal (YOLOv8's anchor grid
    is a float Range over a size)."""
    value = _value(values, 0)
    if attrs["to"] in INTEGER_TYPES or all(isinstance(v, (int, Poly)) for v in value.reshape(-1)):
        return value
    return None


def _integral(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _elementwise(fn: Callable) -> Callable:
    ufunc = np.frompyfunc(fn, 2, 1)

    def rule(types, values, attrs):
        return ufunc(_value(values, 0), _value(values, 1))
    return rule


def _mod(a, b):
    return a % b


VALUE_RULES: dict[str, Callable] = {
    "Shape": _shape_value,
    "Size": lambda types, values, attrs: np.array(math.prod(_shape_of(types, 0)), dtype=object),
    "Gather": _gather_value,
    "Unsqueeze": _unsqueeze_value,
    "Squeeze": _squeeze_value,
    "Concat": lambda types, values, attrs: np.concatenate([_value(values, i) for i in range(len(values))],
                                                          axis=attrs["axis"]),
    "Identity": lambda types, values, attrs: _value(values, 0),
    "Cast": _cast_value,
    "Reshape": lambda types, values, attrs: _value(values, 0).reshape(_ints(values, 1)),
    "Flatten": lambda types, values, attrs: _value(values, 0).reshape(-1),
    "Slice": _slice_value,
    "Add": _elementwise(lambda a, b: a + b),
    "Sub": _elementwise(lambda a, b: a - b),
    "Mul": _elementwise(lambda a, b: a * b),
    "Div": _elementwise(_truncating_div),
    "Mod": _elementwise(_mod),
    "Neg": lambda types, values, attrs: -_value(values, 0),
    "Equal": _elementwise(lambda a, b: a == b),
    "Where": lambda types, values, attrs: np.where(_value(values, 0).astype(bool), _value(values, 1), _value(values, 2)),
}


# --- shape rules: output dims as arithmetic on the inputs' ------------------

def _windowed(types, values, attrs):
    """Conv and the pools: each spatial output is floor((in + pads - dilation·(k - 1) - 1) / stride) + 1."""
    shape = _shape_of(types, 0)
    spatial = len(shape) - 2
    kernel = attrs.get("kernel_shape") or list(_shape_of(types, 1)[2:])
    strides = attrs.get("strides") or [1] * spatial
    dilations = attrs.get("dilations") or [1] * spatial
    pads = attrs.get("pads") or [0] * (2 * spatial)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    out = [None, None]
    for axis in range(spatial):
        size, stride = shape[2 + axis], strides[axis]
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(floor_div(size + stride - 1, stride))
            continue
        span = dilations[axis] * (kernel[axis] - 1) + 1
        total = size + (0 if auto_pad == "VALID" else pads[axis] + pads[axis + spatial]) - span
        if attrs.get("ceil_mode", 0):
            total = total + stride - 1
        out.append(floor_div(total, stride) + 1)
    return [out]


def _conv_transpose(types, values, attrs):
    shape, weight = _shape_of(types, 0), _shape_of(types, 1)
    spatial = len(shape) - 2
    if attrs.get("output_shape"):
        return [[None, None, *attrs["output_shape"]]]
    strides = attrs.get("strides") or [1] * spatial
    dilations = attrs.get("dilations") or [1] * spatial
    pads = attrs.get("pads") or [0] * (2 * spatial)
    extra = attrs.get("output_padding") or [0] * spatial
    out = [None, None]
    for axis in range(spatial):
        kernel = weight[2 + axis]
        out.append(strides[axis] * (shape[2 + axis] - 1) + extra[axis] + (kernel - 1) * dilations[axis] + 1
                   - pads[axis] - pads[axis + spatial])
    return [out]


def _concat(types, values, attrs):
    shapes = [_shape_of(types, i) for i in range(len(types))]
    axis = attrs["axis"] % len(shapes[0])
    out: list = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return [out]


def _reshape(types, values, attrs):
    data, target = _shape_of(types, 0), list(_value(values, 1).reshape(-1))
    out = [data[i] if (isinstance(t, int) and t == 0 and not attrs.get("allowzero", 0)) else t
           for i, t in enumerate(target)]
    unknown = [i for i, t in enumerate(out) if isinstance(t, int) and t == -1]
    if unknown:
        known = math.prod(t for i, t in enumerate(out) if i != unknown[0])
        out[unknown[0]] = floor_div(math.prod(data), known)
    return [out]


def _flatten(types, values, attrs):
    shape = _shape_of(types, 0)
    axis = attrs.get("axis", 1) % (len(shape) + 1) if shape else 0
    return [[math.prod(shape[:axis]), math.prod(shape[axis:])]]


def _slice(types, values, attrs):
    shape = list(_shape_of(types, 0))
    if len(values) > 2:
        starts, ends = list(_value(values, 1).reshape(-1)), list(_value(values, 2).reshape(-1))
        axes = _ints(values, 3) if len(values) > 3 and values[3] is not None else list(range(len(starts)))
        steps = _ints(values, 4) if len(values) > 4 and values[4] is not None else [1] * len(starts)
    else:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes") or list(range(len(starts)))
        steps = [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= len(shape)
        size = shape[axis]
        if step < 0 or not isinstance(size, Poly):
            continue  # a constant axis is matched; reversed slices of free dims are left to matching
        start = size + start if isinstance(start, int) and start < 0 else start
        end = size if isinstance(end, int) and end >= SLICE_END else size + end if isinstance(end, int) and end < 0 else end
        shape[axis] = floor_div(end - start + step - 1, step)
    return [shape]


def _pad(types, values, attrs):
    shape = list(_shape_of(types, 0))
    pads = _ints(values, 1) if len(values) > 1 and values[1] is not None else list(attrs["pads"])
    axes = _ints(values, 3) if len(values) > 3 and values[3] is not None else list(range(len(shape)))
    for i, axis in enumerate(axes):
        shape[axis % len(shape)] = shape[axis % len(shape)] + pads[i] + pads[i + len(axes)]
    return [shape]


def _resize(types, values, attrs):
    shape = _shape_of(types, 0)
    if len(values) > 3 and values[3] is not None and values[3].size:
        return [list(values[3].reshape(-1))]
    scales_index = 2 if len(values) > 2 else 1
    scales = [float(s) for s in _value(values, scales_index).reshape(-1)]  # float scales, kept as constants
    out = []
    for size, scale in zip(shape, scales):
        if scale == int(scale):
            out.append(size * int(scale))
        elif (1 / scale) == int(1 / scale):
            out.append(floor_div(size, int(1 / scale)))
        else:
            out.append(None)
    return [out]


def _split(types, values, attrs):
    shape = _shape_of(types, 0)
    axis = attrs.get("axis", 0) % len(shape)
    pieces = _ints(values, 1) if len(values) > 1 and values[1] is not None else attrs.get("split")
    outputs = attrs.get("num_outputs") or (len(pieces) if pieces else None)
    result = []
    for i in range(outputs or 0):
        out = list(shape)
        out[axis] = pieces[i] if pieces else floor_div(shape[axis], outputs)
        result.append(out)
    return result


def _range(types, values, attrs):
    start, limit, delta = (_integral(_value(values, i).reshape(()).item()) for i in range(3))
    if not isinstance(delta, int) or delta <= 0:
        raise ValueError("only positive integer steps")
    return [[floor_div(limit - start + delta - 1, delta)]]


def _tile(types, values, attrs):
    return [[d * r for d, r in zip(_shape_of(types, 0), _value(values, 1).reshape(-1))]]


def _expand(types, values, attrs):
    shape, target = list(_shape_of(types, 0)), list(_value(values, 1).reshape(-1))
    rank = max(len(shape), len(target))
    shape, target = [1] * (rank - len(shape)) + shape, [1] * (rank - len(target)) + target
    return [[t if isinstance(s, int) and s == 1 else s for s, t in zip(shape, target)]]


def _depth_to_space(types, values, attrs):
    n, c, h, w = _shape_of(types, 0)
    b = attrs["blocksize"]
    return [[n, floor_div(c, b * b), h * b, w * b]]


def _space_to_depth(types, values, attrs):
    n, c, h, w = _shape_of(types, 0)
    b = attrs["blocksize"]
    return [[n, c * b * b, floor_div(h, b), floor_div(w, b)]]


def _constant_of_shape(types, values, attrs):
    return [list(_value(values, 0).reshape(-1))]


SHAPE_RULES: dict[str, Callable] = {
    "Conv": _windowed, "MaxPool": _windowed, "AveragePool": _windowed, "LpPool": _windowed,
    "ConvInteger": _windowed, "QLinearConv": _windowed,
    "ConvTranspose": _conv_transpose,
    "Concat": _concat,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Slice": _slice,
    "Pad": _pad,
    "Resize": _resize, "Upsample": _resize,
    "Split": _split,
    "Range": _range,
    "Tile": _tile,
    "Expand": _expand,
    "DepthToSpace": _depth_to_space,
    "SpaceToDepth": _space_to_depth,
    "ConstantOfShape": _constant_of_shape,
}
