"""Receptive field and effective stride (jump) of every node, per spatial axis (docs/receptive-field.md).

The convention, per axis, for a window of k taps at dilation d and stride s:

    k_eff = d·(k − 1) + 1;  rf_out = rf_in + (k_eff − 1)·jump_in;  jump_out = jump_in·s;
    start_out = start_in − pad_begin·jump_in

``rf`` is in input pixels, ``jump`` is the distance in input pixels between two neighbouring output positions,
``start`` is the first input pixel (0-based; negative where the field reaches into padding) of output position 0's
field. A field starts (rf 1, jump 1, start 0) at the first tensor a windowed op (conv, pool) reads that carries
none and descends from none: the image, or what an exporter's Transpose or normalisation made of it.

The Report's rows carry no attributes (kernel, strides, pads, dilations), so the walk reads the nodes of the model
(its weightless skeleton, whose nodes are the report's) and takes names and shapes from the Report, so that the
fields are keyed by the report's node names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import onnx
from onnx import helper

from .report import NodeRow, Report

if TYPE_CHECKING:
    from fractions import Fraction

# Windowed ops: the input their weight is read from (None: a pool, its window is the kernel_shape attribute).
CONVS = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool"})
GLOBAL_POOLS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
WHOLE_MAP = frozenset({"InstanceNormalization"})  # same size out, but each value depends on the whole map
RESIZES = frozenset({"Resize", "Upsample"})
# Input taps per axis of each Resize mode (nearest copies one value, linear mixes 2, cubic 4).
RESIZE_TAPS = {"nearest": 1, "linear": 2, "bilinear": 2, "cubic": 4}
STANDARD_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class ReceptiveField:
    """A node's first output: ``rf`` (input pixels) and ``jump`` (input pixels between neighbouring output
    positions) per spatial axis, and ``start``, the first input pixel of output position 0's field (0-based, may be
    negative: padding), or None where it is not computed (after ConvTranspose, Resize, Pad). Values are integers,
    or floats after an upsampling (a jump of 1/2 pixel)."""

    rf: tuple[int | float, ...]
    jump: tuple[int | float, ...]
    start: tuple[int | float, ...] | None

    def to_dict(self) -> dict:
        """{"rf": [...], "jump": [...], "start": [...] or null}, one entry per spatial axis."""
        return {"rf": list(self.rf), "jump": list(self.jump), "start": list(self.start) if self.start else None}


@dataclass(frozen=True)
class Window:
    """A conv's or a pool's geometry per spatial axis; ``pads`` is begins then ends, as ONNX writes them."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[int, ...]
    auto_pad: str
    group: int

    @property
    def effective_kernel(self) -> tuple[int, ...]:
        """k_eff = d·(k − 1) + 1 per axis."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilations))

    def pad_begin(self, in_size: Sequence[int] | None, out_size: Sequence[int] | None) -> tuple[int, ...] | None:
        """Padding before the first pixel per axis; auto_pad SAME_* needs the sizes (None when they are unknown)."""
        if self.auto_pad in ("NOTSET", ""):
            return self.pads[:len(self.kernel)]
        if self.auto_pad == "VALID":
            return (0,) * len(self.kernel)
        if in_size is None or out_size is None:
            return None
        begins = []
        for n_in, n_out, s, k in zip(in_size, out_size, self.strides, self.effective_kernel):
            total = max((n_out - 1) * s + k - n_in, 0)
            begins.append(total // 2 if self.auto_pad == "SAME_UPPER" else total - total // 2)
        return tuple(begins)


def window(node: onnx.NodeProto, weight_shape: Sequence[int] | None = None) -> Window | None:
    """The geometry of a conv (``weight_shape`` gives its kernel when the attribute does not) or pool; None when
    the kernel is unknown."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    kernel = list(attrs.get("kernel_shape") or (weight_shape[2:] if weight_shape and len(weight_shape) > 2 else []))
    if not kernel:
        return None
    axes = len(kernel)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    return Window(
        kernel=tuple(int(k) for k in kernel),
        strides=tuple(int(s) for s in attrs.get("strides") or [1] * axes),
        dilations=tuple(int(d) for d in attrs.get("dilations") or [1] * axes),
        pads=tuple(int(p) for p in attrs.get("pads") or [0] * (2 * axes)),
        auto_pad=auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad),
        group=int(attrs.get("group", 1)),
    )


