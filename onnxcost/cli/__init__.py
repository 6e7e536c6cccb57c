"""The command line: each command parses its options, calls one library function and hands the result to a
renderer (``onnxcost.render``); no costing happens here.

The commands are listed in ``COMMAND_NAMES``, one module each, imported when run or listed; what they share is
in ``options`` (flags and their parsing), ``output`` (stdout, stderr, progress) and ``failing`` (one line and an
exit code). The command modules do without ``from __future__ import annotations``: typer reads every listed command's
signature, and string annotations are evaluated one ``eval`` each (building the commands for ``--help`` took 77 ms
with them, 31 ms without).
"""

from __future__ import annotations

import importlib
import sys

import typer

from .failing import usage_error_line
from .output import message

# each command's module defines the function of its name; in the order --help lists them
COMMAND_NAMES = ("report", "rewrite", "sample", "validate", "check", "diff", "audit", "advise")


def _root() -> None:
    """What every node of an ONNX model costs (MACs, FLOPs, parameters, memory), and rewrites that make
    its convolutions cheaper.

    Exit codes: 0 success, 1 a check failed, 2 bad input or usage, 3 internal error.
    """


def _command(name: str):
    return getattr(importlib.import_module(f".{name}", __name__), name)


def commands(only: str | None = None) -> typer.Typer:
    """The app with every command registered, or with the command ``only`` alone (a run of one command imports
    and inspects none of the others: typer reads every registered command's signature)."""
    app = typer.Typer(
        name="onnxcost",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    for name in [only] if only is not None else COMMAND_NAMES:
        app.command()(_command(name))
    return app


def __getattr__(name: str):
    if name == "app":
        value = commands()
    elif name == "COMMANDS":
        value = tuple(_command(command) for command in COMMAND_NAMES)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def main() -> None:
    try:
        named = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in COMMAND_NAMES else None
        code = commands(named)(standalone_mode=False)
    except Exception as exc:  # noqa: BLE001 - usage errors, from the click that typer bundles or depends on
        line = usage_error_line(exc)
        if line is None:
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # the help text
        else:
            message(line)
        code = exc.exit_code
    except KeyboardInterrupt:
        message("interrupted")
        code = 130
    sys.exit(code or 0)
