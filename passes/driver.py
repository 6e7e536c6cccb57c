"""The rewrite driver: one engine for every conv factorization (separable, grouped + shuffle).

A *structure* says what a conv becomes; the driver does everything else, the
same way for every structure:

    sites ──selection──▶ candidates ──decompose──▶ ranks by mode ──emission/measure──▶ Plan
    Plan ──apply (graphsurgeon)──▶ ModelProto ──report confirms MACs/params──▶ validate (onnxruntime)

A structure implements (see ``Structure``):

- ``eligible(site)``: None, or why this structure cannot rewrite the conv;
- ``decompose(site)``: pure numpy, returns a ``Decomposition`` (max/exact rank,
  squared error per rank, ``factors(rank)``);
- ``cost(site, rank)``: the predicted MACs and params of the replacement, from
  onnxcost's own cost rule (``conv_macs``);
- ``emissions``: every emission it can write (what ``emission=`` accepts);
- ``variants(site, rank)``: the emissions it can write here, preferred first (the first
  is also what a requested but unavailable emission falls back to);
- ``emit(graph, site, factors, variant, names)``: the replacement nodes
  (graphsurgeon), reading ``site.input`` and producing ``site.output``;
- ``notes(mode)``: what the report must say about a mode (e.g. the cost of exact);
- optionally ``rivals()``: other structures to compare with at equal MACs (``plan(compare=True)``).

The driver owns selection (include/exclude patterns, min channels, stem and
depthwise skips), the rank per mode (exact, rank R, energy E, MACs budget),
the rule that a layer whose rewrite would not reduce MACs stays as it is
(except in exact mode), the emission choice by measurement, ``--measure``,
the dry-run plan, the surgery, the check of the prediction against onnxcost's
report of the written model, and validation in onnxruntime.

Predictions: MACs and params come from the structure's ``cost``; memory traffic
from onnxcost's report of the replacement alone (``measure.replacement_model``), so
zero-MAC data movement a structure writes (a channel shuffle) is counted by the
report's own rules, never by a second formula here. The report of the written model
must confirm all three, per layer and in total.
"""

from __future__ import annotations

import fnmatch
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, Union

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from google.protobuf.message import EncodeError

from onnxcost.analysis import IN_MEMORY_SOURCE, analyze_model
from onnxcost.costs.conv import conv_macs
from onnxcost.errors import InvalidModelError, ModelLoadError, first_line
from onnxcost.loading import external_tensors, load_model
from onnxcost.report import Report
from onnxcost.units import human_count, parse_quantity
from onnxcost.validation import Bounds, Comparison, Progress, compare_models, random_inputs, save_with_external_data

from .budget import LayerOptions, RankOption, Unreachable, allocate
from .errors import BudgetUnreachable, PredictionMismatch, RewriteOptionError, RewriteValidationFailed
from .measure import ORIGINAL, Names, Timer, default_timer, layer_feeds, layer_models, replacement_model
from .sites import ConvSite, collect_sites

EXACT_MAX_REL_ERROR = 1e-4  # exact mode fails validation past this relative L2 error
AUTO = "auto"
TIE_MARGIN = 0.05  # emissions timed within 5% of each other are a tie: timing noise on a busy machine is that large


# --- what a structure provides ------------------------------------------------------------

@dataclass(frozen=True)
class Cost:
    macs: int
    params: int

    @staticmethod
    def of_conv_pair(site: ConvSite, first_output: tuple[int, ...], first_weight: tuple[int, ...],
                     second_weight: tuple[int, ...]) -> Cost:
        """A conv (output and weight shapes) then a 1x1 conv to the site's output that carries its bias:
        what both factorizations write, costed by onnxcost's own Conv rule."""
        macs = conv_macs(first_output, first_weight) + conv_macs(site.output_shape, second_weight)
        params = math.prod(first_weight) + math.prod(second_weight) + (site.cout if site.bias is not None else 0)
        return Cost(macs=macs, params=params)


class Decomposition(Protocol):
    max_rank: int  # the largest meaningful rank
    exact_rank: int  # the rank that reproduces the weights up to rounding
    squared_norm: float  # ||W||²

    def squared_error(self, rank: int) -> float: ...  # ||W - W_rank||², optimal for the structure

    def factors(self, rank: int) -> Any: ...  # what ``emit`` writes


