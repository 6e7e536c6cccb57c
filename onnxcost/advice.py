"""ShuffleNet V2's four guidelines and VGG's stacked-3x3 lesson, checked node by node (docs/advise.md).

Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design" (ECCV 2018), count memory
access cost (MAC) in elements read or written; here a MAC excess is also given in bytes (elements times the
element's size) so that findings of every guideline compare. For a conv of c1 input and c2 output channels, group
g, kernel kh x kw, over hw output positions (N·H·W: the batch's positions count like more pixels):

    G1 (1x1, g = 1, stride 1):  MAC = hw·(c1 + c2) + c1·c2,  B = hw·c1·c2 (its FLOPs, as the paper counts them),
                                MAC >= 2·sqrt(hw·B) + B/hw, reached when c1 = c2
    G2 (1 < g < c1):            MAC = hw_in·c1 + hw·c2 + kh·kw·c1·c2/g, against the g = 1 layer of the same FLOPs
                                and channel ratio (channels divided by sqrt(g), as the paper's Table 2 fixes FLOPs):
                                MAC_1 = (hw_in·c1 + hw·c2)/sqrt(g) + kh·kw·c1·c2/g
    G3: blocks between two single tensors; their parallel branches, fragments and the ops off the longest path
    G4: the element-wise ops' share of the memory traffic and of the FLOPs of the non-dense ops
    VGG: a KxK conv (K >= 5) and the stack of 3x3 convs (the stride on the first) reaching the same field

Findings are ranked by the bytes of memory traffic per inference following them would save (G1, G2, G4, VGG:
its saved weights are read once per inference), then G3's by the ops off the longest path (unit: ops).
"""

from __future__ import annotations

import heapq
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import onnx

from .loading import DEFAULT_MAX_FILE_BYTES, load_model
from .memory import lifetimes
from .receptive import Window, report_inputs, report_nodes, tensor_shapes, window
from .report import NodeRow, Report
from .tensors import BITS, numel

SCHEMA = "onnxcost.advice/1"
GUIDELINES = {
    "G1": "equal channel width minimises memory access cost (1x1 convs)",
    "G2": "excessive group convolution increases memory access cost",
    "G3": "network fragmentation reduces the degree of parallelism",
    "G4": "element-wise operations are not negligible",
    "VGG": "stacked 3x3 convs reach a large field with fewer parameters",
}
ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean", "Pow", "Sqrt", "Neg", "Abs", "Exp", "Log", "Erf",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus",
    "Softsign", "Clip", "Gelu", "Mish", "ThresholdedRelu", "BatchNormalization",
})
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
BYTES, OPS = "bytes", "ops"


# --- the paper's formulas -------------------------------------------------------------------------------------

def g1_mac(hw: int, c1: int, c2: int) -> int:
    """Memory access cost of a 1x1 conv (elements): hw·(c1 + c2) + c1·c2 (input, output, weights)."""
    return hw * (c1 + c2) + c1 * c2


def g1_flops(hw: int, c1: int, c2: int) -> int:
    """B = hw·c1·c2, the FLOPs of a 1x1 conv as the paper counts them (multiply-adds)."""
    return hw * c1 * c2


def g1_bound(hw: int, flops: int) -> float:
    """The least MAC of a 1x1 conv of ``flops`` over ``hw`` positions: 2·sqrt(hw·B) + B/hw (c1 = c2)."""
    return 2 * math.sqrt(hw * flops) + flops / hw


def g2_mac(hw: int, c1: int, c2: int, groups: int, kernel: int = 1, hw_in: int | None = None) -> float:
    """MAC of a grouped conv (elements): hw_in·c1 + hw·c2 + kernel·c1·c2/g (``kernel`` = kh·kw; hw_in = hw)."""
    hw_in = hw if hw_in is None else hw_in
    return hw_in * c1 + hw * c2 + kernel * c1 * c2 / groups


