"""The separable structure in the other order: a KxK conv becomes a 1x1 conv and a grouped KxK conv, factored per
output channel (``output_factorize``); and the per-layer choice of the order (``SeparableOrder``).

decompose: per output channel SVD; rank r is middle channels per output channel. Two emissions compute the same
function, names under the conv's:

- ``pointwise first``: ``<conv>/pw``, Conv 1x1, the original's groups g, Cin -> Cout·r, no bias; then
  ``<conv>/gconv``, Conv with the original's kernel, strides, pads, auto_pad and dilations, Cout groups of
  r -> 1, carrying the bias;
- ``summed`` (r > 1): r pairs of ``<conv>/pw<j>`` (1x1, groups g, Cin -> Cout, the rows j, j + r, ... of the
  first form's) and ``<conv>/dw<j>`` (depthwise KxK, the first one carrying the bias), added up by
  ``<conv>/sum<j>``. Same MACs and params; onnxruntime's CPU provider runs every one of its convs in its blocked
  (NCHWc) layout, which a grouped conv of r > 1 inputs per group does not get (on PP-OCRv4 det, Conv.61 at rank 2:
  2.7 ms for 11 M MACs in the grouped conv; docs/frontier.md).

Its middle tensor has Cout·r channels at the input's resolution, where the depthwise-first form's has Cin·r at
the output's: with Cout < Cin it moves far fewer bytes, and memory traffic, not MACs, decides the latency of
these forms (docs/rewrite.md, "The order of the factors").

Predicted cost (onnxcost's rule ``conv_macs``): 1x1 N·Cout·r·∏in·(Cin/g) + KxK N·Cout·∏out·r·K; params
Cout·r·(Cin/g) + Cout·r·K (+ Cout bias). The dense conv has N·Cout·∏out·(Cin/g)·K, so the MACs ratio is
r·(∏in/∏out)/K + r·g/Cin (r/K + r·g/Cin at stride 1); at the exact rank r = K (when Cin/g >= K) a stride-1
rewrite costs the dense conv plus N·Cout·K²·∏out MACs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx_graphsurgeon as gs

from .emitters import Names, input_pointwise_conv, output_spatial_conv
from .errors import RewriteOptionError
from .modes import Exact, Mode
from .output_factorize import (CalibratedOutputSVD, OutputSVD, PointwiseFirstFactors, calibrated_output_svd,
                               output_svd)
from .per_layer import PerLayer
from .protocol import Cost
from .separable import Separable
from .sites import ConvSite
from .statistics import SecondMoments

POINTWISE_FIRST = "pointwise first"  # a 1x1 conv and a grouped KxK conv, as the plan's emission column names it
SUMMED = "summed"  # r pairs of a 1x1 and a depthwise KxK conv, added up
DEPTHWISE, POINTWISE, AUTO_ORDER = "depthwise", "pointwise", "auto"
ORDERS = (DEPTHWISE, POINTWISE, AUTO_ORDER)


class PointwiseFirst:
    """1x1 conv (the original's groups, Cin -> Cout·r), then a grouped KxK conv (Cout groups of r -> 1, the
    original's strides/pads/dilations and bias)."""

    name = "separable, pointwise first"
    emissions: tuple[str, ...] = (POINTWISE_FIRST, SUMMED)

    eligible = Separable.eligible  # the same rule in either order: a 1x1 kernel has nothing to separate

    def decompose(self, site: ConvSite) -> OutputSVD:
        """The per-output-channel SVD of the site's (folded) weights."""
        return output_svd(site.weight, site.group)

    def statistics_block(self, site: ConvSite) -> int:
        """Input channels per block of the patch statistics: a whole input group (Cin/g), whose channel and
        spatial covariances the factors are whitened by."""
        return site.cin // site.group

    def decompose_calibrated(self, site: ConvSite, moments: SecondMoments) -> CalibratedOutputSVD:
        """Per output channel, the SVD of M_o whitened on both sides (``output_factorize``)."""
        return calibrated_output_svd(site.weight, site.group, moments.moments(), moments.samples)

    def middle(self, site: ConvSite, factors: PointwiseFirstFactors, patches: np.ndarray) -> np.ndarray:
        """What the grouped KxK conv reads at every row of (rows, Cin, K) ``patches``: the 1x1 conv's output under
        its kernel, (rows, Cout·r·K), output o's r·K values together (channel t, then tap k), the order of its
        weights (Cout, r, *k). The 1x1 conv has no bias, so the patches of its output are it applied to the
        patches of its input."""
        rows, cin, k = patches.shape
        g = factors.group
        weights = factors.pointwise.reshape(g, -1, cin // g)  # (g, Cout·r/g, Cin/g)
        per_group = patches.reshape(rows, g, cin // g, k).transpose(1, 0, 3, 2)  # (g, rows, K, Cin/g)
        z = per_group @ np.swapaxes(weights, 1, 2)  # (g, rows, K, Cout·r/g)
        return z.transpose(1, 0, 3, 2).reshape(rows, -1)

    def pointwise_groups(self, site: ConvSite) -> int:
        """The refitted (last) conv's groups: one per output channel."""
        return site.cout

    def refitted(self, factors: PointwiseFirstFactors, weights: np.ndarray, bias: np.ndarray) -> PointwiseFirstFactors:
        """``factors`` with the grouped KxK conv's filters ((Cout, r·K) from ``refit``) and bias replaced."""
        dtype = factors.spatial.dtype
        return replace(factors, spatial=weights.reshape(factors.spatial.shape).astype(dtype), bias=bias.astype(dtype))

    def cost(self, site: ConvSite, rank: int) -> Cost:
        """The 1x1 conv plus the grouped KxK conv, by onnxcost's Conv rule."""
        n, _, *spatial = site.input_shape
        middle = (n, site.cout * rank, *spatial)
        pointwise_w = (site.cout * rank, site.cin // site.group, *([1] * site.spatial_rank))
        spatial_w = (site.cout, rank, *site.kernel)
        return Cost.of_conv_pair(site, middle, pointwise_w, spatial_w)

    def variants(self, site: ConvSite, rank: int) -> tuple[str, ...]:
        """summed then pointwise first for r > 1 (the last, one conv per factor, is what ``traffic_per_mac`` reads);
        pointwise first alone at r = 1, where the grouped conv is already depthwise."""
        return (SUMMED, POINTWISE_FIRST) if rank > 1 else (POINTWISE_FIRST,)

    def emit(self, graph: gs.Graph, site: ConvSite, factors: PointwiseFirstFactors, variant: str,
             names: Names) -> list[gs.Node]:
        """``<conv>/pw`` (1x1, Cin -> Cout·r) then ``<conv>/gconv`` (KxK, Cout groups, the bias); or summed pairs."""
        if variant not in self.variants(site, factors.rank):
            raise ValueError(f"emission '{variant}' is not available for {site.name}")
        if variant == SUMMED:
            return _summed(site, factors, names)
        middle = gs.Variable(names.tensor(f"{site.name}/pw"), dtype=site.dtype)
        return [input_pointwise_conv(site, "pw", factors.pointwise, site.group, middle, names),
                output_spatial_conv(site, "gconv", middle, factors.spatial, site.cout, names, factors.bias)]

    def notes(self, mode: Mode) -> list[str]:
        """In exact mode, what the exact pointwise-first form costs."""
        if isinstance(mode, Exact):
            return ["exact mode proves the surgery correct, it does not save anything: the exact pointwise-first form "
                    "of a full-rank stride-1 KxK conv costs the dense conv plus Cout·K² MACs per output position "
                    "(K = kernel elements)"]
        return []

    def rivals(self) -> tuple:
        """No rivals."""
        return ()


def _summed(site: ConvSite, factors: PointwiseFirstFactors, names: Names) -> list[gs.Node]:
    """r pairs (1x1 Cin -> Cout, depthwise KxK) added up. Pair j is the grouped form's middle channels o·r + j and
    their taps: row o·r + j of the 1x1 conv's weights belongs to output o's group, so the rows j, j + r, ... keep
    the original's g groups."""
    r, nodes, parts = factors.rank, [], []
    for j in range(r):
        middle = gs.Variable(names.tensor(f"{site.name}/pw{j}"), dtype=site.dtype)
        part = gs.Variable(names.tensor(f"{site.name}/dw{j}"), dtype=site.dtype)
        nodes.append(input_pointwise_conv(site, f"pw{j}", factors.pointwise[j::r], site.group, middle, names))
        nodes.append(output_spatial_conv(site, f"dw{j}", middle, factors.spatial[:, j:j + 1], site.cout, names,
                                         factors.bias, output=part, with_bias=j == 0))
        parts.append(part)
    total = parts[0]
    for j, part in enumerate(parts[1:], 1):
        out = site.output if j == r - 1 else gs.Variable(names.tensor(f"{site.name}/sum{j}"), dtype=site.dtype)
        nodes.append(gs.Node("Add", name=names.node(f"{site.name}/sum{j}"), inputs=[total, part], outputs=[out]))
        total = out
    return nodes


ORDER_OPSET, ORDER_IR_VERSION = 13, 7  # the one-layer models the order is chosen on (Conv is the same from opset 11)


def traffic_per_mac(structure, site: ConvSite) -> float:
    """Memory traffic bytes the replacement adds per MAC as its rank grows: onnxcost's report of the replacement
    alone (``layer_models.replacement_model``) at ranks 1 and 2, the difference over that of the MACs (both grow
    linearly with the rank). At equal MACs the order with the smaller figure moves fewer bytes: mostly its
    middle tensor, written and read once."""
    from onnxcost.analysis import analyze_model

    from .layer_models import replacement_model

    d = structure.decompose(site)
    ranks = (1, 2) if d.max_rank >= 2 else (1,)
    traffic = []
    for rank in ranks:
        variant = structure.variants(site, rank)[-1]  # the plain form: one conv per factor
        model = replacement_model(site, structure, d.factors(rank), variant, ORDER_OPSET, ORDER_IR_VERSION)
        traffic.append(analyze_model(model).totals.memory_traffic_bytes)
    macs = [structure.cost(site, rank).macs for rank in ranks]
    return (traffic[-1] - traffic[0]) / (macs[-1] - macs[0]) if len(ranks) == 2 else traffic[0] / macs[0]


class SeparableOrder(PerLayer):
    """The separable form with its order chosen per layer: pointwise first where it moves fewer bytes at equal
    MACs (``traffic_per_mac``; for stride 1, where Cin > Cout), else depthwise first. Every member delegates to
    the chosen order's structure; its emissions are both orders'."""

    name = "separable, order auto"
    emissions = (*Separable.emissions, *PointwiseFirst.emissions)

    def __init__(self):
        self.depthwise, self.pointwise = Separable(), PointwiseFirst()
        self._orders: dict[str, str] = {}

    def order(self, site: ConvSite) -> str:
        """``POINTWISE`` or ``DEPTHWISE`` for ``site`` (decided once per conv)."""
        if site.name not in self._orders:
            known = site.input_shape is not None and site.output_shape is not None
            pointwise = known and traffic_per_mac(self.pointwise, site) < traffic_per_mac(self.depthwise, site)
            self._orders[site.name] = POINTWISE if pointwise else DEPTHWISE
        return self._orders[site.name]

    def chosen(self, site: ConvSite):
        """The structure of the site's order."""
        return self.pointwise if self.order(site) == POINTWISE else self.depthwise

    def eligible(self, site: ConvSite) -> str | None:
        """As both orders (without choosing one): a 1x1 kernel has nothing to separate."""
        return self.depthwise.eligible(site)

    def refitted(self, factors, weights: np.ndarray, bias: np.ndarray):
        """The factors with the last conv refitted, by the order their type belongs to."""
        structure = self.pointwise if isinstance(factors, PointwiseFirstFactors) else self.depthwise
        return structure.refitted(factors, weights, bias)

    def notes(self, mode: Mode) -> list[str]:
        """What both orders say, and how the order was chosen."""
        return [*self.depthwise.notes(mode), *self.pointwise.notes(mode),
                "order per layer: pointwise first (per output channel) where onnxcost's report of the replacement "
                "gives it less memory traffic than depthwise first at equal MACs (for stride 1: Cin > Cout), "
                "depthwise first elsewhere"]


def separable_structure(order: str = DEPTHWISE):
    """The separable structure of ``order``: "depthwise" (``Separable``, per input channel), "pointwise"
    (``PointwiseFirst``, per output channel) or "auto" (``SeparableOrder``, chosen per layer)."""
    structures = {DEPTHWISE: Separable, POINTWISE: PointwiseFirst, AUTO_ORDER: SeparableOrder}
    if order not in structures:
        raise RewriteOptionError(f"order must be one of {', '.join(ORDERS)}, got {order!r}", parameter="order")
    return structures[order]()
