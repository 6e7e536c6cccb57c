"""Shapes for every tensor: user overrides, then inference until nothing more is learnt.

Order (see docs/conventions.md):
1. ``inputs`` / ``dims`` overrides are written into the graph's inputs; an
   input dimension nobody gave is set to 1 and named in a warning. Only then
   are the inputs' element counts checked (a zero dimension is legal: an
   empty tensor; a negative one arrives named, see skeleton.name_free_dims).
2. onnx shape inference with data propagation (without it when the values
   it would propagate could exceed 65,536 elements: it has no limit of its own,
   and neither has step 4, which is then skipped).
3. If shapes are still missing: one pass over the main graph in order,
   node by node, evaluates the shape-computing nodes with numpy and infers
   the other nodes' shapes with onnx's per-node inference given those values
   (a chain of Pads or Reshapes whose sizes depend on the shapes before them,
   as in window attention, is settled in that one pass). Then rounds: the
   shape subgraphs are evaluated, fed back as constants, and inference runs
   again, until no round learns anything new.
4. If shapes are still missing: onnxruntime's symbolic shape inference (not
   when a shape input or a rank is too long for it to handle in bounded time).
5. A dimension still unknown is set to 1; the tensors are named in a warning, and so is the first node
   (in order) whose inputs' shapes are known but whose outputs' are not: where inference stopped.

Errors name the ``inputs`` parameter (the CLI shows its flag); warnings are printed as they are and
name the command's flags (``--input``, ``--dim``).
"""

from __future__ import annotations

import sys
import warnings as python_warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import onnx
from onnx import numpy_helper

from . import walk
from .errors import InputSpecError, InvalidModelError, LazyLogger, first_line
from .shape_folding import MAX_FOLDED_ELEMENTS, evaluate, evaluate_with_reference, fold, propagation_bound
from .skeleton import keeps_data
from .structure import MAX_ELEMENTS, check_count, topological_order
from .tensors import numel

Dim = int | str | None
MAX_FOLD_ROUNDS = 8
# Longer shape vectors (and ranks) than any real model has; onnxruntime's symbolic inference makes one sympy
# symbol per dim of such a vector, without limit.
MAX_RANK = 64

logger = LazyLogger(__name__)


class TensorType(NamedTuple):
    """A tensor's element type (TensorProto enum) and shape (dimensions no inference could settle are 1). A named
    tuple: one is made for every tensor at every resolution, and formulas hash them (a tuple does both in C)."""

    elem_type: int
    shape: tuple[int, ...] | None  # None when even the rank is unknown


@dataclass
class ShapeResult:
    """Every tensor's type by name, the values known of small tensors, and what inference could not settle."""

    types: dict[str, TensorType]
    values: dict[str, np.ndarray]  # small tensors whose values are known (constants, folded shapes)
    warnings: list[str] = field(default_factory=list)
    assumed: set[str] = field(default_factory=set)  # tensors with a dimension no inference settled (set to 1)
    layout: _Layout | None = field(default=None, repr=False, compare=False)  # for resolve_shapes(like=...)


@dataclass(frozen=True)
class _Layout:
    """What inference reads of the graph, worked out once per graph and shared by its copies: whether it nests
    subgraphs, (name, op type) of every node output, the propagation bound and the small initializers' values."""

    nested: bool
    outputs: list[tuple[str, str]]
    bound: int
    constants: Mapping[str, np.ndarray]

    @staticmethod
    def of(model: onnx.ModelProto, nested: bool = True, table: walk.NodeTable | None = None) -> _Layout:
        graphs = list(walk.graphs(model.graph, nested))
        nested = len(graphs) > 1
        if table is not None and not nested:
            outputs = [(name, fields[0]) for fields in table.fields for name in fields[4] if name]
        else:
            outputs = [(name, node.op_type) for sub in graphs for node in sub.node for name in node.output if name]
        return _Layout(nested, outputs, propagation_bound(model, nested, table), _constant_values(model.graph))

    def graphs(self, graph: onnx.GraphProto):
        """``graph`` and its subgraphs: walked only when the model nests any (the walk reads every node)."""
        return walk.graphs(graph, self.nested)


