"""Validation results: the output comparison and the latency table (terminal), or the JSON record.
They format ``onnxcost.validation`` results and compute nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from ..units import human_count
from .as_json import json_text
from .sanitize import visible
from .terminal import ratio, scientific, text_console

if TYPE_CHECKING:  # the renderer needs no onnxruntime or analysis: the CLI imports it to start
    from ..validation import Comparison, Timing


def render_validation(result, fmt: str, width: int | None = None) -> str:
    """``fmt`` "json": the result's record (docs/validate-schema.md); "table": the comparison, then the timings."""
    if fmt == "json":
        return json_text(result.to_dict())
    title = f"Validation (onnxruntime): {visible(result.candidate)} against {visible(result.reference)}"
    text = render_comparison(result.comparison, width, title=title)
    if result.yardstick is not None:
        measured = result.yardstick
        title = (f"Yardstick: {visible(result.reference)} against itself with its {measured.description} "
                 f"({measured.tensors} weight tensor{'' if measured.tensors == 1 else 's'})")
        text += "\n" + render_comparison(measured.comparison, width, title=title, judged=False)
    if result.timings is not None:
        labels = {"a": f"A {visible(result.reference)}", "b": f"B {visible(result.candidate)}"}
        text += "\n" + render_bench(result.timings, result.macs, labels, width)
    return text


def render_comparison(comparison: Comparison, width: int | None = None, title: str = "Validation (onnxruntime)",
                      judged: bool = True) -> str:
    """The comparison's table; ``judged``: then whether it passed its bounds (a yardstick has none)."""
    console, buffer = text_console(width)
    source = visible(comparison.input_source)
    if comparison.samples is not None:
        source += f" ({comparison.samples} samples)"
    table = Table(box=box.SIMPLE_HEAD, title=f"{title}, inputs: {source}", title_justify="left")
    columns = [("output", "left"), ("shape", "left"), ("max abs error", "right"), ("rel. L2 error", "right"),
               ("cosine", "right"), ("top-1 agreement", "right")]
    task_level = any(o.agreement is not None for o in comparison.outputs)
    if task_level:
        columns.append(("task agreement", "right"))
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")
    for o in comparison.outputs:
        top1 = "-" if o.top1_agreement is None else f"{100 * o.top1_agreement:.1f}%"
        row = [visible(o.name), "x".join(map(str, o.shape)), scientific(o.max_abs_error), scientific(o.rel_l2_error),
               f"{o.cosine:.6f}", top1]
        table.add_row(*row, *([describe_agreement(o.agreement)] if task_level else []))
    console.print(table)
    if not judged:
        return buffer.getvalue()
    bound = comparison.bounds.describe()
    given = comparison.bounds.max_rel_error is not None or comparison.bounds.elementwise
    if comparison.ok and not given:
        console.print("no error bound given: the error is reported, not judged (--max-rel-error, --atol/--rtol)")
    elif comparison.ok:
        console.print(f"validation passed (bound: {bound})")
    else:
        console.print(f"validation FAILED (bound: {bound}):")
        for failure in comparison.failures:
            console.print(f"  {visible(failure)}", soft_wrap=True)
    return buffer.getvalue()


def describe_agreement(agreement: dict | None) -> str:
    """One output's task-level figures in a few words: 'top-1 98.0%, top-5 100.0%', 'mask IoU 0.981 (> 0.3)',
    'sequences 24/32 equal (75.0%)'; '-' without one."""
    if agreement is None:
        return "-"
    if agreement["task"] == "classify":
        top5 = agreement["top5"]
        return f"top-1 {100 * agreement['top1']:.1f}%" + ("" if top5 is None else f", top-5 {100 * top5:.1f}%")
    if agreement["task"] == "mask":
        return f"mask IoU {agreement['iou']:.4f} (> {agreement['threshold']:g})"
    return f"sequences {agreement['equal']}/{agreement['samples']} equal ({100 * agreement['agreement']:.1f}%)"


def render_bench(timings: dict[str, Timing], macs: dict[str, int], labels: dict[str, str], width: int | None = None) -> str:
    """Latency (median of repeated runs) next to MACs, for a reference ``a`` and a candidate ``b``."""
    console, buffer = text_console(width)
    a, b = timings["a"], timings["b"]
    table = Table(box=box.SIMPLE_HEAD, title=f"Latency (onnxruntime CPU, {len(a.runs)} runs each, interleaved)",
                  title_justify="left")
    for header, justify in [("model", "left"), ("median", "right"), ("min", "right"), ("MACs", "right")]:
        table.add_column(header, justify=justify, overflow="fold")
    for key in ("a", "b"):
        table.add_row(labels[key], f"{timings[key].median * 1e3:.3f} ms", f"{timings[key].minimum * 1e3:.3f} ms",
                      human_count(macs[key]))
    table.add_row("b / a", f"{b.median / a.median:.3f}x", f"{b.minimum / a.minimum:.3f}x", ratio(macs["b"], macs["a"]))
    console.print(table)
    return buffer.getvalue()
