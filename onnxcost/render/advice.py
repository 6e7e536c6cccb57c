"""Advice (``onnxcost.advice.Advice``): one line per guideline, then the findings in their ranking with the
formula of each, as a terminal table, Markdown or the JSON record. They format and compute nothing; ``top`` keeps
the first N findings (they come ranked)."""

from __future__ import annotations

from rich import box
from rich.table import Table

from ..advice import Advice, Finding
from ..units import human_bytes
from .as_json import json_text
from .sanitize import visible
from .terminal import text_console

ADVICE_FORMATS = ("table", "json", "md")
HEADLINES = {"G1": "MAC / bound", "G2": "MAC / MAC at g = 1", "G3": "parallel branches", "G4": "traffic share",
             "VGG": "weights / stacked 3x3"}


def render_advice(result: Advice, fmt: str, top: int | None = None, width: int | None = None) -> str:
    """``result`` in ``fmt``, one of ADVICE_FORMATS; ``top``: the first N findings only; ``width``: the terminal's."""
    findings = result.findings[:top] if top is not None else result.findings
    if fmt == "table":
        return _table(result, findings, width)
    if fmt == "json":
        data = result.to_dict()
        data["findings"] = [f.to_dict() for f in findings]
        return json_text(data)
    if fmt == "md":
        return _markdown(result, findings)
    raise ValueError(f"unknown advice format {fmt!r} (known: {', '.join(ADVICE_FORMATS)})")


def saving_text(finding: Finding) -> str:
    """'1.2 MiB' for bytes, '5 ops' for G3."""
    return _amount(finding.saving, finding.unit)


def _amount(saving: int, unit: str) -> str:
    if unit == "bytes":
        return human_bytes(saving)
    return f"{saving} {unit.removesuffix('s') if saving == 1 else unit}"


def _headline(summary) -> str:
    if summary.worst is None:
        return ""
    value = f"{summary.worst:.1%}" if summary.guideline == "G4" else f"{summary.worst:g}"
    where = f" at {visible(summary.worst_node)}" if summary.worst_node else ""
    return f"{HEADLINES[summary.guideline]} {value}{where}"


def _summary_saving(summary) -> str:
    return _amount(summary.saving, summary.unit)


def _where(finding: Finding) -> str:
    return visible(finding.node) if finding.node else "(model)"


def _table(result: Advice, findings: list[Finding], width: int | None) -> str:
    console, buffer = text_console(width)
    summary = Table(box=box.SIMPLE_HEAD, title=f"Guidelines: {visible(result.model)}", title_justify="left")
    for header, justify in [("", "left"), ("guideline", "left"), ("findings", "right"), ("would save", "right"),
                            ("worst", "left")]:
        summary.add_column(header, justify=justify)
    for s in result.summary:
        summary.add_row(s.guideline, s.title, str(s.findings), _summary_saving(s) if s.findings else "", _headline(s))
    console.print(summary)
    shown = f" ({len(findings)} of {len(result.findings)})" if len(findings) < len(result.findings) else ""
    table = Table(box=box.SIMPLE_HEAD, title=f"Findings, by bytes of memory traffic saved, then G3's ops{shown}",
                  title_justify="left")
    for header, justify in [("#", "right"), ("", "left"), ("node", "left"), ("would save", "right"),
                            ("finding", "left")]:
        table.add_column(header, justify=justify)
    for rank, f in enumerate(findings, 1):
        table.add_row(str(rank), f.guideline, _where(f), saving_text(f), visible(f.message))
    console.print(table)
    if findings:
        console.print("Formulas:", soft_wrap=True)
        for rank, f in enumerate(findings, 1):
            console.print(f"  {rank}. {visible(f.formula)}", soft_wrap=True, markup=False)
    for warning in result.warnings:
        console.print(f"warning: {visible(warning)}", soft_wrap=True, markup=False)
    return buffer.getvalue()


def _cells(row: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"


def _markdown(result: Advice, findings: list[Finding]) -> str:
    lines = [f"# onnxcost advise: `{visible(result.model)}`", "",
             "| | guideline | findings | would save | worst |", "|---|---|---:|---:|---|"]
    lines += [_cells([s.guideline, s.title, str(s.findings), _summary_saving(s) if s.findings else "", _headline(s)])
              for s in result.summary]
    shown = f" ({len(findings)} of {len(result.findings)})" if len(findings) < len(result.findings) else ""
    lines += ["", f"## Findings, by bytes of memory traffic saved, then G3's ops{shown}", ""]
    if findings:
        lines += ["| # | | node | would save | finding | formula |", "|---:|---|---|---:|---|---|"]
        lines += [_cells([str(rank), f.guideline, f"`{_where(f)}`", saving_text(f), visible(f.message),
                          visible(f.formula)]) for rank, f in enumerate(findings, 1)]
    else:
        lines.append("No finding: the model follows every guideline checked.")
    if result.warnings:
        lines += ["", "## Warnings", ""] + [f"- {visible(w)}" for w in result.warnings]
    return "\n".join(lines) + "\n"