def resolve_shapes(
    skeleton: onnx.ModelProto,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    like: ShapeResult | None = None,
    nested: bool | None = None,
    table: walk.NodeTable | None = None,
) -> ShapeResult:
    """Apply the overrides to ``skeleton`` (edited in place) and infer every tensor's shape. ``like``: the result
    of a copy of the same graph at other dims (its structure is not walked again). ``nested``: ``walk.nests`` of the
    main graph, when the caller knows it; ``table``: the main graph's ``walk.NodeTable``, when the caller has one."""
    warnings: list[str] = []
    layout = like.layout if like is not None else None
    if layout is not None:
        nested = layout.nested
    elif nested is None:
        nested = walk.nests(skeleton.graph)
    _apply_overrides(skeleton.graph, dict(inputs or {}), dict(dims or {}), warnings, walk.graphs(skeleton.graph, nested))
    layout = layout or _Layout.of(skeleton, nested, table)  # after the overrides: an input given with --input gets its rank
    data_prop = _propagation_is_bounded(layout.bound, warnings)
    raw = _collect(_onnx_infer(skeleton, warnings, data_prop), layout)
    values = dict(layout.constants)  # extended by folding
    if _missing(layout, raw):
        raw, values = _fold_and_infer(skeleton, raw, values, warnings, data_prop, layout)
        if _missing(layout, raw) and data_prop and _symbolic_is_bounded(skeleton.graph, raw, warnings):
            _merge(raw, _ort_symbolic(skeleton, values, warnings, layout))
    types, assumed = _finalize(skeleton.graph, raw, values, warnings, layout)
    return ShapeResult(types, values, warnings, assumed, layout)


# --- overrides --------------------------------------------------------------

def _apply_overrides(graph: onnx.GraphProto, inputs: dict, dims: dict, warnings: list[str], graphs) -> None:
    initializer_names = {t.name for t in graph.initializer}
    graph_inputs = {v.name: v for v in graph.input if v.name not in initializer_names}
    unknown = sorted(set(inputs) - set(graph_inputs))
    if unknown:
        raise InputSpecError(
            f"inputs names {', '.join(repr(n) for n in unknown)}, but the model's inputs are "
            f"{', '.join(repr(n) for n in graph_inputs) or 'none'}",
            parameter="inputs",
        )
    bindings = {name: int(value) for name, value in dims.items()}
    for name, shape in inputs.items():
        value = graph_inputs[name]
        declared = _dims(value)
        shape = [int(d) for d in shape]
        if any(d < 0 for d in shape):
            raise InputSpecError(f"inputs {name}: dimensions must be >= 0, got {shape}", parameter="inputs")
        if declared is not None and len(declared) != len(shape):
            raise InputSpecError(f"inputs {name}: the model declares rank {len(declared)}, got {len(shape)} dimensions",
                                 parameter="inputs")
        for old, new in zip(declared or [], shape):
            if isinstance(old, str):
                if bindings.setdefault(old, new) != new:
                    raise InputSpecError(f"dimension '{old}' is given as both {bindings[old]} and {new}")
        _set_shape(value, shape)
    used_symbols: set[str] = set()
    for value in graph_inputs.values():
        declared = _dims(value)
        if declared is None:
            warnings.append(f"input '{value.name}' has no declared shape; give it with --input {value.name}:DxDx...")
            continue
        for axis, dim in enumerate(declared):
            if isinstance(dim, str):
                used_symbols.add(dim)
                if dim not in bindings:
                    bindings[dim] = 1
                    warnings.append(
                        f"input '{value.name}': dimension '{dim}' is unknown; assumed 1 (give it with --dim {dim}=N)"
                    )
            elif dim is None:
                warnings.append(
                    f"input '{value.name}': dimension {axis} is unknown; assumed 1 "
                    f"(give the shape with --input {value.name}:DxDx...)"
                )
                value.type.tensor_type.shape.dim[axis].dim_value = 1
        check_count(f"input '{value.name}'", [bindings[d] if isinstance(d, str) else 1 if d is None else d
                                              for d in declared])
    for symbol in sorted(set(dims) - used_symbols):
        if symbol.startswith("trip_"):  # a Loop's trip count (analysis.trip_symbol): the analysis checks those
            continue
        warnings.append(f"--dim {symbol}: no model input has a dimension named '{symbol}'")
    for sub in graphs:
        for value in [*sub.input, *sub.output, *sub.value_info]:
            _bind(value, bindings)


