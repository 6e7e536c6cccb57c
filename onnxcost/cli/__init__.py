"""The command line: each command parses its options, calls one library function and hands the result to a
renderer (``onnxcost.render``); no costing happens here.

The commands are listed in ``COMMANDS``, one module each; what they share is in ``options`` (flags and their
parsing), ``output`` (stdout, stderr, progress) and ``failing`` (one line and an exit code).
"""

from __future__ import annotations

import sys

import typer

from .failing import usage_error_line
from .output import stderr
from .advise import advise
from .audit import audit
from .check import check
from .diff import diff
from .report import report
from .rewrite import rewrite
from .sample import sample
from .validate import validate

COMMANDS = (report, rewrite, sample, validate, check, diff, audit, advise)  # in the order --help lists them

app = typer.Typer(
    name="onnxcost",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """What every node of an ONNX model costs (MACs, FLOPs, parameters, memory), and rewrites that make
    its convolutions cheaper.

    Exit codes: 0 success, 1 a check failed, 2 bad input or usage, 3 internal error.
    """


for _command in COMMANDS:
    app.command()(_command)


def commands() -> typer.Typer:
    """The app with every command registered."""
    return app


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except Exception as exc:  # noqa: BLE001 - usage errors, from the click that typer bundles or depends on
        line = usage_error_line(exc)
        if line is None:
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # the help text
        else:
            stderr.print(line, markup=False, soft_wrap=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        stderr.print("interrupted", markup=False)
        code = 130
    sys.exit(code or 0)
