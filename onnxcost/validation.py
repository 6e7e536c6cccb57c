"""What onnxruntime says about two models: do their outputs agree, and which one runs faster.

Used by ``onnxcost validate`` and by every rewrite (the rewritten model is run
against the original before anything is written). Results are plain data; the
CLI renders them.

Inputs are either given (an ``.npz`` with one array per model input) or drawn
from a seeded generator: floats standard normal, integers uniform in [0, 16),
booleans fair coins. A symbolic dimension takes its value from ``dims`` or is
set to 1 and named in a warning.

Per output the comparison reports the max abs error, the relative L2 error
||b - a|| / ||a|| (a = reference), the cosine similarity and, for a 2-D
[N, classes] output, the top-1 agreement. Nothing fails unless a bound is
given (``Bounds``) — except outputs whose shapes differ or that turn
non-finite where the reference is finite: those always fail.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import EncodeError

from .errors import InputSpecError, OnnxcostError, first_line

Progress = Callable[[str, int, int], None]  # (what, done, total)


class RuntimeFailure(OnnxcostError):
    """onnxruntime cannot load or run a model."""


class InputsError(InputSpecError):
    """Given inputs (--inputs data.npz) do not fit the model."""


@dataclass(frozen=True)
class Bounds:
    """When a comparison fails. None: not checked."""

    max_rel_error: float | None = None  # per output, relative L2 error
    atol: float | None = None  # per element: |b - a| <= atol + rtol·|a|
    rtol: float | None = None

    @property
    def elementwise(self) -> bool:
        return self.atol is not None or self.rtol is not None

    def describe(self) -> str:
        parts = []
        if self.max_rel_error is not None:
            parts.append(f"relative L2 error <= {self.max_rel_error:g}")
        if self.elementwise:
            parts.append(f"|b - a| <= {self.atol or 0:g} + {self.rtol or 0:g}·|a|")
        return " and ".join(parts) or "none"


@dataclass
class OutputComparison:
    name: str
    shape: list[int]
    dtype: str
    max_abs_error: float
    rel_l2_error: float
    cosine: float
    top1_agreement: float | None  # for a 2-D [N, classes] output
    within_tolerance: bool | None  # the atol/rtol check, None when not asked
    new_nonfinite: int  # elements finite in the reference and not in the candidate


@dataclass
class Comparison:
    outputs: list[OutputComparison]
    inputs: dict[str, list[int]]
    input_source: str
    bounds: Bounds
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def worst_rel_l2_error(self) -> float:
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


@dataclass
class Timing:
    """Wall-clock seconds of repeated runs after warm-up, in one process."""

    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def minimum(self) -> float:
        return min(self.runs)


# --- sessions ---------------------------------------------------------------------------

def session(model: onnx.ModelProto, what: str = "the model", threads: int | None = None, spinning: bool = True):
    """An onnxruntime CPU session for ``model``; RuntimeFailure (one line) if onnxruntime refuses it.

    ``spinning=False`` stops idle worker threads from spinning: sessions timed in turn then do not
    steal each other's cores (each session has its own thread pool).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        data = model.SerializeToString()
    except (EncodeError, ValueError):  # over protobuf's 2 GiB limit
        data = None
    try:
        if data is not None:
            return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        with tempfile.TemporaryDirectory(prefix="onnxcost-") as folder:
            path = save_with_external_data(model, Path(folder))
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's errors are pybind types without a common public base
        raise RuntimeFailure(f"onnxruntime cannot load {what}: {first_line(exc)}") from exc


def save_with_external_data(model: onnx.ModelProto, folder: Path) -> Path:
    """``model`` written into ``folder`` with its weights beside it (how a model over protobuf's 2 GiB
    reaches onnxruntime or the checker); the in-memory model is left as it was."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # save_model moves the weights of the model it is given out to the data file
    path = folder / "model.onnx"
    onnx.save_model(copy, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx.data")
    return path


def run(sess, feeds: Mapping[str, np.ndarray], what: str = "the model") -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    try:
        values = sess.run(names, dict(feeds))
    except Exception as exc:  # see session()
        raise RuntimeFailure(f"onnxruntime cannot run {what}: {first_line(exc)}") from exc
    return dict(zip(names, values))



# --- inputs -----------------------------------------------------------------------------

@dataclass(frozen=True)
class InputSpec:
    name: str
    dtype: np.dtype
    dims: tuple[int | str | None, ...] | None  # None: rank unknown


def input_specs(model: onnx.ModelProto) -> list[InputSpec]:
    """The model's real inputs (initializers listed as inputs are not inputs)."""
    initializers = {t.name for t in model.graph.initializer}
    specs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        try:
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        except (KeyError, TypeError, ValueError):
            raise InputsError(f"input '{value.name}': element type {tensor.elem_type} has no numpy equivalent") from None
        dims = None
        if tensor.HasField("shape"):
            dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim)
        specs.append(InputSpec(value.name, dtype, dims))
    return specs


