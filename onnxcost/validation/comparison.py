"""Comparing two models' outputs: the figures per output and the bounds they break.

Per output: the max abs error, the relative L2 error ||b - a|| / ||a|| (a = the reference), the cosine
similarity and, for a 2-D [N, classes] output, the top-1 agreement, all in float64, and when asked the
task-level agreement (``agreement``). The figures are sums, maxima and counts accumulated run by run, so a
dataset is compared over all its samples one batch at a time. Nothing fails unless a bound is given
(``Bounds``), except outputs whose shapes differ or that turn non-finite where the reference is finite: those
always fail.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx

from ..datasets import Dataset

from .agreement import AgreementCounter, AgreementOptions, choose_task
from .batching import HELD_BYTES, batch_size_for, fixed_batch
from .inputs import InputsError, check_same_inputs
from .sessions import Progress, release_freed_memory, run, session


@dataclass(frozen=True)
class Bounds:
    """When a comparison fails. None: not checked."""

    max_rel_error: float | None = None  # per output, relative L2 error
    atol: float | None = None  # per element: |b - a| <= atol + rtol·|a|
    rtol: float | None = None

    @property
    def elementwise(self) -> bool:
        """Whether the per-element bound (atol/rtol) is checked."""
        return self.atol is not None or self.rtol is not None

    def describe(self) -> str:
        """The bounds in words, e.g. 'relative L2 error <= 0.01'; 'none' when nothing is checked."""
        parts = []
        if self.max_rel_error is not None:
            parts.append(f"relative L2 error <= {self.max_rel_error:g}")
        if self.elementwise:
            parts.append(f"|b - a| <= {self.atol or 0:g} + {self.rtol or 0:g}·|a|")
        return " and ".join(parts) or "none"


@dataclass
class OutputComparison:
    """The figures of one output (NaN when the shapes differ); errors are of the candidate b against the
    reference a."""

    name: str
    shape: list[int]
    dtype: str
    max_abs_error: float
    rel_l2_error: float  # ||b - a|| / ||a||; inf when a is all zeros and b is not
    cosine: float
    top1_agreement: float | None  # for a 2-D [N, classes] output: the share of rows whose argmax agrees
    within_tolerance: bool | None  # the atol/rtol check, None when not asked
    new_nonfinite: int  # elements finite in the reference and not in the candidate
    agreement: dict | None = None  # task-level figures (validation.agreement), None when no task fits


@dataclass
class Comparison:
    """Every output compared, the input shapes and where the inputs came from, the bounds and what broke them."""

    outputs: list[OutputComparison]
    inputs: dict[str, list[int]]
    input_source: str  # "random, seed 0", "given", or the .npz path
    bounds: Bounds
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    samples: int | None = None  # samples compared when the inputs were a dataset run in batches (not in to_dict)
    task_level: bool = False  # the outputs carry their "agreement" key (not in to_dict itself)

    @property
    def ok(self) -> bool:
        """True when no output broke a bound."""
        return not self.failures

    @property
    def worst_rel_l2_error(self) -> float:
        """The largest relative L2 error over the outputs (0 with no outputs)."""
        return max((o.rel_l2_error for o in self.outputs), default=0.0)

    def summary(self) -> str:
        """The first failure, and how many more there are: one line."""
        if not self.failures:
            return "validation passed"
        more = len(self.failures) - 1
        return self.failures[0] + (f" (and {more} more)" if more else "")

    def to_dict(self) -> dict:
        """The machine form: every field but ``samples`` and ``task_level``, nested records as dicts; an output's
        "agreement" key only when task-level agreement was asked for (a rewrite's record keeps its old keys)."""
        record = asdict(self)
        del record["samples"], record["task_level"]
        if not self.task_level:
            for output in record["outputs"]:
                del output["agreement"]
        return record


def compare_arrays(name: str, reference: np.ndarray, candidate: np.ndarray, bounds: Bounds,
                   agreement: AgreementOptions | None = None) -> tuple[OutputComparison, list[str]]:
    """The figures of one output and the bounds it breaks (``agreement``: add the task-level figures)."""
    stats = OutputStats(name, bounds, agreement)
    stats.add(reference, candidate)
    return stats.result()


class OutputStats:
    """One output's figures accumulated over batches: sums of squares and products, maxima and counts, so that
    the errors over all samples are exact without holding more than one batch (for one batch they are the
    figures ``compare_arrays`` always gave: ||x|| is sqrt(x·x) as numpy's norm computes it)."""

    def __init__(self, name: str, bounds: Bounds, agreement: AgreementOptions | None = None):
        self.name, self.bounds, self.agreement = name, bounds, agreement
        self.shape: list[int] | None = None
        self.dtype = ""
        self.mismatch: str | None = None
        self.sq_a = self.sq_b = self.sq_diff = self.dot = 0.0
        self.max_abs = 0.0
        self.new_nonfinite = 0
        self.within: bool | None = None
        self.worst_excess = -np.inf
        self.rows = self.top1 = 0
        self.counter: AgreementCounter | None = None

    def add(self, reference: np.ndarray, candidate: np.ndarray) -> None:
        """Count one run's outputs (a batch of samples)."""
        a, b = np.asarray(reference), np.asarray(candidate)
        if self.shape is None:
            self.shape, self.dtype = list(a.shape), str(a.dtype)
            task = choose_task(a.shape, self.agreement.task) if self.agreement is not None and a.ndim else None
            self.counter = AgreementCounter(task, self.agreement) if task else None
        if self.mismatch is not None:
            return
        if a.shape != b.shape:
            self.mismatch = f"output '{self.name}': shape {list(b.shape)} differs from the reference's {list(a.shape)}"
            return
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        diff = b64 - a64
        flat_a, flat_b, flat_diff = a64.ravel(), b64.ravel(), diff.ravel()
        self.new_nonfinite += int(np.count_nonzero(np.isfinite(a64) & ~np.isfinite(b64)))
        if diff.size:
            self.max_abs = float(np.maximum(self.max_abs, np.max(np.abs(diff))))  # NaN stays NaN
        self.sq_a += flat_a.dot(flat_a)
        self.sq_b += flat_b.dot(flat_b)
        self.sq_diff += flat_diff.dot(flat_diff)
        self.dot += np.dot(flat_a, flat_b)
        if a.ndim == 2 and a.shape[1] > 1 and a.shape[0] > 0:
            self.rows += a.shape[0]
            self.top1 += int(np.count_nonzero(np.argmax(a64, axis=1) == np.argmax(b64, axis=1)))
        if self.bounds.elementwise:
            atol, rtol = self.bounds.atol or 0.0, self.bounds.rtol or 0.0
            within = bool(np.all(np.abs(diff) <= atol + rtol * np.abs(a64)))
            self.within = within if self.within is None else (self.within and within)
            if not within:
                self.worst_excess = max(self.worst_excess, float(np.nanmax(np.abs(diff) - rtol * np.abs(a64))))
        if self.counter is not None:
            self.counter.add(a64, b64)

    def result(self) -> tuple[OutputComparison, list[str]]:
        """The output's row and the bounds it breaks."""
        shape, dtype = self.shape or [], self.dtype
        if self.mismatch is not None:
            nan = float("nan")
            return OutputComparison(self.name, shape, dtype, nan, nan, nan, None, None, 0), [self.mismatch]
        norm_a, norm_b, norm_diff = (float(np.sqrt(x)) for x in (self.sq_a, self.sq_b, self.sq_diff))
        rel = norm_diff / norm_a if norm_a > 0 else (0.0 if norm_diff == 0 else float("inf"))
        if norm_a > 0 and norm_b > 0:
            cosine = float(self.dot / (norm_a * norm_b))
        else:
            cosine = 1.0 if norm_a == norm_b else 0.0
        top1 = self.top1 / self.rows if self.rows else None
        bounds, failures = self.bounds, []
        if self.within is False:
            failures.append(f"output '{self.name}': |b - a| exceeds {bounds.atol or 0:g} + {bounds.rtol or 0:g}·|a| "
                            f"(by up to {self.worst_excess - (bounds.atol or 0.0):.3g})")
        if bounds.max_rel_error is not None and not rel <= bounds.max_rel_error:
            failures.append(f"output '{self.name}': relative L2 error {rel:.3g} > {bounds.max_rel_error:g}")
        if self.new_nonfinite:
            failures.append(f"output '{self.name}': {self.new_nonfinite} value(s) non-finite where the reference is finite")
        agreement = self.counter.result() if self.counter is not None else None
        return OutputComparison(self.name, shape, dtype, self.max_abs, rel, cosine, top1, self.within,
                                self.new_nonfinite, agreement), failures


def compare_outputs(reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], bounds: Bounds,
                    agreement: AgreementOptions | None = None) -> tuple[list[OutputComparison], list[str], list[str]]:
    """(rows, failures, warnings): outputs matched by name (by position when the names differ but the counts agree)."""
    batched = BatchedComparison(bounds, agreement)
    batched.add(reference, candidate)
    return batched.result()


