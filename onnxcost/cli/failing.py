"""How a command ends when something goes wrong: one line on stderr and an exit code (README, "Exit codes")."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import typer

from ..errors import OnnxcostError, first_line
from ..render.sanitize import terminal_safe, visible
from .output import message

# The flag that sets each library parameter an error can be about (errors name the parameter; see OnnxcostError).
FLAGS = {
    "max_file_bytes": "--max-file-size",
    "order": "--order",
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
    "preprocess": "--preprocess",
    "batch_size": "--batch-size",
    "task": "--task",
    "blank": "--blank",
    "weight_bits": "--weight-bits",
    "batch": "--batch",
    "optimizer": "--optimizer",
    "calibration": "--calibrate",
    "target_latency": "--target-latency",
    "threads": "--threads",
    "jobs": "--jobs",
    "timeout": "--timeout",
    "memory_limit": "--memory-limit",
    "resume": "--resume",
}


def fail(exc: BaseException, debug: bool) -> None:
    """Report ``exc`` in one line (or with its traceback under --debug) and exit: 2 (or the error's own code) for
    the user's input, 3 for a bug. The line is one line whatever the message holds: names from the file (newlines,
    escape sequences, markup) are escaped."""
    if debug:
        sys.stderr.write(terminal_safe(_stack(exc)))
        sys.stderr.flush()  # before the console's line, which goes through another buffer
    if isinstance(exc, OnnxcostError):
        message(f"error: {visible(exc.message_for(FLAGS))}")
        raise typer.Exit(exc.exit_code)
    message(f"internal error: {type(exc).__name__}: {visible(first_line(exc))}. This is a bug in onnxcost: please "
            "report it with the output of --debug")
    raise typer.Exit(3)


def _stack(exc: BaseException) -> str:
    """The traceback of ``exc`` (causes included) without its last "Type: message" line, which the one-line error
    that follows says already; always ending with a newline."""
    import traceback

    report = traceback.TracebackException.from_exception(exc)
    tail = len(list(report.format_exception_only()))
    chunks = list(report.format())
    text = "".join(chunks[:len(chunks) - tail]) if tail < len(chunks) else ""
    return text if not text or text.endswith("\n") else text + "\n"


@contextmanager
def reported_errors(debug: bool):
    """Every failure inside leaves through ``fail``: one line and an exit code. Under --debug the library's
    debug log (what it tried and gave up on, e.g. a shape inference that raised) goes to stderr too."""
    if debug:
        _show_debug_log()
    try:
        yield
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - the CLI's single exit for errors
        fail(exc, debug)


def _show_debug_log() -> None:
    import logging  # here: only --debug needs it, and its import costs every command start-up

    class SafeFormatter(logging.Formatter):
        """Debug lines name tensors and nodes of the file: escaped like everything else that reaches the terminal."""

        def format(self, record: logging.LogRecord) -> str:
            return terminal_safe(super().format(record))

    logger = logging.getLogger("onnxcost")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(SafeFormatter("debug: %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def usage_error_line(exc: BaseException) -> str | None:
    """The one line for a usage error of click (which typer bundles or depends on); None for anything else."""
    if not any(cls.__name__ == "UsageError" for cls in type(exc).__mro__):
        return None
    context = getattr(exc, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    return f"error: {visible(exc.format_message())}{hint}"