def random_inputs(
    model: onnx.ModelProto,
    seed: int = 0,
    shapes: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Seeded random inputs of the model's shapes and dtypes, and warnings for dimensions set to 1."""
    rng = np.random.default_rng(seed)
    shapes, dims = dict(shapes or {}), dict(dims or {})
    specs = input_specs(model)
    unknown = set(shapes) - {s.name for s in specs}
    if unknown:
        raise InputsError(f"--input names no input of the model: {', '.join(sorted(unknown))}")
    feeds, warnings, guessed = {}, [], {}
    for spec in specs:
        if spec.name in shapes:
            shape = tuple(int(d) for d in shapes[spec.name])
        elif spec.dims is None:
            raise InputsError(f"input '{spec.name}' has no shape in the model: give it with --input {spec.name}:DIMS")
        else:
            shape = []
            for axis, d in enumerate(spec.dims):
                if isinstance(d, int) and d > 0:
                    shape.append(d)
                elif isinstance(d, str) and d in dims:
                    shape.append(int(dims[d]))
                else:
                    label = f"'{d}'" if isinstance(d, str) else f"axis {axis} of '{spec.name}'"
                    guessed[label] = None
                    shape.append(1)
            shape = tuple(shape)
        feeds[spec.name] = _draw(rng, spec.dtype, shape)
    if guessed:
        warnings.append(f"dimension(s) {', '.join(guessed)} set to 1 for the validation inputs (give them with --dim/--input)")
    return feeds, warnings


def resolve_feeds(
    model: onnx.ModelProto,
    feeds: Mapping[str, np.ndarray] | str | os.PathLike | None = None,
    seed: int = 0,
    shapes: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
) -> tuple[dict[str, np.ndarray], str, list[str]]:
    """(feeds, where they come from, warnings): arrays as given, an .npz path loaded and checked against the
    model's inputs, or (None) seeded random inputs of the model's shapes."""
    if feeds is None:
        drawn, warnings = random_inputs(model, seed, shapes, dims)
        return drawn, f"random, seed {seed}", warnings
    if isinstance(feeds, (str, os.PathLike)):
        return load_inputs(feeds, model), str(feeds), []
    return dict(feeds), "given", []


def _draw(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if np.issubdtype(dtype, np.bool_):
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 16, size=shape).astype(dtype)
    raise InputsError(f"cannot draw random inputs of type {dtype}: give them with --inputs data.npz")


def load_inputs(path: str | os.PathLike, model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The arrays of an .npz, one per model input, checked against the model's inputs (dtype, rank, fixed dims)."""
    path = Path(path)
    if not path.is_file():
        raise InputsError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise InputsError(f"{path}: not a readable .npz file ({first_line(exc)})") from None
    specs = input_specs(model)
    missing = [s.name for s in specs if s.name not in arrays]
    extra = sorted(set(arrays) - {s.name for s in specs})
    if missing:
        raise InputsError(f"{path}: no array for input(s) {', '.join(missing)}" + (f" (it has {', '.join(extra)})" if extra else ""))
    if extra:
        raise InputsError(f"{path}: array(s) {', '.join(extra)} match no input of the model")
    feeds = {}
    for spec in specs:
        array = arrays[spec.name]
        if array.dtype != spec.dtype:
            if np.can_cast(array.dtype, spec.dtype, casting="same_kind"):
                array = array.astype(spec.dtype)
            else:
                raise InputsError(f"{path}: '{spec.name}' is {array.dtype}, the model takes {spec.dtype}")
        if spec.dims is not None:
            if array.ndim != len(spec.dims) or any(isinstance(d, int) and d > 0 and d != n for d, n in zip(spec.dims, array.shape)):
                expected = "x".join(str(d) if d else "?" for d in spec.dims)
                raise InputsError(f"{path}: '{spec.name}' has shape {'x'.join(map(str, array.shape))}, the model takes {expected}")
        feeds[spec.name] = array
    return feeds


# --- comparing --------------------------------------------------------------------------

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
    """Outputs matched by name (by position when the names differ but the counts agree)."""
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


def check_same_inputs(a: onnx.ModelProto, b: onnx.ModelProto) -> None:
    left = {s.name: s for s in input_specs(a)}
    right = {s.name: s for s in input_specs(b)}
    if set(left) != set(right):
        raise InputsError(f"the models take different inputs ({', '.join(left)} vs {', '.join(right)})")
    for name, spec in left.items():
        if spec.dtype != right[name].dtype:
            raise InputsError(f"input '{name}' is {spec.dtype} in one model and {right[name].dtype} in the other")


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
    """Run both models on ``feeds`` and compare every output."""
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
    del sess
    step()
    sess = session(candidate, names[1])
    step()
    cand_out = run(sess, feeds, names[1])
    del sess
    if progress is not None:
        progress("validating: done", len(steps), len(steps))
    rows, failures, warnings = compare_outputs(ref_out, cand_out, bounds)
    return Comparison(rows, {k: list(v.shape) for k, v in feeds.items()}, input_source, bounds, failures, warnings)


# --- timing -----------------------------------------------------------------------------

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
) -> dict[str, Timing]:
    """Timings of several models in one process, their runs interleaved so that drift hits all alike.

    Each model gets ``warmup`` untimed runs, then ``runs`` timed ones; with ``target_seconds`` the number
    of timed runs grows (up to ``max_runs``) to fill about that much time, judged from the warm-up.
    Worker threads do not spin between runs (see ``session``), so one session's idle threads do not
    slow down the next.
    """
    if warmup < 0 or runs < 1:
        raise InputSpecError("timing needs runs >= 1 and warmup >= 0")
    sessions = {key: session(model, f"'{key}'", spinning=False) for key, model in models.items()}
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
