"""Timing one conv against its replacements in onnxruntime, at the conv's real input shape, and a whole model
against its rewrite.

The one-layer models (``layer_models``) are timed interleaved in one process (``validation.time_models``)
and compared by their fastest run (see ``default_timer``); ``remembered`` times each model once per run of the
rewriter. Whole models are compared by the median of paired runs (``paired_latency``). Nothing here is specific
to one structure.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from onnxcost.validation import Progress, time_models

from .sites import ConvSite

# (models by key, feeds) -> seconds by key (the default: fastest of repeated runs)
Timer = Callable[[Mapping[str, onnx.ModelProto], Mapping[str, np.ndarray]], dict[str, float]]


def default_timer(warmup: int = 2, runs: int = 7, max_runs: int = 51, target_seconds: float = 1.0,
                  progress: Progress | None = None, what: str = "measuring", threads: int | None = None) -> Timer:
    """Best-of-runs seconds per model: ``warmup`` runs, then ``runs`` to ``max_runs`` interleaved runs filling
    ~``target_seconds``, with ``threads`` intra-op threads (None: onnxruntime's default).

    The minimum, not the median: a layer alone runs for milliseconds, and on a shared machine other work only
    ever adds time to a run, in bursts that can cover half of them; the fastest run is the layer's own cost.
    """
    def timer(models: Mapping[str, onnx.ModelProto], feeds: Mapping[str, np.ndarray]) -> dict[str, float]:
        timings = time_models(models, feeds, warmup=warmup, runs=runs, max_runs=max_runs, target_seconds=target_seconds,
                              progress=progress, what=what, threads=threads)
        return {key: t.minimum for key, t in timings.items()}
    return timer


def layer_feeds(site: ConvSite, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded standard-normal input ``x`` of the conv's input shape and dtype, for its one-layer models."""
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal(site.input_shape).astype(site.dtype)}


def remembered(timer: Timer) -> Timer:
    """``timer``, but a model timed before (the same bytes, the same feed shapes) keeps its first timing: the
    latency planner and the planner's emission choice then see one figure per layer model."""
    seen: dict[tuple, float] = {}

    def timed(models: Mapping[str, onnx.ModelProto], feeds: Mapping[str, np.ndarray]) -> dict[str, float]:
        shapes = tuple((name, tuple(np.shape(a))) for name, a in sorted(feeds.items()))
        keys = {name: (hashlib.sha256(m.SerializeToString()).hexdigest(), shapes) for name, m in models.items()}
        todo = {name: m for name, m in models.items() if keys[name] not in seen}
        if todo:
            for name, seconds in timer(todo, feeds).items():
                seen[keys[name]] = seconds
        return {name: seen[keys[name]] for name in models}
    return timed


@dataclass(frozen=True)
class PairedLatency:
    """Two whole models timed in alternation: medians in seconds, and the rewritten/original ratio of each pair
    of consecutive runs (its median is the latency ratio; its quartiles say how noisy the machine was)."""

    original: float  # median seconds
    rewritten: float  # median seconds
    ratios: tuple[float, ...]  # per pair of runs, rewritten / original
    fastest: tuple[float, float] | None = None  # fastest run of each (original, rewritten): the least disturbed

    @property
    def ratio(self) -> float:
        """The median of the paired ratios."""
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        """The first and third quartiles of the paired ratios (equal with fewer than two pairs)."""
        if len(self.ratios) < 2:
            return self.ratio, self.ratio
        q1, _, q3 = statistics.quantiles(self.ratios, n=4)
        return q1, q3

    @property
    def sampling_error(self) -> float:
        """The standard error of ``ratio`` (a median of n pairs), from the quartiles as for a normal spread:
        1.2533 · (IQR / 1.349) / √n. On det this gives ±0.02 for 25 pairs, as a bootstrap of 200 pairs did
        (docs/frontier.md); 0 with fewer than two pairs."""
        low, high = self.spread
        return 1.2533 / 1.349 * (high - low) / math.sqrt(len(self.ratios)) if len(self.ratios) > 1 else 0.0

    def to_dict(self) -> dict:
        """Seconds, the median ratio, its quartiles, the number of pairs and the fastest runs."""
        low, high = self.spread
        return {"original_seconds": self.original, "rewritten_seconds": self.rewritten, "ratio": self.ratio,
                "ratio_quartiles": [low, high], "pairs": len(self.ratios),
                "fastest_seconds": None if self.fastest is None else list(self.fastest)}


def paired_latency(original: onnx.ModelProto, rewritten: onnx.ModelProto, feeds: Mapping[str, np.ndarray], *,
                   warmup: int = 3, runs: int = 25, progress: Progress | None = None,
                   what: str = "timing the whole model", threads: int | None = None) -> PairedLatency:
    """Both models run alternately (``validation.time_models``) on the same ``feeds``: medians, not minima, since
    a whole model runs long enough for the median to be its typical cost, and pairs of consecutive runs share the
    machine's load."""
    return paired_latencies(original, [rewritten], feeds, warmup=warmup, runs=runs, progress=progress, what=what,
                            threads=threads)[0]


def paired_latencies(original: onnx.ModelProto, rewritten: Sequence[onnx.ModelProto], feeds: Mapping[str, np.ndarray],
                     *, warmup: int = 3, runs: int = 25, progress: Progress | None = None,
                     what: str = "timing the whole models", threads: int | None = None) -> list[PairedLatency]:
    """Every rewritten model against the original in one session: each round runs the original, then every model,
    so they compare under the same conditions; a model's ratios are its runs over the original's of the same round."""
    models = {"original": original, **{f"rewritten {i}": m for i, m in enumerate(rewritten)}}
    timings = time_models(models, feeds, warmup=warmup, runs=runs, progress=progress, what=what, threads=threads)
    a = timings["original"].runs
    latencies = []
    for i in range(len(rewritten)):
        b = timings[f"rewritten {i}"].runs
        latencies.append(PairedLatency(statistics.median(a), statistics.median(b), tuple(y / x for x, y in zip(a, b)),
                                       (min(a), min(b))))
    return latencies