def _dims(value: onnx.ValueInfoProto) -> list[Dim] | None:
    return _tensor_dims(value.type.tensor_type)


def _tensor_dims(tensor_type: onnx.TypeProto.Tensor) -> list[Dim] | None:
    if not tensor_type.HasField("shape"):
        return None
    out: list[Dim] = []
    for dim in tensor_type.shape.dim:
        value = dim.dim_value
        if value:  # set (unset, it reads 0): one read for the usual dimension, WhichOneof only for the others
            out.append(value)
            continue
        kind = dim.WhichOneof("value")
        out.append(value if kind == "dim_value" else dim.dim_param if kind == "dim_param" else None)
    return out


def _set_shape(value: onnx.ValueInfoProto, shape: Sequence[int]) -> None:
    tensor_shape = value.type.tensor_type.shape
    tensor_shape.ClearField("dim")
    for dim in shape:
        tensor_shape.dim.add().dim_value = dim


def _bind(value: onnx.ValueInfoProto, bindings: Mapping[str, int]) -> None:
    if not value.type.HasField("tensor_type"):
        return
    for dim in value.type.tensor_type.shape.dim:
        if dim.WhichOneof("value") == "dim_param" and dim.dim_param in bindings:
            dim.dim_value = bindings[dim.dim_param]


# --- inference --------------------------------------------------------------

def _propagation_is_bounded(bound: int, warnings: list[str]) -> bool:
    if bound <= MAX_FOLDED_ELEMENTS:
        return True
    warnings.append(f"the shape computations of the graph could reach {bound:,} elements (over {MAX_FOLDED_ELEMENTS:,}): "
                    "onnx's data propagation and onnxruntime's symbolic inference, which have no limit, are not run; "
                    "onnxcost's own evaluation refuses values past that size")
    return False


def _symbolic_is_bounded(graph: onnx.GraphProto, raw: Mapping, warnings: list[str]) -> bool:
    """Whether onnxruntime's symbolic inference may run: no rank, and no shape input of a Reshape, Expand,
    ConstantOfShape or Tile, longer than MAX_RANK."""
    slots = {"Reshape": 1, "Expand": 1, "ConstantOfShape": 0, "Tile": 1}
    long = [name for name, (_, dims) in raw.items() if dims is not None and len(dims) > MAX_RANK]
    for sub in walk.graphs(graph):
        for node in sub.node:
            slot = slots.get(node.op_type)
            if slot is not None and len(node.input) > slot:
                dims = raw.get(node.input[slot], (0, None))[1]
                if dims and len(dims) == 1 and isinstance(dims[0], int) and dims[0] > MAX_RANK:
                    long.append(node.input[slot])
    if long:
        warnings.append(f"onnxruntime symbolic shape inference not run: '{long[0]}' has more than {MAX_RANK} dimensions "
                        f"or gives a shape of more than {MAX_RANK}")
    return not long


