"""Rival structures at equal MACs: at each rewritten layer, how much weight error the other structures would
make for no more MACs than the chosen rewrite (``plan(compare=True)``, the CLI's dry run).

A rival is taken at its least-error rank whose MACs do not exceed the layer's (in practice the largest such
rank), by its own decomposition and cost rule: the comparison is that of the structures, not of the ranks.
"""

from __future__ import annotations

from onnxcost.units import human_count

from .plan import Alternative, LayerPlan
from .protocol import Decomposition, Structure, relative_error
from .sites import ConvSite


class Rivals:
    """The rivals of one structure (``structure.rivals()``), their decompositions computed once per layer."""

    def __init__(self, structure: Structure):
        self.structure = structure
        self._decompositions: dict[tuple[str, str], Decomposition] = {}

    def alternatives(self, site: ConvSite, macs: int) -> list[Alternative]:
        """Each rival structure at the largest rank whose MACs do not exceed ``macs``, by its own decomposition and cost."""
        alternatives = []
        for rival in self.structure.rivals():
            reason = rival.eligible(site)
            if reason is not None:
                alternatives.append(Alternative(rival.name, None, None, None, reason))
                continue
            key = (rival.name, site.name)
            if key not in self._decompositions:
                self._decompositions[key] = rival.decompose(site)
            d = self._decompositions[key]
            fitting = [(r, rival.cost(site, r).macs) for r in range(1, d.max_rank + 1)]
            fitting = [(r, m) for r, m in fitting if m <= macs]
            if not fitting:
                cheapest = rival.cost(site, 1).macs
                alternatives.append(Alternative(rival.name, None, None, None,
                                                f"rank 1 costs {human_count(cheapest)} MACs > {human_count(macs)}"))
                continue
            rank, rank_macs = min(fitting, key=lambda f: (d.squared_error(f[0]), f[1]))
            alternatives.append(Alternative(rival.name, rank, rank_macs, relative_error(d, rank)))
        return alternatives


def least_error(name: str, layer: LayerPlan) -> str:
    """The structure with the least weight error at the layer's MACs (a tie goes to ``name``, the structure planned)."""
    errors = {name: layer.weight_rel_error}
    errors.update((a.structure, a.weight_rel_error) for a in layer.alternatives if a.weight_rel_error is not None)
    return min(errors, key=lambda k: (errors[k], k != name))


def comparison_notes(layers: list[LayerPlan]) -> list[str]:
    """Which structure has the least weight error at each rewritten layer's MACs, counted over ``layers``."""
    if not layers:
        return []
    wins: dict[str, int] = {}
    for layer in layers:
        wins[layer.least_error] = wins.get(layer.least_error, 0) + 1
    tally = ", ".join(f"{structure} in {count}" for structure, count in sorted(wins.items(), key=lambda w: -w[1]))
    return [(f"compared at each rewritten layer's MACs (rivals at their largest rank that does not cost more), "
             f"the least weight error: {tally} of {len(layers)} layer(s)")]
