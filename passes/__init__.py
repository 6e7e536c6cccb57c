"""Rewrite passes that make convolutions cheaper (imported as ``onnxcost.passes``).

    import onnxcost.passes as passes

    result = passes.separable("model.onnx", passes.Rank(1))         # or a ModelProto
    print(result.plan.macs_before, result.plan.macs_after, result.comparison.worst_rel_l2_error)
    result.save("model.separable.onnx")

    result = passes.grouped("model.onnx", 4, passes.Rank(2))        # grouped conv + shuffle + grouped 1x1, G = 4

    plan = passes.Rewriter(model, passes.Separable()).plan(passes.Energy(0.95))   # a dry run
    plan = passes.Rewriter(model, passes.Grouped(4)).plan(passes.Rank(2), compare=True)  # with the rivals' errors

One driver (``driver``) serves every structure: ``Separable`` and ``Grouped``.
"""

from __future__ import annotations

import os

import onnx

from .driver import (
    AUTO, DEFAULT_MODE, Alternative, Cost, Energy, Exact, LayerPlan, Mode, Plan, Rank, RewriteResult, Rewriter, Selection,
    Structure, TargetMacs, rewrite, save, validate_rewrite,
)
from .errors import BudgetUnreachable, PredictionMismatch, RewriteOptionError, RewriteValidationFailed
from .grouped import GATHER, SHUFFLE, Grouped
from .separable import CONCAT, MULTIPLIER, Separable

STRUCTURES = {"separable": Separable, "grouped": Grouped}  # Grouped takes G


def separable(model: str | os.PathLike | onnx.ModelProto, mode: Mode | None = None,
              selection: Selection = Selection(), **options) -> RewriteResult:
    """Depthwise-separable rewrite of ``model``'s convs; ``options`` as for ``rewrite``."""
    return rewrite(model, Separable(), mode, selection, **options)


def grouped(model: str | os.PathLike | onnx.ModelProto, groups: int, mode: Mode | None = None,
            selection: Selection = Selection(), **options) -> RewriteResult:
    """Grouped-plus-shuffle rewrite (G = ``groups``) of ``model``'s dense convs; ``options`` as for ``rewrite``."""
    return rewrite(model, Grouped(groups), mode, selection, **options)


__all__ = [
    "AUTO", "Alternative", "BudgetUnreachable", "CONCAT", "Cost", "DEFAULT_MODE", "Energy", "Exact", "GATHER", "Grouped",
    "LayerPlan", "MULTIPLIER", "Mode", "Plan", "PredictionMismatch", "Rank", "RewriteOptionError", "RewriteResult",
    "RewriteValidationFailed", "Rewriter", "SHUFFLE", "STRUCTURES", "Selection", "Separable", "Structure", "TargetMacs",
    "grouped", "rewrite", "save", "separable", "validate_rewrite",
]
