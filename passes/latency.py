"""A latency budget: layers and ranks chosen by what they save in onnxruntime, then the whole model confirmed.

    candidates ──a few ranks each, timed alone at the real input shape (``measure``)──▶ seconds per rank
               ──budget.allocate on (seconds saved, output error)──▶ ranks ──planner (one plan per rank)──▶ Plan
               ──the rewritten model timed against the original, interleaved, medians──▶ rescale, plan again

The budget is ``TargetLatency.ratio`` of the original model's latency; the seconds to save are of its fastest run,
as the layers are timed by theirs. Per layer, the conv alone is timed
against its replacement at a few ranks (``RANK_FRACTIONS`` of its MACs), each emission timed and the fastest kept.
A rank is an option only when measured at least ``MIN_GAIN`` faster than the conv: a rewrite measured slower
(or within the noise) is never chosen. The error a layer adds is the planner's (``Rewriter.layer_error``):
relative squared output error on the calibration data when calibrated, weight error otherwise, and the model's
measured output error once ``Rewriter.measure_sensitivity`` ran (``rewrite`` measures it with calibration data);
``budget.allocate`` takes the steps with the least error per second saved. Layers alone do not add up to the whole
model (fusions, caches, threads): each plan is timed whole against the original (``measure.paired_latency``), and
the ratio of the seconds the model saved to those its layers promised rescales what the next plan asks of the
layers: more after a shortfall, less (so less error) after a surplus. Once one plan has missed the budget and
another met it, the next asks the layers for halfway between what those two asked (a bisection: the whole-model
timings are too noisy for the scale alone to settle). A plan that meets the budget stops the search only when it
saves at most ``MIN_GAIN`` more than the budget asks; one well past it is followed by a cheaper one; a plan
already measured stops it too. At most ``MAX_ROUNDS`` plans. The same model measured up to 0.06 apart from one
session to the next on det, more than plans differ within one session: so from the second round on, the new plan
is timed together with every earlier one against the original in one session (``measure.paired_latencies``), and
that session's figures say which plans missed and which met (a plan that missed in its own round and meets in
the next session no longer bounds the bisection). Kept: the least error among the plans that met the budget in
the last session, else the fastest. When the layers alone cannot promise
enough, the first plan takes everything they can save.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import onnx

from onnxcost.validation import Progress, resolve_feeds

from .budget import LayerOptions, RankOption, allocate
from .errors import BudgetUnreachable, RewriteOptionError
from .layer_models import ORIGINAL, layer_models, replacement_model
from .measure import PairedLatency, Timer, default_timer, layer_feeds, paired_latencies, paired_latency, remembered
from .modes import Rank, TargetLatency
from .plan import Plan
from .rivals import comparison_notes
from .selection import Selection
from .sites import ConvSite

AUTO = "auto"  # as planner.AUTO: every emission timed, the fastest kept
# Per layer, the largest rank at or under each fraction of its MACs is timed: tenths give the budget more points to
# choose from than the earlier (0.2, 0.35, 0.5, 0.7, 0.85), for a few seconds more of layer timing. On PP-OCRv4 det at
# 0.8x one run each kept a mask IoU of 0.965 (tenths) and 0.947; runs differ as much (docs/frontier.md).
RANK_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_GAIN = 0.05  # a rank is an option only when measured >= 5% faster than the conv: less is timing noise
MAX_ROUNDS = 5  # plans confirmed on the whole model before the best one is kept
NEAR = 2.0  # a plan that missed by at most this many sampling errors of its ratio is named, when it had less error
# Paired runs of the whole model. On det (2 cores) the median ratio of 25 pairs has a sampling error of about 0.025
# (bootstrap of 200 pairs; new onnxruntime sessions add nothing to it), shrinking as 1/sqrt(pairs): the session that
# decides which plans met and the confirmation of the written model, which decides "met", take more pairs. Over
# minutes the ratio itself drifts with the machine's state (one model: 0.87x, then 0.83x two minutes later), and no
# count of pairs removes that.
ROUND_RUNS = 25
TOGETHER_RUNS = 40
CONFIRM_RUNS = 75

WholeTimer = Callable[[onnx.ModelProto, onnx.ModelProto, Mapping[str, np.ndarray]], PairedLatency]
# The original against several rewritten models at once (one session, ``measure.paired_latencies``).
TogetherTimer = Callable[[onnx.ModelProto, Sequence[onnx.ModelProto], Mapping[str, np.ndarray]], list[PairedLatency]]


class Tried(NamedTuple):
    """One plan of the search: its ranks, their summed error, its model, and the seconds asked of its layers (ns)."""

    plan: Plan
    ranks: dict[str, int]
    error: float
    model: onnx.ModelProto
    needed: int


@dataclass
class LayerLatency:
    """One candidate conv timed alone: seconds (fastest run) of the original and, per rank, of its fastest
    emission; ``rank`` the one chosen (None: left as it is)."""

    name: str
    original: float
    ranks: dict[int, float]
    rank: int | None = None

    def to_dict(self) -> dict:
        """Name, seconds of the original, seconds per rank timed (keys are ranks as strings), the chosen rank."""
        return {"name": self.name, "original_seconds": self.original,
                "rank_seconds": {str(r): s for r, s in sorted(self.ranks.items())}, "rank": self.rank}


@dataclass
class LatencyRound:
    """One plan confirmed on the whole model: the seconds it had to save, its predicted and measured ratios."""

    needed_seconds: float  # asked of the layers alone
    predicted_ratio: float  # 1 - (sum of the chosen layers' measured savings) / original model seconds
    layers: int  # rewritten
    error: float  # summed relative squared error of the layers (output error when calibrated)
    measured: PairedLatency

    def to_dict(self) -> dict:
        """The round as JSON."""
        return {"needed_seconds": self.needed_seconds, "predicted_ratio": self.predicted_ratio, "layers": self.layers,
                "error": self.error, "measured": self.measured.to_dict()}


@dataclass
class LatencyBudget:
    """What ``--target-latency`` measured: the original model's median seconds, every candidate layer's timings,
    each plan tried on the whole model, and (after ``confirm``) the written model against the original."""

    target_ratio: float
    original_seconds: float  # fastest run of the original model alone, before planning (as the layers are timed)
    layers: list[LayerLatency]
    rounds: list[LatencyRound] = field(default_factory=list)
    retimed: list[PairedLatency] = field(default_factory=list)  # the last session: every round's plan, timed together
    kept: int | None = None  # the index in ``rounds`` of the plan kept
    confirmed: PairedLatency | None = None  # the rewritten model as written (refitted weights included)
    met: bool = False  # the last whole-model measurement is within the budget
    _original: onnx.ModelProto | None = field(default=None, repr=False)
    _feeds: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    _confirming: WholeTimer | None = field(default=None, repr=False)

    @property
    def measured(self) -> PairedLatency | None:
        """The last whole-model timing: ``confirmed``, or that of the plan kept (re-timed when it was)."""
        if self.confirmed is not None or self.kept is None:
            return self.confirmed
        return self.latest[self.kept]

    @property
    def latest(self) -> list[PairedLatency]:
        """Every round's plan by its latest timing: the last session's (``retimed``), else its round's own."""
        return self.retimed or [r.measured for r in self.rounds]

    def confirm(self, rewritten: onnx.ModelProto) -> PairedLatency:
        """The written model timed against the original (``CONFIRM_RUNS`` interleaved pairs, their median ratio)."""
        self.confirmed = self._confirming(self._original, rewritten, self._feeds)
        self.met = self.confirmed.ratio <= self.target_ratio
        return self.confirmed

    def to_dict(self) -> dict:
        """The ``latency`` record (docs/rewrite-schema.md)."""
        return {"target_ratio": self.target_ratio, "original_seconds": self.original_seconds, "met": self.met,
                "measured": None if self.measured is None else self.measured.to_dict(),
                "rounds": [r.to_dict() for r in self.rounds], "retimed": [m.to_dict() for m in self.retimed],
                "kept": self.kept,
                "layers": [l.to_dict() for l in self.layers]}


