"""The convolutions of a graph as the rewrite passes see them ("sites"), read from a graphsurgeon Graph.

A site is one Conv of the main graph with everything a structure needs to
decide, decompose and emit: its effective weights (with a following
BatchNormalization or per-channel Mul/Add folded in, see ``fold``), its
attributes, its shapes and costs from onnxcost's report, and the tensors the
replacement must read and produce. Reading sites is shared by every structure
(separable, grouped, ...); nothing here is specific to one rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_graphsurgeon as gs

from onnxcost.errors import InvalidModelError
from onnxcost.report import NodeRow, Report

from .fold import batchnorm_affine, fold_affine, per_channel_vector

FLOAT_DTYPES = (np.float16, np.float32, np.float64)


@dataclass
class ConvSite:
    """One Conv of the main graph as a structure sees it: effective weights, attributes, shapes, costs (MACs for
    the model's batch, params in elements, memory traffic in bytes, all from onnxcost's report) and the tensors
    its replacement reads and produces. ``problem`` says why no structure may rewrite it (None when one may)."""

    name: str  # the node's name (the report's name for an unnamed node)
    node: gs.Node
    chain: list[gs.Node]  # followers folded into the weights, in order
    input: gs.Variable  # what the replacement reads
    output: gs.Variable  # what the replacement produces (the conv's output or the last follower's)
    weight: np.ndarray | None  # effective weights [Cout, Cin/g, *k] (None when not constant)
    bias: np.ndarray | None  # effective bias [Cout] or None
    group: int
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[int, ...] | None  # None with an auto_pad other than NOTSET
    auto_pad: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None  # the conv's output: [N, Cout, *spatial]
    macs: int  # of the conv (and its chain) in the report
    params: int  # weight elements that disappear with the conv and its chain
    traffic: int  # memory traffic bytes of the conv (and its chain) in the report
    fixed_spatial: bool  # every graph input's dims but the first are numbers: the spatial dims seen here hold for any batch
    problem: str | None = None  # why no structure can rewrite it
    folded: list[str] = field(default_factory=list)  # names of the chain's nodes

    @property
    def cin(self) -> int:
        """Input channels: Cin/g of the weights times the groups."""
        return self.weight.shape[1] * self.group

    @property
    def cout(self) -> int:
        """Output channels."""
        return self.weight.shape[0]

    @property
    def dtype(self) -> np.dtype:
        """The weights' dtype (the replacement's weights are written in it)."""
        return self.weight.dtype

    @property
    def spatial_rank(self) -> int:
        """Number of spatial dims (2 for a 2-D conv)."""
        return len(self.kernel)

    @property
    def depthwise(self) -> bool:
        """One input channel per group and more than one group: already depthwise."""
        return self.weight is not None and self.weight.shape[1] == 1 and self.group > 1

    def conv_attrs(self) -> dict:
        """strides/pads/dilations/auto_pad as the replacement's spatial conv must carry them."""
        attrs: dict = {"kernel_shape": list(self.kernel), "strides": list(self.strides), "dilations": list(self.dilations)}
        if self.auto_pad not in ("", "NOTSET"):
            attrs["auto_pad"] = self.auto_pad
        else:
            attrs["pads"] = list(self.pads)
        return attrs


def collect_sites(graph: gs.Graph, report: Report) -> list[ConvSite]:
    """Every Conv of the main graph, in graph order, with the reason it cannot be rewritten if any."""
    rows = {row.outputs[0]: row for row in report.nodes if row.scope == "" and row.outputs}
    shapes = {t.name: tuple(t.shape) for t in report.model.inputs if t.shape is not None}
    for row in report.nodes:
        if row.scope == "":
            shapes.update((name, tuple(shape)) for name, shape in zip(row.outputs, row.output_shapes) if shape is not None)
    graph_outputs = {t.name for t in graph.outputs}
    fixed = _fixed_spatial(graph)
    sites = []
    for node in graph.nodes:
        if node.op == "Conv" and node.domain in ("", "ai.onnx", None):
            sites.append(_site(node, rows, shapes, graph_outputs, fixed))
    return sites


def _fixed_spatial(graph: gs.Graph) -> bool:
    """True when every graph input has a known shape whose dims after the first are numbers.

    Then the shapes of the report hold for every input the model accepts, up to the batch size; a structure
    that writes spatial dims into a Reshape relies on it.
    """
    for tensor in graph.inputs:
        if not isinstance(tensor, gs.Variable):
            continue
        if tensor.shape is None or not all(isinstance(d, (int, np.integer)) and d > 0 for d in list(tensor.shape)[1:]):
            return False
    return True


