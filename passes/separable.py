"""The depthwise-separable structure: a KxK conv becomes a depthwise KxK conv and a 1x1 conv.

decompose: per input channel SVD (``factorize.channel_svd``); rank r is the
depth multiplier. emit: the depthwise conv (group = Cin, multiplier r) carries
the original strides, pads, auto_pad and dilations; the 1x1 conv (group = g of
the original) carries the bias. Names: ``<conv>/dw`` and ``<conv>/pw``.

Two emissions compute the same function:

- ``multiplier``: one depthwise conv with depth multiplier r;
- ``concat``: r depthwise convs of multiplier 1 (``<conv>/dw.0`` ...) joined by
  a Concat (``<conv>/dw``), the pointwise columns permuted to match. Only for
  r > 1 and a dense (group 1) original: with groups the permuted pointwise would
  no longer be block-diagonal.

onnxruntime's CPU kernels treat the two differently; the planner times both and
emits the faster, concat on a tie (see docs/rewrite.md for measured figures).

Predicted cost (onnxcost's rule ``conv_macs``, out = the conv's output shape):
depthwise N·Cin·r·∏out·K + pointwise N·Cout·∏out·(Cin/g)·r; params Cin·r·K +
Cout·(Cin/g)·r (+ Cout bias). The dense conv has N·Cout·∏out·(Cin/g)·K, so the
MACs ratio is r/K + r·g/Cout; at the exact rank r = K (when Cout/g >= K) the
rewrite costs the dense conv plus N·Cin·K²·∏out MACs.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import onnx_graphsurgeon as gs

from .emitters import Names, pointwise_conv, spatial_conv
from .factorize import ChannelSVD, SeparableFactors, channel_svd
from .modes import Exact, Mode
from .protocol import Cost
from .sites import ConvSite
from .statistics import SecondMoments
from .whitening import CalibratedChannelSVD, calibrated_channel_svd

MULTIPLIER = "multiplier"
CONCAT = "concat"
EMISSIONS = (MULTIPLIER, CONCAT)  # all there are; which apply to a layer: Separable.variants


class Separable:
    """Depthwise conv (multiplier r, the original's strides/pads/dilations) then a 1x1 conv (the bias)."""

    name = "separable"
    emissions = EMISSIONS

    def eligible(self, site: ConvSite) -> str | None:
        """None, or why not: a 1x1 kernel has nothing to separate."""
        if math.prod(site.kernel) == 1:
            return "1x1 kernel: nothing to separate"
        return None

    def decompose(self, site: ConvSite) -> ChannelSVD:
        """The per-input-channel SVD of the site's (folded) weights."""
        return channel_svd(site.weight, site.group)

    def statistics_block(self, site: ConvSite) -> int:
        """Input channels per block of the patch statistics: 1 (each channel's matrix is factored alone)."""
        return 1

    def decompose_calibrated(self, site: ConvSite, moments: SecondMoments) -> CalibratedChannelSVD:
        """Per input channel, the SVD of M_c whitened by the channel's patch moments (``whitening``)."""
        return calibrated_channel_svd(site.weight, site.group, moments.moments(), moments.samples)

    def middle(self, site: ConvSite, factors: SeparableFactors, patches: np.ndarray) -> np.ndarray:
        """The depthwise conv's output at every position of (rows, Cin, K) ``patches``: (rows, Cin·r), channel
        c·r + t, the order the 1x1 conv of the multiplier layout reads."""
        rows, cin, k = patches.shape
        filters = factors.depthwise.reshape(cin, factors.rank, k).transpose(0, 2, 1)  # (Cin, K, r)
        return (patches.transpose(1, 0, 2) @ filters).transpose(1, 0, 2).reshape(rows, cin * factors.rank)

    def pointwise_groups(self, site: ConvSite) -> int:
        """The 1x1 conv's groups: the original's."""
        return site.group

    def refitted(self, factors: SeparableFactors, weights: np.ndarray, bias: np.ndarray) -> SeparableFactors:
        """``factors`` with the 1x1 conv's weights and bias replaced (multiplier layout)."""
        dtype = factors.pointwise.dtype
        return replace(factors, pointwise=weights.astype(dtype), bias=bias.astype(dtype))

    def cost(self, site: ConvSite, rank: int) -> Cost:
        """Depthwise conv (multiplier ``rank``) plus the 1x1 conv, by onnxcost's Conv rule."""
        return Cost.of_conv_pair(site, *self._shapes(site, rank))

    def variants(self, site: ConvSite, rank: int) -> tuple[str, ...]:
        """concat then multiplier for r > 1 on a dense conv; multiplier alone otherwise."""
        # Concat first: on onnxruntime's CPU path it is the faster on most VGG layers (docs/rewrite.md),
        # so it wins a timing tie.
        return (CONCAT, MULTIPLIER) if rank > 1 and site.group == 1 else (MULTIPLIER,)

    def emit(self, graph: gs.Graph, site: ConvSite, factors: SeparableFactors, variant: str, names: Names) -> list[gs.Node]:
        """``<conv>/dw`` (one conv, or r convs ``<conv>/dw.t`` and a Concat) then ``<conv>/pw``."""
        if variant not in self.variants(site, factors.rank):
            raise ValueError(f"emission '{variant}' is not available for {site.name} at rank {factors.rank}")
        middle = gs.Variable(names.tensor(f"{site.name}/dw"), dtype=site.dtype)
        if variant == MULTIPLIER:
            nodes = [spatial_conv(site, "dw", factors.depthwise, site.cin, middle, names)]
            pointwise = factors.pointwise
        else:
            ordered = factors.concat_order()
            nodes, parts = [], []
            for t in range(factors.rank):
                part = gs.Variable(names.tensor(f"{site.name}/dw.{t}"), dtype=site.dtype)
                nodes.append(spatial_conv(site, f"dw.{t}", ordered.depthwise[t], site.cin, part, names))
                parts.append(part)
            nodes.append(gs.Node("Concat", name=names.node(f"{site.name}/dw"), attrs={"axis": 1}, inputs=parts, outputs=[middle]))
            pointwise = ordered.pointwise
        nodes.append(pointwise_conv(site, "pw", middle, pointwise, site.group, names, factors.bias))
        return nodes

    def notes(self, mode: Mode) -> list[str]:
        """In exact mode, what the exact separable form costs."""
        if isinstance(mode, Exact):
            return ["exact mode proves the surgery correct, it does not save anything: the exact separable form of a "
                    "full-rank KxK conv costs the dense conv plus Cin·K² MACs per output position (K = kernel elements)"]
        return []

    def rivals(self) -> tuple:
        """No rivals: nothing is put beside the separable form (``Grouped`` puts it beside itself)."""
        return ()

    @staticmethod
    def _shapes(site: ConvSite, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        n, _, *spatial = site.output_shape
        depthwise_out = (n, site.cin * rank, *spatial)
        depthwise_w = (site.cin * rank, 1, *site.kernel)
        pointwise_w = (site.cout, site.cin // site.group * rank, *([1] * site.spatial_rank))
        return depthwise_out, depthwise_w, pointwise_w
