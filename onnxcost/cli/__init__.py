"""The command line: each command parses options, calls the library and renders; no costing happens here.

This module holds the app and what the commands share; each command lives in a module of its own.
"""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from ..errors import InputSpecError, OnnxcostError, first_line

app = typer.Typer(
    name="onnxcost",
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


# The flag that sets each library parameter an error can be about (errors name the parameter; see OnnxcostError).
FLAGS = {
    "max_file_bytes": "--max-file-size",
    "rank": "--rank",
    "energy": "--energy",
    "target_macs": "--target-macs",
    "min_channels": "--min-channels",
    "include": "--include",
    "exclude": "--exclude",
    "groups": "--grouped G",
    "emission": "--emission",
    "max_rel_error": "--max-rel-error",
    "atol": "--atol",
    "rtol": "--rtol",
    "feeds": "--inputs",
    "inputs": "--input",
    "dims": "--dim",
}


def fail(exc: BaseException, debug: bool) -> None:
    """Report ``exc`` in one line (or with its traceback under --debug) and exit."""
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, OnnxcostError):
        stderr.print(f"error: {exc.message_for(FLAGS)}", markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code)
    stderr.print(f"internal error: {type(exc).__name__}: {first_line(exc)}. This is a bug in onnxcost: please report it "
                 "with the output of --debug", markup=False, soft_wrap=True)
    raise typer.Exit(3)


@contextmanager
def reported_errors(debug: bool):
    """Every failure inside leaves through ``fail``: one line and an exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI's single exit for errors
        fail(exc, debug)


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
    from ..files import write_atomic

    if output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped early (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        write_atomic(output, text)
        stderr.print(f"wrote {output}", markup=False)


def terminal_width() -> int | None:
    return os.get_terminal_size().columns if sys.stdout.isatty() else None


def build_sample(name: str):
    from onnxcost import samples

    try:
        return samples.build(name)
    except KeyError as exc:
        raise InputSpecError(exc.args[0]) from None


def commands() -> typer.Typer:
    """The app with every command registered (each module registers its own)."""
    from . import report, rewrite, sample, validate  # noqa: F401

    return app


def main() -> None:
    try:
        code = commands()(standalone_mode=False)
    except Exception as exc:  # noqa: BLE001 - usage errors, from the click that typer bundles or depends on
        if not _is_usage_error(exc):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # the help text
        else:
            context = getattr(exc, "ctx", None)
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            stderr.print(f"error: {exc.format_message()}{hint}", markup=False, soft_wrap=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        stderr.print("interrupted", markup=False)
        code = 130
    sys.exit(code or 0)


def _is_usage_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "UsageError" for cls in type(exc).__mro__)