def g2_mac_ungrouped(hw: int, c1: int, c2: int, groups: int, kernel: int = 1, hw_in: int | None = None) -> float:
    """MAC of the g = 1 conv with the same FLOPs and channel ratio (c1/sqrt(g) to c2/sqrt(g) channels)."""
    hw_in = hw if hw_in is None else hw_in
    return (hw_in * c1 + hw * c2) / math.sqrt(groups) + kernel * c1 * c2 / groups


def stacked_3x3(kernel: int, stride: int) -> tuple[int, int]:
    """(n, field): the fewest 3x3 convs, the first at ``stride``, whose field 3 + 2·s·(n − 1) reaches ``kernel``."""
    n = 1 + math.ceil((kernel - 3) / (2 * stride))
    return n, 3 + 2 * stride * (n - 1)


# --- the result ------------------------------------------------------------------------------------------------

@dataclass
class Finding:
    """One place that breaks a guideline: the node (a block 'first..last' for G3, '' for the whole model), one
    line saying what and by how much, the formula with its numbers, the figures, and what following the guideline
    would save (``saving`` in ``unit``: 'bytes' of memory traffic per inference, or 'ops' for G3)."""

    guideline: str
    node: str
    op_type: str
    message: str
    formula: str
    figures: dict[str, int | float]
    saving: int
    unit: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GuidelineSummary:
    """A guideline over the model: how many findings, their saving (``unit``), the worst node and its headline
    figure (G1, G2: MAC ratio; G3: parallel branches; G4: share of the traffic; VGG: parameter ratio)."""

    guideline: str
    title: str
    findings: int
    saving: int
    unit: str
    worst_node: str | None
    worst: float | None


@dataclass
class Advice:
    """``advise``'s result: the model, one summary per guideline and the findings, ranked (docs/advise.md)."""

    model: str
    summary: list[GuidelineSummary]
    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The machine form; key order is part of the format."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "ranking": "bytes of memory traffic per inference saved, then ops off the longest path (G3)",
            "summary": [asdict(s) for s in self.summary],
            "findings": [f.to_dict() for f in self.findings],
            "warnings": list(self.warnings),
        }


# --- the checks ------------------------------------------------------------------------------------------------

def advise(
    model: str | os.PathLike | onnx.ModelProto,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    source: str | None = None,
) -> Advice:
    """Check ``model`` (a path or a ModelProto; ``inputs``, ``dims``, ``max_file_bytes``, ``source`` as for
    ``analyze``) against ShuffleNet V2's guidelines G1-G4 and VGG's stacked-3x3 lesson."""
    from .analysis import IN_MEMORY_SOURCE, analyze_model
    from .skeleton import build_skeleton

    loaded = load_model(model, max_file_bytes=max_file_bytes, inline_weights=False)
    if source is None:
        source = str(loaded.path) if loaded.path is not None else IN_MEMORY_SOURCE
    report = analyze_model(loaded.model, source, inputs, dims, formulas=False)
    skeleton = build_skeleton(loaded.model)
    return advise_report(skeleton, report)


def advise_report(skeleton: onnx.ModelProto, report: Report) -> Advice:
    """The advice from a model's ``report`` and its ``skeleton`` (``skeleton.build_skeleton``: the attributes)."""
    shapes = tensor_shapes(skeleton, report_inputs(report), report.nodes)
    weight_bits = {t.name: BITS.get(t.data_type, 32) for t in skeleton.graph.initializer}
    convs = [_ConvSite(row, node, shapes, weight_bits) for row, node in report_nodes(skeleton, report)
             if node.op_type == "Conv" and node.domain in ("", "ai.onnx")]
    convs = [site for site in convs if site.ok]
    findings = [f for site in convs for f in (_g1(site), _g2(site), _vgg(site)) if f is not None]
    findings += _g3(report)
    g4 = _g4(report)
    findings += [g4] if g4 is not None else []
    findings.sort(key=lambda f: (f.unit != BYTES, -f.saving, f.guideline, f.node))
    return Advice(report.model.source, _summaries(findings), findings, list(report.warnings))


