"""The formulas in the report's machine form: an ``*_expr`` string beside each figure (docs/formulas.md)."""

from __future__ import annotations

from .figures import NODE_FIGURES, TOTAL_FIGURES, Formulas
from .poly import parse


def add_expressions(data: dict, found: Formulas) -> None:
    """Add ``<figure>_expr`` keys to ``data`` (a report's ``to_dict``), each figure's formula in the grammar of
    docs/formulas.md, and a ``formulas`` section: the free dimensions, where the integers were evaluated, the
    peak and what has no formula."""
    texts: dict = {}  # each distinct polynomial printed once: a transformer's blocks repeat the same few

    def text(value) -> str:
        found_text = texts.get(value)
        if found_text is None:
            found_text = texts[value] = str(value)
        return found_text

    keys = [(name, f"{name}_expr") for name in NODE_FIGURES]
    for row, figures in zip(data["nodes"], found.nodes):
        if figures is None:
            continue
        for name, key in keys:
            row[key] = text(figures[name])
        row["output_shapes_expr"] = [None if s is None else [text(d) for d in s] for s in figures["output_shapes"]]
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
        "dim_names": dict(found.names),
        "evaluated_at": dict(found.evaluated_at),
        "peak_activation_bytes_expr": ([str(p) for p in found.peak] if found.peak else None),
        "peak_is_max_of": not found.peak_exact,
        "peak_at": list(found.peak_nodes),
        "missing": list(found.missing),
        "notes": list(found.notes),
        **({"ranges": {"dims": ranges["dims"], "exact": ranges["exact"]}} if ranges is not None else {}),
    }


def formulas_from_dict(data: dict) -> Formulas | None:
    """The formulas of a saved report (``add_expressions``'s keys read back), None when it has none. The schedule
    is not saved: a report read back evaluates its figures with ``at()`` but not its peak."""
    section = data.get("formulas")
    if not isinstance(section, dict):
        return None
    nodes = []
    for row in data["nodes"]:
        if "macs_expr" not in row:
            nodes.append(None)
            continue
        figures = {name: parse(row[f"{name}_expr"]) for name in NODE_FIGURES}
        figures["output_shapes"] = [None if s is None else [parse(d) for d in s] for s in row["output_shapes_expr"]]
        figures["repeat"] = parse(row["repeat_expr"]) if "repeat_expr" in row else row["repeat"]
        nodes.append(figures)
    totals = {name: parse(data["totals"][f"{name}_expr"]) for name in TOTAL_FIGURES if f"{name}_expr" in data["totals"]}
    ranges = section.get("ranges")
    found = Formulas(list(section["dims"]), dict(section["evaluated_at"]), nodes, totals,
                     peak=[parse(p) for p in section.get("peak_activation_bytes_expr") or []],
                     peak_exact=not section.get("peak_is_max_of", True), peak_nodes=list(section.get("peak_at", [])),
                     missing=list(section.get("missing", [])), notes=list(section.get("notes", [])),
                     names=dict(section.get("dim_names", {})))
    if ranges is not None:
        found.ranges = {"dims": ranges["dims"], "exact": ranges["exact"],
                        "totals": {k[: -len("_range")]: v for k, v in data["totals"].items() if k.endswith("_range")},
                        "nodes": [{k[: -len("_range")]: v for k, v in row.items() if k.endswith("_range")} or None
                                  for row in data["nodes"]]}
    return found
