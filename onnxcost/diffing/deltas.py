"""From two reports and their matching to the diff: totals, op types and node changes, heaviest first."""

from __future__ import annotations

from dataclasses import fields

from ..report import NodeRow, OpTypeSummary, Report, Totals
from . import matching as matching_rules
from .matching import NAME, POSITION, PREFIX, SIGNATURE, Matching, match
from .result import (
    ADDED, CHANGED, NODE_FIGURES, REMOVED, REPLACED, Delta, DiffResult, MatchSummary, NodeChange, NodeRef,
)

_PER_RUN = {"macs", "flops", "memory_traffic_bytes"}  # counted once per execution; weights are stored once


def diff_reports(a: Report, b: Report) -> DiffResult:
    """What changed from report ``a`` to report ``b`` (pure: nothing is read or analysed)."""
    matching = match(a, b)
    changes, summary = _changes(a, b, matching)
    return DiffResult(
        a=a.model, b=b.model, totals=_totals(a, b), by_op_type=_op_types(a, b),
        changes=sorted(changes, key=_heaviest_first), matching=summary, pairs=matching.pairs,
        warnings=_warnings(a, b, matching),
    )


def _totals(a: Report, b: Report) -> dict[str, Delta]:
    return {f.name: Delta(getattr(a.totals, f.name), getattr(b.totals, f.name)) for f in fields(Totals)}


def _op_types(a: Report, b: Report) -> dict[str, dict[str, Delta]]:
    none = OpTypeSummary()
    table = {
        op: {f.name: Delta(getattr(a.by_op_type.get(op, none), f.name), getattr(b.by_op_type.get(op, none), f.name))
             for f in fields(OpTypeSummary)}
        for op in dict.fromkeys([*a.by_op_type, *b.by_op_type])
    }

    def heaviest(op: str) -> tuple:
        d = table[op]
        return (-abs(d["macs"].delta), -abs(d["params"].delta), -abs(d["memory_traffic_bytes"].delta),
                -abs(d["count"].delta), -max(d["macs"].a, d["macs"].b), op)

    return {op: table[op] for op in sorted(table, key=heaviest)}


def _changes(a: Report, b: Report, matching: Matching) -> tuple[list[NodeChange], MatchSummary]:
    summary = MatchSummary()
    counters = {NAME: "by_name", PREFIX: "by_prefix", SIGNATURE: "by_signature", POSITION: "by_position"}
    changes = []
    for pair in matching.pairs:
        setattr(summary, counters[pair.how], getattr(summary, counters[pair.how]) + 1)
        rows_a, rows_b = [a.nodes[i] for i in pair.a], [b.nodes[j] for j in pair.b]
        if pair.how == PREFIX:
            changes.append(_change(REPLACED, pair.how, rows_a, rows_b))
            summary.replaced += 1
        elif _differ(rows_a[0], rows_b[0]):
            changes.append(_change(CHANGED, pair.how, rows_a, rows_b))
            summary.changed += 1
        else:
            summary.unchanged += 1
    changes += [_change(REMOVED, None, [a.nodes[i]], []) for i in matching.removed]
    changes += [_change(ADDED, None, [], [b.nodes[j]]) for j in matching.added]
    summary.removed, summary.added = len(matching.removed), len(matching.added)
    return changes, summary


def _contribution(row: NodeRow, figure: str) -> int:
    """What the row adds to the report's totals."""
    return getattr(row, figure) * (row.repeat if figure in _PER_RUN else 1)


_COMPARED = ("macs", "flops", "special_ops", "params", "param_bytes", "output_bytes", "memory_traffic_bytes")


def _differ(x: NodeRow, y: NodeRow) -> bool:
    return (x.output_shapes != y.output_shapes or x.repeat != y.repeat or x.costed != y.costed
            or any(_contribution(x, f) != _contribution(y, f) for f in _COMPARED))


def _change(kind: str, how: str | None, rows_a: list[NodeRow], rows_b: list[NodeRow]) -> NodeChange:
    def total(rows: list[NodeRow], figure: str) -> int:
        return sum(_contribution(row, figure) for row in rows)

    figures = {f: Delta(total(rows_a, f), total(rows_b, f)) for f in NODE_FIGURES}
    return NodeChange(kind=kind, matched_by=how, a=[_ref(r) for r in rows_a], b=[_ref(r) for r in rows_b], **figures)


def _ref(row: NodeRow) -> NodeRef:
    name = f"{row.scope}/{row.name}" if row.scope else row.name
    return NodeRef(index=row.index, name=name, op_type=row.op_type, output_shapes=row.output_shapes, repeat=row.repeat)


def _heaviest_first(change: NodeChange) -> tuple:
    first_a = change.a[0].index if change.a else float("inf")
    first_b = change.b[0].index if change.b else float("inf")
    return (-abs(change.macs.delta), -abs(change.params.delta), -abs(change.memory_traffic_bytes.delta),
            first_a, first_b)


def _warnings(a: Report, b: Report, matching: Matching) -> list[str]:
    """The reports' own warnings, the inputs whose shapes differ (every figure downstream depends on them), and a
    rough alignment."""
    shapes_b = {t.name: t.shape for t in b.model.inputs}
    notes = [f"input '{t.name}' is {_shape(t.shape)} in A and {_shape(shapes_b[t.name])} in B: figures downstream "
             "of it differ for that reason too"
             for t in a.model.inputs if t.name in shapes_b and shapes_b[t.name] != t.shape]
    if matching.rough:
        notes.append(f"the graphs differ in more than {matching_rules.MAX_EDITS:,} places in node order: nodes "
                     "without a matching name were paired roughly (some may be listed as removed and added)")
    return notes + [f"A: {w}" for w in a.warnings] + [f"B: {w}" for w in b.warnings]


def _shape(shape: list[int] | None) -> str:
    return "?" if shape is None else "x".join(map(str, shape)) or "a scalar"
