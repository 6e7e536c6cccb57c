"""From a model to a Report: shapes, one cost record per node, totals.

This is the only place costs are put together; renderers format the Report
and the rewrite passes ask it for their predictions.
"""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import repeat as repeated  # "repeat" is a row's trip count here
from operator import attrgetter

import onnx

from . import costs, walk
from .costs import COMPUTE_OPS, MalformedNode, MissingShape, NodeContext, OpCost
from .errors import CostRuleError, InvalidModelError, first_line
from .loading import DEFAULT_MAX_FILE_BYTES, load_model
from .memory import peak_activations
from .report import ModelInfo, NodeRow, OpTypeSummary, Peak, Report, TensorSummary, Totals
from .shapes import ShapeResult, TensorType, resolve_shapes
from .skeleton import build_skeleton
from .structure import check_model, defined_names, node_inputs, topological_order
from .tensors import INTEGER_TYPES, WEIGHT_TYPES, numel, storage_class, tensor_bytes, type_name

# Ops that hand a weight on unchanged in count: params are traced through them to the stored tensor.
WEIGHT_PASSTHROUGH = frozenset({
    "Identity", "Cast", "CastLike", "DequantizeLinear", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
})
DEQUANTIZE_DOMAINS = ("", "ai.onnx", "com.microsoft")
RESCALED = frozenset({"MatMulInteger", "ConvInteger", "DynamicQuantizeLinear"})  # what quantize_dynamic rescales
IN_MEMORY_SOURCE = "<in-memory model>"
STANDARD_DOMAINS = ("", "ai.onnx")  # whose nodes onnx.checker validates before any rule runs
# Figures of a row that add up, times its repeat, into its op type's summary and into the totals.
SUMMED = ("macs", "flops", "special_ops", "memory_traffic_bytes", "macs_float", "macs_int8", "macs_weight_only")
# What a rule of another domain raises on a node that does not fit the op's definition (nobody checked it).
MISMATCH_ERRORS = (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, AttributeError)


def analyze(
    model: str | os.PathLike | onnx.ModelProto,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    source: str | None = None,
    formulas: bool = True,
    ranges: Mapping[str, tuple[int, int]] | None = None,
) -> Report:
    """Cost every node of ``model`` (a path or a ModelProto).

    ``inputs`` overrides input shapes ({"x": [1, 3, 224, 224]}); ``dims`` gives
    symbolic dimensions ({"batch": 8}). Weights stored as external data are not read.
    Files over ``max_file_bytes`` are refused unread. ``source`` is what the report calls
    the model (by default its path, or '<in-memory model>'). Raises an OnnxcostError for a
    model that cannot be costed (unreadable, or breaking the ONNX rules).
    """
    with paused_collection():  # loading, too, makes an object per node
        loaded = load_model(model, max_file_bytes=max_file_bytes, inline_weights=False)
        if source is None:
            source = str(loaded.path) if loaded.path is not None else IN_MEMORY_SOURCE
        # A model read here from a file is this function's own: it becomes the skeleton instead of being copied, and
        # the node fields loading read (to check their names) serve the analysis.
        return _analyze(loaded.model, source, inputs, dims, formulas, ranges, owned=loaded.path is not None,
                        table=loaded.table)


@contextmanager
def paused_collection() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, then as it was. An analysis, and whatever reads its report,
    makes millions of small objects and no cycles: collection passes over them cost 10-15%, and the first one after
    the collector is back passes over every object the block made."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def free_dims(graph: onnx.GraphProto, inputs: Mapping | None, dims: Mapping | None) -> list[str]:
    """The named dimensions of the graph's inputs that neither ``dims`` nor ``inputs`` give, in order of appearance."""
    given = set(dims or {})
    initializers = {t.name for t in graph.initializer}
    found: list[str] = []
    for value in graph.input:
        if value.name in initializers or value.name in (inputs or {}) or not value.type.HasField("tensor_type"):
            continue
        for dim in value.type.tensor_type.shape.dim:
            if dim.WhichOneof("value") == "dim_param" and dim.dim_param not in given and dim.dim_param not in found:
                found.append(dim.dim_param)
    return found


