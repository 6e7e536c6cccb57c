"""What a structure provides to the rewriter, and what its decomposition and cost look like.

A *structure* says what a conv becomes (``separable.Separable``, ``grouped.Grouped``,
``pointwise_first.PointwiseFirst``); the rewriter does everything else the same way for every structure (see
``driver``). A structure implements ``Structure``:

- ``name``: what the plan and its table are titled with ("separable", "grouped G=4");
- ``emissions``: every emission it can write (what ``emission=`` accepts; empty when it writes one form);
- ``eligible(site)``: None, or why this structure cannot rewrite the conv;
- ``decompose(site)``: pure numpy, returns a ``Decomposition`` (max/exact rank, squared error per rank,
  ``factors(rank)``);
- ``cost(site, rank)``: the predicted MACs and params of the replacement, from onnxcost's own cost rule
  (``conv_macs``);
- ``variants(site, rank)``: the emissions it can write here, preferred first (the first is also what a
  requested but unavailable emission falls back to);
- ``emit(graph, site, factors, variant, names)``: the replacement nodes (graphsurgeon), reading
  ``site.input`` and producing ``site.output``;
- ``notes(mode)``: what the report must say about a mode (e.g. the cost of exact);
- ``rivals()``: other structures to compare with at equal MACs (``plan(compare=True)``), maybe none.

With calibration data (``calibration``), a structure also provides:

- ``statistics_block(site)``: input channels per block of the patch statistics its factors need;
- ``decompose_calibrated(site, moments)``: the activation-aware decomposition (``whitening``);
- ``middle(site, factors, patches)``: what the last conv reads at each output position, in the order of its
  weights: the first factor's output for a final 1x1 conv; for the pointwise-first form's final grouped KxK
  conv, the first factor's output under its kernel (r·K values per output channel);
- ``pointwise_groups(site)`` and ``refitted(factors, weights, bias)``: the last conv's groups, and the factors
  with its weights and bias replaced by the least-squares refit (``refit``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import onnx_graphsurgeon as gs

from onnxcost.costs.conv import conv_macs

from .sites import ConvSite

if TYPE_CHECKING:
    from .emitters import Names
    from .modes import Mode


@dataclass(frozen=True)
class Cost:
    """Predicted cost of a replacement: MACs for batch N of the model, and weight elements (params)."""

    macs: int
    params: int

    @staticmethod
    def of_conv_pair(site: ConvSite, first_output: tuple[int, ...], first_weight: tuple[int, ...],
                     second_weight: tuple[int, ...]) -> Cost:
        """A conv (output and weight shapes) then a conv to the site's output that carries its bias (a 1x1 conv,
        or the pointwise-first form's grouped KxK conv): what every factorization writes, costed by onnxcost's
        own Conv rule."""
        macs = conv_macs(first_output, first_weight) + conv_macs(site.output_shape, second_weight)
        params = math.prod(first_weight) + math.prod(second_weight) + (site.cout if site.bias is not None else 0)
        return Cost(macs=macs, params=params)


class Decomposition(Protocol):
    """A conv's weights decomposed for one structure: errors per rank and the factors ``emit`` writes."""

    max_rank: int  # the largest meaningful rank
    exact_rank: int  # the rank that reproduces the weights up to rounding
    squared_norm: float  # ||W||²

    def squared_error(self, rank: int) -> float:
        """||W - W_rank||², the least any approximation of the structure at ``rank`` makes."""

    def factors(self, rank: int) -> Any:
        """What ``Structure.emit`` writes at ``rank``."""


def relative_error(d: Decomposition, rank: int) -> float:
    """||W - W_rank|| / ||W||: the weight error of ``d`` at ``rank`` relative to the weights (0 for zero weights)."""
    norm = d.squared_norm
    return math.sqrt(max(d.squared_error(rank), 0.0) / norm) if norm > 0 else 0.0


class Structure(Protocol):
    """What a conv becomes; see the module's docstring for what each member must do."""

    name: str  # "separable", "grouped G=4": what the plan and its table are titled with
    emissions: tuple[str, ...]  # every emission it can write; ``variants`` picks the ones that apply to a layer

    def eligible(self, site: ConvSite) -> str | None:
        """None when the structure can rewrite the conv, else why not (plan data)."""

    def decompose(self, site: ConvSite) -> Decomposition:
        """The site's (folded) weights decomposed, pure numpy."""

    def cost(self, site: ConvSite, rank: int) -> Cost:
        """The replacement's MACs and params at ``rank``, by onnxcost's own cost rules."""

    def variants(self, site: ConvSite, rank: int) -> tuple[str, ...]:
        """The emissions it can write for this layer at ``rank``, preferred first."""

    def emit(self, graph: gs.Graph, site: ConvSite, factors: Any, variant: str, names: Names) -> list[gs.Node]:
        """The replacement's nodes, reading ``site.input`` and producing ``site.output`` (not yet in ``graph``)."""

    def notes(self, mode: Mode) -> list[str]:
        """What the plan must say about ``mode`` for this structure."""

    def rivals(self) -> Sequence[Structure]:
        """The structures ``plan(compare=True)`` puts beside it at each rewritten layer's MACs (maybe none)."""

    def statistics_block(self, site: ConvSite) -> int:
        """Input channels per block of the patch statistics its calibrated factors need."""

    def decompose_calibrated(self, site: ConvSite, moments: Any) -> Decomposition:
        """The activation-aware decomposition of the site's weights for ``moments`` (``statistics.SecondMoments``)."""

    def middle(self, site: ConvSite, factors: Any, patches: Any) -> Any:
        """What the last conv reads at every row of (rows, Cin, K) ``patches``, in the order of its weights."""

    def pointwise_groups(self, site: ConvSite) -> int:
        """The groups of the last conv (the one ``refit`` fits)."""

    def refitted(self, factors: Any, weights: Any, bias: Any) -> Any:
        """``factors`` with the last conv's weights and bias replaced."""