def plan_for_latency(rewriter, mode: TargetLatency, selection: Selection = Selection(), *, emission: str = AUTO,
                     timer: Timer | None = None, whole: WholeTimer | None = None,
                     together: TogetherTimer | None = None, compare: bool = False,
                     progress: Progress | None = None) -> tuple[Plan, LatencyBudget]:
    """The plan for a latency budget over the convs ``selection`` allows, and what was measured on the way.

    ``rewriter``: a ``driver.Rewriter`` (calibrated or not). ``timer`` times one-layer models (default: best of
    runs, ``measure.default_timer``); ``whole`` times the original against a rewritten model (default:
    ``measure.paired_latency`` on seeded random inputs of the model's shapes: latency does not depend on values);
    ``together`` times the original against every plan tried, in one session (default: ``measure.paired_latencies``,
    or ``whole`` once per plan when ``whole`` is given).
    Raises ``BudgetUnreachable`` when no selected layer is measured faster rewritten (``MIN_GAIN``); a target the
    layers cannot reach gives the fastest plan, with ``LatencyBudget.met`` false.
    """
    structure = rewriter.structure
    if emission != AUTO and emission not in structure.emissions:
        raise RewriteOptionError(f"emission {emission}: the {structure.name} rewrite writes "
                                 f"{' or '.join(structure.emissions) or 'one form only'} (or auto)", parameter="emission")
    timer = remembered(timer or default_timer(target_seconds=0.5, max_runs=31, progress=None, threads=mode.threads))
    feeds = resolve_feeds(rewriter.model, None, 0, rewriter.inputs, rewriter.dims)[0]
    if together is None:
        together = _each(whole) if whole is not None else _together(progress, mode.threads)
    confirming = whole or _paired(progress, mode.threads, CONFIRM_RUNS, "confirming the written model")
    whole = whole or _paired(progress, mode.threads, ROUND_RUNS)
    original_seconds = _original_seconds(rewriter.model, feeds, whole)
    candidates = [s for s in rewriter.sites.values()
                  if s.problem is None and selection.reason(s) is None and structure.eligible(s) is None]
    timings = {}
    for i, site in enumerate(candidates):
        if progress is not None:
            progress(f"timing {site.name} at {len(RANK_FRACTIONS)} ranks", i, len(candidates))
        timings[site.name] = _layer_timings(rewriter, site, emission, timer)
    if progress is not None and candidates:
        progress("timing the layers: done", len(candidates), len(candidates))
    budget = LatencyBudget(mode.ratio, original_seconds, list(timings.values()), _original=rewriter.model,
                           _feeds=feeds, _confirming=confirming)
    options = {name: _options(rewriter, rewriter.sites[name], t) for name, t in timings.items()}
    wanted = original_seconds * (1 - mode.ratio)  # seconds the whole model must lose
    most = sum(o.dense_macs - min(x.macs for x in o.options) for o in options.values() if o.options)  # ns
    if most <= 0:
        raise BudgetUnreachable(f"{mode.describe()} cannot be met: no selected layer measured at least {MIN_GAIN:.0%} "
                                f"faster rewritten than as it is; select more layers")
    scale = 1.0  # seconds the whole model saves per second its layers alone save, measured by the last round
    tried: list[Tried] = []
    for _ in range(MAX_ROUNDS):
        needed = min(_ns(wanted / scale), most)
        short, past = _bounds(tried, budget.latest, mode.ratio)
        if past is not None and short > 0:
            needed = (short + past) // 2  # between a plan that missed and one that met: ask halfway, not by the scale
        allocation = allocate(options, needed)
        ranks = {name: r for name, r in allocation.ranks.items() if r is not None}
        if any(ranks == t.ranks for t in tried):
            break  # a plan already measured: nothing new to learn
        plan = _plan(rewriter, mode, selection, ranks, timings, emission, timer, compare)
        trial = rewriter.trial(plan)
        tried.append(Tried(plan, ranks, allocation.error, trial, needed))
        if len(tried) == 1:
            measured = whole(rewriter.model, trial, feeds)
        else:  # with every earlier plan again, in one session: sessions differ more than plans in one session
            budget.retimed = together(rewriter.model, [t.model for t in tried], feeds)
            measured = budget.retimed[-1]
        predicted = allocation.saved / 1e9 / original_seconds
        budget.rounds.append(LatencyRound(needed / 1e9, 1 - predicted, len(ranks), allocation.error, measured))
        reached = measured.ratio <= mode.ratio
        if 1 - measured.ratio <= 0 or (reached and 1 - measured.ratio <= (1 + MIN_GAIN) * (1 - mode.ratio)) \
                or (not reached and needed >= most):
            break  # no saving at all; met without much to spare (past it, a cheaper plan is tried); nothing to spend
        scale = (1 - measured.ratio) / predicted  # next: what the whole model needs, in the layers' seconds
    final = budget.latest
    met = [i for i, m in enumerate(final) if m.ratio <= mode.ratio]
    ratios = [m.ratio for m in final]
    # Met: the plan with the least error among those that met it; else the fastest measured (first of equals).
    budget.kept = min(met, key=lambda i: tried[i].error) if met else ratios.index(min(ratios))
    plan, ranks = tried[budget.kept].plan, tried[budget.kept].ranks
    for layer in budget.layers:
        layer.rank = ranks.get(layer.name)
    budget.met = bool(met)
    plan.notes.append(_summary(budget, len(ranks)))
    if met:
        plan.notes += _near_misses(tried, final, budget.kept, mode.ratio)
    return plan, budget


