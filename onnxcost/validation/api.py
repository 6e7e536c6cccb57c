"""``validate``: the one call behind ``onnxcost validate`` (load, check, compare, optionally time), and its result."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx

from ..analysis import analyze_model
from ..loading import DEFAULT_MAX_FILE_BYTES, load_model
from .comparison import Bounds, Comparison, compare_models
from .inputs import resolve_feeds
from .sessions import Progress
from .timing import Timing, time_models

VALIDATE_SCHEMA = "onnxcost.validate/1"  # the "schema" field of ValidationResult.to_dict(), docs/validate-schema.md


@dataclass
class ValidationResult:
    """What ``validate`` found: the comparison of the candidate against the reference and, when timed, their
    latencies next to their MACs.

    ``timings`` and ``macs`` are keyed "a" (the reference) and "b" (the candidate); ``warnings`` are those about
    the inputs (dimensions set to 1), the comparison holds its own (outputs matched by position).
    """

    reference: str
    candidate: str
    comparison: Comparison
    timings: dict[str, Timing] | None
    macs: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no output broke a bound (timings never fail)."""
        return self.comparison.ok

    def to_dict(self) -> dict:
        """The machine form (docs/validate-schema.md); key order is part of the format. Some figures may be numpy
        scalars: serialize them with their ``.item()``."""
        record = {"schema": VALIDATE_SCHEMA, "reference": self.reference, "candidate": self.candidate,
                  "comparison": self.comparison.to_dict()}
        if self.timings is not None:
            record["bench"] = {key: {"median_s": t.median, "min_s": t.minimum, "runs_s": t.runs, "macs": self.macs[key]}
                               for key, t in self.timings.items()}
        return record


def validate(
    reference: str | os.PathLike | onnx.ModelProto,
    candidate: str | os.PathLike | onnx.ModelProto,
    *,
    feeds: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
    seed: int = 0,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    bounds: Bounds = Bounds(),
    bench: bool = False,
    warmup: int = 3,
    runs: int = 20,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Progress | None = None,
) -> ValidationResult:
    """Run ``candidate`` against ``reference`` in onnxruntime on the same inputs and compare every output.

    Models are paths (read with their external weights, files over ``max_file_bytes`` refused) or ModelProtos.
    ``feeds``: arrays by input name, an .npz path, or None for seeded random inputs (``seed``) of the shapes
    ``inputs`` and symbolic ``dims`` give. With ``bench`` both are timed (``warmup`` untimed, then ``runs`` timed
    runs each, interleaved). Raises an OnnxcostError for a file, model or input that cannot be used; a broken
    bound is not raised but reported (``ValidationResult.ok``).
    """
    reference_name, candidate_name = _name(reference, "reference"), _name(candidate, "candidate")
    a = load_model(reference, load_weights=True, max_file_bytes=max_file_bytes).model
    b = load_model(candidate, load_weights=True, max_file_bytes=max_file_bytes).model
    # The reports refuse broken models (cycles, bad dims, unknown opsets) with a clear line before
    # onnxruntime sees them, and give the MACs shown next to the latency.
    macs = {"a": analyze_model(a, reference_name, inputs, dims).totals.macs,
            "b": analyze_model(b, candidate_name, inputs, dims).totals.macs}
    given, described, warnings = resolve_feeds(a, feeds, seed, inputs, dims)
    comparison = compare_models(a, b, given, bounds, input_source=described,
                                names=(f"'{reference_name}'", f"'{candidate_name}'"), progress=progress)
    timings = None
    if bench:
        timings = time_models({"a": a, "b": b}, given, warmup=warmup, runs=runs, progress=progress, what="timing")
    return ValidationResult(reference_name, candidate_name, comparison, timings, macs, warnings)


def _name(model: str | os.PathLike | onnx.ModelProto, role: str) -> str:
    """The path as given (not normalized: it is echoed in the result), or '<in-memory reference>' for a ModelProto."""
    if isinstance(model, onnx.ModelProto):
        return f"<in-memory {role}>"
    return os.fspath(model)
