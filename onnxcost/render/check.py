"""Budget checks (``onnxcost.budgets.CheckResult``): a terminal table, the JSON record, JUnit XML for CI systems
and a Markdown summary for a pull request. They format the rows and compute nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from rich import box
from rich.table import Table

from ..budgets import METRICS, BudgetRow, CheckResult
from ..units import human_bytes, human_count
from .as_json import json_text
from .terminal import text_console

CHECK_FORMATS = ("table", "json", "junit", "md")


def render_check(result: CheckResult, fmt: str, width: int | None = None) -> str:
    """``result`` in ``fmt``, one of CHECK_FORMATS; ``width``: the terminal's (tables only)."""
    if fmt == "table":
        return check_table(result, width)
    if fmt == "json":
        return json_text(result.to_dict())
    if fmt == "junit":
        return check_junit(result)
    if fmt == "md":
        return check_markdown(result)
    raise ValueError(f"unknown check format {fmt!r} (known: {', '.join(CHECK_FORMATS)})")


def check_table(result: CheckResult, width: int | None = None) -> str:
    """One row per budget: limit, actual, margin (human units and the exact integer), verdict."""
    console, buffer = text_console(width)
    against = f" (baseline: {result.baseline})" if result.baseline is not None else ""
    table = Table(box=box.SIMPLE_HEAD, title=f"Budgets: {result.model}{against}", title_justify="left")
    growth, sources = _has_growth(result), _sources_worth_showing(result)
    columns = [("budget", "left"), ("limit", "right"), ("actual", "right"), ("margin", "right"), ("verdict", "left")]
    if growth:
        columns[1:1] = [("baseline", "right"), ("growth", "right")]
    if sources:
        columns.append(("set in", "left"))
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")
    for row in result.rows:
        unit = METRICS[row.metric].unit
        cells = [row.name, _amount(row.limit, unit), _amount(row.actual, unit), _amount(row.margin, unit),
                 "ok" if row.ok else "FAIL"]
        if growth:
            cells[1:1] = [_amount(row.baseline, unit) if row.baseline is not None else "", _growth(row)]
        if sources:
            cells.append(row.source)
        table.add_row(*cells)
    console.print(table)
    verdict = "all hold" if result.ok else "FAILED: " + ", ".join(row.name for row in result.failures)
    console.print(f"{len(result.rows) - len(result.failures)} of {len(result.rows)} budgets hold; {verdict}",
                  soft_wrap=True)
    return buffer.getvalue()


def check_markdown(result: CheckResult) -> str:
    """A summary to post on a pull request: the verdict first, then one table row per budget (exact integers)."""
    failed = len(result.failures)
    budgets = f"{len(result.rows)} budget{'' if len(result.rows) == 1 else 's'}"
    verdict = f"all {budgets} hold" if result.ok else f"{failed} of {budgets} failed"
    lines = [f"### {'✅' if result.ok else '❌'} onnxcost check: {_code(result.model)}: {verdict}", ""]
    if result.baseline is not None:
        lines += [f"Growth measured against {_code(result.baseline)}.", ""]
    growth = _has_growth(result)
    header = ["budget", *(["baseline", "growth"] if growth else []), "limit", "actual", "margin", "verdict"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" if h in ("budget", "verdict") else "---:" for h in header) + "|")
    for row in result.rows:
        cells = [_code(row.name)]
        if growth:
            cells += [f"{row.baseline:,}" if row.baseline is not None else "", _growth(row)]
        cells += [f"{row.limit:,}", f"{row.actual:,}", f"{row.margin:+,}", "✅ ok" if row.ok else "❌ **FAIL**"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    if result.warnings:
        lines += ["", "<details><summary>Warnings from the report</summary>", ""]
        lines += [f"- {warning}" for warning in result.warnings] + ["", "</details>"]
    return "\n".join(lines) + "\n"


def check_junit(result: CheckResult) -> str:
    """JUnit XML: one testsuite, one testcase per budget (named by its key, e.g. max-macs), a <failure> with a
    message for each failed one; the report's warnings in the suite's <system-out>. Same result, same bytes."""
    failures = str(len(result.failures))
    root = ET.Element("testsuites", name="onnxcost check", tests=str(len(result.rows)), failures=failures, errors="0")
    suite = ET.SubElement(root, "testsuite", name=_xml(f"onnxcost check: {result.model}"), tests=str(len(result.rows)),
                          failures=failures, errors="0", skipped="0")
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="model", value=_xml(result.model))
    if result.baseline is not None:
        ET.SubElement(properties, "property", name="baseline", value=_xml(result.baseline))
    for row in result.rows:
        case = ET.SubElement(suite, "testcase", name=row.name, classname=_xml(result.model))
        if not row.ok:
            failure = ET.SubElement(case, "failure", message=_xml(_failure_message(row)), type="BudgetExceeded")
            failure.text = _xml(_failure_detail(row))
    if result.warnings:
        ET.SubElement(suite, "system-out").text = _xml("\n".join(result.warnings))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _failure_message(row: BudgetRow) -> str:
    metric = METRICS[row.metric]
    if row.max_growth_percent is None:
        return f"{metric.label} {row.actual:,} is over the limit {row.limit:,} by {-row.margin:,}"
    grown = "grew from 0" if row.growth_percent is None else f"grew {row.growth_percent:+.2f}%"
    return (f"{metric.label} {grown} ({row.baseline:,} to {row.actual:,}), more than the {row.max_growth_percent:+g}% "
            f"allowed (at most {row.limit:,})")


def _failure_detail(row: BudgetRow) -> str:
    unit = METRICS[row.metric].unit
    lines = [f"budget: {row.name}", f"limit: {_amount(row.limit, unit)}", f"actual: {_amount(row.actual, unit)}",
             f"margin: {_amount(row.margin, unit)}"]
    if row.baseline is not None:
        lines.insert(1, f"baseline: {_amount(row.baseline, unit)}")
    if row.source:
        lines.append(f"set in: {row.source}")
    return "\n".join(lines)


def _amount(value: int, unit: str) -> str:
    """'15.47 G (15,470,264,320)'; a small value only once ('512', '512 B')."""
    if unit == "bytes":
        human = human_bytes(value)
        return human if abs(value) < 1024 else f"{human} ({value:,})"
    human = human_count(value)
    return human if abs(value) < 1000 else f"{human} ({value:,})"


def _growth(row: BudgetRow) -> str:
    if row.max_growth_percent is None:
        return ""
    grown = "from 0" if row.growth_percent is None else f"{row.growth_percent:+.2f}%"
    return f"{grown} (max {row.max_growth_percent:+g}%)"


def _has_growth(result: CheckResult) -> bool:
    return any(row.max_growth_percent is not None for row in result.rows)


def _sources_worth_showing(result: CheckResult) -> bool:
    return any(row.source and row.source != "command line" for row in result.rows)


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


# Characters XML 1.0 cannot hold even escaped (control characters a file name may contain).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("?", text)