def _near_misses(tried: Sequence[Tried], figures: Sequence[PairedLatency], kept: int, target: float) -> list[str]:
    """A note on the plan with the least error among those that missed ``target`` by at most ``NEAR`` sampling
    errors of their ratio and had less error than the plan kept (none: no note). Within the noise, the user may
    prefer it: the note says which target asks for a plan like it."""
    near = [i for i, m in enumerate(figures) if target < m.ratio <= target + NEAR * m.sampling_error
            and tried[i].error < tried[kept].error]
    if not near:
        return []
    i = min(near, key=lambda k: tried[k].error)
    measured = figures[i]
    asked = math.ceil(round(measured.ratio * 100, 6)) / 100  # 0.56 * 100 is 56.00000000000001: 0.56x, not 0.57x
    return [f"plan {i + 1} of {len(tried)}: {len(tried[i].ranks)} layer(s) with {tried[i].error / tried[kept].error:.0%} "
            f"of the kept plan's error measured {measured.ratio:.3f}x (±{measured.sampling_error:.3f}), within the "
            f"noise of {target:g}x; --target-latency {asked:g}x asks for a plan like it"]


def _bounds(tried: Sequence[Tried], figures: Sequence[PairedLatency], target: float) -> tuple[int, int | None]:
    """(the most asked of the layers by a plan that missed ``target``, 0 if none; the least asked by one that met it,
    None if none), by the latest figures of every plan tried."""
    short = max((t.needed for t, m in zip(tried, figures) if m.ratio > target), default=0)
    past = min((t.needed for t, m in zip(tried, figures) if m.ratio <= target), default=None)
    return short, past


