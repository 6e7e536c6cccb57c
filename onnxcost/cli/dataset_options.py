"""The options that give a command real inputs (``--inputs DATA``, ``--preprocess SPEC``) and their parsing.

Shared by every command that runs a model on data (validate; rewrite's validation and calibration)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputSpecError

Data = Annotated[Optional[Path], typer.Option(
    "--inputs", metavar="DATA",
    help="Real inputs: an .npz with one array per model input, a folder of <input>.npy files (first axis = samples), "
         "or a folder of images (see --preprocess). Default: seeded random inputs.")]
PreprocessSpec = Annotated[Optional[str], typer.Option(
    "--preprocess", metavar="SPEC",
    help="How images become the input, key=value pairs separated by spaces or ';': size=HxW (default: the model's), "
         "mean=M[,M,M] std=S[,S,S] (after scaling), order=RGB|BGR, layout=NCHW|NHWC, scale=1/255 (default). "
         "E.g. 'size=640x640 mean=0.485,0.456,0.406 std=0.229,0.224,0.225 order=BGR'.")]
BatchSize = Annotated[Optional[int], typer.Option(
    "--batch-size", min=1, metavar="N",
    help="Samples per run for a model whose batch is not fixed (default 8; a fixed batch is always used as is).")]


def parse_preprocess(text: str | None):
    """'size=48x320 mean=0.5 std=0.5 order=BGR' -> Preprocess(size=(48, 320), ...); None for None."""
    if text is None:
        return None
    from ..datasets import Preprocess

    fields: dict = {}
    for pair in text.replace(";", " ").split():
        key, sep, value = pair.partition("=")
        try:
            if not sep:
                raise ValueError
            if key == "size":
                height, width = value.lower().split("x")
                fields["size"] = (int(height), int(width))
            elif key in ("mean", "std"):
                fields[key] = tuple(float(v) for v in value.split(","))
            elif key in ("order", "layout"):
                fields[key] = value.upper()
            elif key == "scale":
                numerator, _, denominator = value.partition("/")
                fields["scale"] = float(numerator) / float(denominator or 1)
            else:
                raise InputSpecError(f"--preprocess: unknown key '{key}' (size, mean, std, order, layout, scale)")
        except (ValueError, ZeroDivisionError):
            raise InputSpecError(f"--preprocess: cannot read '{pair}' (e.g. size=224x224, mean=0.485,0.456,0.406, "
                                 "scale=1/255)") from None
    if "mean" in fields and "std" not in fields:
        fields["std"] = (1.0,) * len(fields["mean"])
    if "std" in fields and "mean" not in fields:
        fields["mean"] = (0.0,) * len(fields["std"])
    return Preprocess(**fields)
