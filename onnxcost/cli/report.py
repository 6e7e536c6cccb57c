"""onnxcost report: the cost of every node and the totals."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import (
    DIMS_OPTION, MAX_FILE_SIZE_OPTION, OUTPUT_OPTION, SHAPES_OPTION, DebugOption, Format, app, build_sample, emit,
    parse_dims, reported_errors, parse_inputs, stderr, terminal_width,
)
from ..errors import InputSpecError


@app.command()
def report(
    model: Annotated[Optional[str], typer.Argument(help="The .onnx file to report.", metavar="MODEL.onnx", show_default=False)] = None,
    sample: Annotated[Optional[str], typer.Option(help="Report a built-in sample model instead of a file (see 'onnxcost sample --list').", metavar="NAME")] = None,
    input: Annotated[list[str], SHAPES_OPTION] = [],
    dim: Annotated[list[str], DIMS_OPTION] = [],
    format: Annotated[Format, typer.Option("--format", "-f", help="table for people; json, csv, md for machines and docs; netron for Netron's attachment file.")] = Format.table,
    output: Annotated[Optional[Path], OUTPUT_OPTION] = None,
    top: Annotated[Optional[int], typer.Option(help="Show only the N heaviest nodes (by MACs, then FLOPs, then traffic).", min=1, metavar="N")] = None,
    max_file_size: Annotated[str, MAX_FILE_SIZE_OPTION] = "2GiB",
    debug: DebugOption = False,
) -> None:
    """Per-node and total cost of a model: MACs, FLOPs, parameters, activation and peak memory, memory traffic.

    Examples:

      onnxcost report model.onnx

      onnxcost report model.onnx --dim batch=8 --top 10

      onnxcost report model.onnx -f json -o cost.json

      onnxcost report --sample vgg16
    """
    with reported_errors(debug):
        from ..analysis import analyze, analyze_model
        from ..render import render
        from ..units import parse_quantity

        if (model is None) == (sample is None):
            raise InputSpecError("give either a model file or --sample NAME")
        shapes, dims = parse_inputs(input), parse_dims(dim)
        try:
            limit = parse_quantity(max_file_size)
        except ValueError as exc:
            raise InputSpecError(f"--max-file-size: {exc}") from None
        with stderr.status("costing the model...") if stderr.is_terminal else nullcontext():
            if sample is not None:
                built = build_sample(sample)
                result = analyze_model(built, f"sample:{sample}", shapes, dims)
            else:
                result = analyze(model, shapes, dims, max_file_bytes=limit)
        for warning in result.warnings:
            stderr.print(f"warning: {warning}", markup=False, soft_wrap=True)
        emit(render(result, format.value, top=top, width=terminal_width()), output)