def _summary(budget: LatencyBudget, layers: int) -> str:
    last, measured = budget.rounds[budget.kept], budget.measured
    low, high = measured.spread
    fastest = measured.fastest
    return (f"latency budget {budget.target_ratio:g}x of {budget.original_seconds * 1e3:.3g} ms "
            f"({'met' if budget.met else 'not met'}): {layers} layer(s) "
            f"chosen by measured time saved per output error, predicted {last.predicted_ratio:.3f}x from the layers "
            f"alone, measured {measured.ratio:.3f}x on the whole model (median of {len(measured.ratios)} "
            f"paired runs, quartiles {low:.3f}-{high:.3f}x"
            + (f"; fastest runs {fastest[1] / fastest[0]:.3f}x" if fastest else "") + f") after {len(budget.rounds)} plan(s)"
            + (", all re-timed together" if budget.retimed else ""))


def _paired(progress: Progress | None, threads: int | None, runs: int,
            what: str = "timing the whole model") -> WholeTimer:
    def whole(original, rewritten, feeds):
        return paired_latency(original, rewritten, feeds, runs=runs, progress=progress, what=what, threads=threads)
    return whole


def _together(progress: Progress | None, threads: int | None) -> TogetherTimer:
    def together(original, rewritten, feeds):
        return paired_latencies(original, rewritten, feeds, runs=TOGETHER_RUNS, progress=progress, threads=threads,
                                what="re-timing the plans together")
    return together


def _each(whole: WholeTimer) -> TogetherTimer:
    def together(original, rewritten, feeds):
        return [whole(original, model, feeds) for model in rewritten]
    return together


def _original_seconds(model: onnx.ModelProto, feeds, whole: WholeTimer) -> float:
    """The original's fastest run (its median when no run is recorded), timed against itself so that a fake
    ``whole`` (tests) decides it too. The fastest, as the layers are timed by their fastest runs: what they save
    compares with it, while a median grows with the machine's load (one det run measured its median 0.219 s
    against 0.158 s in the run before, for the same layer savings, and its first plan took every layer)."""
    measured = whole(model, model, feeds)
    return measured.fastest[0] if measured.fastest else measured.original


def _layer_timings(rewriter, site: ConvSite, emission: str, timer: Timer) -> LayerLatency:
    """The conv alone and its fastest emission at each rank of ``_ranks``, in one interleaved timing."""
    d = rewriter.decomposition(site)
    models = {ORIGINAL: layer_models(site, rewriter.structure, None, (), rewriter.opset, rewriter.model.ir_version)[ORIGINAL]}
    keys: dict[int, list[str]] = {}
    for rank in _ranks(rewriter.structure, site, d.max_rank):
        variants = rewriter.structure.variants(site, rank)
        wanted = variants if emission == AUTO else ((emission,) if emission in variants else variants[:1])
        factors = d.factors(rank)
        for variant in wanted:
            key = f"{rank}/{variant}"
            models[key] = replacement_model(site, rewriter.structure, factors, variant, rewriter.opset,
                                            rewriter.model.ir_version)
            keys.setdefault(rank, []).append(key)
    seconds = timer(models, layer_feeds(site))
    return LayerLatency(site.name, seconds[ORIGINAL], {r: min(seconds[k] for k in ks) for r, ks in keys.items()})


