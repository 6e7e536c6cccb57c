"""onnxcost: what every node of an ONNX model costs, and rewrites that make convolutions cheaper.

``analyze`` costs a model (a ``Report``); ``validate`` runs two models in onnxruntime and compares their
outputs (a ``ValidationResult``); ``check`` holds a model to budgets (a ``CheckResult``), ``diff`` says what
changed between two models or saved reports (a ``DiffResult``) and ``audit`` reports a fleet of files (an
``AuditResult``). The rewrites are in the ``passes`` package. Every result has ``to_dict()``, the JSON record
the command line prints (docs/).

The names are imported on first use, so that ``import onnxcost`` (and ``onnxcost --help``) stays quick.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    "analyze": "analysis", "analyze_model": "analysis",
    "AuditResult": "auditing", "audit": "auditing",
    "CheckResult": "budgets", "check": "budgets",
    "DiffResult": "diffing", "diff": "diffing",
    "OnnxcostError": "errors",
    "Report": "report",
    "ValidationResult": "validation", "validate": "validation",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'onnxcost' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
