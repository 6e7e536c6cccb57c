"""The formulas in the report's machine form: an ``*_expr`` string beside each figure (docs/formulas.md)."""

from __future__ import annotations

from .figures import NODE_FIGURES, TOTAL_FIGURES, Formulas


def add_expressions(data: dict, found: Formulas) -> None:
    """Add ``<figure>_expr`` keys to ``data`` (a report's ``to_dict``), each figure's formula in the grammar of
    docs/formulas.md, and a ``formulas`` section: the free dimensions, where the integers were evaluated, the
    peak and what has no formula."""
    for row, figures in zip(data["nodes"], found.nodes):
        if figures is None:
            continue
        for name in NODE_FIGURES:
            row[f"{name}_expr"] = str(figures[name])
        row["output_shapes_expr"] = [None if s is None else [str(d) for d in s] for s in figures["output_shapes"]]
        if not isinstance(figures["repeat"], int):  # inside a Loop whose trip count is a symbol
            row["repeat_expr"] = str(figures["repeat"])
    for name in TOTAL_FIGURES:
        if found.totals:
            data["totals"][f"{name}_expr"] = str(found.totals[name])
    ranges = found.ranges
    if ranges is not None:
        for row, spans in zip(data["nodes"], ranges["nodes"]):
            for name, span in (spans or {}).items():
                row[f"{name}_range"] = span
        for name, span in ranges["totals"].items():
            data["totals"][f"{name}_range"] = span
    data["formulas"] = {
        "dims": list(found.symbols),
        "evaluated_at": dict(found.evaluated_at),
        "peak_activation_bytes_expr": ([str(p) for p in found.peak] if found.peak else None),
        "peak_is_max_of": not found.peak_exact,
        "peak_at": list(found.peak_nodes),
        "missing": list(found.missing),
        **({"ranges": {"dims": ranges["dims"], "exact": ranges["exact"]}} if ranges is not None else {}),
    }
