"""The command line: parses options, calls the library, renders. No costing happens here."""

from __future__ import annotations

import os
import sys
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import InputSpecError, OnnxcostError

app = typer.Typer(
    name="onnxcost",
    help="What every node of an ONNX model costs (MACs, FLOPs, parameters, memory), and rewrites that make "
    "its convolutions cheaper.\n\nExit codes: 0 success, 1 a check failed, 2 bad input or usage, 3 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
stderr = Console(stderr=True, highlight=False)


@app.callback()
def _root() -> None:
    """What every node of an ONNX model costs (MACs, FLOPs, parameters, memory), and rewrites that make
    its convolutions cheaper.

    Exit codes: 0 success, 1 a check failed, 2 bad input or usage, 3 internal error.
    """


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"
    netron = "netron"


DebugOption = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]
SHAPES_OPTION = typer.Option("--input", "-i", metavar="NAME:SHAPE", help="Set an input's shape, e.g. input:1x3x224x224 (repeatable).")
DIMS_OPTION = typer.Option("--dim", "-d", metavar="SYMBOL=N", help="Set a symbolic dimension, e.g. batch=8 (repeatable).")
OUTPUT_OPTION = typer.Option("--output", "-o", metavar="FILE", help="Write to this file (atomically) instead of stdout.")
MAX_FILE_SIZE_OPTION = typer.Option(metavar="SIZE", help="Refuse to parse model files larger than this (e.g. 2GiB, 8GiB).")


def fail(exc: BaseException, debug: bool) -> None:
    """Report ``exc`` in one line (or with its traceback under --debug) and exit."""
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, OnnxcostError):
        stderr.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code)
    stderr.print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", markup=False, soft_wrap=True)
    raise typer.Exit(3)


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


def emit(text: str, output: Optional[Path]) -> None:
    from .files import write_atomic

    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(output, text)
        stderr.print(f"wrote {output}", markup=False)


def _terminal_width() -> int | None:
    return os.get_terminal_size().columns if sys.stdout.isatty() else None


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
    try:
        from .analysis import IN_MEMORY_SOURCE, analyze, analyze_model
        from .render import render
        from .units import parse_quantity

        if (model is None) == (sample is None):
            raise InputSpecError("give either a model file or --sample NAME")
        shapes, dims = parse_inputs(input), parse_dims(dim)
        try:
            limit = parse_quantity(max_file_size)
        except ValueError as exc:
            raise InputSpecError(f"--max-file-size: {exc}") from None
        with stderr.status("costing the model...") if stderr.is_terminal else _nothing():
            if sample is not None:
                built = _build_sample(sample)
                result = analyze_model(built, f"sample:{sample}", shapes, dims)
            else:
                result = analyze(model, shapes, dims, max_file_bytes=limit)
        for warning in result.warnings:
            stderr.print(f"warning: {warning}", markup=False, soft_wrap=True)
        emit(render(result, format.value, top=top, width=_terminal_width()), output)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure leaves through fail()
        fail(exc, debug)


@app.command()
def sample(
    name: Annotated[Optional[str], typer.Argument(help="The sample to build.", metavar="NAME", show_default=False)] = None,
    output: Annotated[Optional[Path], OUTPUT_OPTION] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the built-in samples.")] = False,
    debug: DebugOption = False,
) -> None:
    """Write a built-in sample model (seeded random weights) to an .onnx file.

    Examples:

      onnxcost sample --list

      onnxcost sample vgg16 -o vgg16.onnx
    """
    try:
        from onnxcost import samples

        if list_:
            sys.stdout.write("".join(f"{known}\n" for known in sorted(samples.SAMPLES)))
            return
        if name is None or output is None:
            raise InputSpecError("give a sample NAME and -o FILE.onnx (or --list)")
        from .files import save_model

        save_model(_build_sample(name), output)
        stderr.print(f"wrote {output}", markup=False)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(exc, debug)


def _build_sample(name: str):
    from onnxcost import samples

    try:
        return samples.build(name)
    except KeyError as exc:
        raise InputSpecError(exc.args[0]) from None


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main() -> None:
    app()


if __name__ == "__main__":
    main()