class _ConvSite:
    """A Conv's channels, group, kernel and positions, read from its row, node and the shapes."""

    def __init__(self, row: NodeRow, node: onnx.NodeProto, shapes, weight_bits: Mapping[str, int]):
        self.row, self.ok = row, False
        weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
        x, y = shapes.get(node.input[0]), (row.output_shapes or [None])[0]
        geometry = window(node, weight)
        if weight is None or x is None or y is None or geometry is None or len(x) < 3 or len(y) != len(x):
            return
        self.geometry: Window = geometry
        self.groups = geometry.group
        self.c2, self.c1 = weight[0], weight[1] * self.groups
        self.kernel = numel(geometry.kernel)
        self.hw_in, self.hw = x[0] * numel(x[2:]), y[0] * numel(y[2:])
        outputs = numel(y)
        self.element_bytes = row.output_bytes / outputs if outputs else 4
        self.weight_bytes = weight_bits.get(node.input[1], 32) / 8
        self.ok = self.hw > 0 and self.c1 > 0 and self.c2 > 0


def _g1(site: _ConvSite) -> Finding | None:
    g = site.geometry
    if (site.groups != 1 or set(g.kernel) != {1} or set(g.strides) != {1} or site.hw != site.hw_in
            or site.c1 == site.c2):
        return None
    hw, c1, c2 = site.hw, site.c1, site.c2
    mac, flops = g1_mac(hw, c1, c2), g1_flops(hw, c1, c2)
    bound = g1_bound(hw, flops)
    ratio = mac / bound
    equal = math.sqrt(c1 * c2)
    return Finding(
        "G1", site.row.name, site.row.op_type,
        f"1x1 conv {c1}->{c2} channels (1:{c2 / c1:.3g}): MAC {mac:,} is {ratio:.4f}x the bound at its FLOPs, "
        f"reached with {equal:.1f} channels in and out",
        f"MAC = hw·(c1 + c2) + c1·c2 = {hw}·({c1} + {c2}) + {c1}·{c2} = {mac:,}; B = hw·c1·c2 = {flops:,}; "
        f"bound = 2·sqrt(hw·B) + B/hw = {bound:,.1f}",
        {"hw": hw, "c1": c1, "c2": c2, "flops": flops, "mac": mac, "bound": round(bound, 1), "ratio": round(ratio, 4)},
        round((mac - bound) * site.element_bytes), BYTES,
    )


def _g2(site: _ConvSite) -> Finding | None:
    g = site.groups
    if g <= 1 or g >= site.c1:  # depthwise (g = c1) is the guideline's accepted exception: ShuffleNet V2 uses it
        return None
    hw, hw_in, c1, c2, k = site.hw, site.hw_in, site.c1, site.c2, site.kernel
    mac = g2_mac(hw, c1, c2, g, k, hw_in)
    dense = g2_mac_ungrouped(hw, c1, c2, g, k, hw_in)
    ratio = mac / dense
    return Finding(
        "G2", site.row.name, site.row.op_type,
        f"conv {c1}->{c2} channels in {g} groups: MAC {mac:,.0f} is {ratio:.4f}x that of the g = 1 conv of the "
        f"same FLOPs ({c1 / math.sqrt(g):.1f}->{c2 / math.sqrt(g):.1f} channels)",
        f"MAC = hw_in·c1 + hw·c2 + k·c1·c2/g = {hw_in}·{c1} + {hw}·{c2} + {k}·{c1}·{c2}/{g} = {mac:,.0f}; "
        f"g = 1 at equal FLOPs: (hw_in·c1 + hw·c2)/sqrt(g) + k·c1·c2/g = {dense:,.1f}",
        {"hw_in": hw_in, "hw": hw, "c1": c1, "c2": c2, "groups": g, "kernel": k, "mac": round(mac),
         "mac_g1": round(dense, 1), "ratio": round(ratio, 4)},
        round((mac - dense) * site.element_bytes), BYTES,
    )


