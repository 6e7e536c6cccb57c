"""The rewriter: one engine for every conv factorization (separable, grouped + shuffle), and the one-call API.

    model ──analyze, sites──▶ Rewriter ──plan (planner)──▶ Plan
    Plan ──apply (surgery)──▶ ModelProto ──report confirms MACs/params/traffic──▶ validate (onnxruntime)

A structure (``protocol.Structure``) says what a conv becomes; everything else is done here the same way for
every structure: which convs (``selection``), how much to keep (``modes``), the plan (``planner``, with the
rival structures of ``rivals``), the surgery and its confirmation (``surgery``), and the comparison in
onnxruntime. ``rewrite`` does it all in one call and returns a ``RewriteResult``.
"""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from onnxcost import walk
from onnxcost.analysis import IN_MEMORY_SOURCE, analyze_model
from onnxcost.errors import ModelLoadError
from onnxcost.weights_in_file import load_leaving_weights, open_leaving_weights, read_weights_back
from onnxcost.loading import DEFAULT_MAX_FILE_BYTES, LoadedModel, external_tensors, load_model
from onnxcost.report import Report
from onnxcost.validation import Bounds, Comparison, Progress, compare_models, resolve_feeds
from onnxcost.validation.sessions import release_freed_memory

from . import calibration as calibrating, refit_both, surgery
from .calibration import Calibration
from .errors import RewriteValidationFailed
from .latency import LatencyBudget, plan_for_latency
from .measure import Timer
from .modes import Mode, TargetLatency, TargetMacs
from .plan import Plan
from .planner import AUTO, Planner
from .protocol import Structure
from .result import RewriteResult
from .selection import Selection
from .sensitivity import measure_sensitivity
from .sites import ConvSite, collect_sites
from .statistics import collect_moments

EXACT_MAX_REL_ERROR = 1e-4  # exact mode fails validation past this relative L2 error


