"""What one rewrite returns: the plan, the rewritten model, onnxcost's report of it and onnxruntime's
comparison, with the JSON record ``onnxcost rewrite -f json`` prints (docs/rewrite-schema.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from onnxcost import files
from onnxcost.report import Report
from onnxcost.validation import Comparison

from .latency import LatencyBudget
from .plan import Plan

REWRITE_SCHEMA = "onnxcost.rewrite/1"  # the ``schema`` key of ``RewriteResult.to_dict``


@dataclass
class RewriteResult:
    """One rewrite. A dry run has only its plan: ``model``, ``report`` and ``comparison`` are None.

    ``report`` is onnxcost's report of the rewritten model (it confirms the plan's prediction to the MAC);
    ``comparison`` is None when validation was skipped.
    """

    plan: Plan
    model: onnx.ModelProto | None  # the rewritten model
    report: Report | None
    comparison: Comparison | None
    dry_run: bool = False
    input_warnings: list[str] = field(default_factory=list)  # about the validation inputs (dims set to 1, ...)
    latency: LatencyBudget | None = None  # with a TargetLatency mode: what was timed in onnxruntime

    @property
    def ok(self) -> bool:
        """False only when a validation ran and failed."""
        return self.comparison is None or self.comparison.ok

    def save(self, target: str | os.PathLike) -> Path:
        """Write the rewritten model atomically after onnx.checker's full check; returns the path written."""
        if self.model is None:
            raise ValueError("a dry run has no rewritten model to save")
        return save(self.model, target)

    def to_dict(self) -> dict:
        """The JSON record: schema, dry_run, the plan, the report's totals after (MACs, params, memory traffic
        bytes) and the validation, the last two None when absent; with a latency budget last its ``latency`` record
        (absent otherwise, so other records keep their bytes). Values may be numpy scalars."""
        report_after = None
        if self.report is not None:
            totals = self.report.totals
            report_after = {"macs": totals.macs, "params": totals.params,
                            "memory_traffic_bytes": totals.memory_traffic_bytes}
        record = {
            "schema": REWRITE_SCHEMA,
            "dry_run": self.dry_run,
            "plan": self.plan.to_dict(),
            "report_after": report_after,
            "validation": None if self.comparison is None else self.comparison.to_dict(),
        }
        if self.latency is not None:
            record["latency"] = self.latency.to_dict()
        return record


def save(model: onnx.ModelProto, target: str | os.PathLike) -> Path:
    """Write ``model`` atomically after onnx.checker's full check (external data past 2 GiB)."""
    return files.save_model(model, target)
