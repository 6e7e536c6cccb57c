"""One structure per kernel size in one run (``--separable --grouped G``): KxK convs take the separable form (in
the order asked, ``separable_structure``), 1x1 convs, where the separable form has nothing to separate, the grouped
form with G groups.

Every member delegates to the structure of the layer's kernel (``per_layer.PerLayer``), as ``SeparableOrder``
delegates to an order, so one plan spends one budget over both kinds of layer: a latency budget compares a 3x3
conv's separable ranks with a 1x1 conv's grouped ones by the time each saves per output error. Measured on PP-OCRv4 det (docs/frontier.md): the
grouped form of its 3x3 convs is both slower and lossier than the separable one, and its 1x1 convs hold time
that only the grouped form can save.
"""

from __future__ import annotations

import math

import numpy as np

from .block_factorize import GroupedFactors
from .grouped import Grouped
from .modes import Mode
from .per_layer import PerLayer
from .pointwise_first import DEPTHWISE, separable_structure
from .sites import ConvSite


class SeparableAndGrouped(PerLayer):
    """The separable form (``order``) for KxK kernels, grouped G = ``groups`` for 1x1 kernels."""

    def __init__(self, groups: int, order: str = DEPTHWISE):
        self.separable, self.grouped = separable_structure(order), Grouped(groups)
        self.name = f"{self.separable.name} (KxK) + {self.grouped.name} (1x1)"
        self.emissions = tuple(dict.fromkeys((*self.separable.emissions, *self.grouped.emissions)))

    def chosen(self, site: ConvSite):
        """Separable for a KxK kernel, grouped for a 1x1 kernel."""
        return self.separable if math.prod(site.kernel) > 1 else self.grouped

    def refitted(self, factors, weights: np.ndarray, bias: np.ndarray):
        """The factors with the last conv refitted, by the structure their type belongs to."""
        owner = self.grouped if isinstance(factors, GroupedFactors) else self.separable
        return owner.refitted(factors, weights, bias)

    def notes(self, mode: Mode) -> list[str]:
        """What both structures say, and which layers each takes."""
        return [*self.separable.notes(mode), *self.grouped.notes(mode),
                f"structure per layer: {self.separable.name} for KxK kernels, {self.grouped.name} for 1x1 kernels"]