class Rewriter:
    """Plans and applies one structure's rewrite of one model (``apply`` once per Rewriter).

    ``model``: a path (loaded with its external weights, files up to ``max_file_bytes``) or a ModelProto
    (whose weights must be inside it); ``inputs``/``dims`` fix input shapes and symbolic dims as for
    ``onnxcost.analyze``; ``source`` names the model in the report (default: its path).

    ``weights_in_file``: for a path to one self-contained file, leave the weights no pass reads (those only Gemm and
    MatMul nodes use: VGG-16's classifier is 89% of its weights) in the file: ``model`` then refers to them as
    external data relative to ``weights_folder``, ``rewrite`` validates with onnxruntime mapping them from the
    file, and ``apply``'s model refers to them the same way (``weights_in_file.read_weights_back`` reads them in).
    Not for ``calibrate``, ``measure_sensitivity`` or latency plans: they run the model from memory.
    """

    def __init__(self, model: str | os.PathLike | onnx.ModelProto, structure: Structure, *,
                 inputs=None, dims=None, source: str | None = None, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 weights_in_file: bool = False):
        self.weights_folder: Path | None = None  # where ``model``'s weights left in the file are (weights_in_file)
        loaded = _load_leaving_dense_weights(model, max_file_bytes) if weights_in_file else None
        if loaded is not None:
            self.weights_folder = loaded.path.parent
        else:
            loaded = load_model(model, load_weights=True, max_file_bytes=max_file_bytes)
            if external_tensors(loaded.model):
                raise ModelLoadError(
                    "the ModelProto has weights in external data: give its path so they can be read safely")
        self.model = loaded.model
        self.structure = structure
        self.source = source or (str(loaded.path) if loaded.path is not None else IN_MEMORY_SOURCE)
        self.graph = gs.import_onnx(self.model)
        # None only without ai.onnx nodes (the report refuses them without their opset), so without a Conv to rewrite.
        self.opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), None)
        self._cost(inputs, dims)
        self._applied = False
        self.calibration: Calibration | None = None
        self._refit = True
        self._refitted: dict[str, object] = {}  # per layer, the refitted factors

    def _cost(self, inputs, dims) -> None:
        """The report, the sites and the planner at these input shapes and dims (``onnxcost.analyze``'s)."""
        self.inputs, self.dims = inputs, dims
        self.report = analyze_model(self.model, self.source, inputs, dims, formulas=False)
        self.sites = {site.name: site for site in collect_sites(self.graph, self.report)}
        self._planner = Planner(self.structure, self.sites, self.report, self.opset, self.model.ir_version)

    def calibrate(self, data, selection: Selection = Selection(), *, refit: bool = True,
                  progress: Progress | None = None, preprocess=None) -> Calibration:
        """Activation-aware factors from now on: the patch statistics of every conv ``selection`` and the structure
        allow, over ``data``'s calibration samples (a dataset with ``.batches(n)`` and ``.count``, or its path;
        the last samples are held out, ``calibration.Calibration``). ``refit``: ``apply`` refits each rewritten
        layer by least squares on the rewritten model's activations (``calibration.refit``); it then always
        writes a bias (zeros before the fit when the conv had none, so the predicted params count it).
        ``preprocess``: how a folder of images becomes the input (``datasets.Preprocess``). Plan with the same
        ``selection``: a conv outside it has no statistics, and weight-only errors do not compare with output ones.
        Given neither ``inputs`` nor ``dims``, inputs with free dimensions take the shapes of the data's first batch:
        the plan, its costs, the latency timings and the refit's row counts are then at the size the data has, not
        at free dimensions assumed 1."""
        self.calibration = Calibration.of(data, self.model, preprocess)
        free = _free_inputs(self.model)
        if free and not self.inputs and not self.dims:
            first = next(self.calibration.batches(), {})
            self._cost({name: list(np.shape(first[name])) for name in free if name in first}, None)
        self._refit = refit
        sites = [s for s in self.sites.values()
                 if s.problem is None and selection.reason(s) is None and self.structure.eligible(s) is None]
        if refit:
            for site in sites:
                if site.bias is None:
                    site.bias = np.zeros(site.cout, dtype=site.dtype)
        blocks = {s.name: self.structure.statistics_block(s) for s in sites}
        self._planner.calibrate(collect_moments(self.model, sites, blocks, self.calibration.batches(), progress,
                                                self.calibration.used))
        return self.calibration

    def measure_sensitivity(self, progress: Progress | None = None) -> dict:
        """The model's measured output error with each calibrated layer alone rewritten at a few ranks
        (``sensitivity``); from now on ``TargetMacs`` and ``TargetLatency`` spend the budget by it (``layer_error``).
        Needs ``calibrate`` first."""
        if self.calibration is None:
            raise RuntimeError("measure_sensitivity needs calibration data: call calibrate first")
        sites = [self.sites[name] for name in self._planner.moments]
        curves = measure_sensitivity(self.model, self.report, self.structure, sites, self._planner.decomposition,
                                     self.calibration.batches(), progress=progress)
        self._planner.sensitize(curves)
        return curves

    def plan(self, mode: Mode | None = None, selection: Selection = Selection(), *, emission: str = AUTO,
             measure: bool = False, timer: Timer | None = None, progress: Progress | None = None,
             compare: bool = False) -> Plan:
        """The plan for ``mode`` (None: the default, energy 0.99) over the convs ``selection`` allows.

        ``emission``: a form the structure writes, or "auto" (the variants timed, the fastest kept);
        ``measure``: time each rewritten conv against the original and leave the slower ones;
        ``compare``: also each rival structure's weight error at every rewritten layer's MACs.
        """
        plan = self._planner.plan(mode, selection, emission=emission, measure=measure, timer=timer, progress=progress,
                                  compare=compare)
        if self.calibration is not None:
            c = self.calibration
            refit = self._refit and not plan.exact
            plan.calibration = {"samples": c.used, "held_out": c.held_out, "refit": refit}
            plan.notes.append(
                f"factors calibrated on {c.used} sample(s): SVD whitened by each block's input patch moments"
                + (", then each layer refitted by least squares on the rewritten model's activations (both convs of a "
                   "low-rank pair or a pointwise-first layer where the data has "
                   f"{refit_both.MIN_ROWS_PER_UNKNOWN} rows per unknown, else the last conv) and its bias"
                   if refit else "")
                + "; kept energy and the budget are of each layer's output on that data, not of its weights")
            if compare:
                plan.notes.append("the other structures are compared by the weight error of their weight-only factors; "
                                  "a calibrated layer's weight error is larger by design (it minimises the output error)")
        return plan

    def decomposition(self, site: ConvSite):
        """The structure's decomposition of ``site`` that plans use (calibrated once ``calibrate`` ran)."""
        return self._planner.decomposition(site)

    def layer_error(self, site: ConvSite, rank: int) -> float:
        """The relative squared error budgets count for ``site`` at ``rank`` (the model's measured output error once
        ``measure_sensitivity`` ran, else the layer's own)."""
        return self._planner.layer_error(site, rank)

    def trial(self, plan: Plan) -> onnx.ModelProto:
        """``plan`` put into a fresh copy of the graph with the factors before any refit, for timing (a refit
        changes weights, not shapes); ``apply`` stays available."""
        graph = gs.import_onnx(self.model)
        copies = {site.name: site for site in collect_sites(graph, self.report)}
        return surgery.rewrite_graph(graph, copies, copy.deepcopy(plan), self.structure, self._factors, self.model)

    def apply(self, plan: Plan, *, full_check: bool = True,
              progress: Progress | None = None) -> tuple[onnx.ModelProto, Report]:
        """The rewritten model and onnxcost's report of it (which must confirm the plan to the MAC).

        ``full_check``: run onnx.checker's full check on the result (skip it only when the model is
        about to be written by ``onnxcost.files.save_model``, which runs it on the written file).
        """
        if self._applied:
            raise RuntimeError("a Rewriter applies one plan; make a new one for another")
        self._applied = True
        if self.calibration is not None and self._refit and not plan.exact:  # exact factors need no refit
            self._refit_layers(plan, progress)
        model = surgery.rewrite_graph(self.graph, self.sites, plan, self.structure, self._factors, self.model)
        if full_check:
            surgery.check(model, self.model)
        report = analyze_model(model, self.source, self.inputs, self.dims, formulas=False)
        surgery.confirm(plan, report)
        return model, report

    def _factors(self, site: ConvSite, rank: int):
        refitted = self._refitted.get(site.name)
        if refitted is not None and refitted.rank == rank:
            return refitted
        return self._planner.decomposition(site).factors(rank)

    def _refit_layers(self, plan: Plan, progress: Progress | None) -> None:
        """The rewritten layers refitted, each on the inputs it will see: a layer is refitted once every
        rewritten layer before it (upstream of its input) is, on the model with those refitted and the others
        whitened (a fresh copy of the graph per pass; ``self.graph`` is the one ``apply`` edits). Layers with no
        pending layer upstream share a pass, so a chain of L layers takes L passes over the data."""
        upstream = _upstream(self.graph, {layer.name: self.sites[layer.name] for layer in plan.rewritten})
        pending = list(plan.rewritten)
        passes = 0
        while pending:
            ready = [l for l in pending if upstream[l.name] <= self._refitted.keys()]
            if not ready:  # cannot happen in a graph without cycles: the first pending layer is always ready
                raise RuntimeError("no rewritten layer is ready to be refitted")
            passes += 1
            graph = gs.import_onnx(self.model)
            copies = {site.name: site for site in collect_sites(graph, self.report)}
            model = surgery.rewrite_graph(graph, copies, copy.deepcopy(plan), self.structure, self._factors, self.model)
            sites = [self.sites[layer.name] for layer in ready]
            factors = {l.name: self._planner.decomposition(self.sites[l.name]).factors(l.rank) for l in ready}
            what = f"refitting the rewritten layers (pass {passes}, {len(plan.rewritten) - len(pending) + len(ready)}" \
                   f" of {len(plan.rewritten)} layers)"
            self._refitted.update(calibrating.refit(self.model, model, self.structure, sites, factors,
                                                    self.calibration.batches(), self.calibration.used, progress, what))
            pending = [l for l in pending if l.name not in self._refitted]


