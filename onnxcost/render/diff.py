"""Diff results (``onnxcost.diffing.DiffResult``): totals side by side, op types and node changes that moved,
as a terminal table, Markdown (a pull-request comment), CSV (one row per change) or the JSON record.
They format the result and compute nothing; ``top`` keeps the first N changes (they come heaviest first)."""

from __future__ import annotations

import csv
import io
from collections import Counter

from rich import box
from rich.table import Table

from ..diffing.matching import POSITION
from ..units import human_bytes, human_count
from .as_csv import shape_text
from .as_json import json_text
from .sanitize import visible
from .terminal import text_console

TOTALS = [  # field of Totals, label, whether it is bytes
    ("macs", "MACs", False), ("flops", "FLOPs", False), ("special_ops", "special ops", False),
    ("params", "parameters", False), ("param_bytes", "parameter memory", True),
    ("activation_bytes", "activations (sum)", True), ("peak_activation_bytes", "peak activations", True),
    ("memory_traffic_bytes", "memory traffic", True), ("compute_layers", "compute layers", False),
    ("nodes", "nodes", False),
]
FIGURES = ["macs", "flops", "params", "param_bytes", "memory_traffic_bytes"]  # a change's figures, in CSV order


def render_diff(result, fmt: str, top: int | None = None, width: int | None = None) -> str:
    """``result`` in ``fmt``: "table", "md", "csv" or "json" (the record, docs/diff.md)."""
    changes = result.changes if top is None else result.changes[:top]
    if fmt == "json":
        record = result.to_dict()
        record["changes"] = record["changes"][:len(changes)]
        return json_text(record)
    return {"table": _table, "md": _markdown, "csv": _csv}[fmt](result, changes, width)


def signed(value: int, as_bytes: bool = False) -> str:
    """'+1.23 G', '-527.8 MiB', '0': human units with the delta's sign."""
    text = human_bytes(value) if as_bytes else human_count(value)
    return f"+{text}" if value > 0 else "0" if value == 0 else text


def signed_exact(value: int) -> str:
    return f"{value:+,}" if value else "0"


def percent(delta) -> str:
    return "-" if delta.percent is None else f"{delta.percent:+.2f}%" if delta.delta else "0.00%"


def _human(value: int, as_bytes: bool) -> str:
    return human_bytes(value) if as_bytes else human_count(value)


def _ops(refs) -> str:
    """'Conv', 'Conv+Conv', or for more than three nodes the count of each op type: '5×Conv+Concat'."""
    if len(refs) <= 3:
        return "+".join(r.op_type for r in refs)
    counts = Counter(r.op_type for r in refs)
    return "+".join(f"{n}×{op}" if n > 1 else op for op, n in counts.items())


def _op_text(change) -> str:
    ops_a, ops_b = _ops(change.a), _ops(change.b)
    return (ops_a or ops_b) if ops_a == ops_b or not (ops_a and ops_b) else f"{ops_a} -> {ops_b}"


def _shapes(refs) -> str:
    return ", ".join(shape_text(s) for s in refs[-1].output_shapes) if refs else ""


def _shape_text(change) -> str:
    shapes_a, shapes_b = _shapes(change.a), _shapes(change.b)
    if shapes_a == shapes_b or not (shapes_a and shapes_b):
        return shapes_a or shapes_b
    return f"{shapes_a} -> {shapes_b}"


def _moved_ops(result) -> list[tuple[str, dict]]:
    return [(op, d) for op, d in result.by_op_type.items() if any(x.delta for x in d.values())]


def _matching_line(result) -> str:
    m = result.matching
    return (f"nodes paired: {m.by_name} by name, {m.by_signature} by signature, {m.by_position} by position, "
            f"{m.by_prefix} by name prefix; {m.changed} changed, {m.replaced} replaced, {m.removed} removed, "
            f"{m.added} added, {m.unchanged} unchanged")