class Structure(Protocol):
    name: str  # "separable", "grouped G=4": what the plan and its table are titled with
    emissions: tuple[str, ...]  # every emission it can write; ``variants`` picks the ones that apply to a layer

    def eligible(self, site: ConvSite) -> str | None: ...

    def decompose(self, site: ConvSite) -> Decomposition: ...

    def cost(self, site: ConvSite, rank: int) -> Cost: ...

    def variants(self, site: ConvSite, rank: int) -> tuple[str, ...]: ...

    def emit(self, graph: gs.Graph, site: ConvSite, factors: Any, variant: str, names: Names) -> list[gs.Node]: ...

    def notes(self, mode: Mode) -> list[str]: ...

    # Optional: ``rivals() -> Sequence[Structure]``, the structures ``plan(compare=True)`` puts beside it.


# --- modes ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Exact:
    """The rank that reproduces every layer (up to float rounding); MACs may grow."""

    def describe(self) -> str:
        return "exact"


@dataclass(frozen=True)
class Rank:
    """The same rank for every layer (clipped to the layer's full rank)."""

    rank: int

    def __post_init__(self):
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise RewriteOptionError(f"--rank must be an integer >= 1, got {self.rank}")

    def describe(self) -> str:
        return f"rank {self.rank}"


@dataclass(frozen=True)
class Energy:
    """Per layer, the smallest rank keeping ``fraction`` of the squared singular values."""

    fraction: float

    def __post_init__(self):
        if not (isinstance(self.fraction, (int, float)) and 0 < self.fraction <= 1):
            raise RewriteOptionError(f"--energy must be in (0, 1], got {self.fraction}")

    def describe(self) -> str:
        return f"energy {self.fraction:g}"


@dataclass(frozen=True)
class TargetMacs:
    """A budget for the whole model's MACs: absolute (``macs``) or a fraction of the original (``ratio``)."""

    macs: int | None = None
    ratio: float | None = None

    def __post_init__(self):
        if (self.macs is None) == (self.ratio is None):
            raise RewriteOptionError("--target-macs: give either an absolute number of MACs or a ratio")
        if self.macs is not None and self.macs <= 0:
            raise RewriteOptionError(f"--target-macs must be positive, got {self.macs}")
        if self.ratio is not None and not 0 < self.ratio:
            raise RewriteOptionError(f"--target-macs ratio must be positive, got {self.ratio}")

    @classmethod
    def parse(cls, text: str) -> TargetMacs:
        """'3G' -> 3·10⁹ MACs, '0.5x' -> half the model's MACs."""
        spec = text.strip()
        if spec.lower().endswith("x"):
            try:
                return cls(ratio=float(spec[:-1]))
            except ValueError:
                raise RewriteOptionError(f"--target-macs '{text}': a ratio is a number followed by x, e.g. 0.5x") from None
        try:
            return cls(macs=parse_quantity(spec))
        except ValueError as exc:
            raise RewriteOptionError(f"--target-macs '{text}': {exc}; or a ratio like 0.5x") from None

    def budget(self, total_macs: int) -> int:
        return self.macs if self.macs is not None else int(math.floor(self.ratio * total_macs))

    def describe(self) -> str:
        return f"target {human_count(self.macs)} MACs" if self.macs is not None else f"target {self.ratio:g}x MACs"


Mode = Union[Exact, Rank, Energy, TargetMacs]
DEFAULT_MODE = Energy(0.99)  # see docs/rewrite.md: with the MACs rule it never makes a model more expensive


# --- selection ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """Which convs may be rewritten. Patterns are shell-style (fnmatch) on node names; exclude wins."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_channels: int = 5  # input channels; the default skips a stem reading <= 4 channels (RGB, RGBA, gray)
    include_depthwise: bool = False

    def __post_init__(self):
        if self.min_channels < 1:
            raise RewriteOptionError(f"--min-channels must be >= 1, got {self.min_channels}")

    def reason(self, site: ConvSite) -> str | None:
        """None when the conv is selected, else why not."""
        if self.include and not any(fnmatch.fnmatchcase(site.name, p) for p in self.include):
            return "not matched by --include"
        if any(fnmatch.fnmatchcase(site.name, p) for p in self.exclude):
            return "matched by --exclude"
        if site.cin < self.min_channels:
            return f"{site.cin} input channels < --min-channels {self.min_channels}" + (" (stem)" if site.cin <= 4 else "")
        if site.depthwise and not self.include_depthwise:
            return "already depthwise"
        return None


