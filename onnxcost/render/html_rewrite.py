"""A rewrite (``onnxcost.passes.RewriteResult``) as one self-contained HTML page: the totals before and after, per
rewritten layer its MACs, parameters and memory traffic before and after (chart and table), the chosen rank and
the weight error, the layers left alone, the layer timings when measured, the rival structures when compared,
and onnxruntime's validation. It formats the result and computes nothing.
"""

from __future__ import annotations

from ..units import human_bytes, human_count
from .html import figure, page, section, table
from .rewrite import _shape
from .svg import Row, bar_rows, esc
from .terminal import fraction, ratio, scientific


def render_rewrite_html(result, source: str = "") -> str:
    """The rewrite ``result`` as one HTML page; ``source`` names the model that was rewritten."""
    plan = result.plan
    mode = plan.mode + (f", calibrated on {plan.calibration['samples']} samples" if plan.calibration is not None else "")
    title = f"{'plan (dry run)' if result.dry_run else 'rewrite'}: {plan.structure}, {mode}"
    sections = [
        f'<header><h1>onnxcost {esc(title)}</h1><p class="source">{esc(source)}</p></header>',
        _totals(plan, result.report), _messages(plan, result.input_warnings), _layers(plan), _timings(plan),
        _rivals(plan), _left_alone(plan), _validation(result.comparison, result.dry_run),
    ]
    return page(f"onnxcost {title}: {source}", "\n".join(s for s in sections if s))


def _totals(plan, report) -> str:
    after = report.totals if report is not None else None
    macs = after.macs if after else plan.macs_after
    params = after.params if after else plan.params_after
    traffic = after.memory_traffic_bytes if after else plan.traffic_after
    conv_before = sum(layer.macs_before for layer in plan.layers)
    conv_after = conv_before + sum(layer.macs_after - layer.macs_before for layer in plan.rewritten)
    rows = [
        ["MACs", human_count(plan.macs_before), human_count(macs), ratio(macs, plan.macs_before), f"{macs:,}"],
        ["params", human_count(plan.params_before), human_count(params), ratio(params, plan.params_before), f"{params:,}"],
        ["memory traffic", human_bytes(plan.traffic_before), human_bytes(traffic), ratio(traffic, plan.traffic_before),
         f"{traffic:,} B"],
        ["conv MACs", human_count(conv_before), human_count(conv_after), ratio(conv_after, conv_before), f"{conv_after:,}"],
    ]
    whence = ("after: onnxcost's report of the rewritten model, equal to the pass's prediction" if after
              else "after: predicted by onnxcost's cost rules")
    return section("totals", "Totals (whole model)", table(["", "before", "after", "ratio", "exact after"], rows,
                                                           numeric=(1, 2, 3, 4)), f'<p class="note">{esc(whence)}</p>')


