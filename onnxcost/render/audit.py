"""Audit results: one row per model as a terminal table, CSV, JSONL (the rows' own records) or Markdown.
They format an ``onnxcost.audit`` result and compute nothing."""

from __future__ import annotations

import csv
import io

from rich import box
from rich.table import Table

from ..auditing.rows import AuditResult, AuditRow, ModelInput, jsonl_line
from ..units import human_bytes, human_count
from .terminal import text_console

FORMATS = ("table", "csv", "jsonl", "md")
CSV_COLUMNS = [
    "path", "status", "error", "producer", "producer_version", "ir_version", "opset", "opsets", "inputs", "free_dims",
    "macs", "flops", "params", "param_bytes", "peak_activation_bytes", "compute_layers", "warnings", "warning_texts",
    "budgets",
]


def render_audit(result: AuditResult, fmt: str, width: int | None = None) -> str:
    """``fmt``: "table" (people, human units), "csv", "jsonl" (one record per line) or "md" (exact integers)."""
    if fmt == "jsonl":
        return "".join(jsonl_line(row) for row in result.rows)
    if fmt == "csv":
        return _csv(result)
    if fmt == "md":
        return _markdown(result)
    return _table(result, width)


def inputs_text(inputs: list[ModelInput]) -> str:
    """'input:batchx3x224x224, mask:?x128'; a shape the file does not give is '?'."""
    return ", ".join(f"{i.name}:" + ("?" if i.shape is None else "x".join(map(str, i.shape)) or "scalar") for i in inputs)


def producer_text(row: AuditRow) -> str:
    return " ".join(part for part in (row.producer, row.producer_version) if part)


def budgets_text(row: AuditRow) -> str:
    """'ok', 'failed: max-macs, max-params', 'none' when no budget applied, '' when budgets were not checked."""
    if row.budgets is None:
        return ""
    if not row.budgets.checked:
        return "none"
    return "ok" if row.budgets.ok else "failed: " + ", ".join(row.budgets.failed)


def _opsets_text(row: AuditRow) -> str:
    return ";".join(f"{domain}:{version}" for domain, version in row.opsets.items())


def _human(value: int | None, unit=human_count) -> str:
    return "-" if value is None else unit(value)


def _exact(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _table(result: AuditResult, width: int | None) -> str:
    console, buffer = text_console(width)
    table = Table(box=box.SIMPLE_HEAD, title=f"Audit: {result.summary()}", title_justify="left")
    columns = [("path", "left"), ("status", "left"), ("producer", "left"), ("opset", "right"), ("inputs", "left"),
               ("MACs", "right"), ("FLOPs", "right"), ("params", "right"), ("weights", "right"),
               ("peak act.", "right"), ("layers", "right"), ("warnings", "right")] + [("budgets", "left")] * result.checked
    rows = [[row.path, row.status, producer_text(row), "-" if row.opset is None else str(row.opset),
             inputs_text(row.inputs), _human(row.macs), _human(row.flops), _human(row.params),
             _human(row.param_bytes, human_bytes), _human(row.peak_activation_bytes, human_bytes),
             "-" if row.compute_layers is None else str(row.compute_layers), str(len(row.warnings))]
            + [budgets_text(row)] * result.checked for row in result.rows]
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")
    for cells in rows:
        table.add_row(*cells)
    console.print(table)
    for row in result.rows:  # below the table, where a long message reads as one line
        if row.error:
            console.print(f"{row.path}: {row.status}: {row.error}", soft_wrap=True)
    return buffer.getvalue()


def _csv(result: AuditResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in result.rows:
        values = vars(row) | {
            "error": row.error or "", "producer": row.producer or "", "producer_version": row.producer_version or "",
            "opsets": _opsets_text(row), "inputs": inputs_text(row.inputs), "free_dims": ";".join(row.free_dims),
            "warnings": len(row.warnings), "warning_texts": " | ".join(row.warnings), "budgets": budgets_text(row),
        }
        writer.writerow(["" if values[column] is None else values[column] for column in CSV_COLUMNS])
    return buffer.getvalue()


def _markdown(result: AuditResult) -> str:
    header = ["path", "status", "producer", "opset", "inputs", "MACs", "FLOPs", "params", "param bytes",
              "peak activation bytes", "compute layers", "warnings"] + ["budgets"] * result.checked + ["error"]
    right = {3, 5, 6, 7, 8, 9, 10, 11}
    lines = [f"# onnxcost audit: {result.summary()}", "",
             "| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    for row in result.rows:
        cells = [f"`{row.path}`", row.status, producer_text(row), "-" if row.opset is None else str(row.opset),
                 inputs_text(row.inputs), _exact(row.macs), _exact(row.flops), _exact(row.params), _exact(row.param_bytes),
                 _exact(row.peak_activation_bytes), _exact(row.compute_layers), str(len(row.warnings))]
        cells += [budgets_text(row)] * result.checked + [row.error or ""]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