def _ranks(structure, site: ConvSite, max_rank: int) -> list[int]:
    """Per fraction of ``RANK_FRACTIONS``, the largest rank whose MACs are at most that fraction of the conv's."""
    macs = [structure.cost(site, r).macs for r in range(1, max_rank + 1)]
    chosen = []
    for fraction in RANK_FRACTIONS:
        fitting = [r for r, m in enumerate(macs, 1) if m <= fraction * site.macs]
        if fitting and fitting[-1] not in chosen:
            chosen.append(fitting[-1])
    return chosen


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _options(rewriter, site: ConvSite, timing: LayerLatency) -> LayerOptions:
    """(nanoseconds, relative squared error) per rank measured at least ``MIN_GAIN`` faster than the conv;
    ``allocate`` reads the seconds where it reads MACs for a MACs budget. The error is ``Rewriter.layer_error``: the
    model's measured sensitivity to the layer when it was measured."""
    faster = [RankOption(r, _ns(s), rewriter.layer_error(site, r)) for r, s in timing.ranks.items()
              if s <= timing.original * (1 - MIN_GAIN)]
    return LayerOptions(_ns(timing.original), faster)


def _plan(rewriter, mode: TargetLatency, selection: Selection, ranks: dict[str, int], timings: dict[str, LayerLatency],
          emission: str, timer: Timer, compare: bool) -> Plan:
    """The planner's layers at the chosen ranks (one plan per distinct rank), the others as they are, the totals."""
    by_rank: dict[int, list[str]] = {}
    for name, rank in ranks.items():
        by_rank.setdefault(rank, []).append(name)
    chosen = {}
    first: Plan | None = None
    for rank, names in sorted(by_rank.items()):
        only = Selection(include=tuple(_literal(n) for n in names), min_channels=1, include_depthwise=True)
        part = rewriter.plan(Rank(rank), only, emission=emission, timer=timer, compare=compare)
        first = first or part
        chosen.update({layer.name: layer for layer in part.layers if layer.name in names})
    layers = []
    for layer in first.layers:
        if layer.name in chosen:
            layer = chosen[layer.name]
            t = timings[layer.name]
            layer.timings = {ORIGINAL: t.original, **layer.timings} if layer.timings else \
                {ORIGINAL: t.original, layer.emission: t.ranks[layer.rank]}
        else:
            site = rewriter.sites[layer.name]
            layer.reason = (site.problem or selection.reason(site) or rewriter.structure.eligible(site)
                            or _left_reason(timings[layer.name]))
            if layer.name in timings:
                layer.timings = {ORIGINAL: timings[layer.name].original}
        layers.append(layer)
    rewritten = [l for l in layers if l.rewrite]
    partial = set(comparison_notes(first.rewritten)) if compare else set()  # of the first part's layers only
    notes = [n for n in first.notes if n not in partial] + (comparison_notes(rewritten) if compare else [])
    return Plan(
        structure=first.structure, mode=mode.describe(), exact=False, layers=layers,
        macs_before=first.macs_before, params_before=first.params_before, traffic_before=first.traffic_before,
        macs_after=first.macs_before + sum(l.macs_after - l.macs_before for l in rewritten),
        params_after=first.params_before + sum(l.params_after - l.params_before for l in rewritten),
        traffic_after=first.traffic_before + sum(l.traffic_after - l.traffic_before for l in rewritten),
        notes=notes, warnings=first.warnings, calibration=first.calibration,
    )


def _left_reason(timing: LayerLatency) -> str:
    """Why a candidate stays: no rank measured faster (with the best figures), or not needed."""
    if not timing.ranks:
        return "no rank reduces MACs enough to be timed"
    rank, seconds = min(timing.ranks.items(), key=lambda kv: kv[1])
    if seconds > timing.original * (1 - MIN_GAIN):
        return (f"measured slower: {seconds * 1e3:.3g} ms at rank {rank} vs {timing.original * 1e3:.3g} ms original "
                f"(needs {MIN_GAIN:.0%} faster)")
    return "not needed to meet the latency budget"


def _literal(name: str) -> str:
    """An fnmatch pattern matching exactly ``name``."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
