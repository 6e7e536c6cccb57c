"""Costs as formulas: the report's own walk over the graph, with every shape a polynomial in the free dimensions.

The cost rules are plain arithmetic on shapes, so given ``Poly`` dimensions they return ``Poly`` figures with the
exact formula; a rule that compares or branches on a free dimension raises ``TypeError``, and that node gets no
formula (named in a warning), never a guessed one. Each node's formulas are checked against the concrete report:
evaluated at the report's own dimensions they must give its integers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np
import onnx
from onnx import AttributeProto

from ..analysis import SUMMED, _Analysis, _bytes, _op_key
from ..costs import OpCost
from ..memory import lifetimes, peak_activations
from ..report import NodeRow, Report
from ..shapes import ShapeResult
from .poly import Poly, evaluate, total
from .shapes import SymbolicShapes

NODE_FIGURES = ("macs", "flops", "special_ops", "output_bytes", "bytes_read", "memory_traffic_bytes",
                "macs_float", "macs_int8", "macs_weight_only")
TOTAL_FIGURES = ("macs", "flops", "special_ops", "activation_bytes", "memory_traffic_bytes",
                 "macs_float", "macs_int8", "macs_weight_only")


@dataclass
class Formulas:
    """The figures of a report as polynomials (int when they do not depend on the free dimensions).

    ``nodes[i]`` holds row i's figures and output shapes, or None when the row has no formula (``missing`` says
    why). ``totals`` is empty when some row with a non-zero figure has no formula. ``peak`` is the peak of live
    activations: one polynomial when the same step peaks for every value of the dimensions (``peak_exact``),
    else the candidates whose maximum it is.
    """

    symbols: list[str]
    evaluated_at: dict[str, int]
    nodes: list[dict | None]
    totals: dict[str, Poly | int]
    peak: list[Poly | int] = field(default_factory=list)
    peak_exact: bool = False
    peak_nodes: list[str] = field(default_factory=list)  # the node running at each of ``peak``'s steps
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # choices taken at the report's own values (an If's branch)
    names: dict[str, str] = field(default_factory=dict)  # formula name -> the model's dim_param, where they differ
    schedule: tuple | None = None  # (reads, writes, graph inputs, graph outputs, symbolic sizes) for evaluation
    ranges: dict | None = None  # ranges.figure_ranges for the dimensions given as intervals


class _FormulaWalk(_Analysis):
    """The analysis's walk with polynomial shapes; rows whose rule or shapes are not symbolic are recorded."""

    def __init__(self, skeleton: onnx.ModelProto, shapes: ShapeResult, explained: set[str], known: set[str],
                 report: Report, dims: Mapping[str, int], main_order: list[onnx.NodeProto] | None):
        super().__init__(skeleton, shapes, "", dims, main_order)
        self.report = report  # the concrete report: which If branch it counted
        self.explained = explained  # tensors with a symbolic shape
        self.known = known  # tensors with a concrete shape in the report
        self.failed: dict[int, str] = {}
        self.notes: list[str] = []  # what the formulas take from the report's own values
        # Polynomial arithmetic is slow and a model repeats its blocks: each distinct node (op, attributes, operand
        # types and values) is costed once, each distinct tensor type sized once.
        self.figures: dict = {}
        self.sizes_by_type: dict = {}

    def _figures(self, context, name, inputs, outputs, op_type, domain):
        key = _cost_key(context)
        found = self.figures.get(key) if key is not None else None
        if found is None:
            found = super()._figures(context, name, inputs, outputs, op_type, domain)
            if key is not None and found[1]:  # a rule's failure is not kept: its side effects (warnings) must recur
                self.figures[key] = found
        return found

    def _weights(self, context, inputs, outputs, op_type, domain):
        return [], []  # parameters do not depend on the dimensions: the report's own are kept

    def _cost(self, context, name, op_type, domain):
        rule_index = len(self.rows)
        try:
            return super()._cost(context, name, op_type, domain)
        except Exception as exc:  # a rule that compares or branches on a free dimension: no formula for this node
            self.failed[rule_index] = f"'{name}' ({context.node.op_type}): {exc}"
            return OpCost(), False

    def _size(self, name):
        size = self.sizes.get(name)
        if size is None:
            tensor = self.types.get(name)
            size = self.sizes_by_type.get(tensor)
            if size is None:
                size = self.sizes_by_type[tensor] = _bytes(tensor)
            self.sizes[name] = size
        return size

    def _add_row(self, node, scope, repeat, fields=None):
        index = super()._add_row(node, scope, repeat, fields)
        row = self.rows[index]
        unexplained = [n for n in (*row.inputs, *row.outputs) if n and n in self.known and n not in self.explained]
        if unexplained and index not in self.failed:
            self.failed[index] = f"'{row.name}' ({row.op_type}): no formula for the shape of '{unexplained[0]}'"
        return index

    def _trip_count(self, node, row):
        unknown = len(self.unknown_trips)
        try:
            trips = super()._trip_count(node, row)
        except TypeError:  # a Scan over a free dimension: the product with the repeat outside is not compared
            return self._scan_length(node)
        if len(self.unknown_trips) > unknown:  # a Loop whose count is not fixed: its own symbol (1 in the report)
            return Poly.symbol(self.unknown_trips[-1])
        return trips

    def _scan_length(self, node):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        first_scan = node.input[len(node.input) - attrs.get("num_scan_inputs", 1)]
        shape = self.types[first_scan].shape
        return shape[(attrs.get("scan_input_axes") or [0])[0] % len(shape)]

    def _count_heavier_branch(self, row, branches):
        try:
            super()._count_heavier_branch(row, branches)
            return
        except TypeError:  # the weights are polynomials: a branch that is heavier for every value of the dims?
            pass
        weights = {name: total(self.rows[i].macs * self.rows[i].repeat for i in rows) for name, rows in branches.items()}
        heaviest = [name for name in branches if all(_dominates(weights[name], w) for w in weights.values())]
        if heaviest:
            chosen = heaviest[0]
        else:  # which one is heavier depends on the dims: the one the report counted, at its values (said)
            chosen = next(name for name, rows in branches.items() if any(self.report.nodes[i].repeat for i in rows))
            self.notes.append(f"If '{row.name}': the totals count branch '{chosen}', the heavier at the report's "
                              "own values; another is heavier for other values of the dimensions")
        for name, rows in branches.items():
            if name != chosen:
                for i in rows:
                    self.rows[i].repeat = 0


