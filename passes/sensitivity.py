"""Measured sensitivity: how much the MODEL's outputs change when one layer alone is rewritten (calibrated).

    calibration samples ──original model──▶ reference outputs
    per candidate layer, per probe rank: the model with that layer alone rewritten ──▶ outputs ──▶ error

The per-layer proxy (a layer's own relative output error, read off its whitened singular values) does not know
how later layers amplify or absorb an error: a small error before a recurrent head can flip a decoded string, a
large one before a pooling may not matter. Here each candidate layer is rewritten alone at a few probe ranks
(``probe_ranks``: where its MACs fall to ``PROBE_FRACTIONS`` of the dense layer's) and the model runs on the first
``SAMPLES`` calibration samples. The error (``divergence``) is task-aware where it can be: for an output that is a
probability distribution along its last axis (a softmax: a classifier's, a CTC recogniser's per step) the mean
KL(original ‖ rewritten), which weighs a rising competitor of the top class as a flip needs; for any other output
the relative squared error Σ‖b − a‖² / Σ‖a‖² over the samples; summed over the outputs. Both are additive over
layers to first order, like the proxy.

A layer's measured error at the other ranks is its proxy there times the measured gain (measured / proxy)
interpolated linearly in the rank between probes, held constant outside them (``Curve.error``): the proxy gives the
shape of the curve, the measurement its scale where the budget spends it. The cost is one onnxruntime session
and ``SAMPLES`` runs per layer and probe rank (layers x len(PROBE_FRACTIONS) models), plus one pass of the
original model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from onnxcost.report import Report
from onnxcost.validation import Progress, run, session

from . import surgery
from .plan import LayerPlan
from .protocol import Decomposition, Structure
from .sites import ConvSite, collect_sites

# Of the dense layer's MACs: the ranks a layer is measured at. They reach down to the cheapest option a budget can
# take (latency budgets time tenths of a layer's MACs): below its lowest probe the error is extrapolated, and on
# PP-OCRv4 det one layer's measured error at 0.1 was 4.1x what the (0.75, 0.5, 0.25) probes extrapolated (1.7x at
# 0.2) while the others' were 0.6-1.1x (docs/frontier.md).
PROBE_FRACTIONS = (0.75, 0.5, 0.25, 0.1)
SAMPLES = 16  # calibration samples the probes run on (the first ones): the cost grows with them, the noise falls
TINY = 1e-12  # probabilities are clipped here before their log
NEGLIGIBLE = 1e-9  # a proxy error below this is float rounding, not a rank's error


@dataclass(frozen=True)
class Curve:
    """A layer's measured effect on the model's outputs at its probe ranks: ``measured`` the relative squared
    error of the model's outputs with the layer alone rewritten, ``proxy`` the layer's own relative squared output
    error there (the closed form), both at ``ranks`` (increasing)."""

    ranks: tuple[int, ...]
    measured: tuple[float, ...]
    proxy: tuple[float, ...]

    def gain(self, rank: int) -> float:
        """measured / proxy at ``rank``: interpolated linearly between probes, the nearest probe's outside them;
        1 when no probe has a proxy error (every probe rank exact). A probe whose proxy is at rounding level
        (below ``NEGLIGIBLE``) says nothing about the scale: dividing by it would only amplify noise."""
        points = [(r, max(m, 0.0) / p) for r, m, p in zip(self.ranks, self.measured, self.proxy) if p > NEGLIGIBLE]
        if not points:
            return 1.0
        ranks, gains = zip(*points)
        return float(np.interp(rank, ranks, gains))

    def error(self, rank: int, proxy: float) -> float:
        """The model's relative squared output error with the layer at ``rank`` (whose proxy error is ``proxy``)."""
        return proxy * self.gain(rank)

    def to_dict(self) -> dict:
        """Plain JSON-able values."""
        return {"ranks": list(self.ranks), "measured": list(self.measured), "proxy": list(self.proxy)}


def probe_ranks(site: ConvSite, structure: Structure, d: Decomposition,
                fractions: Sequence[float] = PROBE_FRACTIONS) -> list[int]:
    """The largest rank whose MACs are at most each fraction of the dense layer's (ranks that exist and save
    MACs only), increasing, without repeats."""
    costs = [(r, structure.cost(site, r).macs) for r in range(1, d.max_rank + 1)]
    chosen = set()
    for fraction in fractions:
        fitting = [r for r, macs in costs if macs <= fraction * site.macs]
        if fitting:
            chosen.add(max(fitting))
    return sorted(chosen)


def relative_squared_error(reference: Sequence[Mapping[str, np.ndarray]],
                           outputs: Sequence[Mapping[str, np.ndarray]]) -> float:
    """Σ over outputs of Σ‖b − a‖² / Σ‖a‖² over the samples (an all-zero reference output counts its ‖b‖²)."""
    total = 0.0
    for name in reference[0]:
        diff = sum(float(np.sum((o[name].astype(np.float64) - r[name]) ** 2)) for r, o in zip(reference, outputs))
        norm = sum(float(np.sum(r[name].astype(np.float64) ** 2)) for r in reference)
        total += diff / norm if norm > 0 else diff
    return total


