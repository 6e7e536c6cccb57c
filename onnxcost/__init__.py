"""onnxcost: what every node of an ONNX model costs, and rewrites that make convolutions cheaper.

``analyze`` costs a model (a ``Report``); ``validate`` runs two models in onnxruntime and compares their
outputs (a ``ValidationResult``); ``check`` holds a model to budgets (a ``CheckResult``), ``diff`` says what
changed between two models or saved reports (a ``DiffResult``) and ``audit`` reports a fleet of files (an
``AuditResult``). The rewrites are in the ``passes`` package. Every result has ``to_dict()``, the JSON record
the command line prints (docs/).
"""

from .analysis import analyze, analyze_model
from .auditing import AuditResult, audit
from .budgets import CheckResult, check
from .diffing import DiffResult, diff
from .errors import OnnxcostError
from .report import Report
from .validation import ValidationResult, validate

__version__ = "0.1.0"

__all__ = [
    "AuditResult", "CheckResult", "DiffResult", "OnnxcostError", "Report", "ValidationResult", "__version__", "analyze",
    "analyze_model", "audit", "check", "diff", "validate",
]