class BatchedComparison:
    """Every output's figures accumulated over runs on successive batches (``add``), then ``result``."""

    def __init__(self, bounds: Bounds, agreement: AgreementOptions | None = None):
        self.bounds, self.agreement = bounds, agreement
        self.pairs: list[tuple[str, str]] | None = None
        self.stats: dict[str, OutputStats] = {}
        self.warnings: list[str] = []

    def add(self, reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray]) -> None:
        """Count one run of both models on the same batch."""
        if self.pairs is None:
            self.pairs = self._pair(list(reference), list(candidate))
            self.stats = {ref: OutputStats(ref, self.bounds, self.agreement) for ref, _ in self.pairs}
        for ref_name, cand_name in self.pairs:
            self.stats[ref_name].add(reference[ref_name], candidate[cand_name])

    def _pair(self, ref_names: list[str], cand_names: list[str]) -> list[tuple[str, str]]:
        if set(ref_names) == set(cand_names):
            return [(n, n) for n in ref_names]
        if len(ref_names) == len(cand_names):
            pairs = list(zip(ref_names, cand_names))
            self.warnings.append("output names differ; outputs compared by position: "
                                 + ", ".join(f"{a} ~ {b}" for a, b in pairs if a != b))
            return pairs
        raise InputsError(f"the models have different outputs ({', '.join(ref_names)} vs {', '.join(cand_names)})")

    def result(self) -> tuple[list[OutputComparison], list[str], list[str]]:
        """(rows, failures, warnings)."""
        rows, failures = [], []
        for stats in self.stats.values():
            row, broken = stats.result()
            rows.append(row)
            failures.extend(broken)
        warnings = list(self.warnings)
        task = self.agreement.task if self.agreement is not None else "auto"
        if task not in ("auto", "none") and rows and all(r.agreement is None for r in rows):
            warnings.append(f"task '{task}' fits no output of the model (shapes {', '.join('x'.join(map(str, r.shape)) for r in rows)})")
        return rows, failures, warnings