# --- the plan -------------------------------------------------------------------------------

@dataclass
class Alternative:
    """Another structure at (at most) the same MACs as the chosen rewrite of a layer: its best weight error there."""

    structure: str
    rank: int | None  # the least-error rank whose MACs do not exceed the layer's: the largest (None: no rank fits)
    macs: int | None
    weight_rel_error: float | None  # ||W - W_r|| / ||W|| of that structure at that rank
    reason: str | None = None  # why there is none


@dataclass
class LayerPlan:
    name: str
    cin: int | None
    cout: int | None
    kernel: list[int]
    group: int
    rewrite: bool
    reason: str | None  # why it stays as it is (None when rewritten)
    rank: int | None = None  # chosen (or, for a layer left alone, considered) rank
    max_rank: int | None = None
    exact_rank: int | None = None
    kept_energy: float | None = None  # fraction of ||W||² kept at ``rank``
    weight_rel_error: float | None = None  # ||W - W_r|| / ||W||
    macs_before: int = 0
    macs_after: int = 0  # predicted
    params_before: int = 0
    params_after: int = 0  # predicted
    traffic_before: int = 0  # memory traffic bytes of the conv and its folded chain
    traffic_after: int = 0  # predicted: onnxcost's report of the replacement alone
    emission: str | None = None
    folded: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # best-of-runs seconds: "original" and per variant
    note: str | None = None
    nodes: list[str] = field(default_factory=list)  # names of the emitted nodes (after apply)
    alternatives: list[Alternative] = field(default_factory=list)  # with plan(compare=True), rewritten layers only
    least_error: str | None = None  # with plan(compare=True): the structure with the least weight error at macs_after


@dataclass
class Plan:
    structure: str
    mode: str
    exact: bool
    layers: list[LayerPlan]
    macs_before: int
    params_before: int
    macs_after: int  # predicted
    params_after: int  # predicted
    traffic_before: int = 0  # memory traffic bytes of the whole model
    traffic_after: int = 0  # predicted
    budget: int | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rewritten(self) -> list[LayerPlan]:
        return [layer for layer in self.layers if layer.rewrite]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RewriteResult:
    plan: Plan
    model: onnx.ModelProto  # the rewritten model
    report: Report  # onnxcost's report of the rewritten model: confirms the plan's prediction
    comparison: Comparison | None  # None when validation was skipped

    @property
    def ok(self) -> bool:
        return self.comparison is None or self.comparison.ok

    def save(self, target: str | os.PathLike) -> None:
        """Write the rewritten model atomically after onnx.checker's full check."""
        save(self.model, target)


def save(model: onnx.ModelProto, target: str | os.PathLike) -> Path:
    """Write ``model`` atomically after onnx.checker's full check (external data past 2 GiB)."""
    from onnxcost import files

    return files.save_model(model, target)


# --- the driver -----------------------------------------------------------------------------

