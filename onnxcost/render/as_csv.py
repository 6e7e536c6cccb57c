"""CSV: one row per node, exact integers; shapes as 1x64x224x224, several joined by ';'."""

from __future__ import annotations

import csv
import io
from operator import attrgetter

from ..report import Report
from .sanitize import visible
from .selection import heaviest

COLUMNS = [
    "index", "name", "op_type", "domain", "scope", "repeat", "macs", "flops", "special_ops", "params",
    "param_bytes", "output_shapes", "output_bytes", "bytes_read", "memory_traffic_bytes", "costed",
]

TEXT_COLUMNS = ("name", "op_type", "domain", "scope")  # from the file: escaped (sanitize.visible)


def shape_text(shape: list[int] | None) -> str:
    return "?" if shape is None else "x".join(map(str, shape)) or "scalar"


_ROW_VALUES = attrgetter(*COLUMNS)
_TEXT_AT = [COLUMNS.index(column) for column in TEXT_COLUMNS]
_SHAPES_AT = COLUMNS.index("output_shapes")


def render_csv(report: Report, top: int | None = None) -> str:
    escaped: dict[str, str] = {}  # each distinct name, op type, domain and scope escaped once

    def line(row) -> list:
        values = list(_ROW_VALUES(row))
        for at in _TEXT_AT:
            text = values[at]
            safe = escaped.get(text)
            if safe is None:
                safe = escaped[text] = visible(text)
            values[at] = safe
        values[_SHAPES_AT] = ";".join(map(shape_text, values[_SHAPES_AT]))
        return values

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(map(line, heaviest(report, top)))
    return buffer.getvalue()