@dataclass(frozen=True)
class _Field:
    rf: tuple[int | Fraction, ...]
    jump: tuple[int | Fraction, ...]
    start: tuple[int | Fraction, ...] | None

    def public(self) -> ReceptiveField:
        return ReceptiveField(_plain(self.rf), _plain(self.jump), _plain(self.start) if self.start else None)


def _plain(values: Iterable[int | Fraction]) -> tuple[int | float, ...]:
    return tuple(int(v) if v.denominator == 1 else float(v) for v in values)


def _origin(axes: int) -> _Field:
    # Integers while the figures are whole (Fractions are 20x slower); upsampling makes Fractions.
    return _Field((1,) * axes, (1,) * axes, (0,) * axes)


def _divide(value, by) -> int | Fraction:
    from fractions import Fraction  # here: its module compiles a large regex when imported (~3 ms per report)

    exact = Fraction(value) / by
    return int(exact) if exact.denominator == 1 else exact


def trace(
    nodes: Iterable[tuple[str, onnx.NodeProto]],
    shapes: Mapping[str, Sequence[int] | None],
) -> dict[str, ReceptiveField]:
    """The field of every node's first output, for (name, node) pairs in topological order; ``shapes`` gives the
    shapes of the activations and weights (missing: unknown). Nodes whose output has no field (a Flatten, a Gemm,
    anything that mixes the spatial axes into others) are left out."""
    fields: dict[str, _Field] = {}
    lost: set[str] = set()  # tensors downstream of a field that ended: a conv reading one starts no new field
    found: dict[str, ReceptiveField] = {}
    public: dict[_Field, ReceptiveField] = {}  # a field passed on unchanged is converted once
    for name, node in nodes:
        ended = any(n in fields or n in lost for n in node.input)
        outputs = [None] * len(node.output) if node.input and node.input[0] in lost else _step(node, fields, shapes)
        for tensor, field in zip(node.output, outputs):
            if tensor and field is not None:
                fields[tensor] = field
            elif tensor and ended:
                lost.add(tensor)
        if node.output and node.output[0] in fields:
            field = fields[node.output[0]]
            if field not in public:
                public[field] = field.public()
            found[name] = public[field]
    return found


def _step(node: onnx.NodeProto, fields: dict[str, _Field], shapes) -> list[_Field | None]:
    op = node.op_type if node.domain in STANDARD_DOMAINS else None
    data = node.input[0] if node.input else ""
    if op in CONVS or op in POOLS or op == "ConvTranspose":
        weight_index = CONVS.get(op, 1 if op == "ConvTranspose" else None)
        weight = node.input[weight_index] if weight_index is not None and len(node.input) > weight_index else None
        geometry = window(node, shapes.get(weight) if weight else None)
        if geometry is None:
            return [None]
        field = fields.get(data) or _origin(len(geometry.kernel))
        if len(field.rf) != len(geometry.kernel):
            return [None]
        if op == "ConvTranspose":
            return [_transposed(field, geometry)]
        return [_windowed(field, geometry, _spatial(shapes.get(data), len(field.rf)),
                          _spatial(shapes.get(node.output[0]), len(field.rf)))]
    field = fields.get(data)
    if op in GLOBAL_POOLS or op in WHOLE_MAP:
        size = _spatial(shapes.get(data), len(field.rf)) if field else None
        if field is None or size is None:
            return [None]
        return [_whole(field, size, keep_jump=op in WHOLE_MAP)]
    if op in RESIZES:
        return [_resized(node, field, shapes)]
    if op == "Pad":  # the field is the same, shifted by pads held in an input tensor: start not computed
        return [_Field(field.rf, field.jump, None) if field else None]
    return [_passed(node, out, fields, shapes) for out in node.output]


