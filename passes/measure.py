"""Timing one conv against its replacements in onnxruntime, at the conv's real input shape.

The one-layer models (``layer_models``) are timed interleaved in one process (``validation.time_models``)
and compared by their fastest run (see ``default_timer``). Nothing here is specific to one structure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import onnx

from onnxcost.validation import Progress, time_models

from .sites import ConvSite

# (models by key, feeds) -> seconds by key (the default: fastest of repeated runs)
Timer = Callable[[Mapping[str, onnx.ModelProto], Mapping[str, np.ndarray]], dict[str, float]]


def default_timer(warmup: int = 2, runs: int = 7, max_runs: int = 51, target_seconds: float = 1.0,
                  progress: Progress | None = None, what: str = "measuring") -> Timer:
    """Best-of-runs seconds per model: ``warmup`` runs, then ``runs`` to ``max_runs`` interleaved runs filling
    ~``target_seconds``.

    The minimum, not the median: a layer alone runs for milliseconds, and on a shared machine other work only
    ever adds time to a run, in bursts that can cover half of them; the fastest run is the layer's own cost.
    """
    def timer(models: Mapping[str, onnx.ModelProto], feeds: Mapping[str, np.ndarray]) -> dict[str, float]:
        timings = time_models(models, feeds, warmup=warmup, runs=runs, max_runs=max_runs, target_seconds=target_seconds,
                              progress=progress, what=what)
        return {key: t.minimum for key, t in timings.items()}
    return timer


def layer_feeds(site: ConvSite, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded standard-normal input ``x`` of the conv's input shape and dtype, for its one-layer models."""
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal(site.input_shape).astype(site.dtype)}