def compare_models(
    reference: onnx.ModelProto,
    candidate: onnx.ModelProto,
    feeds: Mapping[str, np.ndarray] | Dataset,
    bounds: Bounds = Bounds(),
    *,
    input_source: str = "given",
    names: tuple[str, str] = ("the original model", "the rewritten model"),
    progress: Progress | None = None,
    agreement: AgreementOptions | None = None,
    batch_size: int | None = None,
    dims: Mapping[str, int] | None = None,
    weights_folders: tuple[str | os.PathLike | None, str | os.PathLike | None] = (None, None),
) -> Comparison:
    """Run both models on ``feeds`` in onnxruntime and compare every output.

    ``feeds``: arrays by input name, run once (one session at a time), or a ``Dataset`` run in batches of
    ``batch_size`` (default: ``batch_size_for``: the model's fixed batch, the batch symbol's value in ``dims``, or
    DEFAULT_BATCH), the models taking turns over as many batches as ``batching.HELD_BYTES`` holds (one session at
    a time), the figures accumulated over all samples. ``agreement``: add task-level figures (top-1/top-5, mask
    IoU, sequences) to each output.
    ``names`` name the two models in progress steps and errors; ``input_source`` is recorded as given.
    ``weights_folders``: per model, the folder its external-data locations are relative to (``sessions.session``).
    """
    check_same_inputs(reference, candidate)
    if not isinstance(feeds, Mapping):
        return _compare_on_dataset(reference, candidate, feeds, bounds, input_source, names, progress, agreement,
                                   batch_size, dims, weights_folders)
    steps = ["loading " + names[0], "running " + names[0], "loading " + names[1], "running " + names[1]]
    done = 0

    def step() -> None:
        nonlocal done
        if progress is not None:
            progress(f"validating: {steps[min(done, len(steps) - 1)]}", done, len(steps))
        done += 1

    step()
    release_freed_memory()  # each session is as large as its model's weights: nothing freed may still count
    sess = session(reference, names[0], weights_folder=weights_folders[0])
    step()
    ref_out = run(sess, feeds, names[0])
    del sess  # one model in memory at a time
    step()
    release_freed_memory()
    sess = session(candidate, names[1], weights_folder=weights_folders[1])
    step()
    cand_out = run(sess, feeds, names[1])
    del sess
    if progress is not None:
        progress("validating: done", len(steps), len(steps))
    rows, failures, warnings = compare_outputs(ref_out, cand_out, bounds, agreement)
    return Comparison(rows, {k: list(v.shape) for k, v in feeds.items()}, input_source, bounds, failures, warnings,
                      task_level=agreement is not None)


