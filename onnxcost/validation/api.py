"""``validate``: the one call behind ``onnxcost validate`` (load, check, compare, optionally time), and its result."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from ..analysis import analyze_model
from ..datasets import Dataset, Preprocess
from ..weights_in_file import open_leaving_weights
from ..loading import DEFAULT_MAX_FILE_BYTES, load_model
from .agreement import AgreementOptions
from .comparison import Bounds, Comparison, compare_models
from .inputs import resolve_feeds
from .sessions import Progress
from .timing import Timing, time_models
from .yardstick import check_kind, describe, rounded

VALIDATE_SCHEMA = "onnxcost.validate/1"  # the "schema" field of ValidationResult.to_dict(), docs/validate-schema.md

# Said once whenever the inputs were drawn at random: the figures then describe noise, not the model's task.
RANDOM_INPUTS_NOTE = "random inputs: these errors do not show what a trained model loses; give --inputs with real data"


@dataclass
class Yardstick:
    """The reference against itself with its weights rounded (``validation.yardstick``), on the same inputs: what a
    standard weight rounding changes, to read the candidate's figures against."""

    kind: str  # one of yardstick.YARDSTICKS
    tensors: int  # weight tensors rounded
    comparison: Comparison

    @property
    def description(self) -> str:
        """What was rounded and how: 'weights rounded to int8 per output channel'."""
        return describe(self.kind)

    def to_dict(self) -> dict:
        """The ``yardstick`` record (docs/validate-schema.md)."""
        return {"kind": self.kind, "rounded_tensors": self.tensors, "comparison": self.comparison.to_dict()}


@dataclass
class ValidationResult:
    """What ``validate`` found: the comparison of the candidate against the reference and, when timed, their
    latencies next to their MACs.

    ``timings`` and ``macs`` are keyed "a" (the reference) and "b" (the candidate); ``macs`` are counted at the
    input shapes of the runs (``comparison.inputs``). ``warnings`` are those about the inputs (dimensions set to
    1), the comparison holds its own (outputs matched by position); ``notes`` say what the figures cannot show
    (RANDOM_INPUTS_NOTE). Neither is in ``to_dict``: the command prints them on stderr. ``yardstick``: the
    reference against its own rounded weights, when asked for.
    """

    reference: str
    candidate: str
    comparison: Comparison
    timings: dict[str, Timing] | None
    macs: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    yardstick: Yardstick | None = None

    @property
    def ok(self) -> bool:
        """True when no output broke a bound (timings never fail)."""
        return self.comparison.ok

    def to_dict(self) -> dict:
        """The machine form (docs/validate-schema.md); key order is part of the format. Some figures may be numpy
        scalars: serialize them with their ``.item()``."""
        record = {"schema": VALIDATE_SCHEMA, "reference": self.reference, "candidate": self.candidate,
                  "comparison": self.comparison.to_dict()}
        if self.yardstick is not None:
            record["yardstick"] = self.yardstick.to_dict()
        if self.timings is not None:
            record["bench"] = {key: {"median_s": t.median, "min_s": t.minimum, "runs_s": t.runs, "macs": self.macs[key]}
                               for key, t in self.timings.items()}
        return record