def _spatial(shape: Sequence[int] | None, axes: int) -> tuple[int, ...] | None:
    if shape is None or len(shape) < axes + 1:
        return None
    return tuple(shape[len(shape) - axes:])


def _windowed(field: _Field, geometry: Window, in_size, out_size) -> _Field:
    begins = geometry.pad_begin(in_size, out_size)
    rf = tuple(r + (k - 1) * j for r, k, j in zip(field.rf, geometry.effective_kernel, field.jump))
    jump = tuple(j * s for j, s in zip(field.jump, geometry.strides))
    start = None
    if field.start is not None and begins is not None:
        start = tuple(st - p * j for st, p, j in zip(field.start, begins, field.jump))
    return _Field(rf, jump, start)


def _transposed(field: _Field, geometry: Window) -> _Field:
    """ConvTranspose: output o reads the inputs i with i·s + t·d = o + pad (taps t < k). For each o the valid taps
    step by s/g (g = gcd(s, d)), so at most ceil(k·g/s) of them, and i steps by d/g between them: the field grows
    by (ceil(k·g/s) − 1)·(d/g) input positions (exact, the largest over the output positions); the jump divides
    by s. The start depends on the output position's phase: not computed."""
    rf, jump = [], []
    for r, j, k, s, d in zip(field.rf, field.jump, geometry.kernel, geometry.strides, geometry.dilations):
        g = math.gcd(s, d)
        rf.append(r + (math.ceil(k * g / s) - 1) * (d // g) * j)
        jump.append(_divide(j, s))
    return _Field(tuple(rf), tuple(jump), None)


def _whole(field: _Field, size: Sequence[int], keep_jump: bool) -> _Field:
    """Every output value reads the whole map: rf_in + (n − 1)·jump_in per axis. A global pool's one position has no
    neighbour; its jump is written as if its stride were the map (jump_in·n)."""
    rf = tuple(r + (n - 1) * j for r, n, j in zip(field.rf, size, field.jump))
    jump = field.jump if keep_jump else tuple(j * n for j, n in zip(field.jump, size))
    return _Field(rf, jump, field.start)


def _resized(node: onnx.NodeProto, field: _Field | None, shapes) -> _Field | None:
    """Resize/Upsample: each output reads 1 (nearest), 2 (linear) or 4 (cubic) neighbouring inputs per axis; the
    jump scales by in/out size. The start depends on coordinate_transformation_mode: not computed."""
    if field is None:
        return None
    axes = len(field.rf)
    size_in = _spatial(shapes.get(node.input[0]), axes)
    size_out = _spatial(shapes.get(node.output[0]), axes)
    mode = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "mode"), b"nearest")
    taps = RESIZE_TAPS.get(mode.decode() if isinstance(mode, bytes) else str(mode))
    if size_in is None or size_out is None or taps is None or 0 in size_out:
        return None
    rf = tuple(r + (taps - 1) * j for r, j in zip(field.rf, field.jump))
    jump = tuple(_divide(j * a, b) for j, a, b in zip(field.jump, size_in, size_out))
    return _Field(rf, jump, None)


