"""The package's one exception hierarchy.

Every failure the user can cause (a bad file, a bad option, a graph that breaks
the ONNX rules) is an ``OnnxcostError``; the CLI prints its message on one line
and exits with its ``exit_code``. Anything else escaping the library is a bug
(``CostRuleError`` names one kind).
"""

from __future__ import annotations

import re


class LazyLogger:
    """``logging.getLogger(name)``, made when something is first logged: importing logging would cost every command
    a few ms of start-up, and the library logs only on paths that give up on something (shown by --debug)."""

    def __init__(self, name: str):
        self.name = name

    def debug(self, message: str, *args, **kwargs) -> None:
        import logging

        logging.getLogger(self.name).debug(message, *args, **kwargs)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type when the message is empty), for one-line errors."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


class OnnxcostError(Exception):
    """Base class: a problem with the user's input, reported in one line.

    ``parameter`` names the library parameter the message is about (``"rank"``, ``"max_file_bytes"``),
    written in the message as that name; the CLI puts the flag that sets it in its place.
    """

    exit_code = 2

    def __init__(self, message: str = "", *, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter

    def message_for(self, flags: dict[str, str]) -> str:
        """The message with the first mention of its parameter replaced by the flag in ``flags`` (when there is one)."""
        text = str(self)
        flag = flags.get(self.parameter) if self.parameter else None
        if not flag:
            return text
        # A whole word, not inside a quoted name ('inputs') or a path (inputs/x.onnx, max_file_bytes.onnx).
        pattern = rf"(?<![\w'\"/\\.-]){re.escape(self.parameter)}(?![\w'\"/\\-]|\.\w)"
        return re.sub(pattern, lambda _: flag, text, count=1)


class ModelLoadError(OnnxcostError):
    """The file is missing, unreadable, not ONNX, or too large to parse."""


class ExternalDataError(OnnxcostError):
    """External weights are missing, truncated, or point outside the model's folder."""


class InvalidModelError(OnnxcostError):
    """The graph breaks the ONNX rules (cycles, undefined inputs, bad attributes, ...)."""


class InputSpecError(OnnxcostError):
    """An ``inputs`` / ``dims`` override (``--input`` / ``--dim``) cannot be applied to the model."""


class OutputWriteError(OnnxcostError):
    """An output could not be written (no space, no permission); the target is left as it was."""


class ValidationFailed(OnnxcostError):
    """A rewritten model's outputs differ from the original beyond the allowed error."""

    exit_code = 1


class CostRuleError(Exception):
    """The cost rule of a standard-domain op raised on a node onnx.checker accepted: a bug in onnxcost, not in the
    model. Deliberately not an OnnxcostError, so that it is never reported as bad input (the CLI exits 3)."""