def _table(result, changes, width: int | None) -> str:
    console, buffer = text_console(width)
    console.print(f"A: {visible(result.a.source)}\nB: {visible(result.b.source)}", soft_wrap=True)
    totals = Table(box=box.SIMPLE_HEAD, title="Totals", title_justify="left")
    for header in ["", "A", "B", "delta", "%", "exact A", "exact B", "exact delta"]:
        totals.add_column(header, justify="left" if not header else "right", overflow="fold")
    for key, label, as_bytes in TOTALS:
        d = result.totals[key]
        totals.add_row(label, _human(d.a, as_bytes), _human(d.b, as_bytes), signed(d.delta, as_bytes), percent(d),
                       f"{d.a:,}", f"{d.b:,}", signed_exact(d.delta))
    console.print(totals)

    moved = _moved_ops(result)
    if moved:
        ops = Table(box=box.SIMPLE_HEAD, title="By op type (those that changed)", title_justify="left")
        for header in ["op type", "count", "MACs A", "MACs B", "MACs delta", "%", "params delta", "traffic delta"]:
            ops.add_column(header, justify="left" if header == "op type" else "right", overflow="fold")
        for op, d in moved:
            ops.add_row(visible(op), f"{d['count'].a} -> {d['count'].b}", human_count(d["macs"].a), human_count(d["macs"].b),
                        signed(d["macs"].delta), percent(d["macs"]), signed(d["params"].delta),
                        signed(d["memory_traffic_bytes"].delta, as_bytes=True))
        console.print(ops)

    if changes:
        shown = f"{len(changes)} of {len(result.changes)}" if len(changes) < len(result.changes) else str(len(changes))
        nodes = Table(box=box.SIMPLE_HEAD, title=f"Node changes, heaviest first ({shown})", title_justify="left")
        for header, justify in [("", "left"), ("node", "left"), ("op", "left"), ("output shape", "left"),
                                ("MACs A", "right"), ("MACs B", "right"), ("MACs delta", "right"), ("%", "right"),
                                ("params delta", "right"), ("traffic delta", "right")]:
            nodes.add_column(header, justify=justify, overflow="fold")
        for c in changes:
            nodes.add_row(c.kind + ("*" if c.matched_by == POSITION else ""), visible(c.label), visible(_op_text(c)),
                          _shape_text(c),
                          human_count(c.macs.a), human_count(c.macs.b), signed(c.macs.delta), percent(c.macs),
                          signed(c.params.delta), signed(c.memory_traffic_bytes.delta, as_bytes=True))
        console.print(nodes)
        if any(c.matched_by == POSITION for c in changes):
            console.print("* paired by position: names and shapes differ, the op type and the place in the graph agree")
    else:
        console.print("no node changed\n")
    console.print(_matching_line(result), soft_wrap=True)
    return buffer.getvalue()


def _md_table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _markdown(result, changes, width: int | None) -> str:
    lines = [f"# onnxcost diff: `{visible(result.a.source)}` → `{visible(result.b.source)}`", ""]
    lines += _md_table(["total", "A", "B", "delta", "%"], [
        [label, f"{d.a:,}", f"{d.b:,}", signed_exact(d.delta), percent(d)]
        for key, label, _ in TOTALS for d in [result.totals[key]]
    ], right={1, 2, 3, 4})
    moved = _moved_ops(result)
    if moved:
        lines += ["", "## By op type (those that changed)", ""]
        lines += _md_table(["op type", "count A", "count B", "MACs A", "MACs B", "MACs delta", "%", "params delta",
                            "traffic delta (bytes)"], [
            [visible(op), f"{d['count'].a:,}", f"{d['count'].b:,}", f"{d['macs'].a:,}", f"{d['macs'].b:,}",
             signed_exact(d["macs"].delta), percent(d["macs"]), signed_exact(d["params"].delta),
             signed_exact(d["memory_traffic_bytes"].delta)]
            for op, d in moved
        ], right={1, 2, 3, 4, 5, 6, 7, 8})
    shown = f" ({len(changes)} of {len(result.changes)})" if len(changes) < len(result.changes) else ""
    lines += ["", f"## Node changes, heaviest first{shown}", ""]
    if changes:
        lines += _md_table(["", "node", "op", "output shape", "MACs A", "MACs B", "MACs delta", "%", "params delta",
                            "traffic delta (bytes)"], [
            [c.kind, f"`{visible(c.label)}`", visible(_op_text(c)), _shape_text(c), f"{c.macs.a:,}", f"{c.macs.b:,}",
             signed_exact(c.macs.delta), percent(c.macs), signed_exact(c.params.delta),
             signed_exact(c.memory_traffic_bytes.delta)]
            for c in changes
        ], right={4, 5, 6, 7, 8, 9})
    else:
        lines.append("No node changed.")
    lines += ["", _matching_line(result) + "."]
    if result.warnings:
        lines += ["", "## Warnings", ""] + [f"- {visible(w)}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _csv(result, changes, width: int | None) -> str:
    """One row per change; a side's several nodes joined by ';', a node's several output shapes by ','."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kind", "label", "matched_by", "a_nodes", "b_nodes", "a_op_types", "b_op_types",
                     "a_output_shapes", "b_output_shapes",
                     *(f"{figure}_{end}" for figure in FIGURES for end in ("a", "b", "delta"))])
    for c in changes:
        sides = [(";".join(visible(r.name) for r in refs), ";".join(visible(r.op_type) for r in refs),
                  ";".join(",".join(shape_text(s) for s in r.output_shapes) for r in refs)) for refs in (c.a, c.b)]
        writer.writerow([c.kind, visible(c.label), c.matched_by or "", sides[0][0], sides[1][0], sides[0][1], sides[1][1],
                         sides[0][2], sides[1][2],
                         *(value for figure in FIGURES
                           for d in [getattr(c, figure)] for value in (d.a, d.b, d.delta))])
    return buffer.getvalue()
