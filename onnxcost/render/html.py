"""The report as one self-contained HTML page: totals, warnings, inputs, per-node charts in topological order,
live memory over the schedule, op types, intensity against work and a sortable, filterable node table.

Charts are SVG written here (svg.py), the table is drawn by a small script from the rows embedded as JSON; the
style and script come from html_assets/ and are inlined, so the file opens offline and asks nothing of the
network (its Content-Security-Policy forbids it, and any script but its own). Past a few thousand nodes the
per-node charts show the heaviest node of each run of neighbours and the table pages (docs/html.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources

from ..report import NodeRow, Report
from ..schedule import live_activations
from ..units import human_bytes, human_count
from .as_csv import shape_text
from .sanitize import visible
from .selection import heaviest
from .svg import OTHER_COLOUR, PALETTE, Bar, Point, Row, Step, bar_rows, column_chart, esc, legend, scatter, step_chart

MAX_BARS = 500  # per-node charts (about 2 px a bar): past this, one bar per run of neighbours (the heaviest)
MAX_STEPS = 1000  # memory curve: past this, one step per run (the highest live bytes of the run)
MAX_POINTS = 2500  # scatter: past this many distinct marks, nearby marks of one op type merge
LABELLED = 5  # the heaviest bars and points carry their node's name


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """A file of html_assets/ (the page's style and script), read once."""
    return resources.files(__package__).joinpath("html_assets", name).read_text(encoding="utf-8")


def page(title: str, body: str) -> str:
    """A complete page: ``body`` with the inlined style and script; only that script may run, nothing loads."""
    script = asset("report.js")
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    policy = (f"default-src 'none'; style-src 'unsafe-inline'; "
              f"script-src 'sha256-{base64.b64encode(digest).decode()}'")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{asset('report.css')}</style></head>\n<body>\n{body}\n"
            f"<script>{script}</script></body></html>\n")


