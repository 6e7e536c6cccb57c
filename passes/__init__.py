"""Rewrite passes that make convolutions cheaper (imported as ``onnxcost.passes``).

    import onnxcost.passes as passes

    result = passes.separable("model.onnx", passes.Rank(1))         # or a ModelProto
    print(result.plan.macs_before, result.plan.macs_after, result.comparison.worst_rel_l2_error)
    result.save("model.separable.onnx")

    result = passes.grouped("model.onnx", 4, passes.Rank(2))        # grouped conv + shuffle + grouped 1x1, G = 4

    plan = passes.Rewriter(model, passes.Separable()).plan(passes.Energy(0.95))   # a dry run
    plan = passes.Rewriter(model, passes.Grouped(4)).plan(passes.Rank(2), compare=True)  # with the rivals' errors

    result = passes.rewrite("model.onnx", passes.Separable(), passes.TargetMacs(ratio=0.7),
                            calibration="pages.npz")              # activation-aware factors, held-out validation

    result = passes.rewrite("model.onnx", passes.Separable(), passes.Rank(1), dry_run=True)  # what the CLI calls
    print(result.plan.macs_after, result.model)                                              # ..., None
    record = result.to_dict()                                                                # docs/rewrite-schema.md

One rewriter (``driver``) serves every structure (``Separable``, ``Grouped``); a structure provides what
``protocol.Structure`` lists. The modules, one concern each:

- ``protocol``: what a structure provides (``Structure``, ``Decomposition``, ``Cost``);
- ``modes``: how much to keep (``Exact``, ``Rank``, ``Energy``, ``TargetMacs``, ``TargetLatency``) and the rank each picks;
- ``latency``: the layers and ranks for a latency budget, timed in onnxruntime;
- ``selection``: which convs (``Selection``);
- ``plan``: the plan records (``Plan``, ``LayerPlan``, ``Alternative``);
- ``planner``: ranks per mode, the budget, emission choice and measurement, filling the plan;
- ``rivals``: the other structures at each rewritten layer's MACs;
- ``surgery``: the replacements put into the graph, the full check, the report held against the plan;
- ``result``: ``RewriteResult`` and its JSON record;
- ``driver``: ``Rewriter``, ``rewrite`` and ``validate_rewrite``, tying the above together;
- ``separable``, ``grouped``, ``pointwise_first``: the three structures (the last per output channel, and
  ``SeparableOrder``, the per-layer order of ``--order auto``) and ``mixed`` (``SeparableAndGrouped``: separable for
  KxK kernels, grouped for 1x1, ``--separable --grouped G``), both made of others by ``per_layer``; ``factorize``,
  ``block_factorize``, ``output_factorize``, ``blockwise_svd``: their numerics (pure numpy); ``emitters``: the graph
  pieces they write;
- ``sites``, ``fold``: the convs as the passes see them, with following affine ops folded in;
- ``budget``: the rank allocation for a MACs budget; ``layer_models``, ``measure``: one conv alone as a
  model, and its timing in onnxruntime; ``errors``: the passes' exceptions;
- calibration data (``calibration=``): ``calibration`` (the split into calibration and held-out samples, the
  refit pass), ``patches`` (im2col), ``statistics`` (second moments of each conv's input patches, one
  onnxruntime session), ``whitening`` (the activation-aware SVD), ``refit`` (the 1x1 conv by least squares).
"""

from __future__ import annotations

import os

import onnx

from .driver import Rewriter, rewrite, validate_rewrite
from .errors import BudgetUnreachable, PredictionMismatch, RewriteOptionError, RewriteValidationFailed
from .grouped import GATHER, SHUFFLE, Grouped
from .mixed import SeparableAndGrouped
from .modes import DEFAULT_MODE, Energy, Exact, Mode, Rank, TargetLatency, TargetMacs
from .plan import Alternative, LayerPlan, Plan
from .pointwise_first import PointwiseFirst, SeparableOrder, separable_structure
from .planner import AUTO
from .protocol import Cost, Decomposition, Structure
from .result import REWRITE_SCHEMA, RewriteResult, save
from .selection import Selection
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
    "AUTO", "Alternative", "BudgetUnreachable", "CONCAT", "Cost", "DEFAULT_MODE", "Decomposition", "Energy", "Exact",
    "GATHER", "Grouped", "LayerPlan", "MULTIPLIER", "Mode", "Plan", "PointwiseFirst", "PredictionMismatch",
    "REWRITE_SCHEMA", "Rank", "SeparableOrder",
    "RewriteOptionError", "RewriteResult", "RewriteValidationFailed", "Rewriter", "SHUFFLE", "STRUCTURES", "Selection",
    "Separable", "SeparableAndGrouped", "Structure", "TargetLatency", "TargetMacs", "grouped", "rewrite", "save", "separable",
    "separable_structure", "validate_rewrite",
]
