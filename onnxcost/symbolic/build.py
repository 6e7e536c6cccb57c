"""Formulas for a report whose model has free dimensions: the probes, the symbolic shapes, the figures."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import onnx

from ..errors import first_line
from ..analysis import _Analysis
from ..report import Report
from ..shapes import resolve_shapes
from .figures import attach, formulas
from .ranges import figure_ranges
from .poly import identifier
from .shapes import probe_bindings, same_everywhere, symbolic_shapes

logger = logging.getLogger(__name__)


def attach_formulas(report: Report, analysis: _Analysis, pristine: onnx.ModelProto, free: Sequence[str],
                    inputs: Mapping | None, dims: Mapping | None, ranges: Mapping[str, tuple[int, int]],
                    same_nodes: bool = False) -> None:
    """Set ``report.formulas`` for the free dimensions ``free`` (set to 1 in ``report``, by ``analysis``);
    ``pristine`` is the graph shapes were inferred on, before the bindings were written into it (``same_nodes``:
    a copy of the graph ``analysis`` walked, whose order then serves). The Loops whose trip counts are unknown
    (counted once in ``report``) get symbols. What has no formula is named in a warning."""
    dims = dict(dims or {})
    primary, trips = analysis.shapes, analysis.unknown_trips
    report.warnings[:] = [w for w in report.warnings if not any(f"dimension '{name}' is unknown" in w for name in ranges)]
    for name in sorted(set(ranges) - set(free)):
        report.warnings.append(f"--dim {name}: no free dimension of the model's inputs is named '{name}'")
    ranges = {name: bounds for name, bounds in ranges.items() if name in free}
    probes = []
    for binding in probe_bindings(free):
        copy = onnx.ModelProto()
        copy.CopyFrom(pristine)
        try:
            probes.append((resolve_shapes(copy, inputs, {**dims, **binding}, like=primary), binding))
        except Exception as exc:  # the model is only valid at some values of its dims (a fixed-size Flatten)
            shown = ", ".join(f"{k}={v}" for k, v in binding.items())
            report.warnings.append(f"no formulas: at {shown} the model's shapes do not work out ({first_line(exc)})")
            return
    try:
        symbolic = symbolic_shapes(pristine, free, dims, primary, probes,
                                   analysis.main_order if same_nodes else None)
        constant = {name: value for name, value in primary.values.items()
                    if same_everywhere([value, *(p.values.get(name) for p, _ in probes)])}
        found = formulas(analysis, report, symbolic, constant, {s: 1 for s in [*symbolic.symbols, *trips]}, dims)
        found.names = {identifier(name): name for name in free if identifier(name) != name}
        if ranges and found.totals:
            found.ranges = figure_ranges(found, {identifier(name): bounds for name, bounds in ranges.items()})
    except Exception as exc:  # a bug here must not cost the user the report itself
        logger.debug("formulas failed", exc_info=True)
        report.warnings.append(f"no formulas: {type(exc).__name__}: {first_line(exc)} (please report it)")
        return
    attach(report, found)
    report.warnings.extend(found.notes)
    if found.missing:
        more = f" (and {len(found.missing) - 1} more)" if len(found.missing) > 1 else ""
        totals = "" if found.totals else "; the totals have none (give the dimensions with --dim)"
        if any("no formula for the shape" in m for m in found.missing):
            totals += ("; where a shape does not follow from its inputs at other sizes, the model may accept only some "
                       "sizes of a dimension (a recogniser's fixed height): give that one with --dim")
        report.warnings.append(f"{len(found.missing)} node(s) have no formula in {', '.join([*free, *trips])}: "
                               f"{found.missing[0]}{more}{totals}")
