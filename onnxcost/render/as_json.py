"""JSON: the whole report, exact integers, stable key order (docs/report-schema.md)."""

from __future__ import annotations

import json

from ..report import Report
from .selection import heaviest


def render_json(report: Report, top: int | None = None) -> str:
    data = report.to_dict()
    if top is not None:
        wanted = {row.index for row in heaviest(report, top)}
        data["nodes"] = [row for row in data["nodes"] if row["index"] in wanted]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
