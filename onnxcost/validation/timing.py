"""Timing models in onnxruntime: warm-up, then timed runs interleaved across the models."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from ..errors import InputSpecError
from .sessions import Progress, run, session


@dataclass
class Timing:
    """Wall-clock seconds of repeated runs after warm-up, in one process."""

    runs: list[float]

    @property
    def median(self) -> float:
        """The median run, in seconds."""
        return statistics.median(self.runs)

    @property
    def minimum(self) -> float:
        """The fastest run, in seconds."""
        return min(self.runs)


def time_models(
    models: Mapping[str, onnx.ModelProto],
    feeds: Mapping[str, np.ndarray] | Mapping[str, Mapping[str, np.ndarray]],
    *,
    warmup: int = 3,
    runs: int = 20,
    per_model_feeds: bool = False,
    max_runs: int | None = None,
    target_seconds: float | None = None,
    progress: Progress | None = None,
    what: str = "timing",
    threads: int | None = None,
) -> dict[str, Timing]:
    """Timings of several models in one process, their runs interleaved so that drift hits all alike.

    Each model gets ``warmup`` untimed runs, then ``runs`` timed ones; with ``target_seconds`` the number
    of timed runs grows (up to ``max_runs``) to fill about that much time, judged from the warm-up.
    ``per_model_feeds``: ``feeds`` holds one set of feeds per model key. Worker threads do not spin between
    runs (see ``session``), so one session's idle threads do not slow down the next. ``threads``: each session's
    intra-op threads (None: onnxruntime's default, one per core).
    """
    if warmup < 0 or runs < 1:
        raise InputSpecError("timing needs runs >= 1 and warmup >= 0")
    sessions = {key: session(model, f"'{key}'", threads=threads, spinning=False) for key, model in models.items()}
    inputs = {key: (feeds[key] if per_model_feeds else feeds) for key in models}
    total = warmup + runs
    started = time.perf_counter()
    for i in range(warmup):
        if progress is not None:
            progress(f"{what}: warm-up", i, total)
        for key, sess in sessions.items():
            run(sess, inputs[key], f"'{key}'")
    if target_seconds is not None and warmup:
        per_round = (time.perf_counter() - started) / warmup
        runs = max(runs, min(max_runs or runs, int(target_seconds / max(per_round, 1e-9))))
        total = warmup + runs
    samples: dict[str, list[float]] = {key: [] for key in sessions}
    for i in range(runs):
        if progress is not None:
            progress(f"{what}: run {i + 1}/{runs}", warmup + i, total)
        for key, sess in sessions.items():
            start = time.perf_counter()
            run(sess, inputs[key], f"'{key}'")
            samples[key].append(time.perf_counter() - start)
    if progress is not None:
        progress(f"{what}: done", total, total)
    return {key: Timing(values) for key, values in samples.items()}
