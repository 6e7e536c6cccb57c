"""Costs as formulas: the report's own walk over the graph, with every shape a polynomial in the free dimensions.

The cost rules are plain arithmetic on shapes, so given ``Poly`` dimensions they return ``Poly`` figures with the
exact formula; a rule that compares or branches on a free dimension raises ``TypeError``, and that node gets no
formula (named in a warning), never a guessed one. Each node's formulas are checked against the concrete report:
evaluated at the report's own dimensions they must give its integers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx

from ..analysis import SUMMED, _Analysis, _op_key
from ..costs import OpCost
from ..memory import lifetimes, live_bytes, peak_activations
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
                 report: Report, dims: Mapping[str, int]):
        super().__init__(skeleton, shapes, "", dims)
        self.report = report  # the concrete report: which If branch it counted
        self.explained = explained  # tensors with a symbolic shape
        self.known = known  # tensors with a concrete shape in the report
        self.failed: dict[int, str] = {}
        self.notes: list[str] = []  # what the formulas take from the report's own values

    def _cost(self, context, name):
        rule_index = len(self.rows)
        try:
            return super()._cost(context, name)
        except Exception as exc:  # a rule that compares or branches on a free dimension: no formula for this node
            self.failed[rule_index] = f"'{name}' ({context.node.op_type}): {exc}"
            return OpCost(), False

    def _add_row(self, node, scope, repeat):
        index = super()._add_row(node, scope, repeat)
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


def formulas(skeleton: onnx.ModelProto, report: Report, symbolic: SymbolicShapes,
             primary: ShapeResult, constant_values: Mapping[str, np.ndarray],
             evaluated_at: Mapping[str, int], dims: Mapping[str, int] | None = None) -> Formulas:
    """The formulas of ``report`` (the concrete report at ``evaluated_at``; ``dims`` as the user gave them), from
    the symbolic shapes."""
    shapes = ShapeResult(symbolic.types, dict(constant_values), [])
    walker = _FormulaWalk(skeleton, shapes, set(symbolic.types), set(primary.types), report, dims or {})
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

    for index, (row, concrete) in enumerate(zip(rows, report.nodes)):
        figures = {name: getattr(row, name) for name in NODE_FIGURES}
        figures["output_shapes"] = row.output_shapes
        figures["repeat"] = row.repeat
        if not symbolic.degenerate and index not in failed and \
                any(value(figures[k]) != getattr(concrete, k) for k in (*NODE_FIGURES, "repeat")):
            failed[index] = f"'{row.name}' ({row.op_type}): its formula does not give the report's figures"
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
        _peak(walker, main, result, report, check=not symbolic.degenerate)
    return result


def _totals(walker: _FormulaWalk, rows: Sequence[NodeRow]) -> dict[str, Poly | int]:
    totals: dict[str, Poly | int] = {}
    for name in SUMMED:
        totals[name] = total(getattr(row, name) * row.repeat for row in rows)
    dequantized = walker.dequantized_weights
    totals["activation_bytes"] = total(
        (row.output_bytes - sum(walker._size(out) for out in row.outputs if out in dequantized)) * row.repeat
        for row in rows)
    return {name: totals[name] for name in TOTAL_FIGURES}


def _peak(walker: _FormulaWalk, main, result: Formulas, report: Report, check: bool = True) -> None:
    reads, writes, graph_inputs, outputs, sizes = walker._schedule(main)
    spans = lifetimes(reads, writes, graph_inputs, outputs, sizes)
    curve = live_bytes(spans, sizes, len(reads))
    first_step: dict = {}
    for step, value in enumerate(curve):
        first_step.setdefault(value, step)
    # live bytes are sums of sizes: each step's polynomial at the report's values is its live bytes there
    if check and max((evaluate(value, result.evaluated_at) for value in first_step), default=0) != report.peak.bytes:
        return
    result.schedule = (reads, writes, graph_inputs, outputs, sizes)
    result.peak, result.peak_exact = _maxima(list(first_step))  # in schedule order: ties rank by their step
    result.peak_nodes = [walker.rows[main[first_step[value]][0]].name for value in result.peak]


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