def _messages(plan, input_warnings) -> str:
    lines = [f"note: {n}" for n in plan.notes] + [f"warning: {w}" for w in [*plan.warnings, *input_warnings]]
    lines += [f"{layer.name}: {layer.note}" for layer in plan.rewritten if layer.note]
    if not lines:
        return ""
    return section("notes", "Notes", '<ul class="warnings">' + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>")


def _layers(plan) -> str:
    layers = plan.rewritten
    calibrated = plan.calibration is not None
    if not layers:
        return section("layers", "Rewritten layers", "<p>no layer is rewritten</p>")
    rows = [Row(layer.name, [(layer.macs_after, _counts(layer.macs_before, layer.macs_after)),
                             (layer.params_after, _counts(layer.params_before, layer.params_after)),
                             (layer.traffic_after, _bytes(layer.traffic_before, layer.traffic_after))],
                [layer.macs_before, layer.params_before, layer.traffic_before]) for layer in layers]
    svg = bar_rows(rows, ["MACs", "parameters", "memory traffic"], "Per rewritten layer, before and after")
    chart = figure("layers", "Before (grey) and after (blue), per rewritten layer", svg,
                   "each layer's figures by onnxcost's cost rules; the memory traffic of a conv includes the folded "
                   "layers after it")
    cells = []
    for layer in layers:
        rank = f"{layer.rank}/{layer.max_rank}" if layer.max_rank else str(layer.rank)
        cells.append([
            layer.name + (f" +{','.join(layer.folded)}" if layer.folded else ""), _shape(layer),
            "x".join(map(str, layer.kernel)), (rank, layer.rank), (fraction(layer.kept_energy), layer.kept_energy),
            (fraction(layer.weight_rel_error), layer.weight_rel_error),
            (_counts(layer.macs_before, layer.macs_after), layer.macs_after),
            (ratio(layer.macs_after, layer.macs_before), layer.macs_after / layer.macs_before if layer.macs_before else None),
            (_counts(layer.params_before, layer.params_after), layer.params_after),
            (_bytes(layer.traffic_before, layer.traffic_after), layer.traffic_after),
            layer.emission or "-",
        ])
        if calibrated:
            cells[-1].insert(6, (fraction(layer.output_rel_error), layer.output_rel_error))
    headers = ["layer", "channels", "kernel", "r", "kept energy", "weight rel. err", "MACs before → after", "ratio",
               "params before → after", "memory traffic before → after", "emission"]
    if calibrated:  # the predicted error of the layer's output on the calibration data
        headers.insert(6, "output rel. err")
    return section("layers", f"Rewritten layers ({len(layers)})", chart,
                   table(headers, cells, numeric=range(3, 10 + calibrated), css="sortable"))


def _counts(before: int, after: int) -> str:
    return f"{human_count(before)} → {human_count(after)}"


def _bytes(before: int, after: int) -> str:
    return f"{human_bytes(before)} → {human_bytes(after)}"


def _timings(plan) -> str:
    timed = [layer for layer in plan.layers if layer.timings]
    if not timed:
        return ""
    keys = list(dict.fromkeys(key for layer in timed for key in layer.timings))
    cells = [[layer.name, *((f"{layer.timings[k] * 1e3:.3g}", layer.timings[k]) if k in layer.timings else "-"
                            for k in keys), layer.emission if layer.rewrite else "original (kept)"] for layer in timed]
    text = table(["layer", *(f"{k} (ms)" for k in keys), "emitted"], cells, numeric=range(1, len(keys) + 1), css="sortable")
    compared = [layer for layer in timed if "original" in layer.timings and layer.emission in layer.timings]
    chart = ""
    if compared:
        rows = [Row(layer.name, [(layer.timings[layer.emission] * 1e3,
                                  f"{layer.timings['original'] * 1e3:.3g} → {layer.timings[layer.emission] * 1e3:.3g} ms")],
                    [layer.timings["original"] * 1e3]) for layer in compared]
        chart = figure("latency", "Latency per layer: original (grey) and emitted (blue)",
                       bar_rows(rows, ["milliseconds, best run"], "Layer latency"),
                       "each layer alone in onnxruntime, best of repeated runs")
    return section("timings", "Layers measured alone", chart, text)


def _rivals(plan) -> str:
    rivals = list(dict.fromkeys(a.structure for layer in plan.rewritten for a in layer.alternatives))
    if not rivals:
        return ""
    cells = []
    for layer in plan.rewritten:
        by_rival = {a.structure: a for a in layer.alternatives}
        row = [layer.name, (human_count(layer.macs_after), layer.macs_after),
               (f"{fraction(layer.weight_rel_error)} ({layer.rank})", layer.weight_rel_error)]
        for rival in rivals:
            a = by_rival.get(rival)
            missing = a is None or a.rank is None
            row.append("n/a" if missing else (f"{fraction(a.weight_rel_error)} ({a.rank})", a.weight_rel_error))
        cells.append(row + [layer.least_error or "-"])
    headers = ["layer", "MACs", plan.structure, *rivals, "least error"]
    return section("rivals", "Same MACs, other structures (weight rel. error, rank)",
                   table(headers, cells, numeric=range(1, len(rivals) + 3), css="sortable"))


def _left_alone(plan) -> str:
    left = [layer for layer in plan.layers if not layer.rewrite]
    if not left:
        return ""
    cells = [[layer.name, _shape(layer), "x".join(map(str, layer.kernel)) or "?",
              "-" if layer.rank is None else str(layer.rank), fraction(layer.kept_energy), layer.reason or ""]
             for layer in left]
    headers = ["layer", "channels", "kernel", "considered r", "kept energy", "why"]
    return section("left", f"Left as they are ({len(left)})", table(headers, cells, numeric=(3, 4)))


def _validation(comparison, dry_run: bool) -> str:
    if comparison is None:
        why = "a dry run writes and validates nothing" if dry_run else "validation was skipped"
        return section("validation", "Validation", f"<p>{esc(why)}</p>")
    cells = [[o.name, "x".join(map(str, o.shape)), (scientific(o.max_abs_error), o.max_abs_error),
              (scientific(o.rel_l2_error), o.rel_l2_error), (f"{o.cosine:.6f}", o.cosine),
              "-" if o.top1_agreement is None else f"{100 * o.top1_agreement:.1f}%"] for o in comparison.outputs]
    bound = comparison.bounds.describe()
    if not comparison.ok:
        verdict = f'<p class="verdict-failed">validation FAILED (bound: {esc(bound)})</p><ul class="warnings">' + "".join(
            f"<li>{esc(f)}</li>" for f in comparison.failures) + "</ul>"
    elif comparison.bounds.max_rel_error is None and not comparison.bounds.elementwise:
        verdict = '<p class="note">no error bound given: the error is reported, not judged</p>'
    else:
        verdict = f'<p class="verdict-ok">validation passed (bound: {esc(bound)})</p>'
    inputs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in comparison.inputs.items())
    headers = ["output", "shape", "max abs error", "rel. L2 error", "cosine", "top-1 agreement"]
    return section("validation", "Validation (onnxruntime)", f"<p>inputs: {esc(comparison.input_source)}; {esc(inputs)}</p>",
                   table(headers, cells, numeric=(2, 3, 4, 5)), verdict)

