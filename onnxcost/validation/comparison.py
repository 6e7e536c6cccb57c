"""Comparing two models' outputs: the figures per output and the bounds they break.

Per output: the max abs error, the relative L2 error ||b - a|| / ||a|| (a = the reference), the cosine
similarity and, for a 2-D [N, classes] output, the top-1 agreement, all in float64. Nothing fails unless a
bound is given (``Bounds``), except outputs whose shapes differ or that turn non-finite where the reference
is finite: those always fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import onnx

from .inputs import InputsError, check_same_inputs
from .sessions import Progress, run, session


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


@dataclass
class Comparison:
    """Every output compared, the input shapes and where the inputs came from, the bounds and what broke them."""

    outputs: list[OutputComparison]
    inputs: dict[str, list[int]]
    input_source: str  # "random, seed 0", "given", or the .npz path
    bounds: Bounds
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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
        """The machine form: every field, nested records as dicts."""
        return asdict(self)


def compare_arrays(name: str, reference: np.ndarray, candidate: np.ndarray, bounds: Bounds) -> tuple[OutputComparison, list[str]]:
    """The figures of one output and the bounds it breaks."""
    failures = []
    a = np.asarray(reference)
    b = np.asarray(candidate)
    if a.shape != b.shape:
        failures.append(f"output '{name}': shape {list(b.shape)} differs from the reference's {list(a.shape)}")
        nan = float("nan")
        return OutputComparison(name, list(a.shape), str(a.dtype), nan, nan, nan, None, None, 0), failures
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    diff = b64 - a64
    finite = np.isfinite(a64)
    new_nonfinite = int(np.count_nonzero(finite & ~np.isfinite(b64)))
    max_abs = float(np.max(np.abs(diff))) if diff.size else 0.0
    norm_a = float(np.linalg.norm(a64))
    norm_b = float(np.linalg.norm(b64))
    norm_diff = float(np.linalg.norm(diff))
    rel = norm_diff / norm_a if norm_a > 0 else (0.0 if norm_diff == 0 else float("inf"))
    if norm_a > 0 and norm_b > 0:
        cosine = float(np.dot(a64.ravel(), b64.ravel()) / (norm_a * norm_b))
    else:
        cosine = 1.0 if norm_a == norm_b else 0.0
    top1 = None
    if a.ndim == 2 and a.shape[1] > 1 and a.shape[0] > 0:
        top1 = float(np.mean(np.argmax(a64, axis=1) == np.argmax(b64, axis=1)))
    within = None
    if bounds.elementwise:
        within = bool(np.all(np.abs(diff) <= (bounds.atol or 0.0) + (bounds.rtol or 0.0) * np.abs(a64)))
        if not within:
            worst = np.abs(diff) - (bounds.rtol or 0.0) * np.abs(a64)
            failures.append(f"output '{name}': |b - a| exceeds {bounds.atol or 0:g} + {bounds.rtol or 0:g}·|a| "
                            f"(by up to {float(np.nanmax(worst)) - (bounds.atol or 0.0):.3g})")
    if bounds.max_rel_error is not None and not rel <= bounds.max_rel_error:
        failures.append(f"output '{name}': relative L2 error {rel:.3g} > {bounds.max_rel_error:g}")
    if new_nonfinite:
        failures.append(f"output '{name}': {new_nonfinite} value(s) non-finite where the reference is finite")
    return OutputComparison(name, list(a.shape), str(a.dtype), max_abs, rel, cosine, top1, within, new_nonfinite), failures


def compare_outputs(reference: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray], bounds: Bounds
                    ) -> tuple[list[OutputComparison], list[str], list[str]]:
    """(rows, failures, warnings): outputs matched by name (by position when the names differ but the counts agree)."""
    warnings: list[str] = []
    ref_names, cand_names = list(reference), list(candidate)
    if set(ref_names) == set(cand_names):
        pairs = [(n, n) for n in ref_names]
    elif len(ref_names) == len(cand_names):
        pairs = list(zip(ref_names, cand_names))
        warnings.append("output names differ; outputs compared by position: "
                        + ", ".join(f"{a} ~ {b}" for a, b in pairs if a != b))
    else:
        raise InputsError(f"the models have different outputs ({', '.join(ref_names)} vs {', '.join(cand_names)})")
    rows, failures = [], []
    for ref_name, cand_name in pairs:
        row, broken = compare_arrays(ref_name, reference[ref_name], candidate[cand_name], bounds)
        rows.append(row)
        failures.extend(broken)
    return rows, failures, warnings


def compare_models(
    reference: onnx.ModelProto,
    candidate: onnx.ModelProto,
    feeds: Mapping[str, np.ndarray],
    bounds: Bounds = Bounds(),
    *,
    input_source: str = "given",
    names: tuple[str, str] = ("the original model", "the rewritten model"),
    progress: Progress | None = None,
) -> Comparison:
    """Run both models on ``feeds`` in onnxruntime, one session at a time, and compare every output.

    ``names`` name the two models in progress steps and errors; ``input_source`` is recorded as given.
    """
    check_same_inputs(reference, candidate)
    steps = ["loading " + names[0], "running " + names[0], "loading " + names[1], "running " + names[1]]
    done = 0

    def step() -> None:
        nonlocal done
        if progress is not None:
            progress(f"validating: {steps[min(done, len(steps) - 1)]}", done, len(steps))
        done += 1

    step()
    sess = session(reference, names[0])
    step()
    ref_out = run(sess, feeds, names[0])
    del sess  # one model in memory at a time
    step()
    sess = session(candidate, names[1])
    step()
    cand_out = run(sess, feeds, names[1])
    del sess
    if progress is not None:
        progress("validating: done", len(steps), len(steps))
    rows, failures, warnings = compare_outputs(ref_out, cand_out, bounds)
    return Comparison(rows, {k: list(v.shape) for k, v in feeds.items()}, input_source, bounds, failures, warnings)