def _same_nodes(table: walk.NodeTable | None, skeleton: onnx.ModelProto, model: onnx.ModelProto) -> bool:
    """Whether ``table`` (of ``model``'s main graph) holds the skeleton's nodes: the skeleton is ``model`` itself and
    kept every node (it drops only the Constant nodes it makes initializers, and inlining functions makes a new model)."""
    return table is not None and skeleton is model and len(skeleton.graph.node) == len(table.nodes)


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def analyze_model(
    model: onnx.ModelProto,
    source: str = IN_MEMORY_SOURCE,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    *,
    formulas: bool = True,
    ranges: Mapping[str, tuple[int, int]] | None = None,
) -> Report:
    """Cost every node of an already loaded ``model`` (left unchanged: the analysis works on a weightless copy).

    ``source`` is what the report calls the model; ``inputs`` and ``dims`` as for ``analyze``. Figures are
    exact integers: MACs, FLOPs (a MAC is 2), special ops, parameters, bytes (docs/conventions.md). With free
    dimensions (none given, so the integers are at 1) and ``formulas``, the report also holds every figure as a
    polynomial in them (``report.formulas``, ``report.at(batch=8)``; docs/formulas.md). ``ranges`` leaves
    dimensions free and gives every figure's min and max over the interval ({"batch": (1, 64)}).
    """
    return _analyze(model, source, inputs, dims, formulas, ranges, owned=False)


def _analyze(model: onnx.ModelProto, source: str, inputs, dims, formulas: bool, ranges, owned: bool,
             table: walk.NodeTable | None = None) -> Report:
    """``analyze_model``; ``owned``: the caller hands ``model`` over (it becomes the skeleton, changed); ``table``:
    the ``walk.NodeTable`` of ``model``'s main graph, when the caller has one."""
    with paused_collection():
        nested = walk.nests(model.graph)  # most models hold no subgraph: one walk, and no more per step
        skeleton = build_skeleton(model, nested, in_place=owned)
        if model.functions:  # inlined: their control flow is the graph's now
            nested = walk.nests(skeleton.graph)
        if nested:
            table = None
        elif not _same_nodes(table, skeleton, model):
            table = walk.NodeTable(skeleton.graph)  # the nodes' fields, read once for every step
        order = check_model(skeleton, nested, table)
        # onnx infers no contrib op: shapes are inferred on a copy where the quantized ones have standard twins.
        twins = costs.with_twins(skeleton)
        free = free_dims(twins.graph, inputs, dims) if formulas else []
        pristine = _copy(twins) if free else None  # resolve_shapes writes the bindings into the graph it is given
        shapes = resolve_shapes(twins, inputs, dims, nested=nested, table=table if twins is skeleton else None)
        analysis = _Analysis(skeleton, shapes, source, dims, main_order=order, nested=nested,  # the checker sorted it
                             table=table)
        report = analysis.run()
        if free or (formulas and analysis.unknown_trips):
            from .symbolic.build import attach_formulas

            attach_formulas(report, analysis, pristine or _copy(twins), free, inputs, dims, ranges or {},
                            same_nodes=twins is skeleton)
        elif ranges:
            report.warnings.append("--dim ranges need formulas; none of the ranged dimensions is free")
        return report


def trip_symbol(loop: str) -> str:
    """The name of a Loop's trip count when the graph does not fix it: ``trip_<loop name>`` (characters that are not
    letters, digits or _ as _), bound with ``dims`` / ``--dim`` like any dimension."""
    from .symbolic.poly import identifier

    return identifier("trip_" + loop)