def validate(
    reference: str | os.PathLike | onnx.ModelProto,
    candidate: str | os.PathLike | onnx.ModelProto,
    *,
    feeds: Mapping[str, np.ndarray] | Dataset | str | os.PathLike | None = None,
    seed: int = 0,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    bounds: Bounds = Bounds(),
    bench: bool = False,
    warmup: int = 3,
    runs: int = 20,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Progress | None = None,
    preprocess: Preprocess | None = None,
    batch_size: int | None = None,
    agreement: AgreementOptions = AgreementOptions(),
    yardstick: str | None = None,
) -> ValidationResult:
    """Run ``candidate`` against ``reference`` in onnxruntime on the same inputs and compare every output.

    Models are paths (read with their external weights, files over ``max_file_bytes`` refused) or ModelProtos.
    ``feeds``: arrays by input name (one run), a ``Dataset``, a path ``datasets.open_dataset`` reads (an .npz, a
    folder of .npy files, a folder of images with ``preprocess``), or None for seeded random inputs (``seed``)
    of the shapes ``inputs`` and symbolic ``dims`` give. A dataset runs in batches (``batch_size``; the model's
    batch when it is fixed) and its figures are over all samples. ``agreement``: the task-level figures per
    output (validation.agreement). With ``bench`` both are timed (``warmup`` untimed, then ``runs`` timed runs
    each, interleaved) on the first batch. ``yardstick`` ("int8" or "fp16", ``validation.yardstick``): the reference
    is also run against a copy of itself with its weights rounded so, on the same inputs, with no bound. Raises an
    OnnxcostError for a file, model or input that cannot be used; a broken bound is not raised but reported
    (``ValidationResult.ok``). Without ``bench``, the large weights of a model given as a path stay in its file and
    onnxruntime maps them from there (``weights_in_file.open_leaving_weights``), one model's session at a time.
    """
    if yardstick is not None:
        check_kind(yardstick)
    reference_name, candidate_name = _name(reference, "reference"), _name(candidate, "candidate")
    # Without timing (which runs models held in memory), a file's large weights stay in it: onnxruntime maps them.
    (a, folder_a), (b, folder_b) = (_load(model, max_file_bytes, in_file=not bench) for model in (reference, candidate))
    # The reports refuse broken models (cycles, bad dims, unknown opsets) with a clear line before
    # onnxruntime sees them; their MACs are those of the shapes run (recounted below when these differ).
    reports = {"a": analyze_model(a, reference_name, inputs, dims, formulas=False),
               "b": analyze_model(b, candidate_name, inputs, dims, formulas=False)}
    given, described, warnings = resolve_feeds(a, feeds, seed, inputs, dims, preprocess=preprocess)
    comparison = compare_models(a, b, given, bounds, input_source=described,
                                names=(f"'{reference_name}'", f"'{candidate_name}'"), progress=progress,
                                agreement=agreement, batch_size=batch_size, dims=dims,
                                weights_folders=(folder_a, folder_b))
    measured = None
    if yardstick is not None:
        # The rounding reads the weights: a reference that left them in its file is read again, whole.
        full = a if folder_a is None else _load(reference, max_file_bytes, in_file=False)[0]
        copy = rounded(full, yardstick)
        del full
        measured = Yardstick(yardstick, copy.tensors, compare_models(
            a, copy.model, given, Bounds(), input_source=described, progress=progress, agreement=agreement,
            names=(f"'{reference_name}'", f"'{reference_name}' with its {describe(yardstick)}"),
            batch_size=batch_size, dims=dims, weights_folders=(folder_a, None)))
        if copy.tensors == 0:
            warnings.append(f"--yardstick {yardstick}: the reference has no stored weight of a Conv, ConvTranspose, "
                            "Gemm or MatMul to round; the yardstick compares it with itself")
    macs = {}
    for key, model, name in (("a", a, reference_name), ("b", b, candidate_name)):
        counted = {t.name: t.shape for t in reports[key].model.inputs}
        if any(counted.get(k) != shape for k, shape in comparison.inputs.items()):
            reports[key] = analyze_model(model, name, comparison.inputs, dims, formulas=False)
        macs[key] = reports[key].totals.macs
    timings = None
    if bench:
        timed = given if isinstance(given, Mapping) else _first_batch(given, comparison)
        timings = time_models({"a": a, "b": b}, timed, warmup=warmup, runs=runs, progress=progress, what="timing")
    notes = [RANDOM_INPUTS_NOTE] if feeds is None else []
    return ValidationResult(reference_name, candidate_name, comparison, timings, macs, warnings, notes, measured)


def _load(model: str | os.PathLike | onnx.ModelProto, max_file_bytes: int,
          in_file: bool) -> tuple[onnx.ModelProto, Path | None]:
    """(the model, the folder of the weights it left in its file, or None when they were all read in)."""
    if in_file and not isinstance(model, onnx.ModelProto):
        loaded = open_leaving_weights(model, max_file_bytes)
        if loaded is not None:
            return loaded.model, loaded.path.parent
    return load_model(model, load_weights=True, max_file_bytes=max_file_bytes).model, None


def _first_batch(data: Dataset, comparison: Comparison) -> dict[str, np.ndarray]:
    """The dataset's first batch, of the shapes ``comparison.inputs`` records (those the MACs are counted at)."""
    size = next(iter(comparison.inputs.values()))[0]
    return next(iter(data.batches(size)))


def _name(model: str | os.PathLike | onnx.ModelProto, role: str) -> str:
    """The path as given (not normalized: it is echoed in the result), or '<in-memory reference>' for a ModelProto."""
    if isinstance(model, onnx.ModelProto):
        return f"<in-memory {role}>"
    return os.fspath(model)