def _passed(node: onnx.NodeProto, out: str, fields: dict[str, _Field], shapes) -> _Field | None:
    """Any other op: its output keeps a field when its last spatial axes are those of an input carrying one
    (element-wise ops, BN, activations, Concat, Split, a channel shuffle's Reshape and Transpose); at a join the
    field is the union of the inputs' fields (the largest when they are centred, as in Inception or ResNet) and
    the jump that of the inputs not broadcast. An output whose spatial axes all shrank to 1 read the whole map (a
    ReduceMean over H and W). Anything else (Flatten, Gemm, a Transpose to NHWC) ends the field."""
    carriers = [(fields[name], shapes.get(name)) for name in dict.fromkeys(node.input) if name in fields]
    out_shape = shapes.get(out)
    if not carriers or out_shape is None:
        return None
    axes = len(carriers[0][0].rf)
    if any(len(field.rf) != axes for field, _ in carriers):
        return None
    out_size = _spatial(out_shape, axes)
    if out_size is None:
        return None
    aligned = [field for field, shape in carriers if _spatial(shape, axes) == out_size]
    if len(carriers) == 1 and aligned:  # the common case, a chain: the field as it is
        return aligned[0]
    broadcast = [field for field, shape in carriers if _spatial(shape, axes) == (1,) * axes and out_size != (1,) * axes]
    if not aligned:
        shrunk = [(field, _spatial(shape, axes)) for field, shape in carriers]
        if out_size == (1,) * axes and all(size is not None for _, size in shrunk):
            return _join([_whole(field, size, keep_jump=False) for field, size in shrunk])
        return None
    joined = _join(aligned + broadcast)
    jump = tuple(max(values) for values in zip(*(field.jump for field in aligned)))
    return _Field(joined.rf, jump, joined.start)


def _join(fields: list[_Field]) -> _Field:
    """The union of the fields of output position 0 on every path: from the first start to the last end; the
    largest rf when a start is unknown. The jump is the largest."""
    first = fields[0]
    if all(field == first for field in fields):  # a residual Add of a field passed on both ways
        return first
    axes = range(len(first.rf))
    jump = tuple(max(field.jump[a] for field in fields) for a in axes)
    if all(field.start is not None for field in fields):
        start = tuple(min(field.start[a] for field in fields) for a in axes)
        end = tuple(max(field.start[a] + field.rf[a] for field in fields) for a in axes)
        return _Field(tuple(e - s for s, e in zip(start, end)), jump, start)
    return _Field(tuple(max(field.rf[a] for field in fields) for a in axes), jump, None)


def report_nodes(skeleton: onnx.ModelProto, report: Report) -> list[tuple[NodeRow, onnx.NodeProto]]:
    """The report's rows of the main graph with the node each was made from, in the report's order; ``skeleton``
    is ``skeleton.build_skeleton(model)``, whose nodes are the report's (local functions inlined, Constant nodes
    made initializers). Rows and nodes are matched by their outputs."""
    by_outputs = {tuple(node.output): node for node in skeleton.graph.node}
    pairs = []
    for row in report.nodes:
        node = by_outputs.get(tuple(row.outputs)) if row.scope == "" else None
        if node is not None:
            pairs.append((row, node))
    return pairs


def tensor_shapes(skeleton: onnx.ModelProto, inputs: Iterable[tuple[str, Sequence[int] | None]],
                  rows: Iterable[NodeRow]) -> dict[str, Sequence[int] | None]:
    """Shapes by tensor name: the graph ``inputs`` (name, shape), the ``rows``' outputs and the skeleton's
    initializers (weights). From a report: ``tensor_shapes(skeleton, report_inputs(report), report.nodes)``."""
    shapes: dict[str, Sequence[int] | None] = {t.name: list(t.dims) for t in skeleton.graph.initializer}
    shapes.update(inputs)
    for row in rows:
        shapes.update(zip(row.outputs, row.output_shapes))
    return shapes


def report_inputs(report: Report) -> list[tuple[str, list[int] | None]]:
    """The report's graph inputs as (name, shape)."""
    return [(t.name, t.shape) for t in report.model.inputs]


def receptive_fields(model: onnx.ModelProto, report: Report | None = None) -> dict[str, ReceptiveField]:
    """Node name (as the report names it) -> the field of its first output, for the nodes of the main graph that
    have one. ``report``: the model's report (``analyze_model(model)`` when not given)."""
    if report is None:
        from .analysis import analyze_model

        report = analyze_model(model, formulas=False)
    from .skeleton import build_skeleton

    skeleton = build_skeleton(model)
    pairs = report_nodes(skeleton, report)
    return trace(((row.name, node) for row, node in pairs), tensor_shapes(skeleton, report_inputs(report), report.nodes))