def _compare_on_dataset(reference, candidate, data: Dataset, bounds: Bounds, input_source: str, names, progress,
                        agreement, batch_size, dims, weights_folders=(None, None)) -> Comparison:
    """The models take turns: the reference runs on as many batches as HELD_BYTES holds with its outputs, then the
    candidate on the same batches; one session at a time, the figures accumulated in the batches' order."""
    size, warnings = batch_size_for(reference, data.count, batch_size, dims)
    runs = data.count // size if data.count % size and fixed_batch(reference) else -(-data.count // size)
    batches = itertools.islice(data.batches(size), runs)  # the rest is shorter than the model's fixed batch
    batched = BatchedComparison(bounds, agreement)
    first_shapes, samples, done = None, 0, 0
    while chunk := _reference_runs(reference, batches, names[0], progress, done, runs, weights_folders[0]):
        done += len(chunk)
        release_freed_memory()
        sess = session(candidate, names[1], weights_folder=weights_folders[1])
        for batch, reference_outputs in chunk:
            first_shapes = first_shapes or {k: list(v.shape) for k, v in batch.items()}
            batched.add(reference_outputs, run(sess, batch, names[1]))
            samples += next(iter(batch.values())).shape[0]
        del sess, chunk
    if progress is not None:
        progress("validating: done", runs, runs)
    rows, failures, more = batched.result()
    return Comparison(rows, first_shapes or {}, input_source, bounds, failures, warnings + more, samples=samples,
                      task_level=agreement is not None)


def _reference_runs(reference, batches, name: str, progress, done: int, runs: int,
                    weights_folder) -> list[tuple[dict, dict]]:
    """(batch, the reference's outputs) for the next batches, until HELD_BYTES of them are held or none is left."""
    chunk: list[tuple[dict, dict]] = []
    held = 0
    sess = None
    for batch in batches:
        if sess is None:
            if progress is not None:
                progress(f"validating: loading {name}", done, runs)
            release_freed_memory()
            sess = session(reference, name, weights_folder=weights_folder)
        if progress is not None:
            progress(f"validating: batch {done + len(chunk) + 1}/{runs}", done + len(chunk), runs)
        outputs = run(sess, batch, name)
        chunk.append((batch, outputs))
        held += sum(np.asarray(v).nbytes for v in (*batch.values(), *outputs.values()))
        if held >= HELD_BYTES:
            break
    return chunk