class _Analysis:
    def __init__(self, skeleton: onnx.ModelProto, shapes: ShapeResult, source: str,
                 dims: Mapping[str, int] | None = None, main_order: list[onnx.NodeProto] | None = None,
                 nested: bool = True, table: walk.NodeTable | None = None):
        self.skeleton = skeleton
        self.nested = nested  # whether any node holds a subgraph (walk.nests)
        self.shapes = shapes
        self.dims = dict(dims or {})
        self.unknown_trips: list[str] = []  # trip_symbol of each Loop whose trip count is neither fixed nor given
        self.loops: set[str] = set()  # trip_symbol of every Loop
        self.types = shapes.types
        self.values = shapes.values
        self.source = source
        self.warnings = list(shapes.warnings)
        self.opsets = {(o.domain if o.domain != "ai.onnx" else ""): o.version for o in skeleton.opset_import}
        self.constants: dict[str, onnx.TensorProto | None] = {}  # name -> stored tensor (None: a string or sparse Constant)
        graphs = list(walk.graphs(skeleton.graph, nested))
        for graph in graphs:
            self.constants.update((t.name, t) for t in graph.initializer)
            self.constants.update((n.output[0], None) for n in graph.node if n.op_type == "Constant" and n.output)
        self.passthrough_source: dict[str, str] = {}
        self.dequantized: dict[str, int] = {}  # tensor -> dtype of the integers it was dequantized from
        self.rescaling = _rescaling_muls(graphs)  # outputs of the Muls that apply quantization scales
        self.dequantized_weights: set[str] = set()  # DequantizeLinear outputs of stored tensors: not activations
        self.packed: dict[str, tuple[int, int]] = {}  # stored tensor -> (logical elements, bits) of packed integers
        self.rows: list[NodeRow] = []
        self.row_roots: list[list[str]] = []  # weight tensors each row consumes
        self.row_quantization: list[list[str]] = []  # scales and zero points each row consumes
        self.unknown_ops: Counter[str] = Counter()
        self.uncosted: list[str] = []
        self.stored: dict[str, tuple[int, int]] = {}  # stored tensor -> (elements, bytes): _stored
        self.facts: dict[str, tuple[int, int]] = {}  # stored tensor -> (rank, element type): _facts
        self.slots: dict[tuple[str, str, int], tuple] = {}  # (domain, op type, input slot) -> what it is: _slot
        self.sizes: dict[str, int] = {}  # tensor name -> bytes, worked out once (rows, totals and the peak ask again)
        # The main graph's nodes in order (sorted here when not given) and the peak's schedule, kept for a second
        # walk of the same graph (formulas)
        self.main_order = main_order
        self.table = table  # walk.NodeTable of the main graph (flat models), whose nodes main_order holds
        self.schedule: tuple | None = None

    # --- walking ------------------------------------------------------------

    def run(self) -> Report:
        graph = self.skeleton.graph
        main = self._walk(graph, scope="", repeat=1, outer=set())
        inputs_dims = {d.dim_param for v in graph.input for d in v.type.tensor_type.shape.dim}
        for name in sorted(self.dims):
            if name.startswith("trip_") and name not in self.loops and name not in inputs_dims:
                self.warnings.append(f"--dim {name}: no Loop of the model is named '{name[len('trip_'):]}'")
        self._receptive_fields(main)
        self._warn_uncounted()
        totals, by_op_type = self._totals()
        peak = self._peak(main)
        totals.peak_activation_bytes = peak.bytes
        return Report(
            model=self._model_info(),
            totals=totals,
            peak=peak,
            by_op_type=by_op_type,
            nodes=self.rows,
            warnings=self.warnings,
        )

    def _receptive_fields(self, main: list[tuple[int, onnx.NodeProto]]) -> None:
        """Each main-graph row's receptive field and jump (receptive.trace over the rows' shapes)."""
        from .receptive import CONVS, POOLS, tensor_shapes, trace

        if not any(node.op_type in CONVS or node.op_type in POOLS for _, node in main):
            return  # no windowed op: no field starts anywhere (transformers)
        graph_inputs = [(v.name, getattr(self.types.get(v.name), "shape", None)) for v in self.skeleton.graph.input]
        shapes = tensor_shapes(self.skeleton, graph_inputs, self.rows)
        for index, field in trace(((index, node) for index, node in main), shapes).items():
            self.rows[index].receptive_field, self.rows[index].jump = list(field.rf), list(field.jump)

    def _walk(self, graph: onnx.GraphProto, scope: str, repeat: int, outer: set[str]) -> list[tuple[int, onnx.NodeProto]]:
        """Rows for ``graph`` (subgraphs' rows follow their node); returns (row index, node) of its own nodes."""
        if scope:
            ordered = topological_order(graph, outer, where=f"subgraph '{scope}'")
        else:
            if self.main_order is None:
                self.main_order = topological_order(graph, outer, where="graph", nested=self.nested)
            ordered = self.main_order
        visible = set()  # what the graph's subgraphs may read
        if self.nested:
            visible = set(outer) | defined_names(graph)
            visible.update(out for node in ordered for out in node.output)
        own = []
        # The main graph of a flat model has its fields read already (walk.NodeTable); others are read per node.
        table = self.table if not scope and not self.nested else None
        for node, fields in zip(ordered, table.aligned(ordered) if table is not None else repeated(None)):
            op_type, domain = fields[:2] if fields is not None else (node.op_type, node.domain)
            if op_type == "Constant" and domain in ("", "ai.onnx"):
                continue
            index = self._add_row(node, scope, repeat, fields)
            own.append((index, node))
            if self.nested and walk.has_subgraphs(node):
                self._walk_subgraphs(node, self.rows[index], scope, repeat, visible)
        return own

    def _walk_subgraphs(self, node: onnx.NodeProto, row: NodeRow, scope: str, repeat: int, visible: set[str]) -> None:
        prefix = f"{scope}/{row.name}/" if scope else f"{row.name}/"
        if node.op_type == "If":
            branches = {}
            for name, sub in walk.subgraphs(node):
                start = len(self.rows)
                self._walk(sub, prefix + name, repeat, visible)
                branches[name] = range(start, len(self.rows))
            self._count_heavier_branch(row, branches)
            return
        trips = self._trip_count(node, row)
        for name, sub in walk.subgraphs(node):
            self._walk(sub, prefix + name, repeat * trips, visible)

    def _count_heavier_branch(self, row: NodeRow, branches: dict[str, range]) -> None:
        def weight(rows: range) -> tuple[int, int, int]:
            picked = [self.rows[i] for i in rows]
            return (sum(r.macs * r.repeat for r in picked), sum(r.flops * r.repeat for r in picked),
                    sum(r.memory_traffic_bytes * r.repeat for r in picked))
        chosen = max(branches, key=lambda name: (weight(branches[name]), name))
        for name, rows in branches.items():
            if name != chosen:
                for i in rows:
                    self.rows[i].repeat = 0
        others = ", ".join(f"'{name}'" for name in branches if name != chosen)
        self.warnings.append(
            f"If '{row.name}': totals count the more expensive branch '{chosen}'; {others} listed with repeat 0"
        )

    def _trip_count(self, node: onnx.NodeProto, row: NodeRow) -> int:
        trips = 1
        if node.op_type == "Loop":
            value = self.values.get(node.input[0]) if node.input and node.input[0] else None
            symbol = trip_symbol(row.name)
            self.loops.add(symbol)
            if value is not None and value.size == 1 and 0 <= int(value.reshape(())) < 2**31:
                trips = int(value.reshape(()))
            elif symbol in self.dims:
                trips = self.dims[symbol]
            else:
                self.unknown_trips.append(symbol)
                self.warnings.append(
                    f"Loop '{row.name}': trip count unknown (set by its condition or at run time); body counted once "
                    f"(give it with --dim {symbol}=N)"
                )
        elif node.op_type == "Scan":
            # The checker leaves nodes with subgraphs alone: the attributes are checked here, before they are used.
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            scans = attrs.get("num_scan_inputs", 1)
            axes = attrs.get("scan_input_axes") or [0]
            if not isinstance(scans, int) or not 1 <= scans <= len(node.input):
                raise InvalidModelError(f"Scan '{row.name}': num_scan_inputs is {scans!r}; it must count some of its "
                                        f"{len(node.input)} inputs")
            if not isinstance(axes, list) or not all(isinstance(axis, int) for axis in axes):
                raise InvalidModelError(f"Scan '{row.name}': scan_input_axes must be integers, got {axes!r}")
            first_scan = node.input[len(node.input) - scans]
            shape = self.types.get(first_scan)
            if shape is not None and shape.shape:
                if not -len(shape.shape) <= axes[0] < len(shape.shape):
                    raise InvalidModelError(f"Scan '{row.name}': scan axis {axes[0]} is outside the {len(shape.shape)} "
                                            f"dimensions of '{first_scan}'")
                trips = shape.shape[axes[0] % len(shape.shape)]
            else:
                self.warnings.append(f"Scan '{row.name}': sequence length unknown; body counted once")
        if row.repeat * trips > 2**63 - 1:  # past any runtime's 64-bit loop counters: no real model runs that long
            raise InvalidModelError(f"{node.op_type} '{row.name}': its body would run more than 2^63 - 1 times, "
                                    "counting the loops around it")
        return trips

    # --- one node -----------------------------------------------------------

    def _add_row(self, node: onnx.NodeProto, scope: str, repeat: int, fields: tuple | None = None) -> int:
        """The node's row; ``fields``: its entry of a ``walk.NodeTable`` (read here when not given)."""
        index = len(self.rows)
        # Each read of a protobuf field makes a new Python object: the node's fields are read once.
        if fields is None:
            op_type, domain, name, inputs, outputs = node.op_type, node.domain, node.name, list(node.input), list(node.output)
        else:
            op_type, domain, name, inputs, outputs = fields
            inputs, outputs = list(inputs), list(outputs)  # the row's own lists: the table's are shared
        domain = domain if domain != "ai.onnx" else ""
        name = name or f"{op_type}_{index}"
        types = self.types
        in_types = [types.get(n) if n else None for n in inputs]
        out_types = [types.get(n) if n else None for n in outputs]
        context = NodeContext(node, in_types, out_types, self.values, self.opsets.get(domain, 0), self.dequantized,
                              inputs)
        # op_type and domain are handed on: each read of a protobuf field makes a new object
        cost, costed, output_bytes, bytes_read, macs_float = self._figures(context, name, inputs, outputs, op_type, domain)
        roots, quantization = self._weights(context, inputs, outputs, op_type, domain)
        self._note_passthrough(op_type, inputs, outputs, domain)
        row = NodeRow(
            index=index,
            name=name,
            op_type=op_type,
            domain=domain,
            scope=scope,
            repeat=repeat,
            macs=cost.macs,
            flops=cost.flops,
            special_ops=cost.special_ops,
            params=self._sum_elements(roots) if roots else 0,
            param_bytes=self._sum_stored(roots, 1) if roots else 0,
            inputs=inputs,
            outputs=outputs,
            output_shapes=[list(t.shape) if t is not None and t.shape is not None else None for t in out_types],
            output_bytes=output_bytes,
            bytes_read=bytes_read,
            memory_traffic_bytes=bytes_read + output_bytes,
            costed=costed,
            macs_float=macs_float,
            macs_int8=cost.macs_int8,
            macs_weight_only=cost.macs_weight_only,
            quantization_params=self._sum_stored(quantization, 0) if quantization else 0,
            quantization_param_bytes=self._sum_stored(quantization, 1) if quantization else 0,
        )
        self.rows.append(row)
        self.row_roots.append(roots)
        self.row_quantization.append(quantization)
        return index

    def _figures(self, context: NodeContext, name: str, inputs: list[str], outputs: list[str], op_type: str,
                 domain: str) -> tuple:
        """The node's cost, whether a rule costed it, its output bytes, bytes read and float MACs (``op_type``,
        ``domain``: the node's, "ai.onnx" as "")."""
        cost, costed = self._cost(context, name, op_type, domain)
        bytes_read = cost.bytes_read
        if bytes_read is None:
            bytes_read = self._sum_sizes(inputs)
        return cost, costed, self._sum_sizes(outputs), bytes_read, cost.macs - cost.macs_int8 - cost.macs_weight_only

    def _sum_sizes(self, names: list[str]) -> int:
        """Bytes of the named tensors ("" skipped); a loop, not sum() over a generator: it runs twice per node."""
        sizes, total = self.sizes, 0
        for name in names:
            if name:
                size = sizes.get(name)
                total += size if size is not None else self._size(name)
        return total

    def _cost(self, context: NodeContext, name: str, op_type: str, domain: str) -> tuple[OpCost, bool]:
        node = context.node
        rule = costs.rule_for(domain, op_type)
        if rule is None:
            self.unknown_ops[_op_key(domain, op_type)] += 1
            return OpCost(), False
        try:
            return rule(context), True
        except MissingShape:
            self.uncosted.append(f"'{name}' ({op_type})")
            return OpCost(), False
        except MalformedNode as exc:  # a rule's own check of what the checker cannot see
            raise InvalidModelError(
                f"node '{name}' ({node.op_type}) does not match its operator's definition: {exc}"
            ) from exc
        except Exception as exc:
            if node.domain in STANDARD_DOMAINS:  # the checker passed this node: the rule is wrong, not the model
                raise CostRuleError(
                    f"the cost rule for {node.op_type} failed on node '{name}': {type(exc).__name__}: {first_line(exc)}"
                ) from exc
            if isinstance(exc, MISMATCH_ERRORS):
                raise InvalidModelError(
                    f"node '{name}' ({node.op_type}) does not match its operator's definition: {type(exc).__name__}: {exc}"
                ) from exc
            raise

    def _weights(self, context: NodeContext, inputs: list[str], outputs: list[str], op_type: str,
                 domain: str) -> tuple[list[str], list[str]]:
        """Stored tensors the node consumes (through Identity/Cast/DequantizeLinear/... chains): its weights, and its
        quantization parameters (scales and zero points, whatever their rank). ``inputs``, ``outputs``, ``op_type``,
        ``domain``: the node's ("ai.onnx" as "")."""
        rescaling = op_type == "Mul" and bool(outputs) and outputs[0] in self.rescaling
        roots: list[str] = []
        quantization: list[str] = []
        constants, passthrough = self.constants, self.passthrough_source
        for slot, name in enumerate(inputs):
            if not name:
                continue
            root = passthrough.get(name, name)
            tensor = constants.get(root)
            if tensor is None:
                continue
            quantizes, weighs, integer_weight, packed = self._slot(domain, op_type, slot)
            if rescaling or quantizes:
                if root not in quantization:
                    quantization.append(root)
                continue
            if not weighs or root in roots:
                continue
            rank, data_type = self._facts(root, tensor)
            if rank < 1:
                continue
            # Any integer behind a DequantizeLinear is a weight (an int32 bias too): the node reads it as float.
            if data_type in WEIGHT_TYPES or (data_type in INTEGER_TYPES and (name in self.dequantized or integer_weight)):
                roots.append(root)
                logical = packed(context, tuple(tensor.dims)) if packed is not None else None
                if logical is not None:
                    self.packed[root] = logical
        return roots, quantization

    def _slot(self, domain: str, op_type: str, slot: int) -> tuple:
        """What input ``slot`` of the op is (costs.is_quantization_slot, is_weight_slot, is_integer_weight_slot,
        packed_weight), worked out once per op type and slot: every node asks."""
        key = (domain, op_type, slot)
        kinds = self.slots.get(key)
        if kinds is None:
            kinds = self.slots[key] = (costs.is_quantization_slot(domain, op_type, slot),
                                       costs.is_weight_slot(domain, op_type, slot),
                                       costs.is_integer_weight_slot(domain, op_type, slot),
                                       costs.packed_weight(domain, op_type, slot))
        return kinds

    def _facts(self, root: str, tensor: onnx.TensorProto) -> tuple[int, int]:
        """A stored tensor's rank and element type, read from the protobuf once."""
        facts = self.facts.get(root)
        if facts is None:
            facts = self.facts[root] = (len(tensor.dims), tensor.data_type)
        return facts

    def _note_passthrough(self, op_type: str, inputs: list[str], outputs: list[str], domain: str) -> None:
        """``inputs``, ``outputs``, ``op_type``, ``domain``: the node's, read once ("ai.onnx" as "")."""
        if op_type in WEIGHT_PASSTHROUGH and inputs and inputs[0] and outputs:
            first, out = inputs[0], outputs[0]
            source = self.passthrough_source.get(first, first)
            if source in self.constants:
                self.passthrough_source[out] = source
            dequantizes_weight = source in self.constants and op_type == "DequantizeLinear"
            if dequantizes_weight or first in self.dequantized_weights:
                self.dequantized_weights.add(out)
            if op_type == "DequantizeLinear" and domain in DEQUANTIZE_DOMAINS:
                data = self.types.get(first)
                if data is not None and data.elem_type in INTEGER_TYPES:
                    self.dequantized[out] = data.elem_type
            elif first in self.dequantized:
                self.dequantized[out] = self.dequantized[first]

    def _size(self, name: str) -> int:
        """Bytes of tensor ``name`` (0 when its shape is unknown)."""
        size = self.sizes.get(name)
        if size is None:
            size = self.sizes[name] = _bytes(self.types.get(name))
        return size

    def _elements(self, root: str) -> int:
        """A weight's logical elements (a packed one's values, not its bytes)."""
        packed = self.packed.get(root)
        return packed[0] if packed is not None else self._stored(root)[0]

    def _sum_elements(self, roots: Iterable[str]) -> int:
        """Summed logical elements of stored tensors (``_elements``)."""
        total = 0
        for root in roots:
            total += self._elements(root)
        return total

    def _sum_stored(self, roots: Iterable[str], which: int) -> int:
        """Summed elements (``which`` 0) or bytes (1) of stored tensors."""
        total = 0
        for root in roots:
            total += self._stored(root)[which]
        return total

    def _stored(self, root: str) -> tuple[int, int]:
        """A stored tensor's elements (as stored) and bytes, worked out once: rows and totals ask again."""
        figures = self.stored.get(root)
        if figures is None:
            tensor = self.constants[root]
            count = numel(tensor.dims)
            figures = self.stored[root] = (count, tensor_bytes(tensor.data_type, count))
        return figures

    def _storage(self, root: str) -> str:
        packed = self.packed.get(root)
        return storage_class(self.constants[root].data_type, packed[1] if packed is not None else None)

    # --- totals -------------------------------------------------------------

    def _totals(self) -> tuple[Totals, dict[str, OpTypeSummary]]:
        """The model's totals and its rows summed per op type (heaviest first), in one pass over the rows.

        Weights are counted once however many nodes read them: in the totals once overall, in each op type
        once for that op type.
        """
        totals = Totals(nodes=len(self.rows))
        summaries: dict[str, OpTypeSummary] = {}
        roots_by_op: dict[str, set[str]] = {}
        groups: dict[str, list[NodeRow]] = {}
        weights: set[str] = set()
        quantization: set[str] = set()
        dequantized_weights = self.dequantized_weights
        keys: dict[tuple[str, str], str] = {}  # (domain, op type) -> _op_key, worked out once per op type
        activation_bytes = compute_layers = 0  # added up in locals: the row loop runs once per node
        for row, roots, scales in zip(self.rows, self.row_roots, self.row_quantization):
            op = (row.domain, row.op_type)
            key = keys.get(op)
            if key is None:
                key = keys[op] = _op_key(*op)
            group = groups.get(key)
            if group is None:
                group = groups[key] = []
                roots_by_op[key] = set()
            group.append(row)
            repeat = row.repeat
            written = 0
            if dequantized_weights:  # dequantized weights are not activations
                written = sum(self._size(out) for out in row.outputs if out in dequantized_weights)
            activation_bytes += (row.output_bytes - written) * repeat
            if repeat and op in COMPUTE_OPS:
                compute_layers += 1
            if roots:
                weights.update(roots)
                roots_by_op[key].update(roots)
            if scales:
                quantization.update(scales)
        totals.activation_bytes, totals.compute_layers = activation_bytes, compute_layers
        for key, group in groups.items():  # each figure summed in C (map) when no row repeats, as in most graphs
            summary = summaries[key] = OpTypeSummary(count=len(group))
            once = all(row.repeat == 1 for row in group)
            for name in SUMMED:
                figures = map(attrgetter(name), group)
                setattr(summary, name, sum(figures) if once else sum(f * r.repeat for f, r in zip(figures, group)))
        for name in SUMMED:  # every row is in exactly one op type: the totals are the op types' sums
            setattr(totals, name, sum(getattr(summary, name) for summary in summaries.values()))
        totals.params = self._sum_elements(weights)
        totals.param_bytes = self._sum_stored(weights, 1)
        by_storage: Counter[str] = Counter()  # storage class -> bytes, set on the totals once per class
        for root in weights:
            by_storage[self._storage(root)] += self._stored(root)[1]
        for storage, size in by_storage.items():
            setattr(totals, f"param_bytes_{storage}", size)
        quantization -= weights
        totals.quantization_params = self._sum_stored(quantization, 0)
        totals.quantization_param_bytes = self._sum_stored(quantization, 1)
        for key, roots in roots_by_op.items():
            summaries[key].params = self._sum_elements(roots)
        order = sorted(summaries, key=lambda k: (-summaries[k].macs, -summaries[k].flops, k))
        return totals, {key: summaries[key] for key in order}

    def _schedule(self, main: list[tuple[int, onnx.NodeProto]]) -> tuple[list, list, list[str], list[str], dict]:
        """The main graph's schedule as ``memory.peak_activations`` takes it: each step's reads and writes, the
        graph's inputs and outputs, and every activation's bytes."""
        graph = self.skeleton.graph
        initializers = {t.name for t in graph.initializer}
        graph_inputs = [v.name for v in graph.input if v.name not in initializers]
        sizes = {name: self._size(name) for name in graph_inputs}
        reads, writes = [], []
        size, rows, dequantized_weights = self._size, self.rows, self.dequantized_weights
        for index, node in main:  # the rows hold each node's inputs and outputs already read from the protobuf
            row = rows[index]
            writes.append(row.outputs)
            reads.append(node_inputs(node) if self.nested and walk.has_subgraphs(node) else
                         [name for name in row.inputs if name])
            for name in row.outputs:  # a loop, not a generator per row
                if name and name not in dequantized_weights:
                    sizes[name] = size(name)
        return reads, writes, graph_inputs, [v.name for v in graph.output], sizes

    def _peak(self, main: list[tuple[int, onnx.NodeProto]]) -> Peak:
        self.schedule = self._schedule(main)
        peak, step, live = peak_activations(*self.schedule)
        at = self.rows[main[step][0]] if step is not None else None
        return Peak(
            bytes=peak,
            node=at.name if at else None,
            node_index=at.index if at else None,
            live_tensors=[self._summary(name) for name in live],
        )

    def _warn_uncounted(self) -> None:
        if self.unknown_ops:
            listed = ", ".join(f"{op} ({count} node{'s' if count > 1 else ''})" for op, count in sorted(self.unknown_ops.items()))
            self.warnings.append(
                f"no cost rule for {len(self.unknown_ops)} op type(s), counted as 0 MACs/FLOPs "
                f"with memory traffic from shapes: {listed}"
            )
        if self.uncosted:
            shown = ", ".join(self.uncosted[:5]) + (f", ... ({len(self.uncosted) - 5} more)" if len(self.uncosted) > 5 else "")
            self.warnings.append(f"{len(self.uncosted)} node(s) not costed because their shapes are unknown: {shown}")
        consumed = {name for row in self.rows for name in row.inputs}
        consumed.update(v.name for v in self.skeleton.graph.output)
        dead = [t for t in self.skeleton.graph.initializer
                if t.name not in consumed and t.data_type in WEIGHT_TYPES and len(t.dims) >= 1]
        if dead:
            self.warnings.append(
                f"{len(dead)} weight tensor(s) ({sum(numel(t.dims) for t in dead)} elements) are not used by any node "
                "and not counted"
            )

    def _summary(self, name: str) -> TensorSummary:
        tensor = self.types.get(name)
        return TensorSummary(
            name=name,
            dtype=type_name(tensor.elem_type) if tensor else "unknown",
            shape=list(tensor.shape) if tensor and tensor.shape is not None else None,
            bytes=_bytes(tensor),
        )

    def _model_info(self) -> ModelInfo:
        graph = self.skeleton.graph
        initializers = {t.name for t in graph.initializer}
        producer = " ".join(p for p in (self.skeleton.producer_name, self.skeleton.producer_version) if p)
        return ModelInfo(
            source=self.source,
            producer=producer,
            ir_version=self.skeleton.ir_version,
            opsets={(o.domain or "ai.onnx"): o.version for o in self.skeleton.opset_import},
            inputs=[self._summary(v.name) for v in graph.input if v.name not in initializers],
            outputs=[self._summary(v.name) for v in graph.output],
        )