class Rewriter:
    """Plans and applies one structure's rewrite of one model (``apply`` once per Rewriter)."""

    def __init__(self, model: str | os.PathLike | onnx.ModelProto, structure: Structure, *,
                 inputs=None, dims=None, source: str | None = None):
        loaded = load_model(model, load_weights=True)
        if external_tensors(loaded.model):
            raise ModelLoadError("the ModelProto has weights in external data: give its path so they can be read safely")
        self.model = loaded.model
        self.structure = structure
        self.inputs, self.dims = inputs, dims
        self.source = source or (str(loaded.path) if loaded.path is not None else IN_MEMORY_SOURCE)
        self.report = analyze_model(self.model, self.source, inputs, dims)
        self.graph = gs.import_onnx(self.model)
        self.sites = {site.name: site for site in collect_sites(self.graph, self.report)}
        self.opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), 17)
        self._decompositions: dict[str, Decomposition] = {}
        self._rival_decompositions: dict[tuple[str, str], Decomposition] = {}
        self._traffic: dict[tuple[str, int, str], int] = {}
        self._timings: dict[tuple[str, int], dict[str, float]] = {}
        self._applied = False

    # --- planning ---------------------------------------------------------------------------

    def plan(self, mode: Mode | None = None, selection: Selection = Selection(), *, emission: str = AUTO,
             measure: bool = False, timer: Timer | None = None, progress: Progress | None = None,
             compare: bool = False) -> Plan:
        """The plan for ``mode``; ``compare``: also each rival structure's weight error at every rewritten layer's MACs."""
        mode = DEFAULT_MODE if mode is None else mode
        emissions = tuple(getattr(self.structure, "emissions", ()))
        if emission != AUTO and emission not in emissions:
            raise RewriteOptionError(f"--emission {emission}: the {self.structure.name} rewrite writes "
                                     f"{' or '.join(emissions) or 'one form only'} (or auto)")
        timer = timer or default_timer()
        layers: dict[str, LayerPlan] = {}
        candidates: list[ConvSite] = []
        for site in self.sites.values():
            reason = site.problem or selection.reason(site) or self.structure.eligible(site)
            layers[site.name] = self._layer(site, reason)
            if reason is None:
                candidates.append(site)
        for i, site in enumerate(candidates):
            if progress is not None:
                progress(f"decomposing {site.name}", i, len(candidates))
            self._decomposition(site)
        if progress is not None and candidates:
            progress("decomposing: done", len(candidates), len(candidates))

        warnings: list[str] = []
        budget = mode.budget(self.report.totals.macs) if isinstance(mode, TargetMacs) else None
        excluded: dict[str, str] = {}
        while True:
            ranks = self._ranks(mode, [s for s in candidates if s.name not in excluded], budget, excluded)
            slower = self._emissions_and_measure(ranks, emission, measure, timer, progress, layers)
            excluded.update(slower)
            if not slower or not isinstance(mode, TargetMacs):
                break
        for site in candidates:
            rank, reason = ranks.get(site.name, (None, excluded.get(site.name)))
            layer = layers[site.name]
            self._fill(layer, site, rank, reason if site.name not in excluded else excluded[site.name])
            if compare and layer.rewrite:
                layer.alternatives = self._alternatives(site, layer.macs_after)
                layer.least_error = _least_error(self.structure.name, layer)
        return self._plan(mode, list(layers.values()), budget, warnings, compare)

    def _layer(self, site: ConvSite, reason: str | None) -> LayerPlan:
        known = site.weight is not None and site.problem is None
        return LayerPlan(
            name=site.name,
            cin=site.cin if known else None,
            cout=site.cout if known else None,
            kernel=list(site.kernel),
            group=site.group,
            rewrite=False,
            reason=reason,
            macs_before=site.macs, macs_after=site.macs,
            params_before=site.params, params_after=site.params,
            traffic_before=site.traffic, traffic_after=site.traffic,
            folded=list(site.folded) if known else [],
        )

    def _decomposition(self, site: ConvSite) -> Decomposition:
        if site.name not in self._decompositions:
            self._decompositions[site.name] = self.structure.decompose(site)
        return self._decompositions[site.name]

    def _ranks(self, mode: Mode, candidates: Sequence[ConvSite], budget: int | None,
               excluded: dict[str, str]) -> dict[str, tuple[int | None, str | None]]:
        """name -> (rank, None) to rewrite, or (rank considered or None, reason) to leave alone."""
        chosen: dict[str, tuple[int | None, str | None]] = {}
        if isinstance(mode, TargetMacs):
            return self._budget_ranks(mode, candidates, budget, excluded)
        for site in candidates:
            d = self._decomposition(site)
            if isinstance(mode, Exact):
                chosen[site.name] = (d.exact_rank, None)
                continue
            if isinstance(mode, Rank):
                rank = min(mode.rank, d.max_rank)
            else:
                rank = _energy_rank(d, mode.fraction)
            after = self.structure.cost(site, rank).macs
            if after >= site.macs:
                chosen[site.name] = (rank, f"rank {rank} would not reduce MACs ({human_count(site.macs)} -> {human_count(after)})")
            else:
                chosen[site.name] = (rank, None)
        return chosen

    def _budget_ranks(self, mode: TargetMacs, candidates: Sequence[ConvSite], budget: int,
                      excluded: dict[str, str]) -> dict[str, tuple[int | None, str | None]]:
        total = self.report.totals.macs
        needed = total - budget
        if needed <= 0:
            return {s.name: (None, f"the model already meets the budget ({human_count(total)} <= {human_count(budget)} MACs)")
                    for s in candidates}
        options = {}
        for site in candidates:
            d = self._decomposition(site)
            norm = d.squared_norm or 1.0
            options[site.name] = LayerOptions(site.macs, [
                RankOption(r, self.structure.cost(site, r).macs, d.squared_error(r) / norm) for r in range(1, d.max_rank + 1)
            ])
        try:
            allocation = allocate(options, needed)
        except Unreachable as exc:
            dropped = f" ({len(excluded)} layer(s) dropped as measured slower)" if excluded else ""
            raise BudgetUnreachable(
                f"{mode.describe()} = {human_count(budget)} MACs cannot be met: with the selected layers{dropped} "
                f"at their cheapest ranks the model still has {human_count(total - exc.best)} MACs "
                f"(of {human_count(total)}); select more layers or raise the budget"
            ) from None
        chosen = {}
        for site in candidates:
            rank = allocation.ranks[site.name]
            if rank is not None:
                chosen[site.name] = (rank, None)
            elif not any(o.macs < site.macs for o in options[site.name].options):
                chosen[site.name] = (None, "no rank reduces MACs")
            else:
                chosen[site.name] = (None, "not needed to meet the budget")
        return chosen

    def _emissions_and_measure(self, ranks, emission: str, measure: bool, timer: Timer, progress: Progress | None,
                               layers: dict[str, LayerPlan]) -> dict[str, str]:
        """Sets each rewritten layer's emission; returns the layers --measure finds slower, with the reason."""
        todo = [(name, rank) for name, (rank, reason) in ranks.items() if reason is None]
        slower: dict[str, str] = {}
        for i, (name, rank) in enumerate(todo):
            site, layer = self.sites[name], layers[name]
            variants = self.structure.variants(site, rank)
            if emission == AUTO:
                wanted = variants
            elif emission in variants:
                wanted = (emission,)
            else:
                wanted = (variants[0],)
                layer.note = f"'{emission}' emission not available here; {variants[0]}"
            if not measure and len(wanted) == 1:
                layer.emission = wanted[0]
                continue
            if progress is not None:
                progress(f"measuring {name} in onnxruntime", i, len(todo))
            timings = self._measure(site, rank, wanted, measure, timer)
            layer.timings = dict(timings)
            layer.emission = _fastest(wanted, timings)
            if measure and timings[layer.emission] >= timings[ORIGINAL]:
                slower[name] = (f"measured slower: {timings[layer.emission] * 1e3:.3g} ms rewritten vs "
                                f"{timings[ORIGINAL] * 1e3:.3g} ms original")
        if progress is not None and todo:
            progress("measuring: done", len(todo), len(todo))
        return slower

    def _measure(self, site: ConvSite, rank: int, variants: tuple[str, ...], with_original: bool, timer: Timer) -> dict[str, float]:
        cached = self._timings.get((site.name, rank), {})
        keys = list(variants) + ([ORIGINAL] if with_original else [])
        if all(k in cached for k in keys):
            return {k: cached[k] for k in keys}
        models = layer_models(site, self.structure, self._decomposition(site).factors(rank), variants, self.opset,
                              self.model.ir_version)
        if not with_original:
            models.pop(ORIGINAL)
        timings = timer(models, layer_feeds(site))
        self._timings[(site.name, rank)] = {**cached, **timings}
        return {k: timings[k] for k in keys}

    def _fill(self, layer: LayerPlan, site: ConvSite, rank: int | None, reason: str | None) -> None:
        layer.rewrite = rank is not None and reason is None
        layer.reason = reason
        d = self._decomposition(site)
        layer.max_rank, layer.exact_rank = d.max_rank, d.exact_rank
        if rank is None:
            layer.emission = None
            return
        layer.rank = rank
        norm = d.squared_norm
        error = d.squared_error(rank)
        layer.kept_energy = 1.0 - error / norm if norm > 0 else 1.0
        layer.weight_rel_error = math.sqrt(max(error, 0.0) / norm) if norm > 0 else 0.0
        if layer.rewrite:
            cost = self.structure.cost(site, rank)
            layer.macs_after, layer.params_after = cost.macs, cost.params
            layer.traffic_after = self._predicted_traffic(site, rank, layer.emission)
        else:
            layer.emission = None

    def _predicted_traffic(self, site: ConvSite, rank: int, variant: str) -> int:
        """Memory traffic of the replacement: onnxcost's report of it alone, at the shapes it has in the model."""
        key = (site.name, rank, variant)
        if key not in self._traffic:
            model = replacement_model(site, self.structure, self._decomposition(site).factors(rank), variant,
                                      self.opset, self.model.ir_version)
            self._traffic[key] = analyze_model(model).totals.memory_traffic_bytes
        return self._traffic[key]

    def _alternatives(self, site: ConvSite, macs: int) -> list[Alternative]:
        """Each rival structure at the largest rank whose MACs do not exceed ``macs``, by its own decomposition and cost."""
        alternatives = []
        for rival in getattr(self.structure, "rivals", lambda: ())():
            reason = rival.eligible(site)
            if reason is not None:
                alternatives.append(Alternative(rival.name, None, None, None, reason))
                continue
            key = (rival.name, site.name)
            if key not in self._rival_decompositions:
                self._rival_decompositions[key] = rival.decompose(site)
            d = self._rival_decompositions[key]
            fitting = [(r, rival.cost(site, r).macs) for r in range(1, d.max_rank + 1)]
            fitting = [(r, m) for r, m in fitting if m <= macs]
            if not fitting:
                cheapest = rival.cost(site, 1).macs
                alternatives.append(Alternative(rival.name, None, None, None,
                                                f"rank 1 costs {human_count(cheapest)} MACs > {human_count(macs)}"))
                continue
            rank, rank_macs = min(fitting, key=lambda f: (d.squared_error(f[0]), f[1]))
            norm = d.squared_norm
            error = math.sqrt(max(d.squared_error(rank), 0.0) / norm) if norm > 0 else 0.0
            alternatives.append(Alternative(rival.name, rank, rank_macs, error))
        return alternatives

    def _plan(self, mode: Mode, layers: list[LayerPlan], budget: int | None, warnings: list[str],
              compare: bool = False) -> Plan:
        totals = self.report.totals
        macs_after = totals.macs + sum(l.macs_after - l.macs_before for l in layers if l.rewrite)
        params_after = totals.params + sum(l.params_after - l.params_before for l in layers if l.rewrite)
        traffic_after = totals.memory_traffic_bytes + sum(l.traffic_after - l.traffic_before for l in layers if l.rewrite)
        notes = list(self.structure.notes(mode))
        if compare:
            notes.extend(_comparison_notes([l for l in layers if l.rewrite]))
        if isinstance(mode, Exact) and macs_after > totals.macs:
            notes.append(f"MACs grow: {human_count(totals.macs)} -> {human_count(macs_after)} "
                         f"({macs_after / totals.macs:.3f}x)" if totals.macs else "MACs grow")
        if budget is not None:
            rewritten = [l for l in layers if l.rewrite]
            error = sum(1 - l.kept_energy for l in rewritten)
            notes.append(f"budget {human_count(budget)} MACs: {len(rewritten)} layer(s) rewritten, predicted "
                         f"{human_count(macs_after)} MACs, summed relative squared weight error {error:.4g}")
        if not self.sites:
            warnings.append("the model has no Conv in its main graph")
        return Plan(
            structure=self.structure.name, mode=mode.describe(), exact=isinstance(mode, Exact), layers=layers,
            macs_before=totals.macs, params_before=totals.params, macs_after=macs_after, params_after=params_after,
            traffic_before=totals.memory_traffic_bytes, traffic_after=traffic_after, budget=budget, notes=notes,
            warnings=warnings + list(self.report.warnings),
        )

    # --- surgery ----------------------------------------------------------------------------

    def apply(self, plan: Plan, *, full_check: bool = True) -> tuple[onnx.ModelProto, Report]:
        """The rewritten model and onnxcost's report of it (which must confirm the plan to the MAC).

        ``full_check``: run onnx.checker's full check on the result (skip it only when the model is
        about to be written by ``onnxcost.files.save_model``, which runs it on the written file).
        """
        if self._applied:
            raise RuntimeError("a Rewriter applies one plan; make a new one for another")
        self._applied = True
        graph = self.graph
        names = Names(graph)
        for layer in plan.rewritten:
            site = self.sites[layer.name]
            factors = self._decomposition(site).factors(layer.rank)
            nodes = self.structure.emit(graph, site, factors, layer.emission, names)
            _replace(graph, site, nodes)
            layer.nodes = [n.name for n in nodes]
        model = gs.export_onnx(graph, do_type_check=False, opset_imports=list(self.model.opset_import))
        for name in ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string"):
            setattr(model, name, getattr(self.model, name))
        del model.metadata_props[:]
        model.metadata_props.extend(self.model.metadata_props)
        if full_check:
            self._check(model)
        report = analyze_model(model, self.source, self.inputs, self.dims)
        _confirm(plan, report)
        return model, report

    def _check(self, model: onnx.ModelProto) -> None:
        try:
            _full_check(model)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
            try:
                _full_check(self.model)
            except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as original:
                raise InvalidModelError(f"the input model fails onnx.checker already: {first_line(original)}") from None
            raise PredictionMismatch(f"the rewritten model fails onnx.checker: {first_line(exc)}") from exc


