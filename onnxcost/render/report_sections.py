"""The report's optional sections (parameter sizes, training memory, activation arena) after the table, or as
extra top-level keys of the JSON record: formats, computes nothing. Without sections the report's bytes are
exactly what its renderer wrote."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping

SECTION_FORMATS = ("table", "json", "md")
# in the order they print; each key is also its renderers' module (imported with the first section asked for)
SECTIONS = ("sizes", "training", "arena")


def with_sections(text: str, fmt: str, sections: Mapping[str, object], width: int | None = None) -> str:
    """``text`` (the report rendered in ``fmt``, one of SECTION_FORMATS) followed by ``sections`` (key -> result
    object with ``to_dict``; keys of SECTIONS)."""
    if not sections:
        return text
    ordered = [key for key in SECTIONS if key in sections]
    if fmt == "json":
        data = json.loads(text)
        data.update((key, sections[key].to_dict()) for key in ordered)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "table":
        return text + "".join("\n" + _renderer(key, "text")(sections[key], width) for key in ordered)
    if fmt == "md":
        return text + "".join("\n" + _renderer(key, "markdown")(sections[key]) for key in ordered)
    raise ValueError(f"sections print with {', '.join(SECTION_FORMATS)}, not {fmt!r}")


def _renderer(key: str, kind: str):
    """``<key>_text`` or ``<key>_markdown`` of the section's module."""
    return getattr(importlib.import_module(f".{key}", __package__), f"{key}_{kind}")
