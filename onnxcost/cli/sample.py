"""onnxcost sample: write a built-in sample model to a file."""

import sys
from typing import Annotated, Optional

import typer

from ..errors import InputSpecError
from .failing import reported_errors
from .options import Debug, Output, build_sample
from .output import wrote


def sample(
    name: Annotated[Optional[str], typer.Argument(help="The sample to build.", metavar="NAME", show_default=False)] = None,
    output: Output = None,
    list_: Annotated[bool, typer.Option("--list", help="List the built-in samples.")] = False,
    debug: Debug = False,
) -> None:
    """Write a built-in sample model (seeded random weights) to an .onnx file.

    Examples:

      onnxcost sample --list

      onnxcost sample vgg16 -o vgg16.onnx
    """
    with reported_errors(debug):
        from .. import samples
        from ..files import save_model

        if list_:
            sys.stdout.write("".join(f"{known}\n" for known in sorted(samples.SAMPLES)))
            return
        if name is None or output is None:
            raise InputSpecError("give a sample NAME and -o FILE.onnx (or --list)")
        save_model(build_sample(name), output)
        wrote(output)
