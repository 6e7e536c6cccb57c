"""JSON: the whole report, exact integers, stable key order (docs/report-schema.md); and the records of rewrite
and validate results (docs/rewrite-schema.md, docs/validate-schema.md)."""

from __future__ import annotations

from ..report import Report
from .indented_json import dumps
from .selection import heaviest


def render_json(report: Report, top: int | None = None) -> str:
    data = report.to_dict()
    if top is not None:
        wanted = {row.index for row in heaviest(report, top)}
        data["nodes"] = [row for row in data["nodes"] if row["index"] in wanted]
    return dumps(data, indent=2, ensure_ascii=False) + "\n"


def json_text(record: dict) -> str:
    """A result's record as indented JSON (ASCII, NaN and infinities as JavaScript writes them), numpy scalars as
    Python numbers."""
    return dumps(record, indent=2, default=_plain) + "\n"


def _plain(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")