def _upstream(graph: gs.Graph, sites: dict[str, ConvSite]) -> dict[str, set[str]]:
    """Per site, the other sites whose outputs reach its input (the graph's nodes are in topological order)."""
    owner = {id(node): name for name, site in sites.items() for node in (site.node, *site.chain)}
    reach: dict[str, set[str]] = {}
    for node in graph.nodes:
        found = set().union(*(reach.get(t.name, set()) for t in node.inputs))
        if id(node) in owner:
            found = found | {owner[id(node)]}
        for t in node.outputs:
            reach[t.name] = found
    return {name: reach.get(site.input.name, set()) - {name} for name, site in sites.items()}


# The weights ``Rewriter(weights_in_file=True)`` leaves in the file: those only these ops read (no pass rewrites them).
DENSE_OPS = frozenset({"Gemm", "MatMul"})


def _load_leaving_dense_weights(model, max_file_bytes: int) -> LoadedModel | None:
    """The model at path ``model`` with its dense layers' weights left in the file
    (``weights_in_file.open_leaving_weights``);
    None for a ModelProto, a file with external data of its own or any problem (the usual loading then reads it,
    or words the error)."""
    if isinstance(model, onnx.ModelProto):
        return None
    return open_leaving_weights(model, max_file_bytes, _dense_only)


