"""onnxcost advise: ShuffleNet V2's four guidelines and VGG's stacked-3x3 lesson, node by node."""

from contextlib import nullcontext
from enum import Enum
from typing import Annotated, Optional

import typer

from .failing import reported_errors
from .options import (
    Debug, Dims, MaxFileSize, Output, Shapes, check_paths, model_or_sample, parse_dims, parse_inputs,
    parse_max_file_size,
)
from .output import emit, stderr, stderr_is_terminal, terminal_width, warn_all


class AdviceFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


def advise(
    model: Annotated[Optional[str], typer.Argument(help="The .onnx file to check.", metavar="MODEL.onnx",
                                                   show_default=False)] = None,
    sample: Annotated[Optional[str], typer.Option(
        help="Check a built-in sample model instead of a file (see 'onnxcost sample --list').", metavar="NAME")] = None,
    input: Shapes = [],
    dim: Dims = [],
    format: Annotated[AdviceFormat, typer.Option(
        "--format", "-f", help="table for people; md for docs and pull requests; json for machines.",
    )] = AdviceFormat.table,
    output: Output = None,
    top: Annotated[Optional[int], typer.Option(help="List only the N first findings of the ranking.", min=1,
                                               metavar="N")] = None,
    max_file_size: MaxFileSize = "2GiB",
    debug: Debug = False,
) -> None:
    """ShuffleNet V2's guidelines checked node by node, each finding with its figures and formula: G1 1x1 convs
    with unequal channels (memory access cost against its bound at the same FLOPs), G2 grouped convs (against the
    ungrouped conv of the same FLOPs), G3 fragmented blocks (parallel branches, small ops), G4 the element-wise
    ops' share of the memory traffic; and VGG's lesson, large kernels that stacked 3x3 convs replace with fewer
    weights. Findings are ranked by the bytes of memory traffic per inference they would save (docs/advise.md).

    Examples:

      onnxcost advise model.onnx --top 10

      onnxcost advise --sample shufflenet_v2_x1_0 -f md -o advice.md
    """
    with reported_errors(debug):
        from ..advice import advise as check_guidelines
        from ..render.advice import render_advice

        target, source = model_or_sample(model, sample)
        inputs = [model] if model is not None else []
        check_paths(inputs, output)
        shapes, dims, limit = parse_inputs(input), parse_dims(dim), parse_max_file_size(max_file_size)
        with stderr.status("checking the guidelines...") if stderr_is_terminal() else nullcontext():
            result = check_guidelines(target, shapes, dims, max_file_bytes=limit, source=source)
        warn_all(result.warnings)
        emit(render_advice(result, format.value, top=top, width=terminal_width()), output, keep=inputs)
