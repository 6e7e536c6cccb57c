"""The terminal table: nodes in topological order, then totals and op types, human units (``Grid`` tables: rich
draws them on a terminal, ``piped`` writes them when the output is piped)."""

from __future__ import annotations

from ..report import Report
from .selection import heaviest
from ..units import human_bytes, human_count
from .as_csv import shape_text
from .grid import Grid
from .sanitize import visible
from .precision import byte_rows, mac_rows
from .terminal import optional, share_bar, text_console


def render_table(report: Report, top: int | None = None, width: int | None = None) -> str:
    console, buffer = text_console(width)
    nodes = Grid(title=f"Top {top} nodes by MACs" if top is not None else None, title_justify="left")
    spatial = any(r.receptive_field for r in report.nodes)  # a column for CNNs, none for transformers
    symbolic = report.formulas is not None
    if symbolic:  # the formulas' module imports the polynomials: only for a report that has them
        from .formulas import formulas_table, node_formula
    for header, justify in [("#", "right"), ("node", "left"), ("op", "left"), ("output shape", "left"),
                            *([("receptive field", "right")] if spatial else []),
                            ("MACs", "right"), *([("MACs formula", "left")] if symbolic else []),
                            ("MACs share", "left"), ("FLOPs", "right"), ("params", "right"),
                            ("output", "right"), ("traffic", "right")]:
        nodes.add_column(header, justify=justify, overflow="fold")
    # on a narrow terminal, the first named is dropped first
    optional(nodes, "MACs share", "receptive field", "FLOPs", "traffic", "output", "output shape", "#",
             *(["MACs formula"] if symbolic else []))
    rows = heaviest(report, top)
    largest = max((r.macs * r.repeat for r in report.nodes), default=0)
    for r in rows:
        name = visible((f"{r.scope}/" if r.scope else "") + r.name) + (f" ×{r.repeat}" if r.repeat != 1 else "")
        field = ["x".join(f"{v:g}" for v in r.receptive_field) if r.receptive_field else ""] if spatial else []
        formula = [node_formula(report, r.index)] if symbolic else []
        nodes.add_row(
            str(r.index), name, visible(r.op_type) + ("" if r.costed else "*"),
            ", ".join(shape_text(s) for s in r.output_shapes), *field,
            human_count(r.macs), *formula, share_bar(r.macs * r.repeat, report.totals.macs, largest), human_count(r.flops), human_count(r.params),
            human_bytes(r.output_bytes), human_bytes(r.memory_traffic_bytes),
        )
    console.print(nodes)

    t = report.totals
    peak_at = f"  (at {visible(report.peak.node)})" if report.peak.node else ""
    totals = Grid(show_header=False, title=f"Totals: {visible(report.model.source)}", title_justify="left")
    totals.add_column("what")
    totals.add_column("value", justify="right")
    totals.add_column("exact", justify="right")
    for label, value, text in [
        ("MACs", t.macs, human_count(t.macs)),
        *((label, value, human_count(value)) for label, value in mac_rows(t)),
        ("FLOPs", t.flops, human_count(t.flops)),
        ("special ops", t.special_ops, human_count(t.special_ops)),
        ("parameters", t.params, human_count(t.params)),
        ("parameter memory", t.param_bytes, human_bytes(t.param_bytes)),
        *((label, value, human_count(value) if label == "quantization params" else human_bytes(value))
          for label, value in byte_rows(t)),
        ("activations (sum)", t.activation_bytes, human_bytes(t.activation_bytes)),
        ("peak activations", t.peak_activation_bytes, human_bytes(t.peak_activation_bytes) + peak_at),
        ("memory traffic", t.memory_traffic_bytes, human_bytes(t.memory_traffic_bytes)),
        ("compute layers", t.compute_layers, str(t.compute_layers)),
        ("nodes", t.nodes, str(t.nodes)),
    ]:
        totals.add_row(label, text, f"{value:,}")
    console.print(totals)
    if symbolic:
        console.print(formulas_table(report))

    ops = Grid(title="By op type", title_justify="left")
    for header in ["op type", "count", "MACs", "share", "FLOPs", "params", "traffic"]:
        ops.add_column(header, justify="left" if header == "op type" else "right")
    for op, s in report.by_op_type.items():
        share = f"{100 * s.macs / t.macs:.1f}%" if t.macs else "-"
        ops.add_row(visible(op), str(s.count), human_count(s.macs), share, human_count(s.flops), human_count(s.params),
                    human_bytes(s.memory_traffic_bytes))
    console.print(ops)
    if any(not r.costed for r in report.nodes):
        console.print("* no cost rule or unknown shapes: 0 MACs counted (see warnings)")
    return buffer.getvalue()
