"""A structure made of others, one chosen per layer: ``SeparableOrder`` (an order per conv) and
``SeparableAndGrouped`` (a structure per kernel size) hand every per-layer member to the structure ``chosen(site)``
returns, so the rewriter, its planners and the refit see one structure."""

from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from .emitters import Names
from .protocol import Cost
from .sites import ConvSite
from .statistics import SecondMoments


class PerLayer:
    """Delegates each per-layer member to ``chosen(site)``; a subclass says which, and adds ``name``, ``emissions``,
    ``refitted`` (by the factors' type: no site there), ``notes`` and ``rivals``."""

    def chosen(self, site: ConvSite):
        """The structure that rewrites ``site``."""
        raise NotImplementedError

    def eligible(self, site: ConvSite) -> str | None:
        """The chosen structure's rule."""
        return self.chosen(site).eligible(site)

    def decompose(self, site: ConvSite):
        """The chosen structure's decomposition."""
        return self.chosen(site).decompose(site)

    def statistics_block(self, site: ConvSite) -> int:
        """The chosen structure's statistics block."""
        return self.chosen(site).statistics_block(site)

    def decompose_calibrated(self, site: ConvSite, moments: SecondMoments):
        """The chosen structure's calibrated decomposition."""
        return self.chosen(site).decompose_calibrated(site, moments)

    def middle(self, site: ConvSite, factors, patches: np.ndarray) -> np.ndarray:
        """The chosen structure's refit inputs."""
        return self.chosen(site).middle(site, factors, patches)

    def pointwise_groups(self, site: ConvSite) -> int:
        """The chosen structure's refitted conv's groups."""
        return self.chosen(site).pointwise_groups(site)

    def cost(self, site: ConvSite, rank: int) -> Cost:
        """The chosen structure's cost."""
        return self.chosen(site).cost(site, rank)

    def variants(self, site: ConvSite, rank: int) -> tuple[str, ...]:
        """The chosen structure's emissions."""
        return self.chosen(site).variants(site, rank)

    def emit(self, graph: gs.Graph, site: ConvSite, factors, variant: str, names: Names) -> list[gs.Node]:
        """The chosen structure's replacement."""
        return self.chosen(site).emit(graph, site, factors, variant, names)

    def rivals(self) -> tuple:
        """No rivals."""
        return ()