def _vgg(site: _ConvSite) -> Finding | None:
    g = site.geometry
    size, stride = g.kernel[0], g.strides[0]
    if (len(set(g.kernel)) != 1 or len(set(g.strides)) != 1 or size < 5 or set(g.dilations) != {1}
            or stride > 3 or len(g.kernel) != 2):
        return None  # a stride over 3 on a 3x3 would skip pixels
    c1, c2, groups = site.c1, site.c2, site.groups
    n, reach = stacked_3x3(size, stride)
    params = size * size * c1 * c2 // groups
    stacked = 9 * c2 * (c1 + (n - 1) * c2) // groups
    if stacked >= params:
        return None
    saved = params - stacked
    return Finding(
        "VGG", site.row.name, site.row.op_type,
        f"{size}x{size} conv {c1}->{c2} (stride {stride}): {n} stacked 3x3 convs reach a {reach}x{reach} field with "
        f"{stacked:,} weights instead of {params:,} ({saved:,} fewer, {site.hw * saved:,} fewer MACs)",
        f"K²·c1·c2/g = {size}²·{c1}·{c2}/{groups} = {params:,}; 9·c2·(c1 + (n − 1)·c2)/g = "
        f"9·{c2}·({c1} + {n - 1}·{c2})/{groups} = {stacked:,}; field 3 + 2·s·(n − 1) = {reach}",
        {"kernel": size, "stride": stride, "c1": c1, "c2": c2, "groups": groups, "stack": n, "field": reach,
         "params": params, "params_stacked": stacked, "params_saved": saved, "macs_saved": site.hw * saved,
         "ratio": round(params / stacked, 4)},
        round(saved * site.weight_bytes), BYTES,
    )


def _g3(report: Report) -> list[Finding]:
    """Blocks are the rows between two steps where a single activation is live (a cut of the main graph)."""
    rows = [row for row in report.nodes if row.scope == ""]
    if not rows:
        return []
    graph_inputs = [t.name for t in report.model.inputs]
    sizes = dict.fromkeys([*graph_inputs, *(name for row in rows for name in row.outputs if name)], 1)
    spans = lifetimes([r.inputs for r in rows], [r.outputs for r in rows], graph_inputs,
                      [t.name for t in report.model.outputs], sizes)
    change = [0] * (len(rows) + 1)  # how many tensors are live from step i into step i + 1
    for birth, death in spans.values():
        change[birth] += 1
        change[death] -= 1
    live, entries, open_spans, next_born = 0, {}, [], 0
    born = sorted((b, -d, n) for n, (b, d) in spans.items())
    for step in range(len(rows) - 1):
        live += change[step]
        while next_born < len(born) and born[next_born][0] <= step:
            heapq.heappush(open_spans, born[next_born][1:])  # (−death, name): the longest-lived first
            next_born += 1
        if live == 1:  # a cut: the one tensor live across it is the one that dies last
            entries[step] = open_spans[0][1]
    findings = []
    cuts = list(entries)
    for first, last in zip([-1, *cuts], [*cuts, len(rows) - 1]):
        entry = entries[first] if first >= 0 else (graph_inputs[0] if len(graph_inputs) == 1 else None)
        if entry is not None:
            finding = _block(rows[first + 1:last + 1], entry)
            if finding is not None:
                findings.append(finding)
    return findings


