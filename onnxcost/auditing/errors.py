"""What an audit refuses before any model is analysed: one line, exit code 2 (a failed model is a row, not an error)."""

from __future__ import annotations

from ..errors import OnnxcostError


class AuditInputError(OnnxcostError):
    """No model found, a bad limit, a resume file that is not an audit's JSONL, Ray missing or unreachable."""
