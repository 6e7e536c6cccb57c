"""One structure per kernel size in one run (``--separable --grouped G``): KxK convs take the separable form (in
the order asked, ``separable_structure``), 1x1 convs, where the separable form has nothing to separate, the grouped
form with G groups.

Every member delegates to the structure of the layer's kernel, as ``SeparableOrder`` delegates to an order, so
one plan spends one budget over both kinds of layer: a latency budget compares a 3x3 conv's separable ranks with a
1x1 conv's grouped ones by the time each saves per output error. Measured on PP-OCRv4 det (docs/frontier.md): the
grouped form of its 3x3 convs is both slower and lossier than the separable one, and its 1x1 convs hold time
that only the grouped form can save.
"""

from __future__ import annotations

import math

import numpy as np
import onnx_graphsurgeon as gs

from .block_factorize import GroupedFactors
from .emitters import Names
from .grouped import Grouped
from .modes import Mode
from .pointwise_first import DEPTHWISE, separable_structure
from .protocol import Cost
from .sites import ConvSite
from .statistics import SecondMoments


class SeparableAndGrouped:
    """The separable form (``order``) for KxK kernels, grouped G = ``groups`` for 1x1 kernels."""

    def __init__(self, groups: int, order: str = DEPTHWISE):
        self.separable, self.grouped = separable_structure(order), Grouped(groups)
        self.name = f"{self.separable.name} (KxK) + {self.grouped.name} (1x1)"
        self.emissions = tuple(dict.fromkeys((*self.separable.emissions, *self.grouped.emissions)))

    def _of(self, site: ConvSite):
        return self.separable if math.prod(site.kernel) > 1 else self.grouped

    def eligible(self, site: ConvSite) -> str | None:
        """The rule of the kernel's structure."""
        return self._of(site).eligible(site)

    def decompose(self, site: ConvSite):
        """The kernel's structure's decomposition."""
        return self._of(site).decompose(site)

    def statistics_block(self, site: ConvSite) -> int:
        """The kernel's structure's statistics block."""
        return self._of(site).statistics_block(site)

    def decompose_calibrated(self, site: ConvSite, moments: SecondMoments):
        """The kernel's structure's calibrated decomposition."""
        return self._of(site).decompose_calibrated(site, moments)

    def middle(self, site: ConvSite, factors, patches: np.ndarray) -> np.ndarray:
        """The kernel's structure's refit inputs."""
        return self._of(site).middle(site, factors, patches)

    def pointwise_groups(self, site: ConvSite) -> int:
        """The kernel's structure's refitted conv's groups."""
        return self._of(site).pointwise_groups(site)

    def refitted(self, factors, weights: np.ndarray, bias: np.ndarray):
        """The factors with the last conv refitted, by the structure their type belongs to."""
        owner = self.grouped if isinstance(factors, GroupedFactors) else self.separable
        return owner.refitted(factors, weights, bias)

    def cost(self, site: ConvSite, rank: int) -> Cost:
        """The kernel's structure's cost."""
        return self._of(site).cost(site, rank)

    def variants(self, site: ConvSite, rank: int) -> tuple[str, ...]:
        """The kernel's structure's emissions."""
        return self._of(site).variants(site, rank)

    def emit(self, graph: gs.Graph, site: ConvSite, factors, variant: str, names: Names) -> list[gs.Node]:
        """The kernel's structure's replacement."""
        return self._of(site).emit(graph, site, factors, variant, names)

    def notes(self, mode: Mode) -> list[str]:
        """What both structures say, and which layers each takes."""
        return [*self.separable.notes(mode), *self.grouped.notes(mode),
                f"structure per layer: {self.separable.name} for KxK kernels, {self.grouped.name} for 1x1 kernels"]

    def rivals(self) -> tuple:
        """No rivals."""
        return ()
