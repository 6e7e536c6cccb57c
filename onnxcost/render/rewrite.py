"""Rewrite results: the per-layer plan, timings, rival structures and totals (terminal), or the JSON record.
They format ``onnxcost.passes.RewriteResult`` and compute nothing."""

from __future__ import annotations

from rich import box
from rich.table import Table

from ..passes.pointwise_first import PointwiseFirst, SeparableOrder
from ..units import human_bytes, human_count
from .as_json import json_text
from .sanitize import visible
from .terminal import fraction, ratio, text_console
from .validation import render_comparison


ORDERED = (PointwiseFirst.name, SeparableOrder.name)  # plans whose table gets the order column


def render_rewrite(result, fmt: str, source: str, width: int | None = None) -> str:
    """``fmt`` "json": the result's record (docs/rewrite-schema.md); "table": the plan, then the validation."""
    if fmt == "json":
        return json_text(result.to_dict())
    if result.report is None:
        return render_plan(result.plan, source, width, dry_run=result.dry_run) + _latency_line(result)
    totals = result.report.totals
    text = render_plan(result.plan, source, width, totals.macs, totals.params, dry_run=result.dry_run,
                       report_traffic=totals.memory_traffic_bytes) + _latency_line(result)
    if result.comparison is not None:
        text += "\n" + render_comparison(result.comparison, width)
    return text


def _latency_line(result) -> str:
    """With a latency budget: the MACs, memory traffic and measured latency ratios side by side ("" otherwise)."""
    budget, plan = result.latency, result.plan
    if budget is None or budget.measured is None:
        return ""
    totals = result.report.totals if result.report is not None else None
    macs = plan.macs_after if totals is None else totals.macs
    traffic = plan.traffic_after if totals is None else totals.memory_traffic_bytes
    measured = budget.measured
    low, high = measured.spread
    what = "the rewritten model" if budget.confirmed is not None else "the plan's model"
    return (f"side by side: MACs {ratio(macs, plan.macs_before)}, memory traffic {ratio(traffic, plan.traffic_before)}, "
            f"latency {measured.ratio:.3f}x measured (target {budget.target_ratio:g}x, "
            f"{'met' if budget.met else 'not met'}): {what} in onnxruntime, median of {len(measured.ratios)} paired "
            f"runs against the original ({measured.original * 1e3:.3g} -> {measured.rewritten * 1e3:.3g} ms), "
            f"quartiles {low:.3f}-{high:.3f}x"
            + (f", fastest runs {measured.fastest[1] / measured.fastest[0]:.3f}x" if measured.fastest else "") + "\n")


def _shape(layer) -> str:
    if layer.cin is None:
        return "?"
    return f"{layer.cin}->{layer.cout}" + (f" g{layer.group}" if layer.group != 1 else "")


