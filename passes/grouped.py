"""The grouped-plus-shuffle structure (ShuffleNet's): a dense KxK conv becomes a grouped KxK conv, a channel
shuffle and a grouped 1x1 conv.

decompose: per-block SVD (``block_factorize.block_svd``); rank r per (output
group, input group) block gives M = G·G·r middle channels. emit, names under the
conv's:

- ``<conv>/gconv``: Conv, G groups, Cin -> M, the original's kernel, strides,
  pads, ``auto_pad`` and dilations;
- the shuffle of G groups, as ``shuffle`` (what exporters write: ``<conv>/shuffle.split``
  Reshape [0, G, M/G, *S], ``<conv>/shuffle.transpose`` Transpose [0, 2, 1, ...],
  ``<conv>/shuffle`` Reshape [0, M, *S]; 0 copies the batch size, S are the conv's
  output spatial dims) or ``gather`` (one Gather on axis 1 with the permutation:
  no shape in it, the faster alone in onnxruntime, see docs/rewrite.md);
- ``<conv>/gpw``: Conv 1x1, G groups, M -> Cout, carrying the bias.

The planner times the two shuffles per layer and keeps the faster (``shuffle`` on a
tie). ``shuffle`` writes spatial dims, so it is offered only where they are fixed
(every graph input's dims after the first are numbers); elsewhere ``gather`` is.
G = 1 is the plain low-rank pair (KxK conv Cin -> r, 1x1 conv r -> Cout): no shuffle.

Predicted cost (onnxcost's rule ``conv_macs``, per output position):
grouped KxK M·(Cin/G)·K + grouped 1x1 Cout·(M/G) = G·r·(Cin·K + Cout); the
dense conv has Cout·Cin·K, so the MACs ratio is G·r·(1/Cout + 1/(Cin·K)). The
shuffle has no MACs; its memory traffic is counted by the report's own rules
(Reshape, Transpose, Gather). At the exact rank of full-rank weights, r =
min(Cout/G, Cin·K/G), the rewrite costs min(Cout, Cin·K)·(Cin·K + Cout) whatever G:
the dense conv plus Cout² when Cout <= Cin·K.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx_graphsurgeon as gs

from .block_factorize import BlockSVD, GroupedFactors, block_svd, channel_shuffle_permutation
from .emitters import Names, pointwise_conv, spatial_conv
from .errors import RewriteOptionError
from .modes import Exact, Mode
from .protocol import Cost
from .separable import Separable
from .sites import ConvSite
from .statistics import SecondMoments
from .whitening import CalibratedBlockSVD, calibrated_block_svd

SHUFFLE = "shuffle"
GATHER = "gather"
EMISSIONS = (SHUFFLE, GATHER)  # all there are for G > 1; which apply to a layer: Grouped.variants
NO_SHUFFLE = "no shuffle"  # G = 1: nothing to choose
LOW_RANK = "low-rank pair"


class Grouped:
    """Grouped KxK conv (G groups, Cin -> G·G·r), channel shuffle (G groups), grouped 1x1 conv (G groups, -> Cout)."""

    def __init__(self, groups: int):
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise RewriteOptionError(f"groups must be an integer >= 1, got {groups}", parameter="groups")
        self.groups = int(groups)
        self.name = f"grouped G={self.groups}" if self.groups > 1 else LOW_RANK
        self.emissions = EMISSIONS if self.groups > 1 else ()

    def eligible(self, site: ConvSite) -> str | None:
        """None, or why not: the conv is already grouped, or G does not divide its channels."""
        if site.group != 1:
            return f"already grouped (group {site.group}): the grouped rewrite takes dense convs"
        g = self.groups
        if site.cin % g or site.cout % g:
            return f"G={g} does not divide Cin={site.cin} and Cout={site.cout}"
        return None

    def decompose(self, site: ConvSite) -> BlockSVD:
        """The SVD of every (output group, input group) block of the site's (folded) weights."""
        return block_svd(site.weight, self.groups)

    def statistics_block(self, site: ConvSite) -> int:
        """Input channels per block of the patch statistics: an input group, Cin/G."""
        return site.cin // self.groups

    def decompose_calibrated(self, site: ConvSite, moments: SecondMoments) -> CalibratedBlockSVD:
        """Per block (p, q), the SVD of B_pq whitened by input group q's patch moments (``whitening``)."""
        return calibrated_block_svd(site.weight, self.groups, moments.moments(), moments.samples)

    def middle(self, site: ConvSite, factors: GroupedFactors, patches: np.ndarray) -> np.ndarray:
        """The grouped KxK conv's output at every position of (rows, Cin, K) ``patches``, after the shuffle:
        (rows, M) in the order the grouped 1x1 conv reads."""
        rows, cin, k = patches.shape
        g, m = self.groups, factors.middle
        filters = factors.spatial.reshape(g, m // g, -1).transpose(0, 2, 1)  # (G, b·K, M/G): group q's filters
        grouped = patches.reshape(rows, g, (cin // g) * k).transpose(1, 0, 2)  # (G, rows, b·K)
        z = (grouped @ filters).transpose(1, 0, 2).reshape(rows, m)  # middle channel q·(M/G) + j
        return z[:, channel_shuffle_permutation(m, g)]

    def pointwise_groups(self, site: ConvSite) -> int:
        """The 1x1 conv's groups: G."""
        return self.groups

    def refitted(self, factors: GroupedFactors, weights: np.ndarray, bias: np.ndarray) -> GroupedFactors:
        """``factors`` with the grouped 1x1 conv's weights and bias replaced."""
        dtype = factors.pointwise.dtype
        return replace(factors, pointwise=weights.astype(dtype), bias=bias.astype(dtype))

    def cost(self, site: ConvSite, rank: int) -> Cost:
        """Grouped KxK conv (M = G·G·rank middle channels) plus the grouped 1x1 conv; the shuffle has no MACs."""
        return Cost.of_conv_pair(site, *self._shapes(site, rank))

    def variants(self, site: ConvSite, rank: int) -> tuple[str, ...]:
        """shuffle then gather where the spatial dims are fixed, gather alone elsewhere; G = 1: no shuffle."""
        if self.groups == 1:
            return (NO_SHUFFLE,)
        # The exporters' form first (a timing tie keeps it); it writes spatial dims, so only where they are fixed.
        return (SHUFFLE, GATHER) if site.fixed_spatial else (GATHER,)

    def emit(self, graph: gs.Graph, site: ConvSite, factors: GroupedFactors, variant: str, names: Names) -> list[gs.Node]:
        """``<conv>/gconv``, the shuffle (``variant``), then ``<conv>/gpw``."""
        if variant not in self.variants(site, factors.rank):
            raise ValueError(f"emission '{variant}' is not available for {site.name}")
        g, dtype, m = self.groups, site.dtype, factors.middle
        middle = gs.Variable(names.tensor(f"{site.name}/gconv"), dtype=dtype)
        nodes = [spatial_conv(site, "gconv", factors.spatial, g, middle, names)]
        shuffled = middle
        if variant == SHUFFLE:
            nodes_, shuffled = _shuffle(site, middle, m, g, names)
            nodes.extend(nodes_)
        elif variant == GATHER:
            shuffled = gs.Variable(names.tensor(f"{site.name}/shuffle"), dtype=dtype)
            order = channel_shuffle_permutation(m, g).astype(np.int64)
            nodes.append(gs.Node("Gather", name=names.node(f"{site.name}/shuffle"), attrs={"axis": 1},
                                 inputs=[middle, gs.Constant(names.tensor(f"{site.name}/shuffle.indices"), order)],
                                 outputs=[shuffled]))
        nodes.append(pointwise_conv(site, "gpw", shuffled, factors.pointwise, g, names, factors.bias))
        return nodes

    def notes(self, mode: Mode) -> list[str]:
        """Where the shuffle's cost is (G > 1), and in exact mode what the exact grouped form costs."""
        notes = []
        if self.groups > 1:
            notes.append("the channel shuffle has no MACs; it moves the middle tensor (Reshape, Transpose, Reshape, or one "
                         "Gather), and those bytes are in the memory traffic figures")
        if isinstance(mode, Exact):
            notes.append("exact mode proves the surgery correct, it does not save anything: the exact grouped form of a "
                         "full-rank conv (rank min(Cout/G, Cin·K/G) per block) costs min(Cout, Cin·K)·(Cin·K + Cout) MACs "
                         "per output position whatever G, the dense conv plus Cout² when Cout <= Cin·K "
                         "(K = kernel elements; a 1x1 conv with Cin = Cout costs twice the dense conv)")
        return notes

    def rivals(self) -> tuple:
        """What ``plan(compare=True)`` puts beside it at each layer's MACs: the separable form and the low-rank pair."""
        return (Separable(),) + ((Grouped(1),) if self.groups > 1 else ())

    def _shapes(self, site: ConvSite, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        g = self.groups
        middle = g * g * rank
        n, _, *spatial = site.output_shape
        spatial_out = (n, middle, *spatial)
        spatial_w = (middle, site.cin // g, *site.kernel)
        pointwise_w = (site.cout, middle // g, *([1] * site.spatial_rank))
        return spatial_out, spatial_w, pointwise_w


def _shuffle(site: ConvSite, x: gs.Variable, channels: int, groups: int, names: Names) -> tuple[list[gs.Node], gs.Variable]:
    """Reshape [0, G, C/G, *S] -> Transpose [0, 2, 1, 3, ...] -> Reshape [0, C, *S], as exporters write it."""
    spatial = [int(d) for d in site.output_shape[2:]]
    dtype = site.dtype
    split = gs.Variable(names.tensor(f"{site.name}/shuffle.split"), dtype=dtype)
    swapped = gs.Variable(names.tensor(f"{site.name}/shuffle.transpose"), dtype=dtype)
    shuffled = gs.Variable(names.tensor(f"{site.name}/shuffle"), dtype=dtype)
    five = np.array([0, groups, channels // groups, *spatial], dtype=np.int64)
    back = np.array([0, channels, *spatial], dtype=np.int64)
    nodes = [
        gs.Node("Reshape", name=names.node(f"{site.name}/shuffle.split"),
                inputs=[x, gs.Constant(names.tensor(f"{site.name}/shuffle.split.shape"), five)], outputs=[split]),
        gs.Node("Transpose", name=names.node(f"{site.name}/shuffle.transpose"),
                attrs={"perm": [0, 2, 1, *range(3, 3 + len(spatial))]}, inputs=[split], outputs=[swapped]),
        gs.Node("Reshape", name=names.node(f"{site.name}/shuffle"),
                inputs=[swapped, gs.Constant(names.tensor(f"{site.name}/shuffle.shape"), back)], outputs=[shuffled]),
    ]
    return nodes, shuffled