def _rescaling_muls(graphs: list[onnx.GraphProto]) -> set[str]:
    """Outputs of the Muls that apply quantization scales in quantize_dynamic's graphs, whose stored inputs are
    scales: a Mul of an integer accumulator (MatMulInteger or ConvInteger, maybe through a Cast), the Mul that made
    its other factor, and a Mul of a scale that DynamicQuantizeLinear computes."""
    if not any(node.op_type in RESCALED for graph in graphs for node in graph.node):  # float models: none
        return set()
    nodes = [node for graph in graphs for node in graph.node]
    producers: dict[str, onnx.NodeProto] = {}
    accumulators: set[str] = set()
    scales: set[str] = set()
    muls = []
    for node in nodes:
        producers.update((out, node) for out in node.output if out)
        if node.op_type in ("MatMulInteger", "ConvInteger") and node.output:
            accumulators.add(node.output[0])
        elif node.op_type == "DynamicQuantizeLinear" and len(node.output) > 1:
            scales.add(node.output[1])
        elif node.op_type == "Mul" and node.output:
            muls.append(node)
    rescaling: set[str] = set()
    for node in muls:
        inputs = set(node.input)
        cast_sources = {producers[n].input[0] for n in inputs
                        if n in producers and producers[n].op_type == "Cast" and producers[n].input}
        if inputs & scales or (inputs | cast_sources) & accumulators:
            rescaling.add(node.output[0])
            factors = [producers.get(n) for n in inputs]
            rescaling.update(f.output[0] for f in factors if f is not None and f.op_type == "Mul")
    return rescaling


def _bytes(tensor: TensorType | None) -> int:
    if tensor is None or tensor.shape is None:
        return 0
    return tensor_bytes(tensor.elem_type, numel(tensor.shape))


def _op_key(domain: str, op_type: str) -> str:
    return op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"