def render_plan(plan, source: str, width: int | None = None, report_macs: int | None = None,
                report_params: int | None = None, dry_run: bool = False, report_traffic: int | None = None) -> str:
    """The per-layer table and the totals; ``report_*``: the report of the written model (None in a dry run)."""
    console, buffer = text_console(width)
    calibrated = plan.calibration is not None
    mode = plan.mode + (f", calibrated on {plan.calibration['samples']} samples" if calibrated else "")
    title = f"{'Plan (dry run)' if dry_run else 'Rewrite'}: {plan.structure}, {mode} - {visible(source)}"
    layers = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left")
    rivals = list(dict.fromkeys(a.structure for layer in plan.rewritten for a in layer.alternatives))
    headers = [("layer", "left"), ("channels", "left"), ("kernel", "left"), ("r", "right"), ("kept\nenergy", "right"),
               ("weight\nrel. err", "right"), ("MACs\nbefore -> after", "right"), ("ratio", "right"),
               ("params\nbefore -> after", "right"), ("memory traffic\nbefore -> after", "right"), ("emission", "left")]
    if calibrated:  # the predicted error of the layer's output on the calibration data
        headers.insert(6, ("output\nrel. err", "right"))
    ordered = plan.structure in ORDERED  # the separable form in another order than depthwise first: say which
    if ordered:
        headers.append(("order", "left"))
    for header, justify in headers:  # one line per layer
        layers.add_column(header, justify=justify, overflow="fold", no_wrap=True)
    for layer in plan.rewritten:
        rank = f"{layer.rank}/{layer.max_rank}" if layer.max_rank else str(layer.rank)
        name = visible(layer.name + (f" +{','.join(layer.folded)}" if layer.folded else ""))
        cells = [name, _shape(layer), "x".join(map(str, layer.kernel)), rank, fraction(layer.kept_energy),
                 fraction(layer.weight_rel_error), f"{human_count(layer.macs_before)} -> {human_count(layer.macs_after)}",
                 ratio(layer.macs_after, layer.macs_before),
                 f"{human_count(layer.params_before)} -> {human_count(layer.params_after)}",
                 f"{human_bytes(layer.traffic_before)} -> {human_bytes(layer.traffic_after)}", layer.emission or "-"]
        if calibrated:
            cells.insert(6, fraction(layer.output_rel_error))
        if ordered:
            cells.append("pointwise" if layer.emission in PointwiseFirst.emissions else "depthwise")
        layers.add_row(*cells)
    console.print(layers)
    for layer in plan.rewritten:
        if layer.note:
            console.print(visible(f"{layer.name}: {layer.note}"), soft_wrap=True)
    if not plan.rewritten:
        console.print("no layer is rewritten\n")
    timed = [layer for layer in plan.layers if layer.timings]
    if timed:
        console.print(_timings_table(timed))
    if rivals:
        console.print(_comparison_table(plan, rivals))
        console.print("weight rel. error (rank) of each structure at the rewritten layer's MACs: the others at their largest "
                      "rank that does not cost more", soft_wrap=True)
        for layer in plan.rewritten:
            for alternative in layer.alternatives:
                if alternative.rank is None:
                    console.print("  " + visible(f"n/a: {alternative.structure} at {layer.name}: {alternative.reason}"),
                                  soft_wrap=True)
        console.print()

    left = [layer for layer in plan.layers if not layer.rewrite]
    if left:
        kept = Table(box=box.SIMPLE_HEAD, title="Left as they are", title_justify="left")
        for header in ("layer", "channels", "kernel", "considered r", "kept energy", "why"):
            kept.add_column(header, overflow="fold")
        for layer in left:
            kept.add_row(visible(layer.name), _shape(layer), "x".join(map(str, layer.kernel)) or "?",
                         "-" if layer.rank is None else str(layer.rank), fraction(layer.kept_energy), visible(layer.reason or ""))
        console.print(kept)

    totals = Table(box=box.SIMPLE_HEAD, title="Totals (whole model)", title_justify="left")
    for header, justify in [("", "left"), ("before", "right"), ("after", "right"), ("ratio", "right"), ("exact after", "right")]:
        totals.add_column(header, justify=justify)
    macs_after = plan.macs_after if report_macs is None else report_macs
    params_after = plan.params_after if report_params is None else report_params
    traffic_after = plan.traffic_after if report_traffic is None else report_traffic
    totals.add_row("MACs", human_count(plan.macs_before), human_count(macs_after), ratio(macs_after, plan.macs_before), f"{macs_after:,}")
    totals.add_row("params", human_count(plan.params_before), human_count(params_after), ratio(params_after, plan.params_before),
                   f"{params_after:,}")
    totals.add_row("memory traffic", human_bytes(plan.traffic_before), human_bytes(traffic_after),
                   ratio(traffic_after, plan.traffic_before), f"{traffic_after:,} B")
    conv_before = sum(l.macs_before for l in plan.layers)
    conv_after = conv_before + sum(l.macs_after - l.macs_before for l in plan.rewritten)
    totals.add_row("conv MACs", human_count(conv_before), human_count(conv_after), ratio(conv_after, conv_before), f"{conv_after:,}")
    console.print(totals)
    if report_macs is None:
        console.print("after: predicted by onnxcost's cost rules")
    else:
        console.print("after: onnxcost's report of the rewritten model, equal to the pass's prediction to the MAC "
                      "(and to the byte of memory traffic)")
    for note in plan.notes:
        console.print(f"note: {visible(note)}", soft_wrap=True)
    return buffer.getvalue()


def _timings_table(layers) -> Table:
    """Each timed layer alone in onnxruntime: the original (with --measure) and every emission timed."""
    keys = list(dict.fromkeys(key for layer in layers for key in layer.timings))
    table = Table(box=box.SIMPLE_HEAD, title="Layers measured alone (ms, best run)", title_justify="left")
    for header, justify in [("layer", "left"), *((key, "right") for key in keys), ("emitted", "left")]:
        table.add_column(header, justify=justify, overflow="fold")
    for layer in layers:
        cells = [visible(layer.name), *(f"{layer.timings[k] * 1e3:.3g}" if k in layer.timings else "-" for k in keys)]
        table.add_row(*cells, layer.emission if layer.rewrite else "original (kept)")
    return table


def _comparison_table(plan, rivals: list[str]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="Same MACs, other structures (weight rel. error)", title_justify="left")
    for header, justify in [("layer", "left"), ("MACs", "right"), (plan.structure, "right"),
                            *((rival, "right") for rival in rivals), ("least error", "left")]:
        table.add_column(header, justify=justify, overflow="fold")
    for layer in plan.rewritten:
        by_rival = {a.structure: a for a in layer.alternatives}
        cells = [visible(layer.name), human_count(layer.macs_after), f"{fraction(layer.weight_rel_error)} ({layer.rank})"]
        for rival in rivals:
            alternative = by_rival.get(rival)
            if alternative is None or alternative.rank is None:
                cells.append("n/a")
            else:
                cells.append(f"{fraction(alternative.weight_rel_error)} ({alternative.rank})")
        cells.append(layer.least_error or "-")
        table.add_row(*cells)
    return table
