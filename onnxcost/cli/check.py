"""onnxcost check: a model's totals against budgets (flags, or pyproject.toml / onnxcost.toml), for CI."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .failing import reported_errors
from .options import (
    Debug, Dims, MaxFileSize, Output, Shapes, check_paths, parse_dims, parse_inputs, parse_max_file_size,
)
from .output import emit, terminal_width, warn_all


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    md = "md"


def _limit(what: str, example: str):
    return Annotated[Optional[str], typer.Option(metavar="N", help=f"Fail when {what} exceed N (e.g. {example}).", show_default=False)]


def check(
    model: Annotated[str, typer.Argument(help="The .onnx file, or a saved report (onnxcost report -f json), to check.", metavar="MODEL", show_default=False)],
    max_macs: _limit("the MACs", "5G") = None,
    max_flops: _limit("the FLOPs", "10G") = None,
    max_params: _limit("the parameters", "25M") = None,
    max_param_bytes: _limit("the parameters' bytes", "30MB or 64MiB") = None,
    max_peak_memory: _limit("the peak activation bytes", "64MiB") = None,
    max_memory_traffic: _limit("the memory traffic bytes", "2GiB") = None,
    max_arena: _limit("the bytes of the planned activation arena (docs/arena.md)", "64MiB") = None,
    baseline: Annotated[Optional[str], typer.Option(metavar="BASE", help="Measure growth against BASE: an .onnx file or a saved report .json.", show_default=False)] = None,
    max_growth: Annotated[list[str], typer.Option(metavar="METRIC=PCT,...", help="Fail when a total grows more than PCT over BASE, e.g. macs=2%,params=0% (metrics: macs, flops, params, param_bytes, peak_memory, memory_traffic, arena).", show_default=False)] = [],
    config: Annotated[Optional[Path], typer.Option(metavar="FILE", help="Budgets from this pyproject.toml or onnxcost.toml (default: the nearest one above the current folder). Flags win over it.", show_default=False)] = None,
    input: Shapes = [],
    dim: Dims = [],
    format: Annotated[CheckFormat, typer.Option("--format", "-f", help="table for people, json for machines, junit for CI test reports, md for a pull-request comment.")] = CheckFormat.table,
    output: Output = None,
    max_file_size: MaxFileSize = "2GiB",
    debug: Debug = False,
) -> None:
    """Check a model's totals against budgets: exit 0 when every budget holds, 1 when one fails, 2 for bad input.

    Counts take K, M, G, T (powers of 1000); bytes also KiB, MiB, GiB (powers of 1024) and KB, MB, GB.
    Budgets also come from [tool.onnxcost] in pyproject.toml or an onnxcost.toml, per model by glob (docs/ci.md).

    Examples:

      onnxcost check model.onnx --max-macs 5G --max-param-bytes 30MB --max-peak-memory 64MiB

      onnxcost check model.onnx --baseline main.json --max-growth macs=2%,params=0%

      onnxcost check model.onnx -f junit -o onnxcost-check.xml
    """
    with reported_errors(debug):
        from ..budgets import check as check_budgets
        from ..config import find_config
        from ..errors import ValidationFailed
        from ..render.check import render_check

        flags = {"--max-macs": max_macs, "--max-flops": max_flops, "--max-params": max_params,
                 "--max-param-bytes": max_param_bytes, "--max-peak-memory": max_peak_memory,
                 "--max-memory-traffic": max_memory_traffic, "--max-arena": max_arena,
                 "--max-growth": ",".join(max_growth) or None}
        shapes, dims, limit = parse_inputs(input), parse_dims(dim), parse_max_file_size(max_file_size)
        inputs = [path for path in (model, baseline, config) if path is not None]
        check_paths(inputs, output)
        result = check_budgets(model, flags, baseline=baseline, config=config or find_config(), inputs=shapes, dims=dims,
                               max_file_bytes=limit)
        warn_all(result.warnings)
        emit(render_check(result, format.value, width=terminal_width()), output, keep=inputs)
        if not result.ok:
            raise ValidationFailed(result.summary())