def _onnx_infer(model: onnx.ModelProto, warnings: list[str], data_prop: bool = True) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=data_prop)
    except Exception:  # the C++ side raises several types
        logger.debug("onnx shape inference failed; trying again without the model's value_info", exc_info=True)
    # Exporters' value_info can contradict the overrides; infer without it.
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    for sub in walk.graphs(bare.graph):
        del sub.value_info[:]
    try:
        return onnx.shape_inference.infer_shapes(bare, check_type=False, strict_mode=False, data_prop=data_prop)
    except Exception as exc:
        logger.debug("onnx shape inference failed without value_info too", exc_info=True)
        warnings.append(f"onnx shape inference failed ({first_line(exc)}); shapes come from the model's own annotations")
        return model


def _collect(model: onnx.ModelProto, layout: _Layout) -> dict[str, tuple[int, list[Dim] | None]]:
    raw: dict[str, tuple[int, list[Dim] | None]] = {}
    for graph in layout.graphs(model.graph):
        for tensor in graph.initializer:
            raw[tensor.name] = (tensor.data_type, list(tensor.dims))
        for value in [*graph.input, *graph.output, *graph.value_info]:
            value_type = value.type
            if value_type.HasField("tensor_type"):
                tensor_type = value_type.tensor_type
                name = value.name
                entry = (tensor_type.elem_type, _tensor_dims(tensor_type))
                if name in raw:  # declared twice (an input that is also an output, an exporter's value_info)
                    _merge(raw, {name: entry})
                else:
                    raw[name] = entry
    return raw


def _known(dims: list[Dim] | None) -> int:
    return -1 if dims is None else sum(isinstance(d, int) for d in dims)


def _merge(raw: dict, new: Mapping) -> None:
    for name, (elem, dims) in new.items():
        old = raw.get(name)
        if old is None or _known(dims) > _known(old[1]):
            raw[name] = (elem or (old[0] if old else 0), dims)


def _is_static(dims: list[Dim] | None) -> bool:
    if dims is None:
        return False
    for d in dims:  # a loop, not all(): this runs for every tensor, several times per resolution
        if not isinstance(d, int) or d < 0:
            return False
    return True


def _missing(layout: _Layout, raw: Mapping) -> bool:
    unknown = (0, None)
    for name, _ in layout.outputs:  # a loop, not any() over a generator: it runs for every node output
        if not _is_static(raw.get(name, unknown)[1]):
            return True
    return False