def json_block(element_id: str, data: object) -> str:
    """``data`` as a JSON data block; '<', '>' and '&' escaped so that no string can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = (), css: str = "") -> str:
    """A static table, cells escaped; columns in ``numeric`` align right. A cell may be (text, number): the
    number is what a click on the header of a "sortable" table sorts by."""
    def cell(i: int, value: object) -> str:
        text, number = value if isinstance(value, tuple) else (value, None)
        attributes = (" class=num" if i in numeric else "") + (f' data-value="{number}"' if number is not None else "")
        return f"<td{attributes}>{esc(text)}</td>"

    head = "".join(f'<th{" class=num" if i in numeric else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def section(element_id: str, heading: str, *parts: str) -> str:
    """A titled part of the page; ``parts`` are HTML already."""
    return f'<section id="{esc(element_id)}"><h2>{esc(heading)}</h2>{"".join(parts)}</section>'


def figure(name: str, title: str, svg: str, caption: str) -> str:
    """One chart with its heading and caption; ``name`` identifies it in the page (data-chart)."""
    return (f'<figure class="chart" data-chart="{esc(name)}"><h3>{esc(title)}</h3>{svg}'
            f'<figcaption>{esc(caption)}</figcaption></figure>')


# --- the report page --------------------------------------------------------------------------------------

def render_html(report: Report, top: int | None = None, dims: Mapping[str, int] | None = None,
                inputs: Mapping[str, Sequence[int]] | None = None) -> str:
    """The report as one HTML page. ``top``: the table holds only the heaviest nodes (the charts show them all);
    ``dims`` and ``inputs``: what the user gave (--dim, --input), shown as given."""
    colours = _op_colours(report)
    sections = [
        _header(report), _totals(report), _warnings(report.warnings), _io(report, dims, inputs),
        _per_node(report, colours), _memory(report), _op_types(report, colours), _intensity(report, colours),
        _node_table(report, top),
    ]
    return page(f"onnxcost: {report.model.source}", "\n".join(s for s in sections if s))


def _op_colours(report: Report) -> dict[str, str]:
    """The heaviest op types (the report's order) get the palette's colours, the others grey."""
    return {op: PALETTE[i] for i, op in enumerate(list(report.by_op_type)[: len(PALETTE)])}


def _op_key(row: NodeRow) -> str:
    return row.op_type if not row.domain else f"{row.domain}.{row.op_type}"


def _header(report: Report) -> str:
    m = report.model
    opsets = ", ".join(f"{domain} {version}" for domain, version in m.opsets.items())
    facts = " · ".join(x for x in (m.producer, f"IR {m.ir_version}", f"opsets {opsets}" if opsets else "") if x)
    return (f'<header><h1>onnxcost report</h1><p class="source">{esc(m.source)}</p>'
            f'<p class="facts">{esc(facts)}</p></header>')


def _totals(report: Report) -> str:
    t, peak = report.totals, report.peak
    cards = [
        ("MACs", human_count(t.macs), t.macs, ""), ("FLOPs", human_count(t.flops), t.flops, ""),
        ("parameters", human_count(t.params), t.params, ""),
        ("parameter memory", human_bytes(t.param_bytes), t.param_bytes, "B"),
        ("peak activations", human_bytes(t.peak_activation_bytes), t.peak_activation_bytes,
         f"B, at {peak.node}" if peak.node else "B"),
        ("activations (sum)", human_bytes(t.activation_bytes), t.activation_bytes, "B"),
        ("memory traffic", human_bytes(t.memory_traffic_bytes), t.memory_traffic_bytes, "B"),
        ("special ops", human_count(t.special_ops), t.special_ops, ""),
        ("compute layers", str(t.compute_layers), t.compute_layers, ""), ("nodes", str(t.nodes), t.nodes, ""),
    ]
    items = "".join(f'<div class="card"><span class="what">{esc(what)}</span><span class="value">{esc(text)}</span>'
                    f'<span class="exact">{exact:,} {esc(unit)}</span></div>' for what, text, exact, unit in cards)
    return section("totals", "Totals", f'<div class="cards">{items}</div>')


def _warnings(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    return section("warnings", f"Warnings ({len(warnings)})", f'<ul class="warnings">{items}</ul>')


def _io(report: Report, dims, inputs) -> str:
    rows = [[kind, t.name, t.dtype, shape_text(t.shape), human_bytes(t.bytes)]
            for kind, tensors in (("input", report.model.inputs), ("output", report.model.outputs)) for t in tensors]
    given = []
    if inputs:
        given.append("input shapes given: " + ", ".join(f"{k}={shape_text(list(v))}" for k, v in inputs.items()))
    if dims:
        given.append("dims given: " + ", ".join(f"{k}={v}" for k, v in dims.items()))
    notes = "".join(f"<p>{esc(line)}</p>" for line in given) or "<p>no input shape or dimension given: the model's own</p>"
    return section("inputs", "Inputs and outputs", notes, table(["", "name", "dtype", "shape", "bytes"], rows, numeric=(4,)))


def _per_node(report: Report, colours: dict[str, str]) -> str:
    rows = report.nodes
    if not rows:
        return ""
    runs = math.ceil(len(rows) / MAX_BARS)
    charts = []
    for name, title, kind, value, text in (
        ("macs", "MACs per node", "count", lambda r: r.macs, lambda v: f"{human_count(v)} MACs"),
        ("params", "Parameters per node", "count", lambda r: r.params, lambda v: f"{human_count(v)} parameters"),
        ("output", "Output bytes per node", "bytes", lambda r: r.output_bytes, lambda v: f"{human_bytes(v)} written"),
    ):
        bars = []
        for start in range(0, len(rows), runs):
            run = rows[start:start + runs]
            top = max(run, key=lambda r: (value(r), -r.index))
            where = (f"#{top.index} {top.name} ({_op_key(top)})" if runs == 1 else
                     f"#{run[0].index}-#{run[-1].index}, heaviest #{top.index} {top.name} ({_op_key(top)})")
            repeat = f", runs ×{top.repeat}" if top.repeat != 1 else ""
            bars.append(Bar(value(top), colours.get(_op_key(top), OTHER_COLOUR), f"{where}: {text(value(top))} "
                            f"({value(top):,}){repeat}", top.name))
        svg, axis = column_chart(bars, kind, title, "node, in topological order", highlight=LABELLED, items=len(rows))
        binned = f"; one bar per {runs} neighbouring nodes (the heaviest of them)" if runs > 1 else ""
        charts.append(figure(name, title, svg, f"{axis.scale_name}, one execution of each node{binned}; "
                             "the heaviest are named"))
    keys = legend([(op, colour) for op, colour in colours.items()] + [("other", OTHER_COLOUR)])
    return section("per-node", "Per node, in topological order", keys, *charts)


def _memory(report: Report) -> str:
    live = live_activations(report)
    if not live.rows:
        return ""
    names = {row.index: row.name for row in report.nodes}
    runs = math.ceil(len(live.rows) / MAX_STEPS)
    steps, marked = [], None
    for start in range(0, len(live.rows), runs):
        span = range(start, min(start + runs, len(live.rows)))
        high = max(span, key=lambda s: (live.live_bytes[s], -s))
        where = f"step {high} ({names[live.rows[high]]})"
        if runs > 1:
            where = f"steps {span[0]}-{span[-1]}, highest: {where}"
        steps.append(Step(live.live_bytes[high], f"{where}: {human_bytes(live.live_bytes[high])} live"))
        if report.peak.node_index in (live.rows[s] for s in span):
            marked = len(steps) - 1
    peak = report.peak
    text = [f"peak {human_bytes(peak.bytes)} at {peak.node}"] + [
        f"{t.name}: {shape_text(t.shape)} {t.dtype}, {human_bytes(t.bytes)}" for t in peak.live_tensors]
    svg = step_chart(steps, marked, text, "Live activation memory", "step of the schedule (main graph, topological order)",
                     items=len(live.rows))
    binned = f"; one step per {runs} steps (the highest of them)" if runs > 1 else ""
    tensors = ", ".join(f"{t.name} ({human_bytes(t.bytes)})" for t in peak.live_tensors)
    caption = (f"bytes of activations live while each node runs (inputs and outputs together, weights not counted, no "
               f"in-place reuse){binned}; peak {human_bytes(peak.bytes)} ({peak.bytes:,} B) at {peak.node}: {tensors}")
    return section("memory", "Live activation memory", figure("memory", "Live activations over the schedule", svg, caption))


def _op_types(report: Report, colours: dict[str, str]) -> str:
    t = report.totals
    if not report.by_op_type:
        return ""

    def share(value: int, total: int) -> str:
        return f" ({100 * value / total:.1f}%)" if total else ""

    rows = [Row(f"{op} ×{s.count}", [(s.macs, human_count(s.macs) + share(s.macs, t.macs)),
                                    (s.params, human_count(s.params) + share(s.params, t.params)),
                                    (s.memory_traffic_bytes, human_bytes(s.memory_traffic_bytes)
                                     + share(s.memory_traffic_bytes, t.memory_traffic_bytes))])
            for op, s in report.by_op_type.items()]
    svg = bar_rows(rows, ["MACs", "parameters", "memory traffic"], "By op type",
                   [colours.get(op, OTHER_COLOUR) for op in report.by_op_type])
    caption = "each op type's nodes added up (times their repeat), heaviest first; shares of the model's totals"
    return section("op-types", "By op type", figure("op-types", "MACs, parameters and traffic by op type", svg, caption))


def _intensity(report: Report, colours: dict[str, str]) -> str:
    marks: dict[tuple, list[NodeRow]] = {}
    for row in report.nodes:
        if row.flops > 0 and row.memory_traffic_bytes > 0:
            marks.setdefault((_op_key(row), row.flops, row.memory_traffic_bytes), []).append(row)
    if not marks:
        return ""
    if len(marks) > MAX_POINTS:  # merge marks of one op type that would fall within a few pixels of each other
        merged: dict[tuple, list[NodeRow]] = {}
        for (op, flops, traffic), rows in marks.items():
            cell = (op, round(math.log10(flops) * 40), round(math.log10(flops / traffic) * 40))
            merged.setdefault(cell, []).extend(rows)
        marks = {(op, *max((r.flops, r.memory_traffic_bytes) for r in rows)): rows for (op, _, _), rows in merged.items()}
    heaviest = sorted(marks, key=lambda key: (-key[1], key[0]))[:LABELLED]
    points = []
    for key, rows in marks.items():
        op, flops, traffic = key
        first = rows[0]
        who = f"#{first.index} {first.name}" + (f" and {len(rows) - 1} more" if len(rows) > 1 else "")
        tooltip = (f"{who} ({op}): {human_count(flops)} FLOPs, {human_bytes(traffic)} traffic, "
                   f"{flops / traffic:.3g} FLOPs/byte")
        points.append(Point(flops, flops / traffic, colours.get(op, OTHER_COLOUR), tooltip, len(rows),
                            first.name if key in heaviest else ""))
    svg = scatter(points, "count", "plain", "FLOPs per node (log)", "FLOPs per byte of memory traffic (log)",
                  "Arithmetic intensity against work")
    caption = ("each node with FLOPs: its work against its arithmetic intensity (FLOPs / bytes read and written, weights "
               "included); low intensity means memory-bound on most hardware. Nodes with identical figures share a "
               "larger mark")
    return section("intensity", "Arithmetic intensity against work (roofline-style)",
                   figure("intensity", "FLOPs per byte against FLOPs", svg, caption))


NODE_COLUMNS = ["#", "node", "op", "output shape", "MACs", "FLOPs", "params", "output", "traffic", "share of MACs"]


def _node_table(report: Report, top: int | None) -> str:
    """The node table's rows as data for report.js (numbers exact for sorting, text as the terminal shows it;
    report.js escapes it for HTML)."""
    t = report.totals
    rows = []
    for r in heaviest(report, top):
        name = (f"{r.scope}/" if r.scope else "") + r.name + (f" ×{r.repeat}" if r.repeat != 1 else "")
        share = f"{100 * r.macs * r.repeat / t.macs:.1f}%" if t.macs and r.macs else ""
        rows.append([r.index, visible(name), visible(r.op_type if r.costed else f"{r.op_type}*"),
                     ", ".join(shape_text(s) for s in r.output_shapes), r.macs, r.flops, r.params, r.output_bytes,
                     r.memory_traffic_bytes, human_count(r.macs), human_count(r.flops), human_count(r.params),
                     human_bytes(r.output_bytes), human_bytes(r.memory_traffic_bytes), share])
    data = {"columns": NODE_COLUMNS, "rows": rows}
    starred = ('<p class="note">* no cost rule or unknown shapes: 0 MACs counted (see the warnings)</p>'
               if any(not r.costed for r in report.nodes) else "")
    title = f"Nodes ({len(rows):,})" if top is None else f"Top {len(rows):,} nodes by MACs (of {len(report.nodes):,})"
    return section(
        "nodes", title,
        '<div class="controls"><input id="node-filter" type="search" placeholder="filter by node, op or shape" '
        'aria-label="filter nodes"><label>rows per page <select id="node-page-size"><option>50</option>'
        '<option selected>100</option><option>500</option><option value="0">all</option></select></label>'
        '<button id="node-prev" type="button">previous</button><span id="node-status"></span>'
        '<button id="node-next" type="button">next</button></div>',
        '<table id="node-table" class="nodes"><thead></thead><tbody></tbody></table>', starred, json_block("node-data", data))
