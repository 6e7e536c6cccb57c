"""The inputs both models are run on: given arrays, an ``.npz`` file, or seeded random draws.

Random inputs: floats standard normal, integers uniform in [0, 16), booleans fair coins. A symbolic
dimension takes its value from ``dims`` or is set to 1 and named in a warning.

Sizes are checked before anything is allocated: random inputs and the arrays of an .npz together hold at most
``MAX_INPUT_BYTES``; an .npz is read member by member, each one's names, dtype and shape checked from its .npy
header before its data is decompressed (a small file can hold a huge array of zeros).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from ..datasets import Dataset, Preprocess, open_dataset
from ..errors import InputSpecError
from ..tensors import numel
from ..units import human_bytes

# All the validation inputs together (random or from an .npz): more than a comparison needs, less than a machine has.
MAX_INPUT_BYTES = 2**30


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
    shapes_to_draw, warnings, guessed = {}, [], {}
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
        shapes_to_draw[spec.name] = (spec.dtype, shape)
    _check_total(((name, dtype, shape) for name, (dtype, shape) in shapes_to_draw.items()), "random validation arrays",
                 "give smaller shapes with inputs", "inputs")
    feeds = {name: _draw(rng, dtype, shape) for name, (dtype, shape) in shapes_to_draw.items()}
    if guessed:
        # Warnings are printed as they are (no parameter to map to a flag): they name the command's flags.
        warnings.append(f"dimension(s) {', '.join(guessed)} set to 1 for the validation inputs (give them with --dim/--input)")
    return feeds, warnings


def resolve_feeds(
    model: onnx.ModelProto,
    feeds: Mapping[str, np.ndarray] | Dataset | str | os.PathLike | None = None,
    seed: int = 0,
    shapes: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    *,
    preprocess: Preprocess | None = None,
) -> tuple[dict[str, np.ndarray] | Dataset, str, list[str]]:
    """(feeds, where they come from, warnings): arrays as given (one run), a path opened as a dataset
    (``datasets.open_dataset``: an .npz, a folder of .npy files or of images, checked against the model's inputs),
    a Dataset as given, or (None) seeded random inputs of the model's shapes."""
    if feeds is None:
        drawn, warnings = random_inputs(model, seed, shapes, dims)
        return drawn, f"random, seed {seed}", warnings
    if isinstance(feeds, (str, os.PathLike)):
        return open_dataset(feeds, input_specs(model), preprocess=preprocess), str(feeds), []
    if isinstance(feeds, Mapping):
        return dict(feeds), "given", []
    return open_dataset(feeds, input_specs(model)), "given", []


def _draw(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if np.issubdtype(dtype, np.bool_):
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 16, size=shape).astype(dtype)
    raise InputsError(f"cannot draw random inputs of type {dtype}: give them with feeds data.npz", parameter="feeds")


def _check_total(arrays, what: str, advice: str, parameter: str) -> None:
    """Refuse (InputsError) arrays, given as (name, dtype, shape), that hold more than MAX_INPUT_BYTES together."""
    arrays = list(arrays)
    total = sum(numel(shape) * np.dtype(dtype).itemsize for _, dtype, shape in arrays)
    if total > MAX_INPUT_BYTES:
        name, dtype, shape = max(arrays, key=lambda a: numel(a[2]) * np.dtype(a[1]).itemsize)
        raise InputsError(f"the {what} would take {human_bytes(total)}, over the {human_bytes(MAX_INPUT_BYTES)} onnxcost "
                          f"allows ('{name}' is {'x'.join(map(str, shape)) or 'a scalar'} {np.dtype(dtype)}): {advice}",
                          parameter=parameter)


def check_same_inputs(a: onnx.ModelProto, b: onnx.ModelProto) -> None:
    """Refuse (InputsError) two models whose inputs differ in names or dtypes: one set of feeds must fit both."""
    left = {s.name: s for s in input_specs(a)}
    right = {s.name: s for s in input_specs(b)}
    if set(left) != set(right):
        raise InputsError(f"the models take different inputs ({', '.join(left)} vs {', '.join(right)})")
    for name, spec in left.items():
        if spec.dtype != right[name].dtype:
            raise InputsError(f"input '{name}' is {spec.dtype} in one model and {right[name].dtype} in the other")
