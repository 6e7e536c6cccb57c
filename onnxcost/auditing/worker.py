"""What runs in a worker process for one model file: load it, describe it, cost it and (with budgets) check it,
and give back its row. ``processes`` starts the worker and watches its time and memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import OnnxcostError, first_line
from ..loading import DEFAULT_MAX_FILE_BYTES
from .rows import ERROR, OK, AuditRow, BudgetVerdict, ModelInput


@dataclass(frozen=True)
class Settings:
    """What every worker needs besides its file: shape overrides, the parse limit, the two limits, budgets."""

    inputs: Mapping[str, Sequence[int]] | None = None
    dims: Mapping[str, int] | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    timeout: float = 300.0  # seconds
    memory_limit: int | None = None  # bytes of resident memory; None: no limit
    budgets: object | None = None  # the onnxcost.config.Config whose budgets ``audit --check`` applies


Worker = Callable[[str, str, Settings], AuditRow]


def audit_file(path: str, where: str, settings: Settings) -> AuditRow:
    """The row of the model at ``where`` (an absolute path), named ``path`` in the row and in its messages."""
    from ..analysis import analyze
    from ..loading import load_model

    row = AuditRow(path=path, status=OK)
    try:
        model = load_model(where, max_file_bytes=settings.max_file_bytes, inline_weights=False).model
        _describe(row, model)
        report = analyze(model, settings.inputs, settings.dims, source=path, formulas=False)
    except OnnxcostError as exc:
        row.status, row.error = ERROR, _message(exc, path, where)
        return row
    except MemoryError:
        raise  # the caller's row: out of memory
    except Exception as exc:  # noqa: BLE001 - a bug on one file is that file's row, not the end of the audit
        row.status = ERROR
        row.error = f"internal error (a bug in onnxcost, please report it): {type(exc).__name__}: {_message(exc, path, where)}"
        return row
    totals = report.totals
    row.macs, row.flops, row.params, row.param_bytes = totals.macs, totals.flops, totals.params, totals.param_bytes
    row.peak_activation_bytes, row.compute_layers = totals.peak_activation_bytes, totals.compute_layers
    row.warnings = [warning.replace(where, path) for warning in report.warnings]
    if settings.budgets is not None:
        try:
            row.budgets = _check_budgets(report, where, settings)
        except OnnxcostError as exc:  # e.g. a baseline the config names is missing: costed, but not judged
            row.status, row.error = ERROR, f"budgets: {_message(exc, path, where)}"
    return row


def _describe(row: AuditRow, model) -> None:
    """What the file says about itself: producer, opsets, and the inputs as declared (free dims kept)."""
    from ..tensors import type_name

    row.producer, row.producer_version, row.ir_version = model.producer_name, model.producer_version, model.ir_version
    row.opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    row.opset = row.opsets.get("ai.onnx")
    weights = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        if value.name in weights:
            continue
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            row.inputs.append(ModelInput(value.name, kind or "unknown", None))
            continue
        tensor = value.type.tensor_type
        shape = None
        if tensor.HasField("shape"):
            shape = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else d.dim_param or "?"
                     for d in tensor.shape.dim]
            for axis, dim in enumerate(shape):
                free = dim if dim != "?" else f"{value.name}[{axis}]"
                if isinstance(dim, str) and free not in row.free_dims:
                    row.free_dims.append(free)
        row.inputs.append(ModelInput(value.name, type_name(tensor.elem_type), shape))


def _check_budgets(report, where: str, settings: Settings) -> BudgetVerdict:
    """The config's budgets for this file (by its absolute path: globs are relative to the config's folder),
    growth ones against the baseline the config names for it."""
    from ..budgets import check_report
    from ..config import budgets_for
    from ..saved import load_report

    budgets = budgets_for(where, settings.budgets)
    baseline = None
    if budgets.growth and budgets.baseline is not None:
        baseline = load_report(budgets.baseline, inputs=settings.inputs, dims=settings.dims,
                               max_file_bytes=settings.max_file_bytes)
    result = check_report(report, budgets, baseline)
    return BudgetVerdict(ok=result.ok, checked=len(result.rows), failed=[row.name for row in result.failures])


def _message(exc: BaseException, path: str, where: str) -> str:
    """One line naming the file as the row does, without repeating it at the start."""
    text = first_line(exc).replace(where, path)
    return text.removeprefix(f"{path}: ")
