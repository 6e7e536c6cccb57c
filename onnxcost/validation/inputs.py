"""The inputs both models are run on: given arrays, an ``.npz`` file, or seeded random draws.

Random inputs: floats standard normal, integers uniform in [0, 16), booleans fair coins. A symbolic
dimension takes its value from ``dims`` or is set to 1 and named in a warning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from ..errors import InputSpecError, first_line


class InputsError(InputSpecError):
    """Given inputs (arrays or an .npz file) do not fit the model, or the models take different inputs."""


@dataclass(frozen=True)
class InputSpec:
    """A model input as the graph declares it: name, numpy dtype, and dims (an int when fixed, the symbol's
    name when symbolic, None when neither)."""

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
    """Seeded random inputs of the model's shapes and dtypes, and warnings for dimensions set to 1.

    ``shapes`` gives whole input shapes ({"x": [1, 3, 224, 224]}), ``dims`` symbolic dimensions ({"batch": 8}).
    """
    rng = np.random.default_rng(seed)
    shapes, dims = dict(shapes or {}), dict(dims or {})
    specs = input_specs(model)
    unknown = set(shapes) - {s.name for s in specs}
    if unknown:
        raise InputsError(f"inputs names no input of the model: {', '.join(sorted(unknown))}", parameter="inputs")
    feeds, warnings, guessed = {}, [], {}
    for spec in specs:
        if spec.name in shapes:
            shape = tuple(int(d) for d in shapes[spec.name])
        elif spec.dims is None:
            raise InputsError(f"input '{spec.name}' has no shape in the model: give it with inputs {spec.name}:DIMS",
                              parameter="inputs")
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
        # Warnings are printed as they are (no parameter to map to a flag): they name the command's flags.
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
    raise InputsError(f"cannot draw random inputs of type {dtype}: give them with feeds data.npz", parameter="feeds")


def load_inputs(path: str | os.PathLike, model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The arrays of an .npz, one per model input, checked against the model's inputs (dtype, rank, fixed dims).

    An array of another dtype of the same kind (float64 for float32) is cast to the model's dtype.
    """
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


def check_same_inputs(a: onnx.ModelProto, b: onnx.ModelProto) -> None:
    """Refuse (InputsError) two models whose inputs differ in names or dtypes: one set of feeds must fit both."""
    left = {s.name: s for s in input_specs(a)}
    right = {s.name: s for s in input_specs(b)}
    if set(left) != set(right):
        raise InputsError(f"the models take different inputs ({', '.join(left)} vs {', '.join(right)})")
    for name, spec in left.items():
        if spec.dtype != right[name].dtype:
            raise InputsError(f"input '{name}' is {spec.dtype} in one model and {right[name].dtype} in the other")