GRAPH, GRAPHS = AttributeProto.GRAPH, AttributeProto.GRAPHS
MAX_READ_VALUE = 8  # the longest value a cost rule reads: Resize's scales, Pad's pads of a rank-4 tensor


def _cost_key(context) -> tuple | None:
    """What a cost rule reads of a node (None for nodes with subgraphs: not worth serialising)."""
    node = context.node
    attributes = []
    for attribute in node.attribute:
        if attribute.type == GRAPH or attribute.type == GRAPHS:
            return None
        attributes.append(attribute.SerializeToString())
    inputs = list(node.input)
    values = []
    for name in inputs:
        value = context.values.get(name) if name else None
        if value is not None:  # shape vectors, axes and scales, not weights (a bias differs in every block)
            value = (value.dtype.str, value.shape, value.tobytes() if value.size <= MAX_READ_VALUE else None)
        values.append((bool(name), value, context.dequantized.get(name)))
    return (node.domain, node.op_type, context.opset, tuple(attributes),
            tuple(bool(n) for n in node.output), tuple(context.inputs), tuple(context.outputs), tuple(values))


def formulas(analysis: _Analysis, report: Report, symbolic: SymbolicShapes, constant_values: Mapping[str, np.ndarray],
             evaluated_at: Mapping[str, int], dims: Mapping[str, int] | None = None) -> Formulas:
    """The formulas of ``report`` (made by ``analysis``, at ``evaluated_at``; ``dims`` as the user gave them), from
    the symbolic shapes."""
    shapes = ShapeResult(symbolic.types, dict(constant_values), [])
    skeleton = analysis.skeleton
    # the same graph as the report's: its order is not worked out again
    walker = _FormulaWalk(skeleton, shapes, set(symbolic.types), set(analysis.types), report, dims or {},
                          analysis.main_order)
    main = walker._walk(skeleton.graph, scope="", repeat=1, outer=set())
    rows = walker.rows
    failed = dict(walker.failed)
    nodes: list[dict | None] = []
    values: dict = {}  # each distinct polynomial evaluated once

    def value(poly) -> int:
        if type(poly) is int:
            return poly
        found = values.get(poly)
        if found is None:
            found = values[poly] = evaluate(poly, evaluated_at)
        return found

    read = attrgetter(*NODE_FIGURES, "repeat")
    evaluated: dict = {}  # rows of repeated blocks share their figures' polynomials: each tuple evaluated once
    for index, (row, concrete) in enumerate(zip(rows, report.nodes)):
        found = read(row)
        if not symbolic.degenerate and index not in failed:
            at_report = evaluated.get(found)
            if at_report is None:
                at_report = evaluated[found] = tuple(value(v) for v in found)
            if at_report != read(concrete):
                failed[index] = f"'{row.name}' ({row.op_type}): its formula does not give the report's figures"
        figures = dict(zip(NODE_FIGURES, found))
        figures["output_shapes"] = row.output_shapes
        figures["repeat"] = row.repeat
        nodes.append(None if index in failed else figures)
    totals: dict[str, Poly | int] = {}
    blocking = [i for i in failed if any(getattr(report.nodes[i], f) for f in ("macs", "flops", "output_bytes",
                                                                                "memory_traffic_bytes"))]
    if not blocking:
        totals = _totals(walker, rows)
        if not symbolic.degenerate and any(evaluate(totals[name], evaluated_at) != getattr(report.totals, name)
                                           for name in TOTAL_FIGURES):
            totals = {}
    if symbolic.degenerate:
        walker.notes.append(f"at the report's own values ({', '.join(f'{k} = {v}' for k, v in evaluated_at.items())}) "
                            f"the model's sizes are degenerate ('{symbolic.degenerate}' is not what its formula gives "
                            "there, a stride past the input's end); the formulas hold for real sizes: give them with "
                            "--dim")
    result = Formulas(list(evaluated_at), dict(evaluated_at), nodes, totals,
                      missing=[failed[i] for i in sorted(failed)], notes=walker.notes)
    if totals and not [i for i, _ in main if i in failed]:
        _peak(walker, analysis.schedule, main, result, report, check=not symbolic.degenerate)
    return result


