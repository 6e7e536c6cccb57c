"""onnxcost audit: one row per model for a fleet of models, each costed in its own worker process (or Ray task)."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .failing import reported_errors
from .options import Debug, Dims, MaxFileSize, Output, Shapes, check_paths, parse_dims, parse_inputs, parse_max_file_size
from .output import ProgressBar, emit, terminal_width

AuditFormat = Enum("AuditFormat", {name: name for name in ("table", "csv", "jsonl", "md")}, type=str)


def audit(
    paths: Annotated[list[str], typer.Argument(help="Model files, folders (searched recursively for *.onnx) and globs such as 'models/**/*.onnx'.", metavar="PATH", show_default=False)],
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, metavar="N", help="Models costed at a time on this machine, each in its own process (default: one per core; with --ray the cluster decides).", show_default=False)] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run each model as a Ray task: on the cluster at $RAY_ADDRESS or the one last started on this machine, else a new local one (pip install 'onnxcost[ray]').")] = False,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", metavar="ADDRESS", help="Run on the Ray cluster at ADDRESS (e.g. ray://head:10001 or auto); implies --ray.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", metavar="OUT.jsonl", help="Append each row to this JSONL as it finishes and skip the files already in it, so a killed run continues.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.001, metavar="S", help="Seconds one model may take; then its worker is stopped and its row says 'timeout'.")] = 300.0,
    memory_limit: Annotated[str, typer.Option("--memory-limit", metavar="SIZE", help="Resident memory one worker may use (e.g. 4GiB); above it the worker is stopped: 'out of memory'.")] = "4GiB",
    check: Annotated[bool, typer.Option("--check", help="Apply the budgets of the nearest onnxcost.toml or pyproject.toml [tool.onnxcost] above the current folder to every model.")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", metavar="FILE", help="Apply the budgets of this pyproject.toml or onnxcost.toml; implies --check.", show_default=False)] = None,
    input: Shapes = [],
    dim: Dims = [],
    format: Annotated[AuditFormat, typer.Option("--format", "-f", help="table for people; csv, jsonl (one record per model) or md for machines and docs.")] = "table",
    output: Output = None,
    max_file_size: MaxFileSize = "2GiB",
    debug: Debug = False,
) -> None:
    """One row per model: producer, opset, inputs and their free dims, MACs, FLOPs, parameters, weight bytes, peak
    activations, compute layers, warnings, and a status (ok, error, timeout, out of memory, crashed). A model that
    fails is one row and the run goes on; rows are sorted by path, so the same files give the same bytes.
    Exit code 1 when some model failed (or broke a budget under --check), after printing every row.

    Examples:

      onnxcost audit models/ -f csv -o fleet.csv

      onnxcost audit 'exports/**/*.onnx' --jobs 8 --timeout 120 --resume nightly.jsonl

      onnxcost audit models/ --ray-address ray://head:10001 -f jsonl -o fleet.jsonl
    """
    with reported_errors(debug):
        from ..auditing import audit as audit_models
        from ..errors import ValidationFailed
        from ..render.audit import render_audit

        shapes, dims, limit = parse_inputs(input), parse_dims(dim), parse_max_file_size(max_file_size)
        budgets = config or (_nearest_config() if check else None)
        check_paths(inputs := [*paths, *(path for path in (resume, budgets) if path is not None)], output)
        with ProgressBar() as progress:
            result = audit_models(paths, jobs=jobs, ray=ray_address or ray, resume=resume, timeout=timeout,
                                  memory_limit=_memory_limit(memory_limit), inputs=shapes, dims=dims, progress=progress,
                                  budgets=budgets, max_file_bytes=limit)
        emit(render_audit(result, format.value, width=terminal_width()), output, keep=inputs)
        if not result.ok:
            raise ValidationFailed(f"not every model passed: {result.summary()}")


def _memory_limit(text: str) -> int:
    from ..errors import InputSpecError
    from ..units import parse_quantity

    try:
        return parse_quantity(text)
    except ValueError as exc:
        raise InputSpecError(f"--memory-limit: {exc}") from None


def _nearest_config() -> Path:
    from ..config import ConfigError, find_config

    if (found := find_config()) is None:
        raise ConfigError("--check: no onnxcost.toml, and no pyproject.toml with [tool.onnxcost], here or above")
    return found
