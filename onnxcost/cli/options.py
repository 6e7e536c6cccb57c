"""The options the commands share, and how their text becomes library arguments (errors name the flag)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputSpecError


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"
    netron = "netron"
    html = "html"


class ResultFormat(str, Enum):  # rewrite and validate results
    table = "table"
    json = "json"


Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
Shapes = Annotated[list[str], typer.Option("--input", "-i", metavar="NAME:SHAPE", help="Set an input's shape, e.g. input:1x3x224x224 (repeatable).")]
Dims = Annotated[list[str], typer.Option("--dim", "-d", metavar="SYMBOL=N", help="Set a symbolic dimension, e.g. batch=8 (repeatable).")]
Output = Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write to this file (atomically) instead of stdout.")]
MaxFileSize = Annotated[str, typer.Option(metavar="SIZE", help="Refuse to parse model files larger than this (e.g. 2GiB, 8GiB).")]
ResultFormatOption = Annotated[ResultFormat, typer.Option("--format", "-f", help="table for people, json for machines (exact integers).")]

# Validation (rewrite and validate).
InputsFile = Annotated[Optional[Path], typer.Option("--inputs", metavar="DATA.npz", help="Validation inputs: an .npz with one array per model input (default: seeded random inputs).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the random validation inputs.")]
MaxRelError = Annotated[Optional[float], typer.Option("--max-rel-error", metavar="E", help="Fail when an output's relative L2 error ||b - a|| / ||a|| exceeds E.")]
Atol = Annotated[Optional[float], typer.Option("--atol", metavar="A", help="Fail when some |b - a| > A + RTOL·|a| (elementwise).")]
Rtol = Annotated[Optional[float], typer.Option("--rtol", metavar="R", help="Relative part of the elementwise bound (see --atol).")]



def _model_argument(verb: str):
    return Annotated[Optional[str], typer.Argument(help=f"The .onnx file to {verb}.", metavar="MODEL.onnx", show_default=False)]


def _sample_option(verb: str):
    return Annotated[Optional[str], typer.Option(help=f"{verb} a built-in sample model instead of a file (see 'onnxcost sample --list').", metavar="NAME")]


ModelToReport, SampleToReport = _model_argument("report"), _sample_option("Report")
ModelToRewrite, SampleToRewrite = _model_argument("rewrite"), _sample_option("Rewrite")


def parse_inputs(specs: list[str]) -> dict[str, list[int]]:
    """['x:1x3x224x224'] -> {'x': [1, 3, 224, 224]}."""
    shapes = {}
    for spec in specs:
        name, sep, dims = spec.rpartition(":")
        if not sep or not name:
            raise InputSpecError(f"--input '{spec}': expected NAME:DIMS, e.g. input:1x3x224x224")
        try:
            shapes[name] = [int(d) for d in dims.replace(",", "x").split("x")] if dims else []
        except ValueError:
            raise InputSpecError(f"--input '{spec}': dimensions must be integers separated by 'x'") from None
    return shapes


def parse_dim_ranges(specs: list[str]) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """['batch=1:64', 'seq=128'] -> ({'seq': 128}, {'batch': (1, 64)}): the values and the ranges."""
    plain, ranges = [], {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        low, colon, high = value.partition(":")
        if not colon:
            plain.append(spec)
            continue
        if not name or not low.strip().isdigit() or not high.strip().isdigit() or int(low) > int(high):
            raise InputSpecError(f"--dim '{spec}': expected SYMBOL=LOW:HIGH with 0 <= LOW <= HIGH, e.g. batch=1:64")
        ranges[name] = (int(low), int(high))
    return parse_dims(plain), ranges


def parse_dims(specs: list[str]) -> dict[str, int]:
    """['batch=8'] -> {'batch': 8}."""
    dims = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or not name or not value.strip().lstrip("-").isdigit():
            raise InputSpecError(f"--dim '{spec}': expected SYMBOL=INTEGER, e.g. batch=8")
        if int(value) < 0:
            raise InputSpecError(f"--dim '{spec}': a dimension cannot be negative")
        dims[name] = int(value)
    return dims


def parse_max_file_size(text: str) -> int:
    """'2GiB' -> bytes."""
    from ..units import parse_quantity

    try:
        return parse_quantity(text)
    except ValueError as exc:
        raise InputSpecError(f"--max-file-size: {exc}") from None


def model_or_sample(model: Optional[str], sample: Optional[str]):
    """(a path or a built sample's ModelProto, the name a sample is reported under or None for a file, named by
    its path): exactly one of the two must be given."""
    if (model is None) == (sample is None):
        raise InputSpecError("give either a model file or --sample NAME")
    if sample is None:
        return model, None
    return build_sample(sample), f"sample:{sample}"


def build_sample(name: str):
    from .. import samples

    try:
        return samples.build(name)
    except KeyError as exc:
        raise InputSpecError(exc.args[0]) from None


def check_paths(inputs, output: Optional[Path] = None) -> None:
    """Before any work: refuse an input that is a FIFO, a device or a socket (reading it could block forever), and
    an ``output`` that is one of the ``inputs`` or anything but a regular file (``emit`` checks again as it writes)."""
    import os
    import stat

    from ..files import check_target

    for path in inputs:
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            continue  # missing: the library says so
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise InputSpecError(f"{path}: not a regular file (a FIFO or a device?); refused")
    if output is not None:
        check_target(output, inputs)


def make_bounds(max_rel_error: Optional[float], atol: Optional[float], rtol: Optional[float]):
    """The validation bounds; each must be >= 0."""
    from ..validation import Bounds

    for flag, value in (("--max-rel-error", max_rel_error), ("--atol", atol), ("--rtol", rtol)):
        if value is not None and not value >= 0:
            raise InputSpecError(f"{flag} must be >= 0, got {value}")
    return Bounds(max_rel_error=max_rel_error, atol=atol, rtol=rtol)