def _constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Values of the small initializers (the skeleton kept their data)."""
    values = {}
    for tensor in graph.initializer:
        if keeps_data(tensor):
            try:
                value = values[tensor.name] = _small_array(tensor)
                value.flags.writeable = False  # shared by the resolutions of the graph's copies (_Layout)
            except Exception:  # data that does not match its dims: not a usable constant
                logger.debug("initializer '%s' is not a usable constant", tensor.name, exc_info=True)
    return values


# Element types whose raw_data numpy reads as it is: numpy_helper.to_array's own path for them, without its dtype
# lookups (a quarter of its time per tensor; a transformer keeps the data of thousands of small bias vectors).
_RAW_DTYPES = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.FLOAT16: np.float16,
               onnx.TensorProto.INT8: np.int8, onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.INT16: np.int16,
               onnx.TensorProto.UINT16: np.uint16, onnx.TensorProto.INT32: np.int32, onnx.TensorProto.UINT32: np.uint32,
               onnx.TensorProto.INT64: np.int64, onnx.TensorProto.UINT64: np.uint64, onnx.TensorProto.BOOL: np.bool_}
_BIG_ENDIAN = sys.byteorder == "big"


def _small_array(tensor: onnx.TensorProto) -> np.ndarray:
    """``numpy_helper.to_array(tensor)`` of a tensor stored inline; read directly when its data is raw bytes of a
    plain numpy type on a little-endian machine (to_array's own path for those)."""
    dtype = _RAW_DTYPES.get(tensor.data_type)
    if dtype is None or _BIG_ENDIAN or not tensor.HasField("raw_data") or tensor.HasField("segment"):
        return numpy_helper.to_array(tensor)
    return np.frombuffer(tensor.raw_data, dtype=dtype).reshape(tensor.dims)


def _fold_and_infer(skeleton, raw, values, warnings, data_prop, layout):
    """One node-by-node pass, then rounds of: evaluate shape subgraphs with numpy, then infer with their values as
    constants."""
    graph = skeleton.graph
    folded_names = _node_by_node(skeleton, raw, values)
    learned = bool(folded_names)
    if not _missing(layout, raw):
        return raw, values
    for _ in range(MAX_FOLD_ROUNDS):
        static = {name: tuple(dims) for name, (_, dims) in raw.items() if _is_static(dims)}
        before = len(values)
        folded = fold(list(graph.node), values, static)
        folded_names.update(out for node in folded for out in node.output if out)
        if len(values) == before and not learned:
            break
        learned = False
        working = _with_constants(skeleton, values, folded_names)
        known_before = sum(_known(dims) for _, dims in raw.values())
        _merge(raw, _collect(_onnx_infer(working, warnings, data_prop), layout))
        for name in folded_names:
            value = values[name]
            raw[name] = (numpy_helper.from_array(value).data_type, list(value.shape))
        if sum(_known(dims) for _, dims in raw.values()) == known_before or not _missing(layout, raw):
            break
    return raw, values


def _node_by_node(skeleton: onnx.ModelProto, raw: dict, values: dict[str, np.ndarray]) -> set[str]:
    """One pass over the main graph in order: each node whose inputs are known values is evaluated (numpy), each
    other node whose inputs have static shapes gets its outputs' shapes from onnx's inference of that node alone,
    given the values known of its inputs. ``raw`` and ``values`` are extended in place; returns the names of the
    values computed. Nodes with subgraphs and other domains are left to the whole-graph inference."""
    opsets = {(o.domain if o.domain != "ai.onnx" else ""): o.version for o in skeleton.opset_import}
    folded: set[str] = set()
    # A small initializer whose data does not match its dims (_constant_values) is no input to infer from.
    broken = {t.name for t in skeleton.graph.initializer if keeps_data(t) and t.name not in values}
    static = {name: tuple(dims) for name, (_, dims) in raw.items() if _is_static(dims) and name not in broken}
    for node in _in_order(skeleton.graph):
        outputs = [name for name in node.output if name]
        if node.domain not in ("", "ai.onnx") or any(True for _ in walk.subgraphs(node)):
            continue
        computed = None if all(name in values for name in outputs) else evaluate(node, values, static)
        if computed is not None:
            for name, value in zip(node.output, computed):
                if name:
                    values[name] = np.asarray(value)
                    folded.add(name)
                    raw[name] = (numpy_helper.from_array(values[name]).data_type, list(values[name].shape))
                    static[name] = values[name].shape
            continue
        if not all(name in static for name in node.input if name):
            continue
        if not all(name in static for name in outputs):
            inferred = _infer_node(node, raw, values, opsets.get("", 1), skeleton.ir_version)
            if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
                # onnx infers no mask before opset 12 (Caffe2 and early PyTorch exports): it has the data's shape,
                # its type (bool from opset 10).
                mask_type = onnx.TensorProto.BOOL if opsets.get("", 1) >= 10 else raw[node.input[0]][0]
                inferred.setdefault(node.output[1], (mask_type, list(static[node.input[0]])))
            for name, (elem, dims) in inferred.items():
                _merge(raw, {name: (elem, dims)})
                if _is_static(raw[name][1]):
                    static[name] = tuple(raw[name][1])
        if all(name in values for name in node.input if name) and all(
                name in static and numel(static[name]) <= MAX_FOLDED_ELEMENTS for name in outputs):
            # An op numpy does not evaluate here (BitShift, Trilu, ...) on known values: onnx's reference does.
            computed = evaluate_with_reference(node, values, opsets.get("", 1))
            for name, value in zip(node.output, computed or ()):
                if name and value.shape == static[name]:
                    values[name] = value
                    folded.add(name)
    return folded


def _in_order(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Nodes in execution order (some exporters store them out of order; the common sorted case costs one check)."""
    return topological_order(graph, ())


_SCHEMAS: dict[tuple[str, int], onnx.defs.OpSchema | None] = {}


def _infer_node(node: onnx.NodeProto, raw: Mapping, values: Mapping[str, np.ndarray], opset: int,
                ir_version: int) -> dict[str, tuple[int, list[Dim]]]:
    """Output types of ``node`` alone from onnx's inference, its inputs' types from ``raw`` and their values where
    known; {} when onnx cannot say (no schema, an inference that raises)."""
    key = (node.op_type, opset)
    if key not in _SCHEMAS:
        try:
            _SCHEMAS[key] = onnx.defs.get_schema(node.op_type, opset, "")
        except onnx.defs.SchemaError:
            _SCHEMAS[key] = None
    schema = _SCHEMAS[key]
    if schema is None:
        return {}
    types = {name: onnx.helper.make_tensor_type_proto(raw[name][0], raw[name][1]) for name in node.input if name}
    data = {name: numpy_helper.from_array(values[name], name) for name in node.input if name in values}
    try:
        inferred = onnx.shape_inference.infer_node_outputs(
            schema, node, types, data, opset_imports=[onnx.helper.make_opsetid("", opset)],
            ir_version=ir_version or onnx.IR_VERSION)
    except Exception:  # the C++ side raises several types on inputs it rejects
        logger.debug("no per-node inference of '%s' (%s)", node.name, node.op_type, exc_info=True)
        return {}
    result = {}
    for name, proto in inferred.items():
        if proto.HasField("tensor_type") and proto.tensor_type.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in proto.tensor_type.shape.dim]
            result[name] = (proto.tensor_type.elem_type, dims)
    return result


def _with_constants(skeleton: onnx.ModelProto, values: Mapping[str, np.ndarray], folded: set[str]) -> onnx.ModelProto:
    """A copy of ``skeleton`` where folded nodes are replaced by initializers of their values."""
    working = onnx.ModelProto()
    working.CopyFrom(skeleton)
    keep = [node for node in working.graph.node if not any(out in folded for out in node.output)]
    del working.graph.node[:]
    working.graph.node.extend(keep)
    working.graph.initializer.extend(numpy_helper.from_array(values[name], name) for name in sorted(folded))
    return working


def _ort_symbolic(skeleton, values, warnings, layout) -> dict:
    try:
        folded = {name for name in values if name not in {t.name for t in skeleton.graph.initializer}}
        inferred = _symbolic_quietly(_with_constants(skeleton, values, folded))
    except Exception as exc:  # it raises plain exceptions on patterns it does not handle
        logger.debug("onnxruntime symbolic shape inference failed", exc_info=True)
        warnings.append(f"onnxruntime symbolic shape inference could not run ({first_line(exc)})")
        return {}
    if inferred is None:
        return {}
    result = _collect(inferred, layout)
    for name, (elem, dims) in result.items():
        if dims is not None:  # symbolic expressions like '8192*N' count as unknown
            result[name] = (elem, [d if isinstance(d, int) else None for d in dims])
    return result


def _symbolic_quietly(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """onnxruntime's symbolic inference with its own Python warnings, numpy overflow warnings and log lines
    silenced: they would reach the user's terminal raw, before onnxcost's own lines."""
    import logging

    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    its_logger = logging.getLogger(SymbolicShapeInference.__module__)
    level = its_logger.level
    its_logger.setLevel(logging.CRITICAL + 1)
    try:
        with python_warnings.catch_warnings(), np.errstate(all="ignore"):
            python_warnings.simplefilter("ignore")
            return SymbolicShapeInference.infer_shapes(model, auto_merge=True, guess_output_rank=True)
    finally:
        its_logger.setLevel(level)


# --- finalize ---------------------------------------------------------------

def _finalize(graph: onnx.GraphProto, raw: Mapping, values: Mapping[str, np.ndarray],
              warnings: list[str], layout: _Layout) -> tuple[dict[str, TensorType], set[str]]:
    """Every tensor's type, a dimension no inference settled set to 1, and the names of the tensors that have one."""
    types: dict[str, TensorType] = {}
    assumed: set[str] = set()
    unknown = TensorType(0, None)
    for name, (elem, dims) in raw.items():
        if dims is None or _is_static(dims):
            shape = None if dims is None else tuple(dims)
        else:
            shape = tuple(d if isinstance(d, int) and d >= 0 else 1 for d in dims)
            assumed.add(name)
        types[name] = TensorType(elem, shape)
        if shape is not None and numel(shape) > MAX_ELEMENTS:  # its figures would not even print
            raise InvalidModelError(f"tensor '{name}' would hold more than 2^63 - 1 elements (shape of {len(dims)} "
                                    "dimensions); no runtime could allocate it")
    unknown_dims: list[str] = []
    unknown_rank: list[str] = []
    for name, op_type in layout.outputs:
        if name in assumed:
            unknown_dims.append(f"'{name}' ({op_type})")
        elif types.get(name, unknown).shape is None:
            unknown_rank.append(f"'{name}' ({op_type})")
    if unknown_dims:
        warnings.append(
            f"{len(unknown_dims)} tensor(s) have dimensions no inference could determine, assumed 1: "
            f"{_some(unknown_dims)}; give the input shapes with --input or --dim"
        )
    if unknown_rank:
        warnings.append(
            f"{len(unknown_rank)} tensor(s) have no inferable shape; their nodes' costs count only what is known: "
            f"{_some(unknown_rank)}"
        )
    if unknown_dims or unknown_rank:
        stop = _stopping_point(graph, raw, values)
        if stop:
            warnings.append(stop)
    return types, assumed


def _stopping_point(graph: onnx.GraphProto, raw: Mapping, values: Mapping[str, np.ndarray]) -> str | None:
    """Where inference stopped: the first node of the main graph, in order, whose inputs' shapes are all known and
    an output's is not; and, when a value it reads (a shape, a size) is what is missing, the node that could not
    compute that value."""
    def static(name: str) -> bool:
        return _is_static(raw.get(name, (0, None))[1])

    def unknown_value(name: str) -> bool:  # a shape-like value (an integer tensor) a node computes and no one knows
        return bool(name) and name not in values and name in producers and raw.get(name, (0,))[0] in _INTEGER_TYPES

    producers = {name: node for node in graph.node for name in node.output if name}
    for node in _in_order(graph):
        if all(static(name) for name in node.input if name) and not all(static(name) for name in node.output if name):
            break
    else:
        return None
    where = f"shape inference stopped at node {_node_label(node)}: its inputs' shapes are known, not its outputs'"
    missing = next((name for name in node.input if unknown_value(name)), None)
    if missing is None:
        return where
    culprit = producers[missing]
    for _ in range(len(producers)):  # up the chain of unknown values to the first node that could not compute one
        unknown = [name for name in culprit.input if unknown_value(name)]
        if not unknown:
            break
        culprit = producers[unknown[0]]
    return f"{where}; the value of '{missing}' it needs is unknown: node {_node_label(culprit)} could not be evaluated"


_INTEGER_TYPES = {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.BOOL}


def _node_label(node: onnx.NodeProto) -> str:
    return f"'{node.name}' ({node.op_type})" if node.name else f"'{node.output[0]}' ({node.op_type})"


def _some(labels: list[str], limit: int = 5) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f", ... ({len(labels) - limit} more)" if len(labels) > limit else "")