def _dense_only(model: onnx.ModelProto) -> set[str]:
    """The main graph's initializers that only Gemm and MatMul nodes of the main graph read (not an output, not
    read in a subgraph or a function)."""
    readers: dict[str, set[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, set()).add(node.op_type if node.domain in ("", "ai.onnx") else "")
    elsewhere = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for _, sub in walk.subgraphs(node):
            for graph in walk.graphs(sub):  # a subgraph reads outer names as its nodes' inputs
                elsewhere.update(name for inner in graph.node for name in inner.input)
    for function in model.functions:
        elsewhere.update(name for node in function.node for name in node.input)
    return {t.name for t in model.graph.initializer
            if readers.get(t.name) and readers[t.name] <= DENSE_OPS and t.name not in elsewhere}


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
    dry_run: bool = False,
    compare: bool | None = None,
    validate: bool = True,
    feeds=None,
    calibration=None,
    refit: bool = True,
    sensitivity: bool = True,
    preprocess=None,
    seed: int = 0,
    bounds: Bounds = Bounds(),
    check: bool = True,
    full_check: bool = True,
    progress: Progress | None = None,
    timer: Timer | None = None,
    source: str | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> RewriteResult:
    """Plan, and unless ``dry_run`` apply, confirm and (unless ``validate=False``) validate in onnxruntime.

    ``model``: a path (files up to ``max_file_bytes``) or a ModelProto; ``source`` names it in the plan's
    report. ``dry_run``: the plan only (the result's model, report and comparison are None); ``compare``
    (default: ``dry_run``) adds the rival structures' errors at each layer's MACs. ``feeds``: the validation
    inputs, a dict of arrays or the path of an .npz (None: seeded random inputs, ``seed``). With ``check``
    a failed validation raises ``RewriteValidationFailed`` (its ``result`` has the details). ``calibration``: data
    (a dataset with ``.batches(n)`` and ``.count``, or the path ``onnxcost.datasets.open_dataset`` reads) that makes
    the factors activation-aware (``Rewriter.calibrate``; ``refit`` the 1x1 convs by least squares;
    ``sensitivity``: a ``TargetMacs`` or ``TargetLatency`` budget spent by the model's measured sensitivity to each layer,
    ``Rewriter.measure_sensitivity``); without
    ``feeds``, its held-out samples validate. ``preprocess`` (``datasets.Preprocess``): how a folder of images given
    as ``calibration`` or ``feeds`` becomes the model's input. Exact mode
    fails past a relative L2 error of 1e-4 on any output, other modes only past ``bounds``.
    A ``TargetLatency`` mode plans by time measured in onnxruntime (``latency.plan_for_latency``; ``timer`` times
    its one-layer models) and times the written model against the original: the result's ``latency``.
    ``progress(what, done, total)`` hears of each step.

    Memory: a path rewritten with ``full_check=False`` (as the CLI does: ``files.save_model`` checks the written file),
    without calibration or a latency target, keeps its dense layers' weights in the file (``Rewriter(...,
    weights_in_file=True)``): onnxruntime maps them from there to validate, one session at a time, and the result's
    model reads them back at the end, so the weights are held about once rather than once per copy.
    """
    if progress is not None:
        progress("costing the model", 0, 1)
    # Weights only onnxruntime reads stay in the file when nothing runs the model from memory (calibration, latency)
    # and onnx.checker checks the written file rather than the model in memory (which cannot find them).
    weights_in_file = calibration is None and not isinstance(mode, TargetLatency) and not full_check
    rewriter = Rewriter(model, structure, inputs=inputs, dims=dims, source=source, max_file_bytes=max_file_bytes,
                        weights_in_file=weights_in_file)
    if calibration is not None:
        rewriter.calibrate(calibration, selection, refit=refit, progress=progress, preprocess=preprocess)
        if sensitivity and isinstance(mode, (TargetMacs, TargetLatency)):
            rewriter.measure_sensitivity(progress)
    compare = dry_run if compare is None else compare
    latency: LatencyBudget | None = None
    if isinstance(mode, TargetLatency):  # layers and ranks by measured time (latency.py)
        plan, latency = plan_for_latency(rewriter, mode, selection, emission=emission, timer=timer, compare=compare,
                                         progress=progress)
    else:
        plan = rewriter.plan(mode, selection, emission=emission, measure=measure, timer=timer, progress=progress,
                             compare=compare)
    if dry_run:
        return RewriteResult(plan, None, None, None, dry_run=True, latency=latency)
    if progress is not None:
        progress("rewriting and costing the rewritten model", 0, 1)
    rewritten, report = rewriter.apply(plan, full_check=full_check, progress=progress)
    if latency is not None:
        latency.confirm(rewritten)  # the model as written, refit included
    calibrated, original, folder = rewriter.calibration, rewriter.model, rewriter.weights_folder
    if folder is not None:
        if validate:  # onnxruntime maps all the original's large weights from its file
            original = load_leaving_weights(Path(model)) or original
        del rewriter  # its graph and arrays: freed (release_freed_memory) before a session or the read-back
    comparison, input_warnings = None, []
    if validate:
        held_out = None
        if feeds is None and calibrated is not None:
            feeds, held_out = calibrated.validation()
        feeds, described, input_warnings = resolve_feeds(original, feeds, seed, inputs, dims, preprocess=preprocess)
        described = held_out or described
        comparison = validate_rewrite(original, rewritten, plan, feeds=feeds, input_source=described,
                                      bounds=bounds, progress=progress, weights_folder=folder)
    if folder is not None:  # the result holds its weights, as a rewrite from memory does
        release_freed_memory()
        read_weights_back(rewritten, folder)
    result = RewriteResult(plan, rewritten, report, comparison, input_warnings=input_warnings, latency=latency)
    if check and not result.ok:
        raise RewriteValidationFailed("; ".join(comparison.failures), result)
    return result


def validate_rewrite(original: onnx.ModelProto, rewritten: onnx.ModelProto, plan: Plan, *, feeds=None,
                     input_source: str | None = None, seed: int = 0, bounds: Bounds = Bounds(), inputs=None,
                     dims=None, progress: Progress | None = None,
                     weights_folder: str | os.PathLike | None = None) -> Comparison:
    """Compare in onnxruntime with the bounds the plan's mode implies (exact: relative L2 error <= 1e-4).

    ``feeds``: a dict of arrays, the path of an .npz, or None for seeded random inputs of the model's shapes
    (``seed``, ``inputs``, ``dims``); the comparison's ``input_source`` says which (or ``input_source``
    when given), and the warnings about the inputs come first in its ``warnings``. ``weights_folder``: where the
    models' external-data weights are (``Rewriter.weights_folder``); onnxruntime maps them from there.
    """
    if plan.exact:
        limit = EXACT_MAX_REL_ERROR if bounds.max_rel_error is None else min(bounds.max_rel_error, EXACT_MAX_REL_ERROR)
        bounds = replace(bounds, max_rel_error=limit)
    feeds, described, warnings = resolve_feeds(original, feeds, seed, inputs, dims)
    comparison = compare_models(original, rewritten, feeds, bounds, input_source=input_source or described,
                                progress=progress, weights_folders=(weights_folder, weights_folder))
    comparison.warnings[:0] = warnings
    return comparison


def _free_inputs(model: onnx.ModelProto) -> list[str]:
    """The graph inputs (not initializers) with a dimension that is not a number."""
    weights = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in weights
            and any(not d.HasField("dim_value") for d in i.type.tensor_type.shape.dim)]