def is_distribution(values: np.ndarray, tolerance: float = 1e-3) -> bool:
    """True when ``values`` is a probability distribution along its last axis (non-negative, sums to 1): a
    softmax output, such as a CTC recogniser's or a classifier's."""
    values = np.asarray(values)
    return values.ndim >= 1 and values.shape[-1] > 1 and bool(np.all(values >= 0)) \
        and bool(np.allclose(values.sum(axis=-1), 1.0, atol=tolerance))


def divergence(reference: Sequence[Mapping[str, np.ndarray]], outputs: Sequence[Mapping[str, np.ndarray]]) -> float:
    """A task-aware error: per output, the mean KL(a ‖ b) over its distributions when every reference value of it is
    a distribution along the last axis (``is_distribution``: a competitor rising from 0.01 to 0.1 weighs as
    Δ²/a, where the relative L2 error barely sees it), else the relative squared error; summed over outputs."""
    total = 0.0
    for name in reference[0]:
        if all(is_distribution(r[name]) for r in reference):
            kl = [_kl(r[name].astype(np.float64), o[name].astype(np.float64)) for r, o in zip(reference, outputs)]
            total += float(np.mean(np.concatenate([k.reshape(-1) for k in kl])))
        else:
            total += relative_squared_error([{name: r[name]} for r in reference], [{name: o[name]} for o in outputs])
    return total


def _kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """KL(a ‖ b) along the last axis, each renormalised (float32 softmax sums are 1 only to ~1e-7, which would
    make an unchanged distribution's KL slightly negative) and clipped at 0."""
    a = np.maximum(a, TINY) / np.maximum(a, TINY).sum(axis=-1, keepdims=True)
    b = np.maximum(b, TINY) / np.maximum(b, TINY).sum(axis=-1, keepdims=True)
    return np.maximum(np.sum(a * (np.log(a) - np.log(b)), axis=-1), 0.0)


class _OneLayer:
    """What ``surgery.rewrite_graph`` reads of a plan (its ``rewritten`` layers): one layer at one rank."""

    def __init__(self, layer: LayerPlan):
        self.rewritten = [layer]


def single_layer_model(model: onnx.ModelProto, report: Report, structure: Structure, site: ConvSite, rank: int,
                       factors: Callable[[ConvSite, int], object]) -> onnx.ModelProto:
    """``model`` with ``site`` alone rewritten at ``rank`` (its structure's preferred emission), on a fresh graph."""
    graph = gs.import_onnx(model)
    copies = {s.name: s for s in collect_sites(graph, report)}
    layer = LayerPlan(name=site.name, cin=site.cin, cout=site.cout, kernel=list(site.kernel), group=site.group,
                      rewrite=True, reason=None, rank=rank, emission=structure.variants(site, rank)[0])
    return surgery.rewrite_graph(graph, copies, _OneLayer(layer), structure, factors, model)


def measure_sensitivity(model: onnx.ModelProto, report: Report, structure: Structure, sites: Sequence[ConvSite],
                        decomposition: Callable[[ConvSite], Decomposition], batches: Iterable[Mapping[str, np.ndarray]],
                        *, samples: int = SAMPLES, fractions: Sequence[float] = PROBE_FRACTIONS,
                        error: Callable | None = None, progress: Progress | None = None) -> dict[str, Curve]:
    """Per site, its ``Curve``: the model with the site alone rewritten (calibrated factors of ``decomposition``)
    at each of its ``probe_ranks``, run on the first ``samples`` samples of ``batches``, against the original by
    ``error(reference outputs, outputs)`` (default ``divergence``)."""
    error = error or divergence
    kept, seen = [], 0
    for batch in batches:
        kept.append({name: np.asarray(values) for name, values in batch.items()})
        seen += len(next(iter(batch.values())))
        if seen >= samples:
            break
    reference_session = session(model, "the original model")
    reference = [run(reference_session, batch, "the original model on calibration data") for batch in kept]
    factors = lambda site, rank: decomposition(site).factors(rank)  # noqa: E731 - what rewrite_graph calls
    probes = {s.name: probe_ranks(s, structure, decomposition(s), fractions) for s in sites}
    total, done = sum(len(r) for r in probes.values()), 0
    curves: dict[str, Curve] = {}
    for site in sites:
        d = decomposition(site)
        norm = d.squared_norm or 1.0
        measured = []
        for rank in probes[site.name]:
            if progress is not None:
                progress(f"measuring the model's sensitivity to {site.name}", done, total)
            rewritten = session(single_layer_model(model, report, structure, site, rank, factors),
                                f"the model with {site.name} alone rewritten")
            outputs = [run(rewritten, batch, "the rewritten model on calibration data") for batch in kept]
            measured.append(error(reference, outputs))
            done += 1
        curves[site.name] = Curve(tuple(probes[site.name]), tuple(measured),
                                  tuple(d.squared_error(r) / norm for r in probes[site.name]))
    if progress is not None:
        progress("measuring sensitivity: done", total, total)
    return curves
