"""Planning a rewrite: which convs, at which rank, in which emission, at what predicted cost.

    sites ──selection, eligible──▶ candidates ──decompose──▶ ranks by mode (or budget)
          ──emission choice, measure──▶ layers filled with ranks, errors and costs ──▶ Plan

The rank rule: a layer whose rewrite would not reduce MACs stays as it is, except in exact mode (which proves
the surgery and may cost more). ``TargetMacs`` spends a budget over the layers with the least total error
(``budget.allocate``; with calibration data, by the model's measured sensitivity to each layer, ``sensitivity``);
with ``measure`` a layer measured slower than the original is dropped, and the budget
is spent again without it. MACs and params come from the structure's ``cost``; memory traffic from
onnxcost's report of the replacement alone (``layer_models.replacement_model``), never from a second formula.
"""

from __future__ import annotations

from collections.abc import Sequence

from onnxcost.analysis import analyze_model
from onnxcost.report import Report
from onnxcost.units import human_count
from onnxcost.validation import Progress

from .budget import LayerOptions, RankOption, Unreachable, allocate
from .errors import BudgetUnreachable, RewriteOptionError
from .layer_models import ORIGINAL, layer_models, replacement_model
from .measure import Timer, default_timer, layer_feeds
from .modes import DEFAULT_MODE, Exact, Mode, TargetMacs
from .plan import LayerPlan, Plan
from .protocol import Decomposition, Structure, relative_error
from .rivals import Rivals, comparison_notes, least_error
from .selection import Selection
from .sensitivity import Curve
from .sites import ConvSite
from .statistics import SecondMoments
from .whitening import ActivationAware

AUTO = "auto"  # the emission: every variant that applies, timed, the fastest kept
TIE_MARGIN = 0.05  # emissions timed within 5% of each other are a tie: timing noise on a busy machine is that large

Ranks = dict[str, tuple[int | None, str | None]]  # name -> (rank, None) to rewrite, or (rank considered or None, why not)