def _full_check(model: onnx.ModelProto) -> None:
    """onnx.checker's full check, through a file with external data for a model over protobuf's 2 GiB."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (EncodeError, ValueError):
        with tempfile.TemporaryDirectory(prefix="onnxcost-") as folder:
            onnx.checker.check_model(str(save_with_external_data(model, Path(folder))), full_check=True)


def _replace(graph: gs.Graph, site: ConvSite, nodes: list[gs.Node]) -> None:
    """Put ``nodes`` where the conv was; drop the conv, its folded chain, and Constant nodes only they used."""
    removed = [site.node, *site.chain]
    producers = [t.inputs[0] for n in removed for t in n.inputs
                 if isinstance(t, gs.Variable) and len(t.inputs) == 1 and t.inputs[0].op == "Constant"]
    position = graph.nodes.index(site.node)
    for node in removed:
        node.inputs.clear()
        node.outputs.clear()
    dead = {id(p) for p in producers if all(len(out.outputs) == 0 for out in p.outputs)}
    gone = {id(n) for n in removed} | dead
    kept_before = [n for n in graph.nodes[:position] if id(n) not in gone]
    kept_after = [n for n in graph.nodes[position:] if id(n) not in gone]
    graph.nodes = kept_before + list(nodes) + kept_after


def _confirm(plan: Plan, report: Report) -> None:
    """The report of the rewritten model must agree with the prediction, per layer and in total."""
    rows = {row.name: row for row in report.nodes if row.scope == ""}
    for layer in plan.rewritten:
        for what, predicted in (("macs", layer.macs_after), ("memory_traffic_bytes", layer.traffic_after)):
            counted = sum(getattr(rows[name], what) for name in layer.nodes if name in rows)
            if counted != predicted:
                unit = "MACs" if what == "macs" else "bytes of memory traffic"
                raise PredictionMismatch(f"{layer.name}: the report counts {counted} {unit}, the pass predicted {predicted}")
    totals = report.totals
    if (totals.macs, totals.params, totals.memory_traffic_bytes) != (plan.macs_after, plan.params_after, plan.traffic_after):
        raise PredictionMismatch(
            f"the report of the rewritten model counts {totals.macs} MACs, {totals.params} params and "
            f"{totals.memory_traffic_bytes} bytes of memory traffic, the pass predicted {plan.macs_after}, "
            f"{plan.params_after} and {plan.traffic_after}"
        )


def _least_error(name: str, layer: LayerPlan) -> str:
    """The structure with the least weight error at the layer's MACs (a tie goes to the structure planned)."""
    errors = {name: layer.weight_rel_error}
    errors.update((a.structure, a.weight_rel_error) for a in layer.alternatives if a.weight_rel_error is not None)
    return min(errors, key=lambda k: (errors[k], k != name))