def _site(node: gs.Node, rows: dict[str, NodeRow], shapes: dict[str, tuple[int, ...]], graph_outputs: set[str],
          fixed_spatial: bool = True) -> ConvSite:
    row = rows.get(node.outputs[0].name)
    name = node.name or (row.name if row is not None else node.outputs[0].name)
    weight_tensor = node.inputs[1] if len(node.inputs) > 1 else None
    bias_tensor = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].name else None
    weight = constant_value(weight_tensor) if weight_tensor is not None else None
    bias = constant_value(bias_tensor) if bias_tensor is not None else None
    attrs = node.attrs
    group = attrs.get("group", 1)
    if not isinstance(group, (int, np.integer)) or group < 1:  # onnx.checker does not look at values
        raise InvalidModelError(f"Conv '{name}': group {group!r}, it must be a positive integer")
    site = ConvSite(
        name=name, node=node, chain=[], input=node.inputs[0], output=node.outputs[0],
        weight=weight, bias=bias, group=int(attrs.get("group", 1)), kernel=(), strides=(), dilations=(),
        pads=None, auto_pad=_text(attrs.get("auto_pad", "NOTSET")),
        input_shape=shapes.get(node.inputs[0].name), output_shape=shapes.get(node.outputs[0].name),
        macs=row.macs if row is not None else 0, params=row.params if row is not None else 0,
        traffic=row.memory_traffic_bytes if row is not None else 0, fixed_spatial=fixed_spatial,
    )
    site.problem = _problem(site, weight_tensor, bias_tensor, bias, row)
    if site.problem is not None:
        return site
    nd = weight.ndim - 2
    site.kernel = tuple(int(k) for k in attrs.get("kernel_shape", weight.shape[2:]))
    site.strides = tuple(int(s) for s in attrs.get("strides", [1] * nd))
    site.dilations = tuple(int(d) for d in attrs.get("dilations", [1] * nd))
    site.pads = None if site.auto_pad not in ("", "NOTSET") else tuple(int(p) for p in attrs.get("pads", [0] * 2 * nd))
    _fold_followers(site, rows, graph_outputs)
    return site


def _problem(site: ConvSite, weight_tensor, bias_tensor, bias, row: NodeRow | None) -> str | None:
    weight = site.weight
    if weight is None:
        return "weights are not a constant"
    if weight.dtype.type not in FLOAT_DTYPES:
        return f"weights are {weight.dtype}, not floating point"
    if weight.ndim < 3:
        return f"weights of rank {weight.ndim}"
    if tuple(site.node.attrs.get("kernel_shape", weight.shape[2:])) != tuple(weight.shape[2:]):
        return "kernel_shape does not match the weights"
    if bias_tensor is not None and bias is None:
        return "bias is not a constant"
    if _consumers(weight_tensor) > 1 or (bias_tensor is not None and _consumers(bias_tensor) > 1):
        return "weights shared with another node"
    if row is None or site.output_shape is None or site.input_shape is None:
        return "shapes unknown"
    if site.output_shape[1] != weight.shape[0] or weight.shape[0] % site.group:
        return "output channels do not match the weights"
    return None


def _fold_followers(site: ConvSite, rows: dict[str, NodeRow], graph_outputs: set[str]) -> None:
    """Fold BatchNormalization / per-channel Mul / Add nodes that alone consume the conv's output."""
    rank = len(site.output_shape)
    while True:
        out = site.output
        if out.name in graph_outputs or len(out.outputs) != 1:
            return
        follower = out.outputs[0]
        affine = _affine(follower, out, site.cout, rank)
        if affine is None:
            return
        scale, shift = affine
        site.weight, site.bias = fold_affine(site.weight, site.bias, scale, shift)
        row = rows.get(follower.outputs[0].name)
        site.chain.append(follower)
        site.folded.append(follower.name or (row.name if row is not None else follower.outputs[0].name))
        site.output = follower.outputs[0]
        site.macs += row.macs if row is not None else 0
        site.params += row.params if row is not None else 0
        site.traffic += row.memory_traffic_bytes if row is not None else 0


def _affine(node: gs.Node, x: gs.Variable, cout: int, rank: int) -> tuple[np.ndarray | None, np.ndarray | None] | None:
    """(scale, shift) per channel when ``node`` computes x·scale + shift, else None."""
    if node.domain not in ("", "ai.onnx", None) or len(node.outputs) != 1:
        return None
    if node.op == "BatchNormalization":
        if len(node.inputs) != 5 or node.inputs[0] is not x or int(node.attrs.get("training_mode", 0)) \
                or int(node.attrs.get("spatial", 1)) != 1:
            return None
        values = [constant_value(t) for t in node.inputs[1:]]
        if any(v is None or v.shape != (cout,) for v in values) or any(_consumers(t) > 1 for t in node.inputs[1:]):
            return None
        return batchnorm_affine(*values, float(node.attrs.get("epsilon", 1e-5)))
    if node.op in ("Mul", "Add") and len(node.inputs) == 2:
        other = node.inputs[1] if node.inputs[0] is x else node.inputs[0] if node.inputs[1] is x else None
        if other is None or other is x or _consumers(other) > 1:
            return None
        value = constant_value(other)
        if value is None or value.dtype != _dtype_of(x, value):
            return None
        vector = per_channel_vector(value, cout, rank)
        if vector is None:
            return None
        return (vector, None) if node.op == "Mul" else (None, vector)
    return None


def _dtype_of(x: gs.Variable, fallback: np.ndarray) -> np.dtype:
    try:
        return np.dtype(x.dtype) if x.dtype is not None else fallback.dtype
    except TypeError:
        return fallback.dtype


def constant_value(tensor) -> np.ndarray | None:
    """The value of a gs.Constant or of a Constant node's output; None for anything computed at run time."""
    if isinstance(tensor, gs.Constant):
        return np.asarray(tensor.values)
    if isinstance(tensor, gs.Variable) and len(tensor.inputs) == 1 and tensor.inputs[0].op == "Constant":
        value = tensor.inputs[0].attrs.get("value")
        if isinstance(value, gs.Constant):
            return np.asarray(value.values)
    return None


def _consumers(tensor) -> int:
    return len(tensor.outputs)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
