"""Min and max of every figure when free dimensions range over intervals (``--dim batch=1:64``)."""

from __future__ import annotations

from collections.abc import Mapping

from .figures import NODE_FIGURES, TOTAL_FIGURES, Formulas
from .poly import non_decreasing, value_range


def figure_ranges(found: Formulas, ranges: Mapping[str, tuple[int, int]]) -> dict:
    """{"dims": ranges, "exact": bool, "totals": {figure: [min, max]}, "nodes": [{figure: [min, max]} | None]}:
    the other free dimensions at the report's own values. ``exact`` is False when some range is only a bound
    (docs/formulas.md says when)."""
    fixed = {name: value for name, value in found.evaluated_at.items() if name not in ranges}
    exact = True

    def span(value) -> list[int]:
        nonlocal exact
        low, high, is_exact = value_range(value, ranges, fixed)
        exact = exact and is_exact
        return [low, high]

    totals = {name: span(found.totals[name]) for name in TOTAL_FIGURES} if found.totals else {}
    if found.peak:
        spans = [span(candidate) for candidate in found.peak]
        # the max of several formulas: its max is the largest max; its min at least the largest min (exact when
        # every candidate is non-decreasing, so all take their min at the low ends together)
        totals["peak_activation_bytes"] = [max(s[0] for s in spans), max(s[1] for s in spans)]
        if len(spans) > 1 and not all(non_decreasing(c) for c in found.peak):
            exact = False
    nodes = [None if figures is None else {name: span(figures[name]) for name in NODE_FIGURES}
             for figures in found.nodes]
    return {"dims": {name: list(bounds) for name, bounds in ranges.items()}, "exact": exact, "totals": totals,
            "nodes": nodes}