def _totals(walker: _FormulaWalk, rows: Sequence[NodeRow]) -> dict[str, Poly | int]:
    dequantized = walker.dequantized_weights
    read = attrgetter(*SUMMED, "output_bytes")
    counts: Counter = Counter()  # a model repeats its blocks: rows with the same figures are summed once
    for row in rows:
        written = sum(walker._size(out) for out in row.outputs if out in dequantized) if dequantized else 0
        counts[read(row), row.repeat, written] += 1
    totals: dict[str, Poly | int] = {}
    for index, name in enumerate(SUMMED):
        totals[name] = total(_times(figures[index], repeat * count) for (figures, repeat, _), count in counts.items())
    totals["activation_bytes"] = total(_times(figures[-1] - written, repeat * count)
                                       for (figures, repeat, written), count in counts.items())
    return {name: totals[name] for name in TOTAL_FIGURES}


def _times(value, repeat):
    return value if repeat == 1 else value * repeat  # the same object when once: total() merges it with its twins


def _peak(walker: _FormulaWalk, schedule: tuple, main, result: Formulas, report: Report, check: bool = True) -> None:
    """The peak from the concrete report's schedule (the same steps, reads and writes) with polynomial sizes."""
    reads, writes, graph_inputs, outputs, concrete_sizes = schedule
    spans = lifetimes(reads, writes, graph_inputs, outputs, concrete_sizes)  # lifetimes read the sizes' names only
    sizes = {name: walker._size(name) for name in concrete_sizes}
    curve = _live_bytes(spans, sizes, len(reads))
    first_step: dict = {}
    for step, value in enumerate(curve):
        first_step.setdefault(value, step)
    # live bytes are sums of sizes: each step's polynomial at the report's values is its live bytes there
    if check and max((evaluate(value, result.evaluated_at) for value in first_step), default=0) != report.peak.bytes:
        return
    result.schedule = (reads, writes, graph_inputs, outputs, sizes)
    result.peak, result.peak_exact = _maxima(list(first_step))  # in schedule order: ties rank by their step
    result.peak_nodes = [walker.rows[main[first_step[value]][0]].name for value in result.peak]