def _comparison_notes(layers: list[LayerPlan]) -> list[str]:
    """Which structure has the least weight error at each rewritten layer's MACs, counted over layers."""
    if not layers:
        return []
    wins: dict[str, int] = {}
    for layer in layers:
        wins[layer.least_error] = wins.get(layer.least_error, 0) + 1
    tally = ", ".join(f"{structure} in {count}" for structure, count in sorted(wins.items(), key=lambda w: -w[1]))
    return [(f"compared at each rewritten layer's MACs (rivals at their largest rank that does not cost more), "
             f"the least weight error: {tally} of {len(layers)} layer(s)")]


def _fastest(variants: Sequence[str], timings: dict[str, float]) -> str:
    """The fastest variant; within TIE_MARGIN of it, the structure's preferred (earlier) one wins."""
    best = min(timings[v] for v in variants)
    return next(v for v in variants if timings[v] <= best * (1 + TIE_MARGIN))


def _energy_rank(d: Decomposition, fraction: float) -> int:
    norm = d.squared_norm
    if norm <= 0:
        return 1
    for rank in range(1, d.max_rank + 1):
        if norm - d.squared_error(rank) >= fraction * norm * (1 - 1e-12):
            return rank
    return d.max_rank


# --- one call -------------------------------------------------------------------------------

