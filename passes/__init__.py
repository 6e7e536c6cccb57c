"""Rewrite passes that make convolutions cheaper (imported as ``onnxcost.passes``).

    import onnxcost.passes as passes

    result = passes.separable("model.onnx", passes.Rank(1))         # or a ModelProto
    print(result.plan.macs_before, result.plan.macs_after, result.comparison.worst_rel_l2_error)
    result.save("model.separable.onnx")

    plan = passes.Rewriter(model, passes.Separable()).plan(passes.Energy(0.95))   # a dry run

One driver (``driver``) serves every structure; ``Separable`` is the first.
"""

from __future__ import annotations

import os

import onnx

from .driver import (
    AUTO, DEFAULT_MODE, Cost, Energy, Exact, LayerPlan, Mode, Plan, Rank, RewriteResult, Rewriter, Selection,
    Structure, TargetMacs, rewrite, save, validate_rewrite,
)
from .errors import BudgetUnreachable, PredictionMismatch, RewriteOptionError, RewriteValidationFailed
from .separable import CONCAT, MULTIPLIER, Separable

STRUCTURES = {"separable": Separable}


def separable(model: str | os.PathLike | onnx.ModelProto, mode: Mode | None = None,
              selection: Selection = Selection(), **options) -> RewriteResult:
    """Depthwise-separable rewrite of ``model``'s convs; ``options`` as for ``rewrite``."""
    return rewrite(model, Separable(), mode, selection, **options)


__all__ = [
    "AUTO", "BudgetUnreachable", "CONCAT", "Cost", "DEFAULT_MODE", "Energy", "Exact", "LayerPlan", "MULTIPLIER", "Mode",
    "Plan", "PredictionMismatch", "Rank", "RewriteOptionError", "RewriteResult", "RewriteValidationFailed", "Rewriter",
    "STRUCTURES", "Selection", "Separable", "Structure", "TargetMacs", "rewrite", "save", "separable", "validate_rewrite",
]