def _live_bytes(spans: Mapping[str, tuple[int, int]], sizes: Mapping, steps: int) -> list:
    """``memory.live_bytes`` for polynomial sizes: the running sum is kept as terms and added to in place (a new
    polynomial per addition is slow); a step's polynomial is made only where the sum changes."""
    change: list = [None] * (steps + 1)
    for name, (start, end) in spans.items():
        for step, sign in ((start, 1), (end + 1, -1)):
            terms = change[step]
            if terms is None:
                terms = change[step] = {}
            for monomial, coefficient in Poly._terms(sizes[name]).items():
                terms[monomial] = terms.get(monomial, 0) + sign * coefficient
    curve: list = []
    live: dict = {}
    current: Poly | int = 0
    for step in range(steps):
        if change[step]:
            for monomial, coefficient in change[step].items():
                live[monomial] = live.get(monomial, 0) + coefficient
            current = Poly._make(live)
        curve.append(current)
    return curve


def _maxima(values: list) -> tuple[list, bool]:
    """The distinct ``values`` not below another for every value of the dimensions (coefficient-wise: dimensions
    and floors are non-negative); one value when a single one is the maximum everywhere. The sort is stable, so the
    order does not depend on how polynomials hash."""
    ranked = sorted(values, key=_degree_key, reverse=True)
    kept: list = []
    for value in ranked:
        if any(_dominates(k, value) for k in kept):
            continue
        kept = [k for k in kept if not _dominates(value, k)] + [value]
        if len(kept) > 8:
            break
    return kept, len(kept) == 1 and all(_dominates(kept[0], v) for v in values)


def _degree_key(value) -> tuple:
    if not isinstance(value, Poly):
        return (0, value)
    return (max(sum(p for _, p in m) for m in value.terms), sum(value.terms.values()))


def _dominates(high, low) -> bool:
    difference = high - low
    if not isinstance(difference, Poly):
        return difference >= 0
    return all(c >= 0 for c in difference.terms.values())


def evaluate_peak(result: Formulas, dims: Mapping[str, int]) -> tuple[int, int | None, list[str]]:
    """The peak of live activations at ``dims``: the same schedule, every size evaluated."""
    reads, writes, graph_inputs, outputs, sizes = result.schedule
    concrete = {name: evaluate(size, dims) for name, size in sizes.items()}
    return peak_activations(reads, writes, graph_inputs, outputs, concrete)


def attach(report: Report, found: Formulas | None) -> None:
    """Give ``report`` its formulas (None: take them away): ``report.formulas``, and ``report.totals``, which
    answers ``macs_expr`` and the like from them."""
    report.formulas = found
    if found is None:
        report.totals.__dict__.pop("formulas", None)
    else:
        report.totals.formulas = found.totals


def at(report: Report, dims: Mapping[str, int]) -> Report:
    """``report`` with every figure evaluated at ``dims`` (each free dimension given), from its formulas."""
    import copy

    found = report.formulas
    missing = [s for s in found.symbols if s not in dims]
    if missing:
        raise KeyError(f"give every free dimension: {', '.join(missing)} missing")
    if not found.totals:
        raise ValueError("this report has no formulas for its totals: " + "; ".join(found.missing[:3]))
    attach(report, None)
    try:  # the copy without the formulas: they are not the evaluated report's, and are large
        result = copy.deepcopy(report)
    finally:
        attach(report, found)
    for row, figures in zip(result.nodes, found.nodes):
        if figures is None:
            continue
        for name in (*NODE_FIGURES, "repeat"):
            setattr(row, name, evaluate(figures[name], dims))
        row.output_shapes = [None if s is None else [evaluate(d, dims) for d in s] for s in figures["output_shapes"]]
    for name, value in found.totals.items():
        setattr(result.totals, name, evaluate(value, dims))
    if found.schedule is not None:
        peak, step, _ = evaluate_peak(found, dims)
        result.peak.bytes = result.totals.peak_activation_bytes = peak
        main_rows = [i for i, r in enumerate(result.nodes) if not r.scope]
        at_row = result.nodes[main_rows[step]] if step is not None else None
        result.peak.node = at_row.name if at_row else None
        result.peak.node_index = at_row.index if at_row else None
        result.peak.live_tensors = []
    for summary in result.by_op_type.values():
        for name in SUMMED:
            setattr(summary, name, 0)
    for row in result.nodes:
        summary = result.by_op_type.get(_op_key(row.domain, row.op_type))
        if summary is not None:
            for name in SUMMED:
                setattr(summary, name, getattr(summary, name) + getattr(row, name) * row.repeat)
    result.warnings = [w for w in result.warnings if "assumed 1" not in w]
    return result

