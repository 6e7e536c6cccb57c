"""CSV: one row per node, exact integers; shapes as 1x64x224x224, several joined by ';'."""

from __future__ import annotations

import csv
import io

from ..report import Report
from .sanitize import visible
from .selection import heaviest

COLUMNS = [
    "index", "name", "op_type", "domain", "scope", "repeat", "macs", "flops", "special_ops", "params",
    "param_bytes", "output_shapes", "output_bytes", "bytes_read", "memory_traffic_bytes", "costed",
]

TEXT_COLUMNS = ("name", "op_type", "domain", "scope")  # from the file: escaped (sanitize.visible)


def shape_text(shape: list[int] | None) -> str:
    return "?" if shape is None else "x".join(str(d) for d in shape) or "scalar"


def render_csv(report: Report, top: int | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in heaviest(report, top):
        values = vars(row) | {"output_shapes": ";".join(shape_text(s) for s in row.output_shapes)}
        values.update((key, visible(values[key])) for key in TEXT_COLUMNS)
        writer.writerow([values[column] for column in COLUMNS])
    return buffer.getvalue()
