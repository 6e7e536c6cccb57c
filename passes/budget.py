"""Choosing a rank per layer to meet a global MACs budget with the least total error (pure Python).

Each layer is either left dense (its MACs, error 0) or rewritten at one of its
candidate ranks (fewer MACs, some error). The error of a layer is its relative
squared weight error ||W - W_r||² / ||W||², so layers of different scales
compare (with calibration data: its relative squared output error on the data,
or the measured relative squared error of the model's outputs with the layer
rewritten, ``sensitivity``); the total error is their sum.

Algorithm (a greedy on the error added per MAC saved, the classic solution of
the Lagrangian relaxation of this knapsack):

1. Per layer, the points (MACs saved, error) of "dense" and of every rank
   that saves MACs; keep their lower convex hull from "dense" (0 saved, 0
   error) to the cheapest rank. Along the hull, each step costs more error
   per MAC saved than the one before.
2. Put every layer's next hull step in a heap keyed by its error per MAC saved;
   take the cheapest step, push that layer's following step, and repeat until
   the MACs saved reach the amount needed.
3. The last step usually overshoots the budget. Then, while some single layer
   can move to a rank with less error (hull or not) and the budget still holds,
   make the move that removes the most error.

Every step of (2) is optimal for the budget it reaches (a point on the
error/MACs trade-off curve of the relaxation); (3) recovers most of what the
overshoot gives away. Exact optimality would need a knapsack search; for a few
dozen layers with a handful of ranks each this greedy is within a step of it.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RankOption:
    """One rank a layer can be rewritten at: its MACs there and its relative squared weight error."""

    rank: int
    macs: int  # of the layer rewritten at this rank
    error: float  # relative squared error at this rank (of the weights, the layer's output or the model's)


@dataclass(frozen=True)
class LayerOptions:
    """A layer's MACs as it is (dense) and the ranks it can be rewritten at."""

    dense_macs: int
    options: Sequence[RankOption]  # any order; ranks that do not save MACs are ignored


@dataclass(frozen=True)
class Allocation:
    """The chosen rank per layer, the MACs saved in total and the summed error."""

    ranks: dict[str, int | None]  # None: the layer stays dense
    saved: int  # MACs saved in total
    error: float  # sum of the layers' relative squared errors


class Unreachable(Exception):
    """Even the cheapest rank of every layer does not save ``needed`` MACs; ``best`` is what it saves."""

    def __init__(self, needed: int, best: int):
        super().__init__(f"needs {needed} MACs saved, at most {best} can be")
        self.needed = needed
        self.best = best


def allocate(layers: Mapping[str, LayerOptions], needed: int) -> Allocation:
    """Ranks that save at least ``needed`` MACs with (near-)least total error."""
    savers = {name: sorted((o for o in layer.options if o.macs < layer.dense_macs), key=lambda o: (o.macs, o.error))
              for name, layer in layers.items()}
    chosen: dict[str, RankOption | None] = {name: None for name in layers}
    if needed <= 0:
        return Allocation({name: None for name in layers}, 0, 0.0)
    best = sum(layers[name].dense_macs - options[0].macs for name, options in savers.items() if options)
    if best < needed:
        raise Unreachable(needed, best)

    hulls = {name: _hull(layers[name].dense_macs, options) for name, options in savers.items() if options}
    heap: list[tuple[float, int, str, int]] = []
    order = {name: i for i, name in enumerate(layers)}  # ties broken by graph order: deterministic

    def push(name: str, step: int) -> None:
        hull = hulls[name]
        if step + 1 < len(hull):
            (s0, e0, _), (s1, e1, _) = hull[step], hull[step + 1]
            heapq.heappush(heap, ((e1 - e0) / (s1 - s0), order[name], name, step + 1))

    for name in hulls:
        push(name, 0)
    saved = 0
    while saved < needed and heap:
        _, _, name, step = heapq.heappop(heap)
        previous = hulls[name][step - 1][0]
        saved += hulls[name][step][0] - previous
        chosen[name] = hulls[name][step][2]
        push(name, step)

    saved = _refine(layers, savers, chosen, needed)
    return Allocation(
        ranks={name: (o.rank if o is not None else None) for name, o in chosen.items()},
        saved=saved,
        error=sum(o.error for o in chosen.values() if o is not None),
    )


def _hull(dense_macs: int, options: list[RankOption]) -> list[tuple[int, float, RankOption | None]]:
    """Lower convex hull of (saved, error) from (0, 0) = dense, by increasing saved."""
    points: dict[int, tuple[float, RankOption]] = {}
    for option in options:
        saved = dense_macs - option.macs
        if saved not in points or option.error < points[saved][0]:
            points[saved] = (option.error, option)
    hull: list[tuple[int, float, RankOption | None]] = [(0, 0.0, None)]
    for saved in sorted(points):
        error, option = points[saved]
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], (saved, error)) <= 0:
            hull.pop()
        hull.append((saved, error, option))
    # A point with more error than a later point that saves more is never worth stopping at: the hull
    # already skips it. Points after the minimum-error tail stay (they save more).
    return hull


def _cross(a, b, c) -> float:
    """> 0 when a -> b -> c turns left (convex from below)."""
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _refine(layers: Mapping[str, LayerOptions], savers: Mapping[str, list[RankOption]],
            chosen: dict[str, RankOption | None], needed: int) -> int:
    """Single-layer moves that lower the error while the budget holds; returns the MACs saved."""
    def saving(name: str, option: RankOption | None) -> int:
        return 0 if option is None else layers[name].dense_macs - option.macs

    saved = sum(saving(name, o) for name, o in chosen.items())
    while True:
        best_move, best_gain = None, 0.0
        for name, options in savers.items():
            current = chosen[name]
            current_error = current.error if current is not None else 0.0
            for candidate in [None, *options]:
                error = candidate.error if candidate is not None else 0.0
                gain = current_error - error
                if gain <= best_gain:
                    continue
                if saved - saving(name, current) + saving(name, candidate) >= needed:
                    best_move, best_gain = (name, candidate), gain
        if best_move is None:
            return saved
        name, candidate = best_move
        saved += saving(name, candidate) - saving(name, chosen[name])
        chosen[name] = candidate
