"""onnxcost diff: what got more expensive from A to B, where, by how much."""

from contextlib import nullcontext
from enum import Enum
from typing import Annotated, Optional

import typer

from .failing import reported_errors
from .options import (
    Debug, Dims, MaxFileSize, Output, Shapes, check_paths, parse_dims, parse_inputs, parse_max_file_size,
)
from .output import emit, stderr, stderr_is_terminal, terminal_width, warn_all


class DiffFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"
    csv = "csv"


def _side(which: str, role: str):
    return Annotated[str, typer.Argument(
        help=f"The {role} model: an .onnx file or a saved report (onnxcost report -f json).", metavar=which,
        show_default=False)]


def diff(
    a: _side("A", "old"),
    b: _side("B", "new"),
    input: Shapes = [],
    dim: Dims = [],
    top: Annotated[Optional[int], typer.Option(help="List only the N heaviest node changes.", min=1,
                                               metavar="N")] = None,
    format: Annotated[DiffFormat, typer.Option(
        "--format", "-f", help="table for people; md for a pull-request comment; json, csv for machines (exact "
        "integers).")] = DiffFormat.table,
    output: Output = None,
    max_file_size: MaxFileSize = "2GiB",
    debug: Debug = False,
) -> None:
    """What got more expensive from A to B, where, by how much: totals side by side with their deltas, the op
    types that changed, and the nodes that changed, were replaced, added or removed, heaviest first. Nodes are
    paired by name, and where names differ (a re-export) by their place and signature in the graph; a node
    replaced by nodes named under it (a rewrite's conv1 -> conv1/dw + conv1/pw) is one change. --input/--dim
    apply to .onnx files; a saved report keeps its shapes.
    Exit code 0: a diff is information, not a check (see 'onnxcost check --baseline').

    Examples:

      onnxcost diff model.onnx model.sep.onnx

      onnxcost diff main.json model.onnx --top 10 -f md -o diff.md
    """
    with reported_errors(debug):
        from ..diffing import diff as compare
        from ..render.diff import render_diff

        shapes, dims, limit = parse_inputs(input), parse_dims(dim), parse_max_file_size(max_file_size)
        check_paths([a, b], output)
        with stderr.status("costing both models...") if stderr_is_terminal() else nullcontext():
            result = compare(a, b, inputs=shapes, dims=dims, max_file_bytes=limit)
        warn_all(result.warnings)
        emit(render_diff(result, format.value, top=top, width=terminal_width()), output, keep=[a, b])
