"""Errors of the rewrite passes, in onnxcost's one hierarchy (``onnxcost.errors``)."""

from __future__ import annotations

from onnxcost.errors import InputSpecError, OnnxcostError, ValidationFailed


class RewriteOptionError(InputSpecError):
    """A rewrite option is out of range or contradicts another (exit code 2)."""


class BudgetUnreachable(OnnxcostError):
    """``TargetMacs`` cannot be met with the selected layers (exit code 2)."""


class RewriteValidationFailed(ValidationFailed):
    """The rewritten model's outputs differ beyond the allowed error (exit code 1); ``result`` has the details."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class PredictionMismatch(AssertionError):
    """The report of the rewritten model disagrees with the pass's prediction: a bug, never the user's input."""