def rewrite(
    model: str | os.PathLike | onnx.ModelProto,
    structure: Structure,
    mode: Mode | None = None,
    selection: Selection = Selection(),
    *,
    inputs=None,
    dims=None,
    emission: str = AUTO,
    measure: bool = False,
    validate: bool = True,
    feeds: dict[str, np.ndarray] | None = None,
    seed: int = 0,
    bounds: Bounds = Bounds(),
    check: bool = True,
    full_check: bool = True,
    progress: Progress | None = None,
    timer: Timer | None = None,
    source: str | None = None,
) -> RewriteResult:
    """Plan, apply, confirm and (unless ``validate=False``) validate in onnxruntime.

    With ``check`` a failed validation raises ``RewriteValidationFailed`` (its ``result`` has the details);
    exact mode fails past a relative L2 error of 1e-4 on any output, other modes only past ``bounds``.
    """
    rewriter = Rewriter(model, structure, inputs=inputs, dims=dims, source=source)
    plan = rewriter.plan(mode, selection, emission=emission, measure=measure, timer=timer, progress=progress)
    rewritten, report = rewriter.apply(plan, full_check=full_check)
    comparison = None
    if validate:
        comparison = validate_rewrite(rewriter.model, rewritten, plan, feeds=feeds, seed=seed, bounds=bounds,
                                      inputs=inputs, dims=dims, progress=progress)
    result = RewriteResult(plan, rewritten, report, comparison)
    if check and not result.ok:
        raise RewriteValidationFailed("; ".join(comparison.failures), result)
    return result


def validate_rewrite(original: onnx.ModelProto, rewritten: onnx.ModelProto, plan: Plan, *, feeds=None,
                     input_source: str = "given", seed: int = 0, bounds: Bounds = Bounds(), inputs=None, dims=None,
                     progress: Progress | None = None) -> Comparison:
    """Compare in onnxruntime with the bounds the plan's mode implies (exact: relative L2 error <= 1e-4)."""
    if plan.exact:
        limit = EXACT_MAX_REL_ERROR if bounds.max_rel_error is None else min(bounds.max_rel_error, EXACT_MAX_REL_ERROR)
        bounds = replace(bounds, max_rel_error=limit)
    warnings: list[str] = []
    source = input_source
    if feeds is None:
        feeds, warnings = random_inputs(original, seed, inputs, dims)
        source = f"random, seed {seed}"
    comparison = compare_models(original, rewritten, feeds, bounds, input_source=source, progress=progress)
    comparison.warnings[:0] = warnings
    return comparison