def _block(rows: list[NodeRow], entry: str) -> Finding | None:
    consumers: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        for name in dict.fromkeys(row.inputs):
            consumers.setdefault(name, []).append(i)
    starts = []  # one list of first ops per branch; a Split's outputs (ShuffleNet V2's channel split) are branches
    for i in consumers.get(entry, []):
        splits = rows[i].op_type == "Split"
        starts += [consumers.get(out, []) for out in rows[i].outputs] if splits else [[i]]
    reach = []
    for first in starts:
        seen, stack = set(), list(first)
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                stack.extend(k for out in rows[j].outputs for k in consumers.get(out, []))
        reach.append(seen)
    heavy = [i for i, row in enumerate(rows) if row.macs > 0 or row.op_type in POOLS]
    compute_branches = sum(1 for own in _private(reach) if any(i in own for i in heavy))
    if compute_branches < 2:
        return None
    depth: list[int] = []
    producer = {out: i for i, row in enumerate(rows) for out in row.outputs}
    for row in rows:
        depth.append(1 + max((depth[producer[n]] for n in row.inputs if n in producer), default=0))
    longest = max(depth)
    off_path = len(rows) - longest
    small = len(rows) - len(heavy)
    name = f"{rows[0].name}..{rows[-1].name}"
    return Finding(
        "G3", name, "block",
        f"block of {_ops(len(rows))}: {compute_branches} parallel branches with convs or pools, {len(heavy)} "
        f"fragments and {small} small {'op' if small == 1 else 'ops'}; {_ops(off_path)} off its longest path "
        f"of {longest}",
        f"ops off the longest path = ops − longest path = {len(rows)} − {longest} = {off_path}",
        {"ops": len(rows), "branches": len(starts), "compute_branches": compute_branches,
         "fragments": len(heavy), "small_ops": small, "longest_path": longest, "off_path": off_path},
        off_path, OPS,
    )


def _ops(count: int) -> str:
    return f"{count} op" if count == 1 else f"{count} ops"


def _private(reach: list[set[int]]) -> list[set[int]]:
    """Each branch's own ops: reached from its root and from no other root (the join and after are shared)."""
    return [own - set().union(*(other for j, other in enumerate(reach) if j != i)) for i, own in enumerate(reach)]


def _g4(report: Report) -> Finding | None:
    rows = [row for row in report.nodes if row.repeat > 0]
    elementwise = [row for row in rows if row.op_type in ELEMENTWISE and row.domain == ""]
    if not elementwise:
        return None
    traffic = sum(row.memory_traffic_bytes * row.repeat for row in elementwise)
    flops = sum(row.flops * row.repeat for row in elementwise)
    total_traffic = report.totals.memory_traffic_bytes
    non_dense = sum(row.flops * row.repeat for row in rows if row.macs == 0)
    traffic_share = traffic / total_traffic if total_traffic else 0.0
    flops_share = flops / non_dense if non_dense else 0.0
    batchnorms = sum(1 for row in elementwise if row.op_type == "BatchNormalization")
    folded = f"; {batchnorms} BatchNormalization nodes could be folded into their convs" if batchnorms else ""
    return Finding(
        "G4", "", "model",
        f"{len(elementwise)} element-wise ops move {traffic_share:.1%} of the memory traffic and do "
        f"{flops_share:.1%} of the non-dense FLOPs{folded}",
        f"traffic share = {traffic:,} / {total_traffic:,} bytes; FLOPs share = {flops:,} / {non_dense:,} "
        "(FLOPs of the ops without MACs)",
        {"ops": len(elementwise), "traffic_bytes": traffic, "total_traffic_bytes": total_traffic,
         "traffic_share": round(traffic_share, 4), "flops": flops, "non_dense_flops": non_dense,
         "flops_share": round(flops_share, 4), "batchnorm_nodes": batchnorms},
        traffic, BYTES,
    )


HEADLINE = {"G1": "ratio", "G2": "ratio", "G3": "compute_branches", "G4": "traffic_share", "VGG": "ratio"}


def _summaries(findings: list[Finding]) -> list[GuidelineSummary]:
    summaries = []
    for key, title in GUIDELINES.items():
        mine = [f for f in findings if f.guideline == key]
        worst = max(mine, key=lambda f: (f.figures[HEADLINE[key]], f.saving), default=None)
        summaries.append(GuidelineSummary(
            key, title, len(mine), sum(f.saving for f in mine), OPS if key == "G3" else BYTES,
            worst.node if worst else None, worst.figures[HEADLINE[key]] if worst else None,
        ))
    return summaries