class Planner:
    """Plans one structure's rewrite of one analyzed model (``report`` of it, its conv ``sites``).

    Decompositions, the traffic of replacements and timings are computed once and reused by every plan, and
    by the surgery through ``decomposition``. ``opset`` and ``ir_version`` are those the one-layer models
    are written with.
    """

    def __init__(self, structure: Structure, sites: dict[str, ConvSite], report: Report, opset: int, ir_version: int):
        self.structure = structure
        self.sites = sites
        self.report = report
        self.opset, self.ir_version = opset, ir_version
        self._decompositions: dict[str, Decomposition] = {}
        self._traffic: dict[tuple[str, int, str], int] = {}
        self._timings: dict[tuple[str, int], dict[str, float]] = {}
        self._rivals = Rivals(structure)
        self.moments: dict[str, SecondMoments] = {}  # per site, patch statistics: its factors are calibrated
        self.sensitivity: dict[str, Curve] = {}  # per site, the model's measured output error: the budget's errors

    def calibrate(self, moments: dict[str, SecondMoments]) -> None:
        """From now on the sites of ``moments`` get the activation-aware decomposition (``whitening``)."""
        self.moments.update(moments)
        for name in moments:
            self._decompositions.pop(name, None)
            self._traffic = {k: v for k, v in self._traffic.items() if k[0] != name}

    def sensitize(self, curves: dict[str, Curve]) -> None:
        """From now on budgets (``TargetMacs``, ``TargetLatency``) are spent by each site's measured effect on the
        model's outputs (``sensitivity.Curve``) instead of its own output error; sites without a curve keep the
        latter."""
        self.sensitivity.update(curves)

    def layer_error(self, site: ConvSite, rank: int) -> float:
        """The relative squared error a budget counts for ``site`` at ``rank``: the model's measured output error
        when a curve was measured (``sensitize``), else the layer's own (output error when calibrated, weight error
        otherwise)."""
        d = self.decomposition(site)
        proxy = d.squared_error(rank) / (d.squared_norm or 1.0)
        curve = self.sensitivity.get(site.name)
        return proxy if curve is None else curve.error(rank, proxy)

    def decomposition(self, site: ConvSite) -> Decomposition:
        """The structure's decomposition of ``site`` (computed on first use): calibrated when it has statistics."""
        if site.name not in self._decompositions:
            moments = self.moments.get(site.name)
            self._decompositions[site.name] = (self.structure.decompose(site) if moments is None
                                               else self.structure.decompose_calibrated(site, moments))
        return self._decompositions[site.name]

    def plan(self, mode: Mode | None = None, selection: Selection = Selection(), *, emission: str = AUTO,
             measure: bool = False, timer: Timer | None = None, progress: Progress | None = None,
             compare: bool = False) -> Plan:
        """The plan for ``mode`` (None: ``DEFAULT_MODE``); ``compare``: also each rival structure's weight error
        at every rewritten layer's MACs."""
        mode = DEFAULT_MODE if mode is None else mode
        emissions = self.structure.emissions
        if emission != AUTO and emission not in emissions:
            raise RewriteOptionError(f"emission {emission}: the {self.structure.name} rewrite writes "
                                     f"{' or '.join(emissions) or 'one form only'} (or auto)", parameter="emission")
        timer = timer or default_timer()
        layers: dict[str, LayerPlan] = {}
        candidates: list[ConvSite] = []
        for site in self.sites.values():
            reason = site.problem or selection.reason(site) or self.structure.eligible(site)
            layers[site.name] = _layer(site, reason)
            if reason is None:
                candidates.append(site)
        for i, site in enumerate(candidates):
            if progress is not None:
                progress(f"decomposing {site.name}", i, len(candidates))
            self.decomposition(site)
        if progress is not None and candidates:
            progress("decomposing: done", len(candidates), len(candidates))

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
                layer.alternatives = self._rivals.alternatives(site, layer.macs_after)
                layer.least_error = least_error(self.structure.name, layer)
        return self._plan(mode, list(layers.values()), budget, compare)

    def _ranks(self, mode: Mode, candidates: Sequence[ConvSite], budget: int | None, excluded: dict[str, str]) -> Ranks:
        """The rank per candidate by ``mode``; outside exact mode a rank that would not reduce MACs is refused."""
        if isinstance(mode, TargetMacs):
            return self._budget_ranks(mode, candidates, budget, excluded)
        chosen: Ranks = {}
        for site in candidates:
            rank = mode.layer_rank(self.decomposition(site))
            if isinstance(mode, Exact):
                chosen[site.name] = (rank, None)
                continue
            after = self.structure.cost(site, rank).macs
            if after >= site.macs:
                chosen[site.name] = (rank, f"rank {rank} would not reduce MACs ({human_count(site.macs)} -> {human_count(after)})")
            else:
                chosen[site.name] = (rank, None)
        return chosen

    def _budget_ranks(self, mode: TargetMacs, candidates: Sequence[ConvSite], budget: int,
                      excluded: dict[str, str]) -> Ranks:
        """The ranks that meet ``budget`` with the least total relative squared error: of the weights, or with
        calibration data of each layer's output on it (the decomposition's errors are then output errors), or with
        measured curves (``sensitize``) of the model's outputs."""
        total = self.report.totals.macs
        needed = total - budget
        if needed <= 0:
            return {s.name: (None, f"the model already meets the budget ({human_count(total)} <= {human_count(budget)} MACs)")
                    for s in candidates}
        options = {}
        for site in candidates:
            options[site.name] = LayerOptions(site.macs, [
                RankOption(r, self.structure.cost(site, r).macs, self.layer_error(site, r))
                for r in range(1, self.decomposition(site).max_rank + 1)
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
        chosen: Ranks = {}
        for site in candidates:
            rank = allocation.ranks[site.name]
            if rank is not None:
                chosen[site.name] = (rank, None)
            elif not any(o.macs < site.macs for o in options[site.name].options):
                chosen[site.name] = (None, "no rank reduces MACs")
            else:
                chosen[site.name] = (None, "not needed to meet the budget")
        return chosen

    def _emissions_and_measure(self, ranks: Ranks, emission: str, measure: bool, timer: Timer,
                               progress: Progress | None, layers: dict[str, LayerPlan]) -> dict[str, str]:
        """Sets each rewritten layer's emission; returns the layers ``measure`` finds slower, with the reason."""
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

    def _measure(self, site: ConvSite, rank: int, variants: tuple[str, ...], with_original: bool,
                 timer: Timer) -> dict[str, float]:
        """Seconds per variant (and of the original with ``with_original``), each timed once per layer and rank."""
        cached = self._timings.get((site.name, rank), {})
        keys = list(variants) + ([ORIGINAL] if with_original else [])
        if all(k in cached for k in keys):
            return {k: cached[k] for k in keys}
        models = layer_models(site, self.structure, self.decomposition(site).factors(rank), variants, self.opset,
                              self.ir_version)
        if not with_original:
            models.pop(ORIGINAL)
        timings = timer(models, layer_feeds(site))
        self._timings[(site.name, rank)] = {**cached, **timings}
        return {k: timings[k] for k in keys}

    def _fill(self, layer: LayerPlan, site: ConvSite, rank: int | None, reason: str | None) -> None:
        """The layer's rank, kept energy, weight error and (when rewritten) predicted costs."""
        layer.rewrite = rank is not None and reason is None
        layer.reason = reason
        d = self.decomposition(site)
        layer.max_rank, layer.exact_rank = d.max_rank, d.exact_rank
        if rank is None:
            layer.emission = None
            return
        layer.rank = rank
        norm = d.squared_norm
        layer.kept_energy = 1.0 - d.squared_error(rank) / norm if norm > 0 else 1.0
        layer.weight_rel_error = relative_error(d, rank)
        if isinstance(d, ActivationAware):  # its singular values are of the output on the data, not of W
            layer.output_rel_error = layer.weight_rel_error
            layer.weight_rel_error = d.weight_relative_error(rank)
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
            model = replacement_model(site, self.structure, self.decomposition(site).factors(rank), variant,
                                      self.opset, self.ir_version)
            self._traffic[key] = analyze_model(model).totals.memory_traffic_bytes
        return self._traffic[key]

    def _plan(self, mode: Mode, layers: list[LayerPlan], budget: int | None, compare: bool) -> Plan:
        """The totals after (the model's, changed by each rewritten layer), the notes and the warnings."""
        totals = self.report.totals
        rewritten = [l for l in layers if l.rewrite]
        macs_after = totals.macs + sum(l.macs_after - l.macs_before for l in rewritten)
        params_after = totals.params + sum(l.params_after - l.params_before for l in rewritten)
        traffic_after = totals.memory_traffic_bytes + sum(l.traffic_after - l.traffic_before for l in rewritten)
        notes = list(self.structure.notes(mode))
        if compare:
            notes.extend(comparison_notes(rewritten))
        if isinstance(mode, Exact) and macs_after > totals.macs:
            notes.append(f"MACs grow: {human_count(totals.macs)} -> {human_count(macs_after)} "
                         f"({macs_after / totals.macs:.3f}x)" if totals.macs else "MACs grow")
        if budget is not None:
            error = sum(1 - l.kept_energy for l in rewritten)
            what = "output error on the calibration data" if self.moments else "weight error"
            notes.append(f"budget {human_count(budget)} MACs: {len(rewritten)} layer(s) rewritten, predicted "
                         f"{human_count(macs_after)} MACs, summed relative squared {what} {error:.4g}")
            if self.sensitivity:
                measured = sum(self.sensitivity[l.name].error(l.rank, 1 - l.kept_energy) for l in rewritten
                               if l.name in self.sensitivity)
                notes.append(f"the budget was spent by the model's measured sensitivity to each layer "
                             f"({len(self.sensitivity)} layer(s) rewritten alone at a few ranks): predicted error of the "
                             f"model's outputs {measured:.4g} (mean KL for probability outputs, else relative squared)")
        warnings = [] if self.sites else ["the model has no Conv in its main graph"]
        return Plan(
            structure=self.structure.name, mode=mode.describe(), exact=isinstance(mode, Exact), layers=layers,
            macs_before=totals.macs, params_before=totals.params, macs_after=macs_after, params_after=params_after,
            traffic_before=totals.memory_traffic_bytes, traffic_after=traffic_after, budget=budget, notes=notes,
            warnings=warnings + list(self.report.warnings),
        )


def _layer(site: ConvSite, reason: str | None) -> LayerPlan:
    """The layer as it is: its shape and costs before, costs after equal to them (filled later if rewritten)."""
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


def _fastest(variants: Sequence[str], timings: dict[str, float]) -> str:
    """The fastest variant; within TIE_MARGIN of it, the structure's preferred (earlier) one wins."""
    best = min(timings[v] for v in variants)
    return next(v for v in variants if timings[v] <= best * (1 + TIE_MARGIN))
